"""Readers of 2-D pictures: one file (`SingleImageSliceReader`), or a sequence of files
(`MultiImageSliceReader`: a folder, glob pattern, zip archive or list) with one slice per file.

`imread` decodes one picture: TIFF with tifffile, everything else with Pillow (palette
pictures become RGB, or RGBA if they have a transparent colour; 1-bit pictures become
uint8 0/255), as ``(y, x)`` or ``(y, x, c)``.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import warnings
import zipfile
from collections.abc import Iterable
from io import BytesIO
from typing import IO, Any

import numpy as np
from numpy.typing import DTypeLike

from wkpy.dataset._image_conversion.image_source_registry import register_slice_reader
from wkpy.dataset._image_conversion.slice_reader import SliceReader, check_claimed_size, check_tiff_page
from wkpy.errors import UnsupportedImageDataError

__all__ = ["imread", "natural_key", "SingleImageSliceReader", "MultiImageSliceReader", "TIFF_EXTENSIONS",
           "RGB_IMAGE_EXTENSIONS"]

TIFF_EXTENSIONS = frozenset({"tif", "tiff"})
RGB_IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "bmp", "ico"})
"""Everyday picture formats, whose channels are the red, green, blue (and alpha) of one picture."""

_CHANNEL_AXES = "SC"  # tifffile: S samples of a pixel, C channels


def natural_key(name: str | os.PathLike[str]) -> list[Any]:
    """Sort key putting ``img2`` before ``img10``: digit runs compare as numbers (as natsort's
    default key, which webknossos 4.3.3 uses)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", os.fspath(name))]


def _extension(name: str) -> str:
    return os.path.splitext(name)[1].lstrip(".").lower()


def _tiff_plane(data: np.ndarray, axes: str, where: object) -> np.ndarray:
    """A tifffile series of one picture (``YX``, ``YXS``, ``SYX``, ``CYX``) as (y, x[, c])."""
    keep = [i for i, (a, n) in enumerate(zip(axes, data.shape)) if n > 1 or a in "YX"]
    data = data.reshape([data.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    channels = [a for a in axes if a in _CHANNEL_AXES]
    if len(axes) - len(channels) != 2 or len(channels) > 1 or "Y" not in axes or "X" not in axes:
        raise UnsupportedImageDataError(f"{where} holds a {data.ndim}-dimensional image (axes {axes}), "
                                        "but a slice of a sequence must be one 2-D picture")
    order = [axes.index("Y"), axes.index("X")] + [axes.index(a) for a in channels]
    return data.transpose(order)


def imread(source: str | os.PathLike[str] | IO[bytes], extension: str | None = None,
           name: str | None = None) -> np.ndarray:
    """Decode one 2-D picture as (y, x) or (y, x, c).

    Parameters
    ----------
    source : path or binary file
    extension : str, optional
        Lower-case extension without dot, when `source` is a file object.
    name : str, optional
        What error messages call `source` (default: `source` itself).
    """
    ext = extension if extension is not None else _extension(os.fspath(source))  # type: ignore[arg-type]
    where = name if name is not None else source
    if ext in TIFF_EXTENSIONS:
        import tifffile

        with tifffile.TiffFile(source) as tif:
            series = tif.series[0]
            for page in series.pages:
                if page is not None:
                    check_tiff_page(where, page, tif.filehandle.size)
            return _tiff_plane(series.asarray(), series.axes, where)
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # microscopy slices are large by nature, not decompression bombs
    with Image.open(source) as image:
        itemsize = 4 if image.mode in ("I", "F") else 2 if image.mode.startswith("I;16") else 1
        check_claimed_size(where, (image.height, image.width, len(image.getbands()), itemsize), np.uint8)
        if image.mode == "1":
            image = image.convert("L")
        elif image.mode in ("P", "PA"):
            image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA"
                                  else image.palette.mode if image.palette else "RGB")
        data = np.asarray(image)
    if data.ndim not in (2, 3):
        raise UnsupportedImageDataError(f"{where} decodes to a {data.ndim}-dimensional array, "
                                        "not a 2-D picture (y, x) or (y, x, channels)")
    return data


def _plane_axes(plane: np.ndarray) -> str:
    return "yx" if plane.ndim == 2 else "yxc"


@register_slice_reader
class SingleImageSliceReader(SliceReader):
    """One 2-D picture (PNG, JPEG, GIF, BMP, ICO) as a sequence of one slice."""

    class_priority = 12
    channels_are_rgb = True

    @classmethod
    def supported_file_extensions(cls) -> set[str]:
        return set(RGB_IMAGE_EXTENSIONS)

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        super().__init__()
        self._data = imread(filename)
        axes = _plane_axes(self._data)
        for axis, size in zip(axes, self._data.shape):
            self._init_axis(axis, size)
        self._set_get_slice(lambda **_: self._data, axes)

    @property
    def pixel_type(self) -> DTypeLike:
        return self._data.dtype


def _files_of(path_spec: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
              ) -> tuple[list[str], zipfile.ZipFile | None]:
    """The files of a folder, glob pattern or zip archive (natural order), or of a list (its order)."""
    if not isinstance(path_spec, (str, os.PathLike)):
        return [os.fspath(p) for p in path_spec], None
    spec = os.fspath(path_spec)
    if os.path.isfile(spec) and _extension(spec) == "zip":
        archive = zipfile.ZipFile(spec)
        names = [n for n in archive.namelist() if fnmatch.fnmatch(n, "*.*")]
        return sorted(names, key=natural_key), archive
    if os.path.isdir(spec):
        warnings.warn("Loading ALL files in this directory. To ignore extraneous files, use a pattern like "
                      "'path/to/images/*.png'", UserWarning, stacklevel=3)
        files = [os.path.join(os.path.abspath(spec), name) for name in os.listdir(spec)]
    else:
        files = glob.glob(spec)
    if not files:
        raise FileNotFoundError(f"No files were found matching {spec}.")
    return sorted(files, key=natural_key), None


class MultiImageSliceReader(SliceReader):
    """2-D pictures, one slice (``z``) per file; each must decode like the first.

    Only the first file is read when opening; the others when their slice is asked for.
    """

    def __init__(self, path_spec: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> None:
        super().__init__()
        self._zipfile: zipfile.ZipFile | None = None
        self._files, self._zipfile = _files_of(path_spec)
        if not self._files:
            raise FileNotFoundError(f"No files were found in {path_spec!r}.")
        first = self._read(self._files[0])
        self._dtype = first.dtype
        self.channels_are_rgb = _extension(self._files[0]) in RGB_IMAGE_EXTENSIONS
        self._init_axis("z", len(self._files))
        axes = _plane_axes(first)
        for axis, size in zip(axes, first.shape):
            self._init_axis(axis, size)
        self._set_get_slice(self._read_slice, axes)
        self.iter_axes = ["z"]

    @property
    def files(self) -> list[str]:
        """The files, in slice order."""
        return list(self._files)

    def _read(self, name: str) -> np.ndarray:
        if self._zipfile is not None:
            where = f"{self._zipfile.filename}:{name}"
            check_claimed_size(where, (self._zipfile.getinfo(name).file_size,), np.uint8)
            return imread(BytesIO(self._zipfile.read(name)), _extension(name), where)
        return imread(name)

    def _read_slice(self, **coords: int) -> np.ndarray:
        return self._read(self._files[coords["z"]])

    @property
    def pixel_type(self) -> DTypeLike:
        return self._dtype

    def close(self) -> None:
        if self._zipfile is not None:
            self._zipfile.close()
            self._zipfile = None
        super().close()
