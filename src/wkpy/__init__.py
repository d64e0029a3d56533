"""wkpy: fast, byte-compatible WKW datasets with the webknossos-libs dataset API.

Use it as ``import wkpy as wk``; code written for ``import webknossos as wk`` runs
unchanged for local datasets.
"""

from wkpy import dataset, geometry, utils
from wkpy.data_format import DEFAULT_DATA_FORMAT, DataFormat
from wkpy.dataset.dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, Dataset, LayerCategoryType
from wkpy.dataset.sampling_modes import SamplingModes
from wkpy.dataset.transfer_mode import TransferMode
from wkpy.errors import *  # noqa: F403
from wkpy.errors import __all__ as _errors_all
from wkpy.geometry.constants import *  # noqa: F403
from wkpy.geometry.constants import __all__ as _constants_all
from wkpy.geometry import (
    BoundingBox,
    Mag,
    MagLike,
    NDBoundingBox,
    NormalizedBoundingBox,
    Vec3Float,
    Vec3FloatLike,
    Vec3Int,
    Vec3IntLike,
    VecInt,
    VecIntLike,
    as_vec3_float_or_none,
    as_vec3_int_or_none,
)
from wkpy.dataset.defaults import (
    DEFAULT_CHUNK_SHAPE,
    DEFAULT_CHUNKS_PER_SHARD,
    DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES,
    DEFAULT_SHARD_SHAPE,
)
from wkpy.dataset.layer.layer import Layer, SegmentationLayer
from wkpy.dataset.layer.view.mag_view import MagView
from wkpy.storage import ArrayInfo
from wkpy.storage.zarr3 import Zarr3Config
from wkpy.dataset.layer.view.view import UnalignedViewWarning, UnalignedWriteWarning, View
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
from wkpy.dataset.layer import LayerExport
# webknossos' server and annotation names: importable, any use raises UnsupportedError
from wkpy._not_supported import (
    Annotation,
    Datastore,
    Group,
    Node,
    Project,
    RemoteAiModel,
    RemoteAnnotation,
    RemoteDataset,
    RemoteFolder,
    RemoteLayer,
    RemoteMagView,
    RemoteSegmentationLayer,
    Skeleton,
    Task,
    TaskType,
    Team,
    Tree,
    User,
    login,
    webknossos_context,
)
from wkpy._not_supported import ANNOTATION_NAMES as _annotation_names
from wkpy._not_supported import SERVER_NAMES as _server_names
from wkpy import dataset_properties  # noqa: E402  (needs wkpy.dataset.dataset loaded)
from wkpy.dataset_properties import *  # noqa: E402,F403
from wkpy.dataset_properties import __all__ as _properties_all  # noqa: E402

__version__ = "0.1.0"

__all__ = sorted({
    "COLOR_CATEGORY",
    "DEFAULT_CHUNKS_PER_SHARD",
    "DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES",
    "DEFAULT_CHUNK_SHAPE",
    "DEFAULT_DATA_FORMAT",
    "DEFAULT_SHARD_SHAPE",
    "SEGMENTATION_CATEGORY",
    "ArrayInfo",
    "AttachmentDataFormat",
    "BoundingBox",
    "DataFormat",
    "Dataset",
    "Layer",
    "LayerCategoryType",
    "LengthUnit",
    "Mag",
    "MagLike",
    "MagView",
    "NDBoundingBox",
    "NormalizedBoundingBox",
    "SamplingModes",
    "SegmentationLayer",
    "TransferMode",
    "UnalignedViewWarning",
    "UnalignedWriteWarning",
    "Vec3Float",
    "Vec3FloatLike",
    "Vec3Int",
    "Vec3IntLike",
    "VecInt",
    "VecIntLike",
    "View",
    "VoxelSize",
    "Zarr3Config",
    "as_vec3_float_or_none",
    "as_vec3_int_or_none",
    *_errors_all,
    *_constants_all,
    *_properties_all,
    # api-props
    "AgglomerateAttachment",
    "AgglomerateGraph",
    "Attachment",
    "Attachments",
    "ConnectomeAttachment",
    "CumsumAttachment",
    "MeshAttachment",
    "SegmentIndexAttachment",
    "SegmentStatisticsAttachment",
    "LayerExport",
    # not supported: importable placeholders
    *_server_names,
    *_annotation_names,
})


def __getattr__(name: str) -> object:
    """`AgglomerateGraph` is loaded on first use: it brings in networkx."""
    if name == "AgglomerateGraph":
        from wkpy.agglomerate_graph import AgglomerateGraph

        return AgglomerateGraph
    raise AttributeError(f"module 'wkpy' has no attribute {name!r}")
