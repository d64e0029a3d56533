"""Which reader handles which file extension, and the one way images are opened.

A *slice reader* (`SliceReader`) reads 2-D slices and is wrapped in a
`SlicedImageSource`; a *chunked source* (`ChunkedImageSource`) reads boxes of a volume
itself. Both register here by extension. Readers of formats that need an optional
package (MRC: ``mrcfile``, IMS: ``h5py``, CZI: ``pylibCZIrw``) register only when that
package imports; their extensions are then listed by `get_unavailable_extensions` with
the wkpy extra that installs it, so errors can say what to install.

Importing this module imports every reader (tifffile and Pillow included); `import wkpy`
does not import it.
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from wkpy.errors import CorruptImageError, ImageConversionError, UnsupportedImageFormatError

if TYPE_CHECKING:
    from wkpy.dataset._image_conversion.chunked_image_source import ChunkedImageSource
    from wkpy.dataset._image_conversion.image_source import ImageSource, ReadOptions
    from wkpy.dataset._image_conversion.slice_reader import SliceReader

__all__ = ["register_slice_reader", "register_chunked_image_source", "get_valid_extensions",
           "get_valid_slice_reader_extensions", "get_valid_chunked_image_source_extensions",
           "get_unavailable_extensions", "open_slice_reader", "open_image_source", "find_input_file_extensions",
           "describe_found_formats", "describe_missing_extras", "is_chunked_source_directory",
           "no_supported_images_error"]

_SLICE_READER_CLASSES: list[type[SliceReader]] = []
_CHUNKED_IMAGE_SOURCE_CLASSES: list[type[ChunkedImageSource]] = []

_R = TypeVar("_R")


def register_slice_reader(cls: type[_R]) -> type[_R]:
    """Class decorator: `cls` (a `SliceReader`) reads its `supported_file_extensions`."""
    _SLICE_READER_CLASSES.append(cls)  # type: ignore[arg-type]
    return cls


def register_chunked_image_source(cls: type[_R]) -> type[_R]:
    """Class decorator: `cls` (a `ChunkedImageSource`) reads its `supported_file_extensions`."""
    _CHUNKED_IMAGE_SOURCE_CLASSES.append(cls)  # type: ignore[arg-type]
    return cls


def _extensions(classes: list[type[SliceReader]] | list[type[ChunkedImageSource]]) -> set[str]:
    found: set[str] = set()
    for cls in classes:
        found.update(cls.supported_file_extensions())
    return found


def get_valid_slice_reader_extensions() -> set[str]:
    """Extensions (lower case, no dot) some registered slice reader opens."""
    return _extensions(_SLICE_READER_CLASSES)


def get_valid_chunked_image_source_extensions() -> set[str]:
    """Extensions (lower case, no dot) some registered chunked source opens."""
    return _extensions(_CHUNKED_IMAGE_SOURCE_CLASSES)


def get_valid_extensions() -> set[str]:
    """Every extension that can be converted with the packages installed."""
    return get_valid_slice_reader_extensions() | get_valid_chunked_image_source_extensions()


def _suffix(path: str | os.PathLike[str]) -> str:
    return os.path.splitext(os.fspath(path))[1].lstrip(".").lower()


def open_slice_reader(path_spec: str, **kwargs: object) -> SliceReader:
    """Open a file, or a glob pattern matching several 2-D images, as a `SliceReader`.

    A pattern matching more than one file becomes a `MultiImageSliceReader`; a single
    file goes to the registered reader of highest `class_priority` that claims its
    extension (the next one if that fails).

    Raises
    ------
    UnsupportedImageFormatError
        No extension, no reader for it, or every reader failed.
    """
    from wkpy.dataset._image_conversion.common_slice_readers import MultiImageSliceReader

    if len(glob.glob(path_spec)) > 1:
        return MultiImageSliceReader(path_spec, **kwargs)
    supported = tuple(sorted(get_valid_extensions()))
    extension = _suffix(path_spec)
    if not extension:
        raise UnsupportedImageFormatError(f"Could not detect the file type of {path_spec} because it has no extension.",
                                          supported_file_extensions=supported)
    candidates = [cls for cls in _SLICE_READER_CLASSES if extension in cls.supported_file_extensions()]
    if not candidates:
        raise UnsupportedImageFormatError(
            f"Could not autodetect how to load a file of type {extension}. "
            f"The following extensions are supported: {list(supported)}",
            file_extension=extension, supported_file_extensions=supported)
    failures: list[tuple[str, Exception]] = []
    for cls in sorted(candidates, key=lambda c: c.class_priority, reverse=True):
        try:
            return cls(path_spec, **kwargs)  # type: ignore[call-arg]
        except Exception as error:  # noqa: PERF203  (the next reader may read it)
            failures.append((cls.__name__, error))
    telling = next((e for _, e in failures if isinstance(e, (ImageConversionError, OSError))), None)
    if telling is not None:
        raise telling
    summary = "; ".join(f"{name}: {type(error).__name__}: {error}" for name, error in failures)
    if os.path.isfile(path_spec):
        raise CorruptImageError(f"Could not read {path_spec}: its format (.{extension}) is supported, so the file is "
                                f"likely damaged or was not written completely ({summary}).",
                                path=Path(path_spec)) from failures[0][1]
    raise UnsupportedImageFormatError(f"Every reader of this file type failed: {summary}",
                                      file_extension=extension, supported_file_extensions=supported)


def _chunked_source_class(path: Path) -> type[ChunkedImageSource] | None:
    extension = _suffix(path)
    return next((cls for cls in _CHUNKED_IMAGE_SOURCE_CLASSES if extension in cls.supported_file_extensions()), None)


def is_chunked_source_directory(path: Path) -> bool:
    """Whether `path` is a folder a chunked source reads as one store (none yet in wkpy)."""
    return False


def open_image_source(images: Path | list[Path], options: ReadOptions) -> ImageSource:
    """`images` as an `ImageSource`: a chunked source if one claims the file's extension,
    else (and for every list of files) a `SlicedImageSource`."""
    from wkpy.dataset._image_conversion.sliced_image_source import SlicedImageSource

    if not isinstance(images, list):
        cls = _chunked_source_class(images)
        if cls is not None:
            return cls(images, options)
    return SlicedImageSource(images, options)


# ---- optional readers --------------------------------------------------------------------
class _OptionalReader(NamedTuple):
    module: str          # module of this package that defines the reader
    class_name: str
    extra: str           # the wkpy extra installing its package
    package: str         # the package it needs
    extensions: frozenset[str]


_OPTIONAL_SLICE_READERS_AND_IMAGE_SOURCES: tuple[_OptionalReader, ...] = (
    _OptionalReader("mrc_image_source", "MrcImageSource", "mrcfile", "mrcfile",
                    frozenset({"mrc", "rec", "st", "map", "ali"})),
    _OptionalReader("ims_image_source", "ImsImageSource", "ims", "h5py", frozenset({"ims"})),
    _OptionalReader("czi_image_source", "CziImageSource", "czi", "pylibCZIrw", frozenset({"czi"})),
)

_UNAVAILABLE_EXTENSIONS: dict[str, str] = {}   # extension -> extra, for readers whose package is missing


def get_unavailable_extensions() -> dict[str, str]:
    """Extensions a reader would open if its optional package were installed, mapped to
    the wkpy extra that installs it (e.g. ``{"ims": "ims"}``)."""
    return dict(_UNAVAILABLE_EXTENSIONS)


def _package_of_extra(extra: str) -> str:
    return next((r.package for r in _OPTIONAL_SLICE_READERS_AND_IMAGE_SOURCES if r.extra == extra), extra)


def find_input_file_extensions(path: Path) -> tuple[str, ...]:
    """The extensions of the files at `path` (the file itself, or everything below a
    folder), lower case without dot, most common first (ties alphabetical)."""
    files = [path] if path.is_file() else [p for p in path.glob("**/*") if p.is_file()]
    counts = Counter(e for e in (_suffix(p) for p in files) if e)
    return tuple(sorted(counts, key=lambda e: (-counts[e], e)))


def describe_found_formats(found: tuple[str, ...]) -> str:
    """A sentence naming the (unsupported) extensions found, for an error message."""
    if not found:
        return ""
    return f" Found {', '.join('.' + e for e in found)} files, none of which are supported."


def describe_missing_extras(found: dict[str, str]) -> str:
    """A sentence naming the packages (and wkpy extras) that would read the files found."""
    extras = sorted(set(found.values()))
    packages = ", ".join(_package_of_extra(e) for e in extras)
    return (f". Found {', '.join('.' + e for e in sorted(found))} files, which need the optional package "
            f"{packages}, not installed — install it with `pip install {' '.join(f'wkpy[{e}]' for e in extras)}`")


def no_supported_images_error(path: Path, opening: str, *, file_extension: str | None = None,
                              found: tuple[str, ...] | None = None) -> UnsupportedImageFormatError:
    """The error for `path` (a file or folder) holding no image a reader supports:
    `opening`, then the extensions `found` there (default: `find_input_file_extensions`)
    and the optional packages that would read them, with those as the error's attributes."""
    supported = get_valid_extensions()
    unavailable = get_unavailable_extensions()
    found = find_input_file_extensions(path) if found is None else found
    missing = {e: unavailable[e] for e in found if e in unavailable}
    message = (opening + describe_found_formats(tuple(e for e in found if e not in missing))
               + f" The following extensions are supported: {sorted(supported)}")
    if missing:
        message += describe_missing_extras(missing)
    return UnsupportedImageFormatError(message, path=path, file_extension=file_extension,
                                       supported_file_extensions=tuple(sorted(supported)),
                                       found_file_extensions=found, missing_extras=tuple(sorted(set(missing.values()))))


def _import_readers() -> None:
    """Import every reader so that it registers; note the optional ones that cannot."""
    import importlib

    from wkpy.dataset._image_conversion import common_slice_readers, tiff_slice_reader  # noqa: F401

    for reader in _OPTIONAL_SLICE_READERS_AND_IMAGE_SOURCES:
        try:
            importlib.import_module(f"{__package__}.{reader.module}")
        except ImportError:
            for extension in reader.extensions:
                _UNAVAILABLE_EXTENSIONS[extension] = reader.extra


_import_readers()
