"""`ChunkedImageSource`: volumes whose extent is in their metadata (MRC, IMS, CZI), read
and written box by box on the shard grid.

A subclass sets its extent (`_x`, `_y`, `_z`, in its own voxels) and reads one box with
`_read_source_box`; this class maps the layer's boxes to source boxes (mag, `swap_xy`,
flips over the whole extent, never within one box) and writes them. Each task holds at
most one box of a shard (split further, along chunk borders, where a shard would hold
more than its share of `SLAB_BYTES`). Boxes holding only zeros are not written: the mag
is new, so they read as zeros anyway.

A volume with several timepoints (`_t` > 1) becomes an n-d layer with a t axis (box
axes t, c, x, y, z), as in webknossos 4.3.3; each box then lies in one timepoint.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from wkpy.dataset._image_conversion.image_source import (
    ChunkResult,
    ImageSource,
    ReadOptions,
    ValueRange,
    canonical_nd_box,
    max_value_of,
)
from wkpy.executor import SLAB_BYTES, io_threads
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, NormalizedBoundingBox, Vec3Int

__all__ = ["ChunkedImageSource"]


class ChunkedImageSource(ImageSource):
    """A volume read box by box (see the module docstring)."""

    _x: int
    _y: int
    _z: int
    _t: int = 1

    def __init__(self, path: str | Path, options: ReadOptions) -> None:
        self.path = Path(path)
        self._options = options
        self._channel = options.channel

    @classmethod
    @abstractmethod
    def supported_file_extensions(cls) -> set[str]:
        """File extensions (lower case, no dot) of the format."""

    @property
    def channel(self) -> int | None:
        return self._channel

    @abstractmethod
    def _read_source_box(self, *, timepoint: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """The box (source voxels, source axis order) as (c, z, y, x), channels already selected."""

    @property
    def expected_bbox(self) -> BoundingBox | NormalizedBoundingBox:
        x, y = (self._y, self._x) if self._options.swap_xy else (self._x, self._y)
        if self._t > 1:
            return canonical_nd_box({"t": self._t, "x": x, "y": y, "z": self._z}, self.num_channels)
        return BoundingBox((0, 0, 0), (x, y, self._z))

    def copy_chunk_to_view(self, bbox: NDBoundingBox, mag_view: object, dtype: DTypeLike | None = None) -> ChunkResult:
        """Read the source box under `bbox` (at its timepoint) and write it (skipped if all zero)."""
        from wkpy.dataset.layer.view._nd_view import cxyz_to_box_order
        from wkpy.dataset.layer.view.mag_view import MagView

        assert isinstance(mag_view, MagView)
        o = self._options
        m = mag_view.mag.to_vec3_int()
        layer_bbox = mag_view.layer.bounding_box
        timepoint = bbox.get_bounds("t")[0] - layer_bbox.get_bounds("t")[0] if "t" in bbox.axes else 0
        rel = BoundingBox(bbox.topleft_xyz - layer_bbox.topleft_xyz, bbox.size_xyz)
        (x0, y0, z0), (x1, y1, z1) = rel.topleft // m, rel.bottomright // m   # output voxels of the mag
        sx, sy = ((y0, y1), (x0, x1)) if o.swap_xy else ((x0, x1), (y0, y1))     # source x, y ranges
        read_z = slice(self._z - z1, self._z - z0) if o.flip_z else slice(z0, z1)
        read_y = slice(self._y - sy[1], self._y - sy[0]) if o.flip_x else slice(*sy)
        read_x = slice(self._x - sx[1], self._x - sx[0]) if o.flip_y else slice(*sx)
        block = self._read_source_box(timepoint=timepoint, z=read_z, y=read_y, x=read_x)   # (c, z, y, x)
        block = block[:, ::-1 if o.flip_z else 1, ::-1 if o.flip_x else 1, ::-1 if o.flip_y else 1]
        block = block.transpose(0, 2, 3, 1) if o.swap_xy else block.transpose(0, 3, 2, 1)
        block = np.asarray(block, dtype=dtype if dtype is not None else block.dtype.newbyteorder("="))
        top = max_value_of(block)
        if block.any():
            if isinstance(bbox, BoundingBox):
                mag_view.write(np.asfortranarray(block), absolute_offset=bbox.topleft, allow_unaligned=True,
                               json_update_allowed=False)
            else:
                mag_view.write(cxyz_to_box_order(np.asfortranarray(block), bbox.axes), absolute_bounding_box=bbox,
                               allow_unaligned=True, json_update_allowed=False)
        return ChunkResult((x1 - x0, y1 - y0), top, ValueRange.of(block))

    def chunk_grid(self, layer_bbox: NDBoundingBox, *, mag_view: object, mag: Mag,
                   batch_size: int | None) -> list[NDBoundingBox]:
        """Shard-grid boxes (mag 1; one timepoint each), halved along chunk borders while a
        box would hold more than `SLAB_BYTES` over the tasks running at once; `batch_size`
        is not used."""
        info = mag_view.info  # type: ignore[attr-defined]
        m = mag.to_vec3_int()
        chunk = Vec3Int(info.chunk_shape)
        piece = list(Vec3Int(info.shard_shape))
        voxel_bytes = self.num_channels * np.dtype(info.voxel_type).itemsize
        budget = SLAB_BYTES // io_threads()
        while int(np.prod(piece)) * voxel_bytes > budget:
            axis = max(range(3), key=lambda a: piece[a] // chunk[a])
            if piece[axis] <= chunk[axis]:
                break
            piece[axis] = max(chunk[axis], piece[axis] // 2 // chunk[axis] * chunk[axis])
        step = Vec3Int(piece) * m
        return list(layer_bbox.chunk(step, step))

    def final_bounding_box(self, layer_bbox: NDBoundingBox, *, chunk_sizes: Sequence[tuple[int, int]],
                           mag: Mag) -> NDBoundingBox:
        """The layer's box as it was: the extent was exact from the start."""
        return layer_bbox
