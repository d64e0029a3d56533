"""The one exception hierarchy of wkpy.

Every class also inherits the builtin that webknossos-libs raises in the same spot,
so code written against webknossos keeps catching what it caught before.
"""

from __future__ import annotations

import os

from wkcore.errors import CorruptFileError, UnsupportedError, WkError

__all__ = [
    "WkError",
    "CorruptFileError",
    "CorruptHeaderError",
    "UnsupportedError",
    "PropertiesError",
    "MissingLayerError",
    "DuplicateError",
    "AttachmentExistsError",
    "ReadOnlyError",
    "ForeignPathError",
    "AlignmentError",
    "InvalidRequestError",
    "ConflictError",
    "RemoteStorageError",
    "LocalOnlyError",
    "InvalidGraphError",
    "ConflictingArgumentsError",
    "InvalidCategoryError",
    "DataMismatchError",
    "InvalidDtypeError",
    "LayerTypeError",
    "FrozenAttributeError",
    "DatasetExistsError",
    "DatasetNotFoundError",
    "OperationError",
    "ImageConversionError",
    "UnsupportedImageFormatError",
    "CorruptImageError",
    "UnsupportedImageDataError",
    "ImagesNotFoundError",
    "UnsupportedVersionError",
    "MissingAxisError",
]


class PropertiesError(CorruptFileError):
    """`datasource-properties.json` (or a zarr.json) is malformed or names unknown values."""


class CorruptHeaderError(CorruptFileError, AssertionError):
    """A WKW header that is not one: wrong magic bytes or version, a block or voxel type
    outside the format (webknossos' ``TinyWkwHeader`` asserts there)."""


class MissingLayerError(WkError, KeyError, IndexError):
    """No layer or mag of that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DuplicateError(WkError, IndexError):
    """A layer or mag of that name exists already."""


class AttachmentExistsError(DuplicateError, ValueError, FileExistsError):
    """An attachment of that name is listed already, or the file or folder it would be
    written to exists (webknossos raises `ValueError` for the first, `FileExistsError`
    for the second)."""

    def __str__(self) -> str:  # not OSError's "[Errno ...]" form
        return str(self.args[0]) if self.args else ""


class ReadOnlyError(WkError, RuntimeError, PermissionError):
    """A write to a read-only dataset, layer, mag or view."""


class ForeignPathError(ReadOnlyError):
    """A file wkpy would create, change or delete lies outside the dataset being changed
    (a linked or referenced layer or mag, a planted symlink, a hostile name)."""


class AlignmentError(WkError, ValueError):
    """A write box that is not aligned to the shard grid, without `allow_unaligned=True`."""


class InvalidRequestError(WkError, ValueError, AssertionError):
    """An offset not divisible by the mag, a non-positive size, a channel-count mismatch."""


class InvalidGraphError(InvalidRequestError, KeyError, TypeError):
    """An agglomerate graph that cannot be written: node labels that are not the integers
    1..n, a node without a ``position`` of three integers, values out of range for the
    file's types (webknossos raises `ValueError`, `KeyError` for a missing ``position``,
    `TypeError` or `AttributeError` for values of the wrong type)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConflictingArgumentsError(InvalidRequestError, AttributeError):
    """Two arguments that exclude each other, e.g. `dtype` and `dtype_per_channel`
    (webknossos raises `AttributeError` there)."""


class InvalidCategoryError(InvalidRequestError, RuntimeError):
    """A layer category other than ``"color"`` and ``"segmentation"`` (webknossos raises
    `RuntimeError` there)."""


class DataMismatchError(WkError, ValueError):
    """Data of the wrong dtype or shape for the layer, or an unsupported dtype or shape."""


class InvalidDtypeError(DataMismatchError, TypeError):
    """Something that is not a dtype where one is expected (numpy raises `TypeError`)."""


class LayerTypeError(WkError, TypeError):
    """A layer of another kind than asked for (e.g. a color layer as a segmentation layer)."""


try:  # webknossos' immutable values raise attrs' error; users who name it have attrs installed
    from attr.exceptions import FrozenAttributeError as _AttrsFrozenAttributeError
except ImportError:  # pragma: no cover - attrs is absent
    _AttrsFrozenAttributeError = AttributeError  # type: ignore[assignment,misc]


class FrozenAttributeError(WkError, _AttrsFrozenAttributeError):
    """Assigning to an attribute of an immutable value (e.g. a coordinate transformation).

    An `AttributeError`, and, when attrs is installed, attrs' ``FrozenAttributeError``,
    which webknossos raises in the same spot.
    """

    def __init__(self, message: str = "can't set attribute") -> None:
        AttributeError.__init__(self, message)   # attrs' errors take no message
        self.msg = message


class DatasetExistsError(WkError, RuntimeError):
    """Creating a dataset over a non-empty folder, or a conflicting `exist_ok`."""


class DatasetNotFoundError(WkError, FileNotFoundError):
    """Opening a dataset whose folder or properties file does not exist."""


class OperationError(WkError, RuntimeError):
    """An operation that cannot be carried out as asked (e.g. an unreachable mag ladder)."""


class ConflictError(OperationError):
    """A conditional write found its object changed since it was read (or created, when it
    was to create it): nothing was written (see `wkpy.storage.store`)."""


class LocalOnlyError(UnsupportedError, AssertionError):
    """An operation that needs a local file system (symbolic links, renaming folders) asked
    of a dataset on remote storage; webknossos 4.3.3 asserts there."""


class RemoteStorageError(WkError, OSError):
    """An object store or web server could not be reached or refused a request (the
    message names the URL and what the client said)."""


# ---- image conversion (`Dataset.from_images`, `Dataset.add_layer_from_images`) -------------
class ImageConversionError(WkError, ValueError):
    """Images that cannot be converted into a layer, as webknossos 4.3.3 raises it.

    Attributes
    ----------
    path : pathlib.Path or None
        The offending input (a file or folder), None when the images were given as a
        list or the failure is not tied to one path.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnsupportedImageFormatError(ImageConversionError, UnsupportedError):
    """No reader handles the images' format, or the reader's optional package is missing.

    Attributes
    ----------
    file_extension : str or None
        The offending file's extension (lower case, no dot), None for a folder.
    supported_file_extensions : tuple of str
        The extensions that can be converted with the packages installed.
    found_file_extensions : tuple of str
        The extensions present in the input, most common first.
    missing_extras : tuple of str
        The wkpy extras (``pip install "wkpy[NAME]"``) that would read the input; empty
        if no reader exists for it at all.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None,
                 file_extension: str | None = None, supported_file_extensions: tuple[str, ...] = (),
                 found_file_extensions: tuple[str, ...] | None = None,
                 missing_extras: tuple[str, ...] = ()) -> None:
        super().__init__(message, path=path)
        self.file_extension = file_extension
        self.supported_file_extensions = supported_file_extensions
        if found_file_extensions is None:
            found_file_extensions = () if file_extension is None else (file_extension,)
        self.found_file_extensions = found_file_extensions
        self.missing_extras = missing_extras


class CorruptImageError(ImageConversionError, CorruptFileError):
    """A file of a supported image format that its reader cannot make sense of (damaged
    or cut short); the reader's own error is the ``__cause__``. A missing or unreadable
    file keeps its `FileNotFoundError` / `PermissionError`."""


class UnsupportedImageDataError(ImageConversionError, UnsupportedError):
    """Readable images whose data cannot be stored as asked: e.g. float voxels for a
    segmentation layer, several channels where one layer holds one, axes beyond c, x, y, z."""


class ImagesNotFoundError(WkError, FileNotFoundError, ValueError):
    """The images to convert do not exist (no such file or folder, a pattern matching
    nothing). A `FileNotFoundError`, and a `ValueError` as webknossos 4.3.3 raises there;
    deliberately not an `ImageConversionError`, which blames the images' contents."""
class MissingAxisError(WkError, KeyError, ValueError):
    """A vector or bounding box has no axis of that name (webknossos raises `KeyError`,
    or `ValueError` where it looks the name up with ``tuple.index``)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnsupportedVersionError(PropertiesError, AssertionError):
    """A `datasource-properties.json` of a ``version`` wkpy does not read (webknossos
    asserts there)."""
