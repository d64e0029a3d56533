"""Datasets, layers, mags and views: the `webknossos.dataset` names.

`Dataset` lives in `wkpy.dataset.dataset`, `Layer`/`SegmentationLayer` in
`wkpy.dataset.layer`, `MagView`/`View` in `wkpy.dataset.layer.view`, the defaults of new
layers in `wkpy.dataset.defaults`; this package re-exports them as webknossos 4.3.3 does.
"""

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
from wkpy._not_supported import RemoteDataset, RemoteFolder, RemoteLayer, RemoteSegmentationLayer
from wkpy.dataset.dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, Dataset, LayerCategoryType
from wkpy.dataset.defaults import (
    DEFAULT_CHUNK_SHAPE,
    DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES,
    DEFAULT_DATA_FORMAT,
    DEFAULT_SHARD_SHAPE,
)
from wkpy.dataset.layer import Layer, LayerExport, MagView, SegmentationLayer, View
from wkpy.dataset.sampling_modes import SamplingModes
from wkpy.dataset.transfer_mode import TransferMode
from wkpy.errors import (
    CorruptImageError,
    ImageConversionError,
    ImagesNotFoundError,
    UnsupportedImageDataError,
    UnsupportedImageFormatError,
)

__all__ = ["AgglomerateAttachment", "Attachment", "Attachments", "ConnectomeAttachment", "CumsumAttachment",
           "MeshAttachment", "SegmentIndexAttachment", "SegmentStatisticsAttachment", "COLOR_CATEGORY",
           "SEGMENTATION_CATEGORY", "Dataset", "LayerCategoryType", "DEFAULT_CHUNK_SHAPE",
           "DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES", "DEFAULT_DATA_FORMAT", "DEFAULT_SHARD_SHAPE", "Layer", "LayerExport",
           "MagView", "SegmentationLayer", "View", "SamplingModes", "ImageConversionError",
           "UnsupportedImageFormatError", "CorruptImageError", "UnsupportedImageDataError", "ImagesNotFoundError",
           "TransferMode", "RemoteDataset", "RemoteFolder", "RemoteLayer", "RemoteSegmentationLayer"]
