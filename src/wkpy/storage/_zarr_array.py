"""Zarr chunk files behind the `Array` seam, for both Zarr versions.

`ZarrArray` holds what Zarr v2 (`.zarray`) and Zarr v3 (`zarr.json`) arrays share once
their metadata is parsed into an `ArrayMeta`: box reads and writes of chunk files (sharded
or not) through the `wkcore._shard` kernel, the shape's growth, and listing the chunk files
on disk. `Zarr3Array` (`wkpy.storage.zarr3`) and `Zarr2Array` (`wkpy.storage.zarr2`) add
only their metadata file, its parser and what `create` writes.

Every voxel of a request is copied by the kernel, one task per chunk file on the internal
I/O pool (a request within few files is split along inner-chunk borders, so every core
decodes or encodes). Writers of one file take turns under its lock file (`wkpy.locking`,
across threads and processes); a file is replaced by renaming a complete new one over it,
so readers need no lock and never see a torn file. The array's shape in the metadata grows,
shard-aligned, when data is written beyond it (as webknossos does).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wkcore import _shard
from wkpy.errors import DataMismatchError, UnsupportedError
from wkpy.executor import io_threads, run_tasks
from wkpy.locking import lock_file_for, path_lock
from wkpy.storage._zarr3_meta import ArrayMeta, dumps_array, write_json_atomic
from wkpy.storage.array import ArrayInfo, MagFolder, ShardPart, Vec3, split_by_shard, split_for_threads

__all__ = ["ZarrArray", "shard_spec"]

C_ORDER = (0, 1, 2, 3)  # a shard's index lists its chunks in C order of (c, x, y, z)


def shard_spec(meta: ArrayMeta) -> _shard.ShardSpec:
    """The kernel's description of the chunk files of `meta`.

    Raises
    ------
    UnsupportedError
        A layout the kernel cannot handle (named with the metadata file).
    """
    try:
        return _shard.ShardSpec(meta.dtype.itemsize, meta.shard, meta.chunk, meta.order, meta.big_endian,
                                meta.steps, meta.sharded, meta.index_at_start, meta.index_big_endian,
                                meta.index_crc, meta.fill)
    except ValueError as e:
        raise UnsupportedError(f"{meta.file}: {e}") from None


class ZarrArray(MagFolder):
    """One Zarr mag folder (the `Array` interface of `wkpy.storage.array`); subclasses
    give the metadata file (`META_FILE`), its parser (`parse_file`, `parse_doc`) and the
    `ArrayInfo` they report (`_info`)."""

    META_FILE: ClassVar[str]

    def __init__(self, path: Path, meta: ArrayMeta) -> None:
        self.path = Path(path)
        self._set_meta(meta)
        self._opened_now()

    def __getstate__(self) -> dict[str, Any]:
        """Arrays travel to process pools and Dask workers as path and metadata."""
        return {"path": self.path, "meta": self._meta, "folder": self._folder, "generation": self._generation}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._set_meta(state["meta"])
        self._folder, self._generation = state["folder"], state["generation"]

    def _reload(self) -> None:
        self.refresh()

    def _set_meta(self, meta: ArrayMeta) -> None:
        self._meta = meta
        self._spec = shard_spec(meta)
        self.info = self._info(meta)

    # ---- what each Zarr version gives -----------------------------------------------------
    @classmethod
    def parse_file(cls, file: Path, ranks: Sequence[int] | None = None) -> ArrayMeta:
        """Read and check the metadata file `file` of an array with one of the numbers of
        dimensions in `ranks` (default: a mag's, 3 or 4) (`PropertiesError`, `UnsupportedError`)."""
        raise NotImplementedError

    @classmethod
    def parse_doc(cls, file: Path, doc: Any, ranks: Sequence[int] | None = None) -> ArrayMeta:
        """Check a metadata document as read from (or about to be written to) `file`."""
        raise NotImplementedError

    def _info(self, meta: ArrayMeta) -> ArrayInfo:
        """The layout this array reports."""
        raise NotImplementedError

    # ---- lifecycle ----------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path) -> Any:
        """Open the mag folder `path`.

        Raises
        ------
        PropertiesError
            The metadata file is missing or malformed (the message names the file and field).
        UnsupportedError
            A codec, data type or key encoding that wkpy does not read.
        """
        return cls(path, cls.parse_file(Path(path) / cls.META_FILE))

    @property
    def meta(self) -> ArrayMeta:
        """The checked metadata."""
        return self._meta

    @classmethod
    def _create_from_doc(cls, path: Path, doc: dict[str, Any]) -> Any:
        """Check `doc`, then create the folder `path` holding it as the metadata file."""
        path = Path(path)
        file = path / cls.META_FILE
        meta = cls.parse_doc(file, doc)        # check before anything is written
        shard_spec(meta)
        path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(file, dumps_array(doc))
        return cls(path, meta)

    @staticmethod
    def _check_shapes(info: ArrayInfo) -> None:
        if any(s % c for s, c in zip(info.shard_shape, info.chunk_shape)):
            raise DataMismatchError(f"shard_shape {tuple(info.shard_shape)} is not a multiple of "
                                    f"chunk_shape {tuple(info.chunk_shape)}")

    # ---- shape --------------------------------------------------------------------------
    @property
    def shape(self) -> Vec3:
        """The array's extent along x, y, z as the metadata says (reads beyond it give the fill value)."""
        return self._meta.shape[1:]  # type: ignore[return-value]

    def refresh(self) -> None:
        """Re-read the metadata (another process may have grown the array)."""
        self._set_meta(self.parse_file(self._meta.file, (self._meta.ndim,)))

    def resize(self, end: Sequence[int]) -> None:
        """Grow the shape so that it covers [0, end) along x, y, z: each axis that `end`
        exceeds grows to a whole number of shards (as webknossos does); none shrinks.

        The update re-reads the metadata under its lock (`wkpy.locking`),
        so concurrent growers (threads or processes) all take effect.
        """
        shard = self._meta.shard

        def grown(shape: Sequence[int]) -> tuple[int, ...]:
            return tuple(s if e <= s else -(-e // g) * g for e, s, g in zip(map(int, end), shape, shard[1:]))

        if grown(self.shape) == self.shape:
            return
        with path_lock(lock_file_for(self.path, self.META_FILE)):
            meta = self.parse_file(self._meta.file, (self._meta.ndim,))
            shape = (meta.shape[0], *grown(meta.shape[1:]))
            if shape != meta.shape:
                meta = self.parse_doc(meta.file, meta.doc_with_shape(shape), (meta.ndim,))
                write_json_atomic(meta.file, dumps_array(meta.doc))
            self._set_meta(meta)

    # ---- data ---------------------------------------------------------------------------
    def _file(self, idx: Sequence[int]) -> Path:
        return self.path / self._meta.key(idx)

    def read(self, offset: Vec3, shape: Vec3) -> np.ndarray:
        """Voxels of the box as a Fortran-ordered (c, x, y, z) array; the fill value where
        nothing was written or the box leaves the array."""
        meta = self._meta
        out = np.full((meta.shape[0], *shape), meta.fill_value, meta.dtype, order="F")
        if any(offset[a] + shape[a] > meta.shape[a + 1] for a in range(3)):
            self.refresh()
            meta = self._meta
        lo = [max(0, offset[a]) for a in range(3)]
        hi = [min(offset[a] + shape[a], meta.shape[a + 1]) for a in range(3)]
        if any(h <= l for l, h in zip(lo, hi)):
            return out
        spec = self._spec
        base = (0, lo[0] - offset[0], lo[1] - offset[1], lo[2] - offset[2])
        parts = split_by_shard((0, *lo), (meta.shape[0], *(h - l for l, h in zip(lo, hi))), meta.shard)
        pieces = split_for_threads(parts, meta.chunk, io_threads(), C_ORDER) if meta.sharded else parts

        def read(part: ShardPart, fd: int = -1) -> bool:
            at = tuple(base[a] + part.start[a] for a in range(4))
            return _shard.read(os.fspath(self._file(part.shard)), spec, part.box, out, at, fd)

        if len(pieces) == len(parts):          # one task per file, each opening it
            run_tasks(functools.partial(read, p) for p in parts)
            return out
        # Few files, split over the cores: open each once, so that all pieces of a file read
        # the same version of it even while a writer renames a new one over it.
        with contextlib.ExitStack() as stack:
            fds = {}
            for part in parts:
                try:
                    fds[part.shard] = os.open(self._file(part.shard), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                stack.callback(os.close, fds[part.shard])
            run_tasks(functools.partial(read, p, fds[p.shard]) for p in pieces if p.shard in fds)
        return out

    def write(self, offset: Vec3, data: np.ndarray) -> None:
        """Store a (c, x, y, z) array at `offset`, growing the array's shape if needed.

        Raises
        ------
        DataMismatchError
            `data` has another dtype (never cast silently) or channel count than the array.
        """
        data = np.asarray(data)
        if data.ndim != 4 or data.shape[0] != self.info.num_channels:
            raise DataMismatchError(f"data of shape {data.shape} is not (c={self.info.num_channels}, x, y, z)")
        if data.dtype != self.info.dtype:
            raise DataMismatchError(f"data of dtype {data.dtype} cannot be written to a {self.info.dtype} array")
        if min(offset) < 0:
            raise DataMismatchError(f"offset {tuple(offset)} is negative")
        if 0 in data.shape:
            return
        with self.writing():
            self._write(offset, data)

    def _write(self, offset: Vec3, data: np.ndarray) -> None:
        self.resize([offset[a] + data.shape[a + 1] for a in range(3)])
        spec, meta = self._spec, self._meta
        parts = split_by_shard((0, *offset), data.shape, meta.shard)
        # A write into one shard encodes its chunks on several threads first (the shard's own
        # task runs in the caller's thread then); with several shards, each is one task.
        split = len(parts) == 1 and meta.sharded

        self._shard_folders(self._file(p.shard) for p in parts)

        def task(part: ShardPart):  # type: ignore[no-untyped-def]
            def run() -> None:
                path = self._shard_file_in_checked_folder(self._file(part.shard))
                tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
                file = os.fspath(path)
                with path_lock(lock_file_for(self.path, meta.key(part.shard))):
                    prepared = []
                    subs = split_for_threads([part], meta.chunk, io_threads(), C_ORDER) if split else [part]
                    if len(subs) > 1:
                        prepared = run_tasks([functools.partial(_shard.encode, file, spec, p.box, data, p.start)
                                              for p in subs])
                    _shard.write(file, tmp, spec, part.box, data, part.start, prepared)
            return run

        run_tasks(task(p) for p in parts)

    def read_all(self) -> np.ndarray:
        """The whole array in C order, shaped as the metadata says (any rank)."""
        meta = self._meta
        return np.ascontiguousarray(self.read((0, 0, 0), meta.shape[1:]).reshape(meta.array_shape))  # type: ignore[arg-type]

    def stored_elements(self) -> int:
        """How many elements of the array lie in chunks stored on disk (the others read as
        the fill value). Reads the index of every chunk file (each as big as its file)."""
        meta, total = self._meta, 0
        per = tuple(s // c for s, c in zip(meta.shard, meta.chunk))
        for offset, _ in self.list_shards():
            grid = (0, *(o // s for o, s in zip(offset, meta.shard[1:])))
            if meta.sharded:
                index = _shard.read_index(os.fspath(self._file(grid)), self._spec)
                if index is None:
                    continue
                present = np.fromiter((e is not None for e in index), bool, len(index)).reshape(per)
            else:
                present = np.ones(per, bool)
            weight = np.ones(per, np.int64)
            for a in range(4):
                starts = grid[a] * meta.shard[a] + np.arange(per[a], dtype=np.int64) * meta.chunk[a]
                extent = np.clip(np.minimum(starts + meta.chunk[a], meta.shape[a]) - starts, 0, None)
                weight = weight * extent.reshape([-1 if b == a else 1 for b in range(4)])
            total += int(weight[present].sum())
        return total

    def list_shards(self) -> list[tuple[Vec3, Vec3]]:
        """(offset, shape) along x, y, z of every chunk file on disk, ordered z, y, x."""
        meta, found = self._meta, set()
        for root, dirs, files in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]       # lock files, temporaries
            rel = os.path.relpath(root, self.path)
            for name in files:
                key = name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
                idx = meta.parse_key(key)
                if idx is not None:
                    found.add(idx[1:])
        side = meta.shard[1:]
        return [(tuple(i * s for i, s in zip(idx, side)), side)  # type: ignore[misc]
                for idx in sorted(found, key=lambda i: (i[2], i[1], i[0]))]

    def shard_index(self, offset: Vec3) -> list[tuple[int, int] | None] | None:
        """The checked index of the shard file holding voxel `offset` (None if absent)."""
        idx = (0, *(offset[a] // self._meta.shard[a + 1] for a in range(3)))
        return _shard.read_index(os.fspath(self._file(idx)), self._spec)
