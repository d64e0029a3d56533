"""WKW mags: a `header.wkw` and files `z{Z}/y{Y}/x{X}.wkw`, each a shard of blocks."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from wkcore import _morton, _wkw
from wkpy._paths import open_regular_file, read_small_file, write_file_atomic
from wkpy.errors import CorruptFileError, DataMismatchError, ForeignPathError, UnsupportedError
from wkpy.executor import io_threads, run_tasks
from wkpy.locking import lock_file_for, path_lock
from wkpy.storage.array import ArrayInfo, MagFolder, Vec3, split_by_shard, split_for_threads

__all__ = ["WkwArray", "VOXEL_TYPES", "VOXEL_DTYPES"]

VOXEL_TYPES = {np.dtype(t): i + 1 for i, t in enumerate(["uint8", "uint16", "uint32", "uint64", "float32", "float64"])}
VOXEL_DTYPES = {v: k for k, v in VOXEL_TYPES.items()}
MAX_LOG2 = 8   # 256 voxels per block side, 256 blocks per file side (WEBKNOSSOS writes 32 and 32)
_FILE_RE = re.compile(r"^x(\d+)\.wkw$")


def roll_back(path: Path, journal: Path) -> int:
    """Settle the undo journal a killed in-place patch of the raw file `path` left behind.

    The caller holds the shard's lock exclusively. A complete journal is applied (the old
    blocks restored) and deleted: 2. An incomplete or damaged one was cut short before the
    file was touched and is deleted unapplied: 1. None there: 0. The journal's format and
    every rule that judges it live in one place, `wkcore._wkw` ("undo journal").
    """
    return _wkw.roll_back(os.fspath(path), os.fspath(journal))


def _no_links(path: Path, exc: OSError) -> OSError:
    """ELOOP from a kernel means a raw file to patch is a symbolic link: refused."""
    if exc.errno == errno.ELOOP:
        return ForeignPathError(f"{path}: is a symbolic link; wkpy never writes through links")
    return exc


def _log2(n: int, what: str) -> int:
    if n < 1 or n & (n - 1):
        raise DataMismatchError(f"WKW {what} must be a power of two, got {n}")
    return n.bit_length() - 1


class WkwArray(MagFolder):
    """One WKW mag folder."""

    def __init__(self, path: Path, info: ArrayInfo, block_type: int) -> None:
        self.path = Path(path)
        self.info = info
        self._block_type = block_type
        self._voxel_type = VOXEL_TYPES[info.dtype]
        self._voxel_bytes = info.num_channels * info.dtype.itemsize
        self._block_log2 = _log2(info.chunk_shape[0], "chunk (block) side")
        self._file_log2 = _log2(info.shard_shape[0] // info.chunk_shape[0], "blocks per file side")
        self._side = info.shard_shape[0]

    @classmethod
    def open(cls, path: Path) -> "WkwArray":
        header = Path(path) / "header.wkw"
        try:
            raw = read_small_file(header, 1 << 12)
        except FileNotFoundError:
            raise CorruptFileError(f"{header}: missing; the mag folder is not a WKW array") from None
        block_log2, file_log2, block_type, voxel_type, voxel_bytes, _ = _wkw.parse_header_bytes(raw, header)
        if block_log2 > MAX_LOG2 or file_log2 > MAX_LOG2:
            raise CorruptFileError(f"{header}: blocks of 2^{block_log2} voxels per side and files of 2^{file_log2} "
                                   f"blocks per side; wkpy reads at most 2^{MAX_LOG2} of each")
        dtype = VOXEL_DTYPES[voxel_type]
        block, side = 1 << block_log2, 1 << (block_log2 + file_log2)
        info = ArrayInfo("wkw", dtype, voxel_bytes // dtype.itemsize, (block,) * 3, (side,) * 3, block_type != 1,
                         lz4hc=block_type == 3)
        array = cls(path, info, block_type)
        array._opened_now()
        return array

    def _reload(self) -> None:
        self.__dict__.update(WkwArray.open(self.path).__dict__)

    @classmethod
    def create(cls, path: Path, info: ArrayInfo) -> "WkwArray":
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
        array.path.mkdir(parents=True, exist_ok=True)
        write_file_atomic(array.path / "header.wkw", header)
        array._opened_now()
        return array

    def _file(self, idx: tuple[int, ...]) -> Path:
        return self.path / f"z{idx[2]}" / f"y{idx[1]}" / f"x{idx[0]}.wkw"

    def _lock(self, idx: tuple[int, ...]) -> Path:
        return lock_file_for(self.path, f"z{idx[2]}.y{idx[1]}.x{idx[0]}.wkw")

    def read(self, offset: Vec3, shape: Vec3) -> np.ndarray:
        out = np.zeros((self.info.num_channels, *shape), self.info.dtype, order="F")
        layout = (self._block_log2, self._file_log2, self._voxel_type, self._voxel_bytes)
        parts = split_by_shard(offset, shape, (self._side,) * 3)
        pieces = split_for_threads(parts, self.info.chunk_shape, io_threads(), (2, 1, 0))  # z: Morton's top bit

        if len(pieces) == len(parts):  # one task per shard, each opening its file
            def task(part):  # type: ignore[no-untyped-def]
                def run() -> bool:
                    with self._reading(part.shard):
                        return _wkw.read(os.fspath(self._file(part.shard)), layout, part.box, out, part.start)
                return run

            run_tasks(task(p) for p in pieces)
            return out
        # Few shards, split over the cores: open each once, so that all pieces of a shard
        # read the same version of it even while a writer replaces it.
        with contextlib.ExitStack() as stack:
            fds = {}
            for part in parts:
                stack.enter_context(self._reading(part.shard))
                try:
                    fds[part.shard] = os.open(self._file(part.shard), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                stack.callback(os.close, fds[part.shard])
            run_tasks(functools.partial(_wkw.read, os.fspath(self._file(p.shard)), layout, p.box, out, p.start,
                                        fds[p.shard]) for p in pieces if p.shard in fds)
        return out

    @contextlib.contextmanager
    def _reading(self, idx: tuple[int, ...]) -> Iterator[None]:
        """Readers of raw files (patched in place) hold the shard lock shared. A journal
        seen while holding it belongs to a killed writer (a live one would hold the lock
        exclusively): the reader lets go, settles it under the exclusive lock, and looks
        again. Compressed files are only ever replaced whole."""
        if self._block_type != 1:
            yield
            return
        path = self._file(idx)
        journal = f"{path}.journal"
        while True:
            with path_lock(self._lock(idx), exclusive=False):
                if not os.path.lexists(journal):
                    yield
                    return
            with path_lock(self._lock(idx)):
                roll_back(path, Path(journal))

    def write(self, offset: Vec3, data: np.ndarray) -> None:
        layout = (self._block_log2, self._file_log2, self._block_type, self._voxel_type, self._voxel_bytes)
        shape = data.shape[1:]

        def task(part):  # type: ignore[no-untyped-def]
            def run() -> None:
                path = self._shard_file(self._file(part.shard))
                box = part.box
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
                journal = Path(f"{path}.journal")
                with path_lock(self._lock(part.shard)):
                    try:
                        if self._block_type != 1:
                            self._rebuild(path, tmp, layout, box, data, part.start)
                        else:  # the kernel settles a killed writer's journal first
                            _wkw.write(os.fspath(path), tmp, layout, box, data, part.start, os.fspath(journal))
                    except OSError as exc:
                        raise _no_links(path, exc) from None
            return run

        with self.writing():
            run_tasks(task(p) for p in split_by_shard(offset, shape, (self._side,) * 3))  # type: ignore[arg-type]

    def _rebuild(self, path: Path, tmp: str, layout: tuple, box: tuple, data: np.ndarray, start: Vec3) -> None:
        """Re-encode a compressed file with its blocks split over the cores, then swap it in."""
        # A box covering the whole file needs only the old header (a damaged file is replaced).
        whole = tuple(box) == (0, 0, 0, self._side, self._side, self._side)
        old: bytes | None = None
        with contextlib.suppress(FileNotFoundError), os.fdopen(open_regular_file(path), "rb") as f:
            old = f.read(16) if whole else f.read()
        if old is not None and len(old) >= 16 and old[:3] == b"WKW" and old[5] in (2, 3):
            layout = (*layout[:2], old[5], *layout[3:])  # an existing file keeps LZ4 or LZ4HC
        # (any other header is refused, naming the file, by encode_range's checks)
        # Blocks the box touches lie between the Morton indices of its corner blocks:
        # split that range evenly over the cores (the rest is copied, which is cheap).
        lo_block = [box[a] >> self._block_log2 for a in range(3)]
        hi_block = [(box[a + 3] - 1) >> self._block_log2 for a in range(3)]
        first, last = _morton.encode(*lo_block), _morton.encode(*hi_block) + 1
        k = min(io_threads(), last - first)
        bounds = sorted({0, *(first + (last - first) * i // k for i in range(k + 1)), 1 << (3 * self._file_log2)})
        parts = run_tasks(
            functools.partial(_wkw.encode_range, old, layout, box, data, start, lo, hi, os.fspath(path))
            for lo, hi in zip(bounds, bounds[1:])
        )
        _wkw.assemble(os.fspath(path), tmp, layout, parts)

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
        with self.writing(), path_lock(self._lock(idx)):
            yield self._shard_file(self._file(idx))

    def remove_shard(self, idx: tuple[int, int, int]) -> None:
        """Delete shard `idx`'s file, so that it reads as zeros; the caller holds
        `holding_shard(idx)`. A raw file's undo journal is settled first."""
        path = self._shard_file(self._file(idx))
        journal = Path(f"{path}.journal")
        if os.path.lexists(journal):
            roll_back(path, journal)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def list_shards(self) -> list[tuple[Vec3, Vec3]]:
        found = []
        side = self._side
        for zdir in self.path.glob("z*"):
            for ydir in zdir.glob("y*"):
                for f in ydir.iterdir():
                    m = _FILE_RE.match(f.name)
                    if m and zdir.name[1:].isdigit() and ydir.name[1:].isdigit():
                        idx = (int(m.group(1)), int(ydir.name[1:]), int(zdir.name[1:]))
                        found.append(((idx[0] * side, idx[1] * side, idx[2] * side), (side,) * 3))
        return sorted(found, key=lambda b: (b[0][2], b[0][1], b[0][0]))
