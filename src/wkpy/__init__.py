"""wkpy: fast, byte-compatible WKW datasets with the webknossos-libs dataset API.

Use it as ``import wkpy as wk``; code written for ``import webknossos as wk`` runs
unchanged for local datasets.
"""

from wkpy.dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, Dataset
from wkpy.errors import *  # noqa: F403
from wkpy.errors import __all__ as _errors_all
from wkpy.geometry import BoundingBox, Mag, Vec3Int, Vec3IntLike
from wkpy.layer import Layer, SegmentationLayer
from wkpy.mag_view import MagView
from wkpy.storage import ArrayInfo
from wkpy.storage.zarr3 import Zarr3Config
from wkpy.view import UnalignedWriteWarning, View
from wkpy.voxel_size import LengthUnit, VoxelSize

# properties classes, view configurations, coordinate transformations, attachments (api-props)
from wkpy.attachments import (
    AgglomerateAttachment,
    Attachment,
    Attachments,
    ConnectomeAttachment,
    CumsumAttachment,
    MeshAttachment,
    SegmentIndexAttachment,
    SegmentStatisticsAttachment,
)
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
)

__version__ = "0.1.0"

__all__ = [
    "COLOR_CATEGORY",
    "SEGMENTATION_CATEGORY",
    "ArrayInfo",
    "BoundingBox",
    "Dataset",
    "Layer",
    "LengthUnit",
    "Mag",
    "MagView",
    "SegmentationLayer",
    "UnalignedWriteWarning",
    "Vec3Int",
    "Vec3IntLike",
    "View",
    "VoxelSize",
    "Zarr3Config",
    *_errors_all,
    # api-props
    "AffineCoordinateTransformation",
    "AgglomerateAttachment",
    "Attachment",
    "AttachmentDataFormat",
    "AttachmentProperties",
    "Attachments",
    "AttachmentsProperties",
    "ConnectomeAttachment",
    "CoordinateTransformation",
    "CumsumAttachment",
    "DatasetProperties",
    "DatasetViewConfiguration",
    "LayerProperties",
    "LayerViewConfiguration",
    "MagViewProperties",
    "MeshAttachment",
    "SegmentIndexAttachment",
    "SegmentStatisticsAttachment",
    "SegmentationLayerProperties",
    "ThinPlateSplineCoordinateTransformation",
]
