"""The ``datasource-properties.json`` model: parsing, validation and writing.

`DatasetProperties.to_json` (and `save_properties`) produce what webknossos 4.3.3 writes
for the same dataset: same keys, key order, number formatting and 4-space indentation.
Fields the model does not know are kept in ``extra`` dicts and written back.
"""

from ._axes import AdditionalAxis
from ._dtypes import dtype_and_channels, element_class_for
from ._io import load_properties, load_versioned, save_properties
from ._attachments import AttachmentDataFormat, AttachmentProperties, AttachmentsProperties
from ._converter import DatasetConverter, get_dataset_converter
from ._model import (
    DatasetProperties,
    LayerProperties,
    MagProperties,
    MagViewProperties,
    SegmentationLayerProperties,
    default_mag_path,
)
from ._transforms import (
    AffineCoordinateTransformation,
    CoordinateTransformation,
    ThinPlateSplineCoordinateTransformation,
)
from ._view_configuration import DatasetViewConfiguration, LayerViewConfiguration
from ._schema import (
    CATEGORIES,
    DATA_FORMATS,
    DEFAULT_AXIS_ORDER,
    JS_MAX_SAFE_INTEGER,
    LENGTH_UNITS,
    PROPERTIES_FILE_NAME,
)

__all__ = [
    "AdditionalAxis",
    "CATEGORIES",
    "DATA_FORMATS",
    "DEFAULT_AXIS_ORDER",
    "JS_MAX_SAFE_INTEGER",
    "LENGTH_UNITS",
    "PROPERTIES_FILE_NAME",
    "AffineCoordinateTransformation",
    "AttachmentDataFormat",
    "AttachmentProperties",
    "AttachmentsProperties",
    "CoordinateTransformation",
    "DatasetViewConfiguration",
    "LayerViewConfiguration",
    "MagViewProperties",
    "SegmentationLayerProperties",
    "ThinPlateSplineCoordinateTransformation",
    "DatasetConverter",
    "DatasetProperties",
    "LayerProperties",
    "MagProperties",
    "default_mag_path",
    "dtype_and_channels",
    "element_class_for",
    "get_dataset_converter",
    "load_properties",
    "load_versioned",
    "save_properties",
]
