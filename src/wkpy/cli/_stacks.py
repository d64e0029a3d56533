"""Image stacks read slab by slab: a folder of 2-D images (TIFF, PNG, JPEG) or one TIFF file.

A stack is read as (c, x, y, z) slabs in Fortran order, ready for `View.write`; a 2-D image
(rows y, columns x) becomes one z-slice. Stacks are picklable (paths and layout only), so
slabs can be read in worker processes. tifffile and Pillow are imported on first use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from wkpy.cli._common import CliError

__all__ = ["StackShape", "ImageStack", "ImageFolder", "TiffStack", "open_stack", "IMAGE_SUFFIXES"]

TIFF_SUFFIXES = (".tif", ".tiff")
IMAGE_SUFFIXES = (*TIFF_SUFFIXES, ".png", ".jpg", ".jpeg")
_CHANNEL_AXES = "SC"  # tifffile: S samples within a page, C channels (pages or planes)


@dataclass(frozen=True)
class StackShape:
    """Size and voxel type of a stack: `width` is x, `height` y, `depth` the number of slices."""

    width: int
    height: int
    depth: int
    num_channels: int
    dtype: np.dtype

    @property
    def slice_bytes(self) -> int:
        return self.width * self.height * self.num_channels * self.dtype.itemsize


class ImageStack(Protocol):
    shape: StackShape

    def read(self, z0: int, z1: int) -> np.ndarray:
        """Slices ``z0 ≤ z < z1`` as a (c, x, y, z) Fortran-ordered array."""
        ...


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Report an unreadable or corrupt image file as one line naming the file."""
    try:
        yield
    except CliError:
        raise
    except (ValueError, OSError, KeyError, IndexError) as error:
        raise CliError(f"{path}: cannot read it as an image ({type(error).__name__}: {error})") from error


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _to_yxc(data: np.ndarray, axes: str, where: str) -> np.ndarray:
    """An image with tifffile axes (e.g. ``YX``, ``YXS``, ``SYX``) as (y, x, c)."""
    keep = [i for i, (a, n) in enumerate(zip(axes, data.shape)) if n > 1 or a in "YX"]
    data = data.reshape([data.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    extra = [a for a in axes if a not in "YX" + _CHANNEL_AXES]
    channels = [a for a in axes if a in _CHANNEL_AXES]
    if extra or len(channels) > 1 or "Y" not in axes or "X" not in axes:
        raise CliError(f"{where}: image axes {axes!r} are not a 2-D image (YX, with at most one channel axis)")
    order = [axes.index("Y"), axes.index("X")] + [axes.index(a) for a in channels]
    data = data.transpose(order)
    return data if data.ndim == 3 else data[:, :, np.newaxis]


def _read_image(path: Path) -> np.ndarray:
    """One 2-D image file as (y, x, c)."""
    with _reading(path):
        return _decode(path)


def _decode(path: Path) -> np.ndarray:
    if path.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return _to_yxc(series.asarray(), series.axes, str(path))
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # local microscopy slices are large by nature, not bombs
    with Image.open(path) as image:
        data = np.asarray(image.convert("L") if image.mode == "1" else image)
    return data if data.ndim == 3 else data[:, :, np.newaxis]


def _into(out: np.ndarray, i: int, image: np.ndarray, shape: StackShape, where: str) -> None:
    """Put a (y, x, c) image into slice `i` of a (c, x, y, z) slab, checking it fits."""
    if image.shape != (shape.height, shape.width, shape.num_channels) or image.dtype != shape.dtype:
        raise CliError(f"{where}: a {image.shape[1]}×{image.shape[0]}×{image.shape[2]} {image.dtype} image, "
                       f"but the stack is {shape.width}×{shape.height}×{shape.num_channels} {shape.dtype}")
    out[:, :, :, i] = image.transpose(2, 1, 0)


def _slab(shape: StackShape, n: int) -> np.ndarray:
    return np.empty((shape.num_channels, shape.width, shape.height, n), shape.dtype, order="F")


class ImageFolder:
    """One 2-D image per slice: files in natural name order (``img2`` before ``img10``)."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        first = _read_image(files[0])
        self.shape = StackShape(first.shape[1], first.shape[0], len(files), first.shape[2], first.dtype)

    def read(self, z0: int, z1: int) -> np.ndarray:
        out = _slab(self.shape, z1 - z0)
        for i, path in enumerate(self.files[z0:z1]):
            _into(out, i, _read_image(path), self.shape, str(path))
        return out


class TiffStack:
    """A multi-page TIFF (e.g. ZYX, ZYXS, or ImageJ ZCYX), read page by page.

    Pages of a channel axis ``C`` become channels; all other axes outside the pages
    (Z, T, Q, ...) must have one of size > 1 at most, which becomes z.
    """

    def __init__(self, path: Path) -> None:
        import tifffile

        self.path = path
        with _reading(path), tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            page_axes = series.keyframe.axes
            outer_axes = series.axes[: len(series.axes) - len(page_axes)]
            self._outer_shape = tuple(series.shape[: len(outer_axes)])
            self._page_axes = page_axes
            self._channel_axis = outer_axes.find("C")
            stacking = [n for a, n in zip(outer_axes, self._outer_shape) if a != "C"]
            if sum(n > 1 for n in stacking) > 1:
                raise CliError(f"{path}: axes {series.axes!r} hold more than one stack axis; "
                               "wkpy converts one z-stack (split the others first)")
            self._paged = len(series.pages) == math.prod(self._outer_shape) and None not in series.pages
            first = _to_yxc(series.keyframe.asarray(), page_axes, str(path))
        channels = first.shape[2]
        if self._channel_axis >= 0:
            if channels > 1:
                raise CliError(f"{path}: has both a channel axis and samples per pixel")
            channels = self._outer_shape[self._channel_axis]
        self.shape = StackShape(first.shape[1], first.shape[0], math.prod(stacking), channels, first.dtype)

    def _outer_index(self, z: int, c: int) -> tuple[int, ...]:
        others = [n for i, n in enumerate(self._outer_shape) if i != self._channel_axis]
        index = [int(i) for i in np.unravel_index(z, others)] if others else []
        if self._channel_axis >= 0:
            index.insert(self._channel_axis, c)
        return tuple(index)

    def read(self, z0: int, z1: int) -> np.ndarray:
        import tifffile

        out = _slab(self.shape, z1 - z0)
        planes = self.shape.num_channels if self._channel_axis >= 0 else 1
        with _reading(self.path), tifffile.TiffFile(self.path) as tif:
            series = tif.series[0]
            mapped = None if self._paged else tifffile.memmap(self.path, series=0, mode="r").reshape(series.shape)
            for i, z in enumerate(range(z0, z1)):
                parts = []
                for c in range(planes):
                    index = self._outer_index(z, c)
                    if mapped is None:
                        page = series.pages[int(np.ravel_multi_index(index, self._outer_shape))] if index \
                            else series.keyframe
                        data = page.asarray()  # type: ignore[union-attr]  # None only if not _paged
                    else:
                        data = np.asarray(mapped[index])
                    parts.append(_to_yxc(data, self._page_axes, f"{self.path} slice {z}"))
                _into(out, i, parts[0] if planes == 1 else np.concatenate(parts, axis=2), self.shape,
                      f"{self.path} slice {z}")
        return out


def open_stack(source: Path) -> ImageStack:
    """The stack in `source`: a folder of 2-D images, or one image file (a TIFF may hold many slices).

    Raises
    ------
    CliError
        No images in the folder, an unsupported file type, or an unreadable layout.
    """
    if source.is_dir():
        files = sorted((p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                       key=_natural_key)
        if not files:
            raise CliError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        if len(files) == 1 and files[0].suffix.lower() in TIFF_SUFFIXES:
            return TiffStack(files[0])
        return ImageFolder(files)
    if source.suffix.lower() in TIFF_SUFFIXES:
        return TiffStack(source)
    if source.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolder([source])
    raise CliError(f"{source}: not a folder of images or an image file ({', '.join(IMAGE_SUFFIXES)})")
