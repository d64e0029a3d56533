"""webknossos' ``webknossos.dataset_properties`` names for wkpy's properties model.

``from wkpy.dataset_properties import DatasetProperties, ...`` works where code imports
from ``webknossos.dataset_properties``. The classes themselves live in `wkpy.properties`
(and `wkpy.data_format`, `wkpy.voxel_size`); this module only gathers them.
"""

from wkpy.data_format import DataFormat
from wkpy.dataset.dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, LayerCategoryType
from wkpy.properties import (
    AffineCoordinateTransformation,
    AttachmentDataFormat,
    AttachmentProperties,
    AttachmentsProperties,
    CoordinateTransformation,
    DatasetProperties,
    DatasetViewConfiguration,
    LayerProperties,
    LayerViewConfiguration,
    MagViewProperties,
    SegmentationLayerProperties,
    ThinPlateSplineCoordinateTransformation,
    get_dataset_converter,
)
from wkpy.voxel_size import LengthUnit, VoxelSize

# ---- add here what `wkpy.properties` gains under a webknossos.dataset_properties name ----
__all__ = [
    "AffineCoordinateTransformation",
    "AttachmentDataFormat",
    "AttachmentProperties",
    "AttachmentsProperties",
    "COLOR_CATEGORY",
    "CoordinateTransformation",
    "DataFormat",
    "DatasetProperties",
    "DatasetViewConfiguration",
    "LayerCategoryType",
    "LayerProperties",
    "LayerViewConfiguration",
    "LengthUnit",
    "MagViewProperties",
    "SEGMENTATION_CATEGORY",
    "SegmentationLayerProperties",
    "ThinPlateSplineCoordinateTransformation",
    "VoxelSize",
    "get_dataset_converter",
]
