"""`TiffSliceReader`: one TIFF file (a picture, a stack, an ImageJ or OME hyperstack) with
the axes tifffile finds in it, read page by page.

Axis names are tifffile's, lower case (``z``, ``c``, ``t``, ``s`` samples, ``q`` unknown).
Three uint8 samples of an RGB picture become the channel axis ``c``. Several unknown
axes are told apart: the innermost becomes ``z`` if there is none, the others ``q``,
``q1``, ... A slice reads only the pages it needs (the channels of one z, say); ImageJ
virtual stacks (one IFD, frames stored one after another) are read frame by frame.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tifffile

from wkpy.dataset._image_conversion.image_source_registry import register_slice_reader
from wkpy.dataset._image_conversion.slice_reader import SliceReader, check_tiff_page
from wkpy.errors import CorruptImageError

__all__ = ["TiffSliceReader"]


def _name_unknown_axes(axes: tuple[str, ...]) -> tuple[str, ...]:
    if axes.count("q") <= 1:
        return axes
    named = list(axes)
    unknown = [i for i, a in enumerate(axes) if a == "q"]
    if "z" not in axes:
        named[unknown.pop()] = "z"
    for n, i in enumerate(unknown):
        named[i] = "q" if n == 0 else f"q{n}"
    return tuple(named)


@register_slice_reader
class TiffSliceReader(SliceReader):
    """A TIFF file as slices over its own axes (see the module docstring)."""

    class_priority = 19

    @classmethod
    def supported_file_extensions(cls) -> set[str]:
        return {"tif", "tiff"}

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._tif: tifffile.TiffFile | None = None
        with tifffile.TiffFile(self.path) as tif:
            series = tif.series[0]
            keyframe = series.keyframe
            raw_axes = tuple(series.axes.lower())
            self._dtype = np.dtype(keyframe.dtype or np.uint8)
            self._frame_shape = tuple(keyframe.shape)
            rgb = ("s" in raw_axes and "c" not in raw_axes and series.shape[raw_axes.index("s")] == 3
                   and keyframe.photometric == tifffile.PHOTOMETRIC.RGB and self._dtype == np.uint8)
            self.channels_are_rgb = rgb
            rename = {"s": "c"} if rgb else {}
            self._axes = _name_unknown_axes(tuple(rename.get(a, a) for a in raw_axes))
            page_axes = tuple(rename.get(a, a) for a in keyframe.axes.lower())
            # the innermost axes of the series are the page's (tifffile's layout)
            self._page_axes = self._axes[len(self._axes) - len(page_axes):]
            self._outer_axes = self._axes[: len(self._axes) - len(page_axes)]
            self._truncated = bool(getattr(series, "is_truncated", False)) and series.dataoffset is not None
            self._dataoffset = series.dataoffset
            self._byteorder = tif.byteorder
            self._file_size = tif.filehandle.size
            check_tiff_page(self.path, keyframe, self._file_size)
            for axis, size in zip(self._axes, series.shape):
                self._init_axis(axis, size)
        self._declared = ("c", "y", "x") if "c" in self._axes else ("y", "x")
        self._set_get_slice(self._read_plane, self._declared)

    @property
    def pixel_type(self) -> np.dtype:
        return self._dtype

    def _file(self) -> tifffile.TiffFile:
        if self._tif is None:
            self._tif = tifffile.TiffFile(self.path)
        return self._tif

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
            self._tif = None
        super().close()

    def _frame(self, index: int) -> np.ndarray:
        """Page `index` of the series, with the page's axes."""
        tif = self._file()
        if self._truncated:
            count = int(np.prod(self._frame_shape))
            stored = np.dtype(self._byteorder + self._dtype.str[1:])
            start = self._dataoffset + index * count * stored.itemsize  # type: ignore[operator]
            if start + count * stored.itemsize > self._file_size:
                raise CorruptImageError(f"{self.path}: the file ends inside frame {index}", path=self.path)
            tif.filehandle.seek(start)
            raw = tif.filehandle.read(count * stored.itemsize)
            if len(raw) < count * stored.itemsize:
                raise CorruptImageError(f"{self.path}: the file ends inside frame {index}", path=self.path)
            return np.frombuffer(raw, stored).reshape(self._frame_shape).astype(self._dtype)
        pages = tif.series[0].pages
        page = pages[index] if index < len(pages) else None
        if page is None:
            raise CorruptImageError(f"{self.path}: page {index} of the series is missing", path=self.path)
        check_tiff_page(self.path, page, self._file_size)
        return page.asarray()

    def _read_plane(self, **coords: int) -> np.ndarray:
        """The (y, x) or (c, y, x) plane at `coords` of every other axis."""
        channels = range(self.sizes["c"]) if "c" in self._outer_axes else [None]
        planes = []
        for c in channels:
            at = dict(coords) if c is None else {**coords, "c": c}
            index = int(np.ravel_multi_index([at[a] for a in self._outer_axes],
                                             [self.sizes[a] for a in self._outer_axes])) if self._outer_axes else 0
            frame = self._frame(index)
            keep = [a for a in self._page_axes if a in self._declared]
            pick: tuple[Any, ...] = tuple(slice(None) if a in keep else at[a] for a in self._page_axes)
            frame = frame[pick]
            planes.append(frame.transpose([keep.index(a) for a in self._declared if a in keep]))
        if channels == [None]:
            return planes[0]
        return np.stack(planes)
