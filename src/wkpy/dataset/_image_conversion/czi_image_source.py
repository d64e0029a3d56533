"""`CziImageSource`: Zeiss ``.czi`` files, read through the optional package ``pylibCZIrw``
(``pip install "wkpy[czi]"``).

A task reads just its box (pylibCZIrw's ``roi``), one z-plane at a time. A CZI ``C`` is a
separate acquisition, chosen with ``czi_channel`` (each may become a layer); the
channels of one acquisition come from its pixel type (Gray: 1, Bgr: 3, Bgra: 4, stored
blue first and written red first). Scenes are regions of one plane, converted together.
Dimensions beyond X, Y, Z, C, T of size > 1 cannot be stored; several timepoints (T) make
an n-d layer with a t axis, as in webknossos 4.3.3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pylibCZIrw import czi as pyczi

from wkpy.dataset._image_conversion.chunked_image_source import ChunkedImageSource
from wkpy.dataset._image_conversion.image_source import ReadOptions, compute_channel_selection
from wkpy.dataset._image_conversion.image_source_registry import register_chunked_image_source
from wkpy.errors import CorruptImageError, InvalidRequestError, UnsupportedImageDataError

__all__ = ["CziImageSource", "PIXEL_TYPES"]

PIXEL_TYPES: dict[str, tuple[str, int]] = {
    "Gray8": ("uint8", 1),
    "Gray16": ("uint16", 1),
    "Gray32": ("int32", 1),
    "Gray64": ("int64", 1),
    "Gray32Float": ("float32", 1),
    "Gray64ComplexFloat": ("complex64", 1),
    "Bgr24": ("uint8", 3),
    "Bgr48": ("uint16", 3),
    "Bgr96Float": ("float32", 3),
    "Bgr192ComplexFloat": ("complex64", 3),
    "Bgra32": ("uint8", 4),
}
"""CZI pixel type → (voxel type, components per pixel)."""

_DIMENSIONS = frozenset("XYZTC")


def _extent(box: dict[str, tuple[int, int]], name: str) -> tuple[int, int]:
    """(start, size) of a CZI dimension; an absent one is (0, 1)."""
    if name not in box:
        return 0, 1
    start, end = box[name]
    return start, end - start


@register_chunked_image_source
class CziImageSource(ChunkedImageSource):
    """A CZI image (see the module docstring).

    Raises
    ------
    CorruptImageError
        pylibCZIrw cannot open the file.
    UnsupportedImageDataError
        An unknown pixel type, another dimension of size > 1.
    InvalidRequestError
        `czi_channel` names no channel of the file.
    """

    @classmethod
    def supported_file_extensions(cls) -> set[str]:
        return {"czi"}

    def __init__(self, path: str | Path, options: ReadOptions) -> None:
        super().__init__(path, options)
        chosen = options.format_option("czi_channel")
        self.czi_channel = 0 if chosen is None else chosen
        with self._czi_file() as czi:
            box = czi.total_bounding_box
            self._czi_channels = sorted(czi.pixel_types)
            frame = czi.total_bounding_rectangle   # what read() without roi returns
            self._x_offset, self._y_offset, self._x, self._y = frame.x, frame.y, frame.w, frame.h
            self._z_offset, self._z = _extent(box, "Z")
            self._t_offset, self._t = _extent(box, "T")
            for name, (start, end) in box.items():
                if name not in _DIMENSIONS and end - start > 1:
                    raise UnsupportedImageDataError(
                        f"Cannot convert {self.path}: it has a '{name}' dimension of size {end - start}, which "
                        "cannot be represented. Only the X, Y, Z, T and C dimensions are supported.", path=self.path)
            pixel_type = czi.get_channel_pixel_type(self.czi_channel)
        if pixel_type == "Invalid" or self.czi_channel not in self._czi_channels:
            raise InvalidRequestError(f"czi_channel {self.czi_channel} does not exist in {self.path}. "
                                      f"Available channels: {self._czi_channels}.")
        if pixel_type not in PIXEL_TYPES:
            raise UnsupportedImageDataError(f"Got unsupported czi pixel-type {pixel_type} in {self.path}.",
                                            path=self.path)
        voxel_type, components = PIXEL_TYPES[pixel_type]
        self.dtype = np.dtype(voxel_type)
        self.num_channels, self._channel, self._first_n_channels, possible = compute_channel_selection(
            components, options.channel)
        self._possible_layers: dict[str, list[int]] = {"channel": possible} if possible is not None else {}
        if len(self._czi_channels) > 1:
            self._possible_layers["czi_channel"] = list(self._czi_channels)

    @contextmanager
    def _czi_file(self) -> Iterator[Any]:
        try:
            opened = pyczi.open_czi(str(self.path))
        except Exception as error:
            raise CorruptImageError(f"Cannot open CZI file {self.path}: pylibCZIrw cannot read it "
                                    f"({type(error).__name__}), so it is likely damaged or not a CZI file.",
                                    path=self.path) from error
        with opened as czi:
            yield czi

    def get_layer_split_options(self) -> dict[str, list[int]] | None:
        return dict(self._possible_layers) or None

    def _read_source_box(self, *, timepoint: int, z: slice, y: slice, x: slice) -> np.ndarray:
        roi = (self._x_offset + x.start, self._y_offset + y.start, x.stop - x.start, y.stop - y.start)
        with self._czi_file() as czi:
            planes = [czi.read(roi=roi, plane={"C": self.czi_channel, "Z": self._z_offset + k,
                                               "T": self._t_offset + timepoint})
                      for k in range(z.start, z.stop)]
        block = np.moveaxis(np.stack(planes), -1, 0)         # (components, z, y, x)
        if block.shape[0] in (3, 4):                         # BGR(A) -> RGB(A)
            block = block[[2, 1, 0, *range(3, block.shape[0])]]
        if self._channel is not None:
            return block[self._channel:self._channel + 1]
        return block[: self._first_n_channels] if self._first_n_channels is not None else block
