"""webknossos' ``webknossos.dataset_properties`` names for wkpy's properties model.

``from wkpy.dataset_properties import DatasetProperties, ...`` works where code imports
from ``webknossos.dataset_properties``. The classes themselves live in `wkpy.properties`;
``MagViewProperties`` is webknossos' name for `wkpy.properties.MagProperties`.
"""

from wkpy import properties as _properties
from wkpy.data_format import AttachmentDataFormat, DataFormat
from wkpy.dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, LayerCategoryType
from wkpy.properties import DatasetProperties, LayerProperties, MagProperties
from wkpy.voxel_size import LengthUnit, VoxelSize

MagViewProperties = MagProperties

__all__ = [
    "AttachmentDataFormat",
    "COLOR_CATEGORY",
    "DataFormat",
    "DatasetProperties",
    "LayerCategoryType",
    "LayerProperties",
    "LengthUnit",
    "MagViewProperties",
    "SEGMENTATION_CATEGORY",
    "VoxelSize",
]

# ---- names re-exported once `wkpy.properties` defines them ----------------------------
# (view configurations, coordinate transformations and per-category layer classes are
# being added there; each name below appears here as soon as the class exists)
_IF_PRESENT = (
    "SegmentationLayerProperties",
    "DatasetViewConfiguration",
    "LayerViewConfiguration",
    "CoordinateTransformation",
    "AffineCoordinateTransformation",
    "ThinPlateSplineCoordinateTransformation",
    "AttachmentProperties",
    "AttachmentsProperties",
)
for _name in _IF_PRESENT:
    if hasattr(_properties, _name):
        globals()[_name] = getattr(_properties, _name)
        __all__.append(_name)
del _name
