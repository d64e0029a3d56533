"""The image-conversion errors at the module path of webknossos 4.3.3 (``webknossos.dataset.errors``);
they live in `wkpy.errors`."""

from wkpy.errors import (
    CorruptImageError,
    ImageConversionError,
    ImagesNotFoundError,
    UnsupportedImageDataError,
    UnsupportedImageFormatError,
)

__all__ = ["ImageConversionError", "UnsupportedImageFormatError", "CorruptImageError", "UnsupportedImageDataError",
           "ImagesNotFoundError"]
