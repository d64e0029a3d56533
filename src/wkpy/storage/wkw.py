"""WKW mags: a `header.wkw` and files `z{Z}/y{Y}/x{X}.wkw`, each a shard of blocks.

The array reads and writes its files through a store (`wkpy.storage.store`) and the buffer
kernels of `wkcore._wkw` (one file at a time: `wkpy.storage._wkw_file`), never seeing which
store it is.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from wkcore import _wkw
from wkpy._paths import ensure_inside
from wkpy.errors import CorruptFileError, DataMismatchError, ForeignPathError, ReadOnlyError, UnsupportedError
from wkpy.executor import io_pieces, run_tasks
from wkpy.storage import _wkw_file
from wkpy.storage.array import ArrayInfo, MagFolder, Vec3, split_by_shard, split_for_threads
from wkpy.storage.store import Store, as_store, retry_on_conflict

__all__ = ["WkwArray", "VOXEL_TYPES", "VOXEL_DTYPES"]

VOXEL_TYPES = {np.dtype(t): i + 1 for i, t in enumerate(["uint8", "uint16", "uint32", "uint64", "float32", "float64"])}
VOXEL_DTYPES = {v: k for k, v in VOXEL_TYPES.items()}
SPLIT_READS_FROM = 1 << 20
"""Reads of fewer bytes of voxels within one file run on one thread: LZ4 decodes a 64³
cutout (256 KiB) in about 0.5 ms, and handing half of it to a second thread cost more than
it saved (bench R2, 2 cores: 0.57-0.60 ms on one thread, 0.72-0.80 ms on two)."""
MAX_LOG2 = 8   # 256 voxels per block side, 256 blocks per file side (WEBKNOSSOS writes 32 and 32)
_KEY_RE = re.compile(r"^z(\d+)/y(\d+)/x(\d+)\.wkw$")


HEADER_FILE = "header.wkw"


def roll_back(path: Path, journal: Path | None = None) -> int:
    """Settle the undo journal a killed in-place patch of the raw file `path` left beside
    it (``<file>.journal``; `journal` must be that name if given).

    The caller holds the shard's lock exclusively. A complete journal is applied (the old
    blocks restored) and deleted: 2. An incomplete or damaged one was cut short before the
    file was touched and is deleted unapplied: 1. None there: 0. See
    `wkpy.storage._wkw_file.roll_back`.
    """
    path = Path(path)
    if journal is not None and Path(journal) != path.with_name(path.name + _wkw_file.JOURNAL):
        raise ValueError(f"the journal of {path} is {path.name}{_wkw_file.JOURNAL}, not {journal}")
    return _wkw_file.roll_back(as_store(path.parent), path.name)


def _no_links(path: str, exc: OSError) -> OSError:
    """ELOOP means a raw file to patch is a symbolic link: refused."""
    if exc.errno == errno.ELOOP:
        return ForeignPathError(f"{path}: is a symbolic link; wkpy never writes through links")
    return exc


def _log2(n: int, what: str) -> int:
    if n < 1 or n & (n - 1):
        raise DataMismatchError(f"WKW {what} must be a power of two, got {n}")
    return n.bit_length() - 1


class WkwArray(MagFolder):
    """One WKW mag folder."""

    def __init__(self, location: Path | Store, info: ArrayInfo, block_type: int) -> None:
        self.store = as_store(location)
        self.path = self.store.root
        self.info = info
        self._block_type = block_type
        self._voxel_type = VOXEL_TYPES[info.dtype]
        self._voxel_bytes = info.num_channels * info.dtype.itemsize
        self._block_log2 = _log2(info.chunk_shape[0], "chunk (block) side")
        self._file_log2 = _log2(info.shard_shape[0] // info.chunk_shape[0], "blocks per file side")
        self._side = info.shard_shape[0]

    @property
    def _read_layout(self) -> tuple[int, int, int, int]:
        return (self._block_log2, self._file_log2, self._voxel_type, self._voxel_bytes)

    @property
    def _layout(self) -> tuple[int, int, int, int, int]:
        return (self._block_log2, self._file_log2, self._block_type, self._voxel_type, self._voxel_bytes)

    @classmethod
    def open(cls, path: Path | Store) -> "WkwArray":
        """Open the mag folder `path` (a folder, or a store).

        Raises
        ------
        CorruptFileError
            header.wkw is missing, damaged, or claims a layout beyond wkpy's limits.
        """
        store = as_store(path)
        header = store.name(HEADER_FILE)
        raw = store.get(HEADER_FILE, limit=1 << 12)
        if raw is None:
            raise CorruptFileError(f"{header}: missing; the mag folder is not a WKW array")
        block_log2, file_log2, block_type, voxel_type, voxel_bytes, _ = _wkw.parse_header_bytes(raw, header)
        if block_log2 > MAX_LOG2 or file_log2 > MAX_LOG2:
            raise CorruptFileError(f"{header}: blocks of 2^{block_log2} voxels per side and files of 2^{file_log2} "
                                   f"blocks per side; wkpy reads at most 2^{MAX_LOG2} of each")
        dtype = VOXEL_DTYPES[voxel_type]
        block, side = 1 << block_log2, 1 << (block_log2 + file_log2)
        info = ArrayInfo("wkw", dtype, voxel_bytes // dtype.itemsize, (block,) * 3, (side,) * 3, block_type != 1,
                         lz4hc=block_type == 3)
        array = cls(store, info, block_type)
        array._opened_now()
        return array

    def _reload(self) -> None:
        self.__dict__.update(WkwArray.open(self.store).__dict__)

    @classmethod
    def create(cls, path: Path | Store, info: ArrayInfo) -> "WkwArray":
        if info.axes not in (None, ("c", "x", "y", "z")):
            raise UnsupportedError(f"{path}: WKW stores (c, x, y, z) only, not the axes {info.axes}; "
                                   "layers with additional axes need data_format='zarr3'")
        if info.dtype not in VOXEL_TYPES:
            raise UnsupportedError(f"WKW cannot store {info.dtype}; use uint8/16/32/64, float32 or float64")
        for name, shape in (("chunk_shape", info.chunk_shape), ("shard_shape", info.shard_shape)):
            if len(set(shape)) != 1:
                raise DataMismatchError(f"WKW needs a cubic {name}, got {tuple(shape)}")
        if info.shard_shape[0] % info.chunk_shape[0]:
            raise DataMismatchError(f"shard_shape {info.shard_shape} is not a multiple of chunk_shape {info.chunk_shape}")
        array = cls(path, info, (3 if info.lz4hc else 2) if info.compression else 1)
        header = _wkw.header_bytes(array._block_log2, array._file_log2, array._block_type,
                                   array._voxel_type, array._voxel_bytes)
        store = array.store
        store.prepare([HEADER_FILE])
        store.put(HEADER_FILE, header)
        array._opened_now()
        return array

    def _key(self, idx: tuple[int, ...]) -> str:
        return f"z{idx[2]}/y{idx[1]}/x{idx[0]}.wkw"

    def read(self, offset: Vec3, shape: Vec3) -> np.ndarray:
        out = np.zeros((self.info.num_channels, *shape), self.info.dtype, order="F")
        tried = []

        def attempt() -> np.ndarray:
            if tried:                        # a writer replaced a file meanwhile: read all again
                out[...] = 0
            tried.append(1)
            return self._read_into(out, offset, shape)

        return retry_on_conflict(self.store, attempt)

    def _read_into(self, out: np.ndarray, offset: Vec3, shape: Vec3) -> np.ndarray:
        layout, store = self._read_layout, self.store
        parts = split_by_shard(offset, shape, (self._side,) * 3)
        nbytes = self._voxel_bytes * sum(math.prod(p.extent) for p in parts)
        # z: Morton's top bit; a small read stays on one thread (see SPLIT_READS_FROM)
        pieces = split_for_threads(parts, self.info.chunk_shape, io_pieces(nbytes) if nbytes >= SPLIT_READS_FROM else 1,
                                   (2, 1, 0))

        if len(pieces) == len(parts):  # one task per shard, each opening its file
            def read(part) -> None:  # type: ignore[no-untyped-def]
                with self._reading(part.shard):
                    reader = store.open(self._key(part.shard))
                    if reader is not None:
                        with reader:
                            _wkw_file.read_box(reader, layout, part.box, out, part.start)

            run_tasks((functools.partial(read, p) for p in pieces), remote=not store.has_locks)
            return out
        # Few shards, split over the cores: open each once, so that all pieces of a shard
        # read the same version of it even while a writer replaces it.
        with contextlib.ExitStack() as stack:
            readers = {}
            for part in parts:
                stack.enter_context(self._reading(part.shard))
                reader = store.open(self._key(part.shard))
                if reader is not None:
                    readers[part.shard] = stack.enter_context(reader)
            run_tasks(functools.partial(_wkw_file.read_box, readers[p.shard], layout, p.box, out, p.start)
                      for p in pieces if p.shard in readers)
        return out

    @contextlib.contextmanager
    def _reading(self, idx: tuple[int, ...]) -> Iterator[None]:
        """Readers of raw files (patched in place) hold the shard lock shared. A journal
        seen while holding it belongs to a killed writer (a live one would hold the lock
        exclusively): the reader lets go, settles it under the exclusive lock, and looks
        again. Compressed files are only ever replaced whole. A journal that cannot be
        applied (a read-only dataset) makes the read raise `ReadOnlyError` naming the file."""
        if self._block_type != 1 or not self.store.can_patch:
            yield
            return
        key = self._key(idx)
        while True:
            with self.store.lock(key, shared=True):
                if not self.store.exists(key + _wkw_file.JOURNAL):
                    yield
                    return
            with self.store.lock(key):
                try:
                    _wkw_file.roll_back(self.store, key)
                except OSError as exc:
                    if isinstance(exc, ReadOnlyError) or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                        raise
                    raise ReadOnlyError(f"{self.store.name(key)}: a killed writer left its undo journal "
                                        f"{self.store.name(key + _wkw_file.JOURNAL)}, which cannot be applied "
                                        f"here ({exc.strerror}); the file reads again once a writer with write "
                                        "access has rolled it back") from exc

    def write(self, offset: Vec3, data: np.ndarray) -> None:
        layout, store = self._layout, self.store
        parts = split_by_shard(offset, data.shape[1:], (self._side,) * 3)  # type: ignore[arg-type]

        def write(part) -> None:  # type: ignore[no-untyped-def]
            key = self._key(part.shard)

            def attempt() -> None:
                with store.lock(key):
                    try:
                        if self._block_type != 1:
                            _wkw_file.write_compressed(store, key, layout, part.box, data, part.start,
                                                       io_pieces(self._voxel_bytes * math.prod(part.extent)))
                        else:  # settles a killed writer's journal first
                            _wkw_file.write_raw(store, key, layout, part.box, data, part.start)
                    except OSError as exc:
                        raise _no_links(store.name(key), exc) from None

            retry_on_conflict(store, attempt)

        with self.writing():
            store.prepare(self._key(p.shard) for p in parts)
            run_tasks((functools.partial(write, p) for p in parts), remote=not store.has_locks)

    @contextlib.contextmanager
    def holding_shard(self, idx: tuple[int, int, int]) -> Iterator[Path]:
        """Hold the mag for writing and shard `idx`'s lock exclusively; yields its file
        (checked to lie inside the mag). This thread may read and write the shard inside:
        the locks are re-entrant, and a write touching only this shard runs on this thread.

        Raises
        ------
        OperationError
            The mag was deleted or re-created since this array was opened.
        ForeignPathError
            A link leads the shard's file out of the mag.
        """
        key = self._key(idx)
        with self.writing(), self.store.lock(key):
            yield ensure_inside(self.path, self.store.name(key))

    def remove_shard(self, idx: tuple[int, int, int]) -> None:
        """Delete shard `idx`'s file, so that it reads as zeros; the caller holds
        `holding_shard(idx)`. A raw file's undo journal is settled first."""
        key = self._key(idx)
        ensure_inside(self.path, self.store.name(key))
        if self.store.can_patch:
            _wkw_file.roll_back(self.store, key)
        self.store.delete(key)

    def list_shards(self) -> list[tuple[Vec3, Vec3]]:
        found = []
        side = self._side
        for key in self.store.list():
            m = _KEY_RE.match(key)
            if m:
                x, y, z = int(m.group(3)), int(m.group(2)), int(m.group(1))
                found.append(((x * side, y * side, z * side), (side,) * 3))
        return sorted(found, key=lambda b: (b[0][2], b[0][1], b[0][0]))
