"""Positions along the additional axes of n-d arrays, and the (x, y, z) face at one.

Work that is three-dimensional by nature -- downsampling, upsampling -- runs on an n-d
layer (a time series, say) once per position along its additional axes, as webknossos
4.3.3 does it (its chunks of n-d views are one voxel long along those axes). `ArrayAt`
shows one position of an n-d `Array` as a 3-D `Array` -- boxes along x, y, z, arrays
(c, x, y, z) -- so the 3-D jobs run on it unchanged; `shards_by_position` groups the
shards on disk by the positions they hold.

Both are plain values: they travel to process pools with the array they wrap.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from wkpy.storage.array import Array, ArrayInfo

__all__ = ["ArrayAt", "Box", "shards_by_position"]

Box = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass
class ArrayAt:
    """The (x, y, z) face of the n-d array `array` at `position` (one index per additional
    axis, in the order of ``array.info.extra_axes``): an `Array` of boxes along x, y, z
    and (c, x, y, z) data, whose reads and writes touch that position only.

    Parameters
    ----------
    array : an array with additional axes (`ArrayInfo.extra_axes`).
    position : the index along each additional axis, in the array's order.
    """

    array: Array
    position: tuple[int, ...]
    info: ArrayInfo = dataclasses.field(init=False, repr=False, compare=False)
    """The wrapped array's layout, seen as (c, x, y, z) (`ArrayInfo.axes` None)."""

    def __post_init__(self) -> None:
        self.info = dataclasses.replace(self.array.info, axes=None)

    def _ones(self) -> tuple[int, ...]:
        return (1,) * len(self.position)

    def read(self, offset: Sequence[int], shape: Sequence[int]) -> np.ndarray:
        """The (c, x, y, z) voxels of the box (`offset`, `shape` along x, y, z) at the position."""
        data = self.array.read((*offset, *self.position), (*shape, *self._ones()))
        return data.reshape(data.shape[:4])          # drops the axes of 1: a view, no copy

    def write(self, offset: Sequence[int], data: np.ndarray) -> None:
        """Store (c, x, y, z) `data` at `offset` (x, y, z) at the position."""
        data = np.asarray(data)
        self.array.write((*offset, *self.position), data.reshape(data.shape + self._ones()))

    def list_shards(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """(offset, shape) along x, y, z of the shards on disk that hold the position."""
        return [(off[:3], shape[:3]) for off, shape in self.array.list_shards()
                if all(o <= p < o + n for p, o, n in zip(self.position, off[3:], shape[3:]))]


def shards_by_position(shards: Iterable[Box], bounds: Sequence[tuple[int, int]]) -> dict[tuple[int, ...], list[Box]]:
    """The shards on disk of an array with additional axes, by position along them.

    Parameters
    ----------
    shards : (offset, shape) of each shard, along x, y, z and the additional axes (as
        `Array.list_shards` gives them).
    bounds : [start, end) along each additional axis, in the array's order (a layer's
        ``additionalAxes`` bounds): positions outside are left out.

    Returns
    -------
    dict
        Each position (a tuple, one index per additional axis; ``()`` for 3-D arrays)
        that a shard holds, mapped to the (offset, shape) along x, y, z of those shards,
        in the order of `shards`.
    """
    out: dict[tuple[int, ...], list[Box]] = {}
    for offset, shape in shards:
        along = [range(max(lo, o), min(hi, o + n)) for (lo, hi), o, n in zip(bounds, offset[3:], shape[3:])]
        for position in itertools.product(*along):
            out.setdefault(position, []).append((tuple(offset[:3]), tuple(shape[:3])))
    return out
