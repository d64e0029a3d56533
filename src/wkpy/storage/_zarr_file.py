"""One Zarr chunk file (a shard, or an unsharded chunk) over a store: box reads and writes.

Here the store (`wkpy.storage.store`) and the buffer kernels of `wkcore._shard` meet: a
read fetches the file's index, plans the chunks a box touches, fetches their bytes in
coalesced batches and decodes them; a write encodes the touched chunks (over the old bytes
of the ones it covers only in part), lays out the new file and puts it, the untouched
chunks copied from the old file as they are (`CopyRange`). A file written without old
chunks (a new file, or a box covering it whole) is written while it is encoded: its chunk
groups go into the new file in order as they finish (`stream_tasks`), the index last.
`ZarrArray` calls these once per file, holding the file's lock for writes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from wkcore import _shard
from wkpy.executor import run_tasks, stream_tasks
from wkpy.storage.store import At, CopyRange, Hole, Reader, Store

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
    """The checked index of the file `reader` has open (CorruptFileError naming it)."""
    offset, length = _shard.index_range(spec, reader.size)
    return _shard.parse_index(spec, reader.read(offset, length) if length else b"", reader.size, reader.name)


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
    if reader is None:
        return _write_new(store, key, spec, box, data, at, subs, whole)
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


class _Unstreamable(Exception):
    """The new file's chunks are not its chunk groups one after the other (or there are none)."""


def _write_new(store: Store, key: str, spec: _shard.ShardSpec, box: tuple[int, ...], data: np.ndarray,
               at: tuple[int, ...], subs: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], whole: bool) -> int:
    """`write_box` without old chunks (no file, or `box` covers it whole): the groups `subs`
    are encoded on the I/O pool and put in order as they finish, while the later ones
    encode; the index follows them (or is written over the room left for it at the start).

    Groups cut along the axis on which chunks lie together in the file (as
    `split_for_threads` cuts them) are the file's body one after the other. If the layout
    says otherwise (a cut along another axis), the put is abandoned and made again from
    the layout; a file left without chunks is removed, or stays absent.
    """
    pieces = list(subs) or [(box, at)]
    encode = functools.partial(_shard.encode, spec, data=data, name=store.name(key))
    sets: list[_shard.EncodedChunks] = []
    layout: list = []

    def parts():  # type: ignore[no-untyped-def]
        if spec.index_at_start:
            yield Hole(spec.index_bytes)
        for chunks in stream_tasks(functools.partial(encode, box=b, data_offset=o) for b, o in pieces):
            sets.append(chunks)
            yield memoryview(chunks)
        layout.append(_shard.assemble(spec, None, sets))
        if layout[0] is None or layout[0][0].tolist() != [[i, 0, memoryview(c).nbytes]
                                                         for i, c in enumerate(sets) if memoryview(c).nbytes]:
            raise _Unstreamable
        index_bytes = layout[0][1]
        yield At(0, index_bytes) if spec.index_at_start else index_bytes

    mode = "overwrite" if whole else "create"
    try:
        store.put(key, parts(), mode=mode)
        return WRITTEN
    except _Unstreamable:
        pass
    if layout[0] is None:
        return REMOVED if whole and store.delete(key) else ABSENT
    runs, index_bytes = layout[0]
    body = [memoryview(sets[source])[off:off + n] for source, off, n in runs.tolist()]
    store.put(key, [index_bytes, *body] if spec.index_at_start else [*body, index_bytes], mode=mode)
    return WRITTEN
