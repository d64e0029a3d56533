"""One WKW file or Zarr chunk file, by its path: what the kernel tests read and write.

Each helper goes through the code the arrays use -- a `LocalStore` of the file's folder
and `wkpy.storage._wkw_file` / `_zarr_file` over the buffer kernels -- so the tests check
the real byte paths, file by file, without a dataset around them.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from wkcore import _shard, _wkw
from wkpy.executor import io_threads
from wkpy.storage import _wkw_file, _zarr_file
from wkpy.storage.store import LocalStore


def store_of(path: str | os.PathLike[str]) -> tuple[LocalStore, str]:
    path = Path(path)
    return LocalStore(path.parent), path.name


def tmp_name(path: str | os.PathLike[str]) -> Path:
    """The temporary name a put of `path` by this thread uses."""
    return Path(f"{os.fspath(path)}.{os.getpid()}.{threading.get_ident()}.tmp")


def wkw_read(path: str | os.PathLike[str], layout: tuple, box: tuple, out: np.ndarray, at: tuple) -> bool:
    """Read `box` of a WKW file into `out` at `at`; False (`out` untouched) if absent.
    `layout` is (block_log2, file_log2, voxel_type, voxel_bytes)."""
    store, key = store_of(path)
    reader = store.open(key)
    if reader is None:
        return False
    with reader:
        _wkw_file.read_box(reader, layout, box, out, at)
    return True


def wkw_write(path: str | os.PathLike[str], layout: tuple, box: tuple, data: np.ndarray, at: tuple) -> None:
    """Write `data` at `at` into `box` of a WKW file (a raw one patched in place with its
    undo journal). `layout` is (block_log2, file_log2, block_type, voxel_type, voxel_bytes)."""
    store, key = store_of(path)
    store.prepare([key])
    if layout[2] == 1:
        _wkw_file.write_raw(store, key, layout, box, data, at)
    else:
        _wkw_file.write_compressed(store, key, layout, box, data, at, io_threads())


def wkw_patch_only(path: str | os.PathLike[str], layout: tuple, box: tuple, data: np.ndarray) -> None:
    """What a writer killed after patching leaves: `data` patched into `box` of an existing
    raw file in place, its journal (if any) left as it is."""
    store, key = store_of(path)
    with store.open(key) as reader:
        head = bytes(reader.read(0, 16))
        rows = _wkw.plan((layout[0], layout[1], layout[3], layout[4]), head, reader.size, box)
        blocks = _wkw.patch_raw(layout, head, reader.size, box, data, (0, 0, 0), rows, reader.read_spans(rows), True)
    bb = int(rows[0, 2])
    store.patch(key, [(int(off), memoryview(blocks)[i * bb:(i + 1) * bb]) for i, off in enumerate(rows[:, 1])])


def wkw_journal(path: str | os.PathLike[str], layout: tuple, box: tuple) -> Path:
    """Write the undo journal a patch of `box` into a raw file writes first; its path."""
    store, key = store_of(path)
    _wkw_file.write_journal(store, key, layout, box)
    return Path(f"{os.fspath(path)}{_wkw_file.JOURNAL}")


def wkw_roll_back(path: str | os.PathLike[str]) -> int:
    store, key = store_of(path)
    return _wkw_file.roll_back(store, key)


def shard_read(path: str | os.PathLike[str], spec: _shard.ShardSpec, box: tuple, out: np.ndarray,
               at: tuple) -> bool:
    """Read the shard-local `box` of a Zarr chunk file into `out` at `at`; False if absent."""
    store, key = store_of(path)
    reader = store.open(key)
    if reader is None:
        return False
    with reader:
        _zarr_file.read_box(reader, _zarr_file.read_index(reader, spec), spec, box, out, at)
    return True


def shard_write(path: str | os.PathLike[str], spec: _shard.ShardSpec, box: tuple, data: np.ndarray, at: tuple,
                subs: list | tuple = ()) -> int:
    """Write into a Zarr chunk file (see `_zarr_file.write_box`; `subs` are (box, at) pieces
    encoded on several threads)."""
    store, key = store_of(path)
    store.prepare([key])
    return _zarr_file.write_box(store, key, spec, box, data, at, subs)


def shard_index(path: str | os.PathLike[str], spec: _shard.ShardSpec) -> list | None:
    """The checked index of a Zarr chunk file, None if absent."""
    store, key = store_of(path)
    reader = store.open(key)
    if reader is None:
        return None
    with reader:
        return _zarr_file.read_index(reader, spec).as_list()
