"""One Zarr chunk file (a shard, or an unsharded chunk) over a store: box reads and writes.

Here the store (`wkpy.storage.store`) and the buffer kernels of `wkcore._shard` meet: a
read fetches the file's index, plans the chunks a box touches, fetches their bytes in
coalesced batches and decodes them; a write encodes the touched chunks (over the old bytes
of the ones it covers only in part), lays out the new file and puts it, the untouched
chunks copied from the old file as they are (`CopyRange`). `ZarrArray` calls these once per
file, holding the file's lock for writes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from wkcore import _shard
from wkpy.executor import run_tasks
from wkpy.storage._cache import INDEXES
from wkpy.storage.store import CopyRange, Reader, Store

__all__ = ["read_index", "read_box", "tail_hint", "write_box"]

_SMALL_CHUNK = 1 << 18

WRITTEN, REMOVED, ABSENT = 0, 1, 2
"""What `write_box` did to the file."""


def tail_hint(spec: _shard.ShardSpec) -> int:
    """What a reader of a chunk file reads at its end first (the `Store.open` hint): the
    index of a shard whose index is at its end, or an unsharded chunk file (its one chunk,
    usually whole within 256 KiB)."""
    offset, length = _shard.index_range(spec, 1 << 62)
    if length:
        return length if offset else 0
    return _SMALL_CHUNK


def read_index(reader: Reader, spec: _shard.ShardSpec) -> _shard.ShardIndex:
    """The checked index of the file `reader` has open (CorruptFileError naming it).

    An index ending in its CRC32C is kept in `wkpy.storage._cache.INDEXES` under the
    reader's version; a later reader of the same version gets it back after reading those
    4 bytes again and finding them unchanged (see that module for why the version alone
    would not do), instead of reading and checking the whole index (512 KiB for a 1024³
    shard of 32³ chunks). An index without a CRC32C is read every time.
    """
    offset, length = _shard.index_range(spec, reader.size)
    if not length:
        return _shard.parse_index(spec, b"", reader.size, reader.name)
    if spec.index_bytes != 16 * spec.n_chunks + 4:       # no CRC32C: nothing cheap to check a hit by
        return _shard.parse_index(spec, reader.read(offset, length), reader.size, reader.name)
    key = (reader.name, spec)
    crc = offset + length - 4
    index = INDEXES.get(key, reader.version, lambda: reader.read(crc, 4))
    if index is None:
        raw = reader.read(offset, length)
        index = _shard.parse_index(spec, raw, reader.size, reader.name)
        INDEXES.put(key, reader.version, index, length, check=memoryview(raw)[-4:])
    return index


def read_box(reader: Reader, index: _shard.ShardIndex, spec: _shard.ShardSpec, box: tuple[int, ...],
             out: np.ndarray, at: tuple[int, ...]) -> None:
    """Decode the shard-local `box` of the file into `out` at `at` (absent chunks leave
    `out` as it is); several calls may share one reader and index from several threads."""
    for rows, spans in reader.batches(_shard.plan(spec, index, box)):
        _shard.decode(spec, box, out, at, rows, spans, reader.name)


def _whole(spec: _shard.ShardSpec, box: tuple[int, ...]) -> bool:
    shard = spec.shard_shape
    n = len(shard)
    return len(box) == 2 * n and all(box[a] == 0 and box[a + n] == shard[a] for a in range(n))


def write_box(store: Store, key: str, spec: _shard.ShardSpec, box: tuple[int, ...], data: np.ndarray,
              at: tuple[int, ...], subs: Sequence[tuple[tuple[int, ...], tuple[int, ...]]] = ()) -> int:
    """Write `data` at `at` into the shard-local `box` of the file `key`; the caller holds
    the file's lock (`store.lock`).

    `subs`, chunk-aligned ``(box, at)`` pieces covering `box`, are encoded on the I/O pool
    in parallel. A box covering the whole file does not read the old file (a damaged one
    is replaced). The new file replaces the old atomically, conditional on the old one
    being the version read (or absent): `WRITTEN`; a file left without chunks is removed
    (`REMOVED`) or stays absent (`ABSENT`).

    Raises
    ------
    CorruptFileError
        A partial write into a damaged file (naming it); nothing changes.
    ConflictError
        The file changed meanwhile (a store without locks and a concurrent writer).
    """
    name = store.name(key)
    whole = _whole(spec, box)
    reader = None if whole else store.open(key, tail=tail_hint(spec))
    try:
        index = read_index(reader, spec) if reader is not None else None
        spans = reader.read_spans(_shard.plan(spec, index, box, partial=True)) if reader is not None else []
        pieces = list(subs) or [(box, at)]
        encode = functools.partial(_shard.encode, spec, data=data, index=index, spans=spans, name=name)
        sets = run_tasks(functools.partial(encode, box=b, data_offset=o) for b, o in pieces)
        layout = _shard.assemble(spec, index, sets)
        if layout is None:
            if reader is None and not whole:
                return ABSENT
            removed = store.delete(key, mode=reader.version if reader is not None else None)
            return REMOVED if removed or reader is not None else ABSENT
        runs, index_bytes = layout
        old = reader
        parts: list = [CopyRange(old, off, n) if source < 0 and old is not None
                       else memoryview(sets[source])[off:off + n] for source, off, n in runs.tolist()]
        parts = [index_bytes, *parts] if spec.index_at_start else [*parts, index_bytes]
        store.put(key, parts, mode=reader.version if reader is not None else ("overwrite" if whole else "create"))
        return WRITTEN
    finally:
        if reader is not None:
            reader.close()
