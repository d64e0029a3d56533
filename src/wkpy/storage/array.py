"""The storage seam: what every on-disk format offers the views above it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

if TYPE_CHECKING:
    from wkpy.storage._zarr3_meta import Zarr3Config

Vec3 = tuple[int, int, int]


@dataclass(frozen=True)
class ArrayInfo:
    """Layout of one mag on disk, in the mag's own voxels.

    `chunk_shape` is the unit of compression (a WKW block, a Zarr inner chunk) and
    `shard_shape` the unit of files (a WKW file, a Zarr shard). `zarr3_config` (Zarr3 only)
    gives the chunk codecs and key encoding; None means webknossos' defaults, with zstd if
    `compression`. An opened Zarr3 array reports its own codecs there.
    """

    data_format: str
    dtype: np.dtype
    num_channels: int
    chunk_shape: Vec3
    shard_shape: Vec3
    compression: bool
    zarr3_config: Zarr3Config | None = None

    @property
    def voxel_type(self) -> np.dtype:
        """Numpy dtype of one channel (the name webknossos uses)."""
        return self.dtype

    @property
    def compression_mode(self) -> bool:
        """Whether chunks are compressed (the name webknossos uses)."""
        return self.compression

    @property
    def chunks_per_shard(self) -> Vec3:
        c, s = self.chunk_shape, self.shard_shape
        return (s[0] // c[0], s[1] // c[1], s[2] // c[2])


class Array(Protocol):
    """One mag of one layer on disk. Boxes are (offset, shape) in the mag's voxels."""

    info: ArrayInfo

    def read(self, offset: Vec3, shape: Vec3) -> np.ndarray:
        """Voxels of the box as a (c, x, y, z) array; unwritten parts read as the fill value."""
        ...

    def write(self, offset: Vec3, data: np.ndarray) -> None:
        """Store a (c, x, y, z) array at `offset`, growing the array if needed."""
        ...

    def list_shards(self) -> list[tuple[Vec3, Vec3]]:
        """(offset, shape) of every shard that exists on disk."""
        ...


class ShardPart(NamedTuple):
    """The part of a request box that falls into one shard."""

    shard: Vec3  # shard grid index
    local: Vec3  # start inside the shard
    start: Vec3  # start inside the request
    extent: Vec3


def split_by_shard(offset: Vec3, shape: Vec3, shard: Vec3) -> list[ShardPart]:
    """Split the box (offset, shape) along the shard grid, in z-y-x order of shards."""
    ranges = [range(offset[a] // shard[a], -(-(offset[a] + shape[a]) // shard[a])) for a in range(3)]
    parts = []
    for k in ranges[2]:
        for j in ranges[1]:
            for i in ranges[0]:
                idx = (i, j, k)
                lo = [max(offset[a], idx[a] * shard[a]) for a in range(3)]
                hi = [min(offset[a] + shape[a], (idx[a] + 1) * shard[a]) for a in range(3)]
                parts.append(ShardPart(
                    idx,
                    (lo[0] - i * shard[0], lo[1] - j * shard[1], lo[2] - k * shard[2]),
                    (lo[0] - offset[0], lo[1] - offset[1], lo[2] - offset[2]),
                    (hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]),
                ))
    return parts


def split_for_threads(parts: list[ShardPart], chunk: Vec3, threads: int) -> list[ShardPart]:
    """Split shard parts along z at chunk borders until there are about `threads` of them.

    Reads of one shard may run in parallel (each decodes its own chunks), so a request
    that touches fewer shards than there are cores still uses every core.
    """
    if len(parts) >= threads:
        return parts
    out = []
    for p in parts:
        z0, z1 = p.local[2], p.local[2] + p.extent[2]
        cuts = max(1, threads // len(parts))
        first, last = z0 // chunk[2], (z1 - 1) // chunk[2]
        n_chunks = last - first + 1
        step = -(-n_chunks // cuts)
        lo = z0
        for c in range(first + step, last + 1, step):
            hi = c * chunk[2]
            out.append(ShardPart(p.shard, (p.local[0], p.local[1], lo), (p.start[0], p.start[1], p.start[2] + lo - z0),
                                 (p.extent[0], p.extent[1], hi - lo)))
            lo = hi
        out.append(ShardPart(p.shard, (p.local[0], p.local[1], lo), (p.start[0], p.start[1], p.start[2] + lo - z0),
                             (p.extent[0], p.extent[1], z1 - lo)))
    return out
