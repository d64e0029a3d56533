"""The storage seam: what every on-disk format offers the views above it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from wkpy.errors import OperationError
from wkpy.geometry import Vec3Int
from wkpy.locking import mag_generation, mag_lock_file, path_lock

if TYPE_CHECKING:
    from wkpy.geometry import NormalizedBoundingBox
    from wkpy.storage.store import Store
    from wkpy.storage._zarr3_meta import Zarr3Config

Vec3 = tuple[int, int, int]


@dataclass(frozen=True)
class ArrayInfo:
    """Layout of one mag on disk, in the mag's own voxels.

    `chunk_shape` is the unit of compression (a WKW block, a Zarr inner chunk) and
    `shard_shape` the unit of files (a WKW file, a Zarr shard). `zarr3_config` (Zarr3 only)
    gives the chunk codecs and key encoding; None means webknossos' defaults, with zstd if
    `compression`. An opened Zarr3 array reports its own codecs there. `lz4hc` (WKW only)
    writes compressed blocks with LZ4HC (block type 3) instead of LZ4.

    `axes` (Zarr3 only) are the array's axis names in its own order: None means
    ``("c", "x", "y", "z")``. An n-d layer's arrays, as webknossos 4.3.3 writes them, have
    additional axes (e.g. ``("t", "x", "y", "z")`` or ``("c", "t", "x", "y", "z")``), chunked
    and sharded by 1; `chunk_shape` and `shard_shape` stay along x, y, z.
    """

    data_format: str
    dtype: np.dtype
    num_channels: int
    chunk_shape: Vec3
    shard_shape: Vec3
    compression: bool
    zarr3_config: Zarr3Config | None = None
    lz4hc: bool = False
    axes: tuple[str, ...] | None = None

    @property
    def extra_axes(self) -> tuple[str, ...]:
        """The additional axes (neither c, x, y nor z), in the array's order; () for 3-D data.
        Boxes of an array with additional axes have an offset and size along each, after
        x, y and z."""
        return tuple(a for a in (self.axes or ()) if a not in ("c", "x", "y", "z"))

    def __post_init__(self) -> None:
        # `Vec3Int`s (tuples with webknossos' vector methods, e.g. ``.xyz``), as webknossos' ArrayInfo
        object.__setattr__(self, "chunk_shape", Vec3Int(self.chunk_shape))
        object.__setattr__(self, "shard_shape", Vec3Int(self.shard_shape))

    @property
    def voxel_type(self) -> np.dtype:
        """Numpy dtype of one channel (the name webknossos uses)."""
        return self.dtype

    @property
    def compression_mode(self) -> bool:
        """Whether chunks are compressed (the name webknossos uses)."""
        return self.compression

    @property
    def bounding_box(self) -> NormalizedBoundingBox:
        """The (c, x, y, z) box of the channels, as webknossos' ``ArrayInfo.bounding_box``:
        size c is the number of channels; x, y and z are 0 (the extent is the layer's box)."""
        from wkpy.geometry import NormalizedBoundingBox

        return NormalizedBoundingBox((0, 0, 0, 0), (self.num_channels, 0, 0, 0), axes=("c", "x", "y", "z"))

    @property
    def chunks_per_shard(self) -> Vec3:
        """Chunks along each side of a shard (a `Vec3Int`)."""
        return self.shard_shape // self.chunk_shape  # type: ignore[operator, no-any-return]


class Array(Protocol):
    """One mag of one layer on disk. Boxes are (offset, shape) in the mag's voxels, along
    x, y, z and then the additional axes (`info.extra_axes`, none for 3-D data); arrays
    are (c, x, y, z, extra axes...)."""

    info: ArrayInfo

    def read(self, offset: Sequence[int], shape: Sequence[int]) -> np.ndarray:
        """Voxels of the box as a (c, x, y, z, ...) array; unwritten parts read as the fill value."""
        ...

    def write(self, offset: Sequence[int], data: np.ndarray) -> None:
        """Store a (c, x, y, z, ...) array at `offset`, growing the array if needed."""
        ...

    def list_shards(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """(offset, shape) of every shard that exists on disk."""
        ...


def folder_id(path: Path) -> tuple[int, int]:
    """(device, inode) of a mag folder, to notice when it is replaced or removed.

    Raises
    ------
    OperationError
        The folder does not exist (the mag was deleted meanwhile).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise OperationError(f"{path}: the mag folder does not exist (deleted meanwhile?)") from None
    return st.st_dev, st.st_ino


class MagFolder:
    """What the arrays share about their folder: the mag lock, and noticing a replacement.

    A writer holds the mag lock shared for a whole write (`writing`); `compress` and the
    deletions hold it exclusively while they replace or remove the folder. A writer whose
    mag was deleted or re-created since it was opened (another generation, see
    `wkpy.locking.mag_generation`) is refused; one that finds the folder replaced by
    `compress` re-reads the metadata (the format changed) before writing.

    These are local locks: on a store without locks (`Store.has_locks` False, an object
    store) there is no mag lock, and the files' conditional writes are what guards writers;
    there a write first compares the metadata object's version with the one this array
    read (`_meta_version`, for arrays with a `META_FILE`): a mag rewritten meanwhile (a
    remote `compress`) is re-read before writing, a deleted one refused.
    """

    path: Path
    store: Store
    _folder: tuple[int, int] | None = None
    _generation: str | None = None
    _meta_version: Any = None

    def _reload(self) -> None:
        """Re-read the array's metadata from the (replaced) folder."""
        raise NotImplementedError

    def _opened_now(self) -> None:
        """Record which folder and generation this array was opened on."""
        if not self.store.has_locks:
            return
        self._folder = folder_id(self.path)
        self._generation = mag_generation(mag_lock_file(self.path))

    def ensure_current(self, lock: Path | None = None) -> None:
        """Raise `OperationError` if the mag was deleted or re-created since it was opened
        (`lock`: its `mag_lock_file`, if the caller has it already)."""
        if not self.store.has_locks:
            return
        if mag_generation(lock or mag_lock_file(self.path)) != self._generation:
            raise OperationError(f"{self.path}: the mag was deleted or re-created since it was opened; "
                                 "open it again")

    def _check_meta_version(self) -> None:
        """On a store without locks: re-read the metadata if another writer replaced it since
        this array read it; `OperationError` if it is gone (the mag was deleted)."""
        key = getattr(self, "META_FILE", None)
        if key is None:
            return
        now = self.store.version(key)
        if now is None:
            raise OperationError(f"{self.store.name(key)}: missing; the mag was deleted since it was opened")
        if self._meta_version is not None and now != self._meta_version:
            self._reload()                  # sets `_meta_version` to what it read
        else:
            self._meta_version = now

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the mag lock shared for one write.

        Raises
        ------
        OperationError
            The mag was deleted (or deleted and re-created) since this array was opened.
        """
        if not self.store.has_locks:
            self._check_meta_version()
            yield
            return
        lock = mag_lock_file(self.path)
        with path_lock(lock, exclusive=False):
            now = folder_id(self.path)
            self.ensure_current(lock)
            if self._folder is not None and now != self._folder:
                self._reload()
            self._folder = now
            yield


class ShardPart(NamedTuple):
    """The part of a request box that falls into one shard (any number of axes)."""

    shard: tuple[int, ...]  # shard grid index
    local: tuple[int, ...]  # start inside the shard
    start: tuple[int, ...]  # start inside the request
    extent: tuple[int, ...]

    @property
    def box(self) -> tuple[int, ...]:
        """The shard-local box as (lo..., hi...), the kernels' form."""
        return (*self.local, *(lo + n for lo, n in zip(self.local, self.extent)))


def split_by_shard(offset: Sequence[int], shape: Sequence[int], shard: Sequence[int]) -> list[ShardPart]:
    """Split the box (offset, shape) along the shard grid (first axis slowest)."""
    n = len(offset)
    ranges = [range(offset[a] // shard[a], -(-(offset[a] + shape[a]) // shard[a])) for a in range(n)]
    parts = []
    for idx in itertools.product(*ranges):
        lo = [max(offset[a], idx[a] * shard[a]) for a in range(n)]
        hi = [min(offset[a] + shape[a], (idx[a] + 1) * shard[a]) for a in range(n)]
        parts.append(ShardPart(idx, tuple(lo[a] - idx[a] * shard[a] for a in range(n)),
                               tuple(lo[a] - offset[a] for a in range(n)), tuple(hi[a] - lo[a] for a in range(n))))
    return parts


def split_for_threads(parts: list[ShardPart], chunk: Sequence[int], threads: int,
                      axes: Sequence[int]) -> list[ShardPart]:
    """Cut shard parts at chunk borders into about `threads` pieces, so that a request
    touching fewer shards than there are cores still decodes (or encodes) on every core.

    The cut runs along the first of `axes` that has enough chunks (else the one of them
    with the most): the axis along which a shard's chunks lie together in its file.
    """
    if len(parts) >= threads:
        return parts
    want = max(1, threads // len(parts))
    out = []
    for p in parts:
        lo, hi = p.local, [a + n for a, n in zip(p.local, p.extent)]
        counts = [-(-hi[a] // chunk[a]) - lo[a] // chunk[a] for a in range(len(lo))]
        axis = next((a for a in axes if counts[a] >= want), max(axes, key=counts.__getitem__))
        n = min(counts[axis], want)
        edges = [lo[axis], *((lo[axis] // chunk[axis] + counts[axis] * i // n) * chunk[axis] for i in range(1, n)),
                 hi[axis]]
        for a, b in zip(edges, edges[1:]):
            local, start, extent = list(p.local), list(p.start), list(p.extent)
            local[axis], start[axis], extent[axis] = a, p.start[axis] + a - lo[axis], b - a
            out.append(ShardPart(p.shard, tuple(local), tuple(start), tuple(extent)))
    return out
