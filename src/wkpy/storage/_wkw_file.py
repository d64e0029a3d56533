"""One WKW file over a store: box reads, rewrites of compressed files, in-place patches of
raw files with their undo journal.

Here the store (`wkpy.storage.store`) and the buffer kernels of `wkcore._wkw` meet. A
read fetches the header and the jump-table entries a box needs, then the blocks in
coalesced batches, and decodes them. A compressed file is rebuilt whole (its blocks
encoded on several threads, each range written to the new file as it finishes) and put
atomically. So a write into part of a compressed file costs time and memory in proportion
to the file, not to the data: the touched blocks are decoded and encoded, and every
untouched block's bytes are copied too (never decoded, but from the old file read whole
into memory). Unlike a Zarr shard (see `wkpy.storage._zarr_file`) a WKW file cannot grow
by appending: its format requires the blocks in Morton order, each block's end given by
the jump table at the start, so a block that grows or shrinks moves every block after
it. A raw file is patched in place after an
undo journal ``<file>.journal`` saving the old blocks is complete (put atomically, so a
journal is there whole or not at all; `roll_back` judges and applies a journal a killed
writer left); a new raw file, or one a write covers whole, is built and put at once. A
store that cannot patch (`Store.can_patch` False), or a file with other names (hard
links: it may belong to another dataset too), gets raw files rewritten whole instead,
which needs no journal. `WkwArray` calls these once per file, holding the file's lock.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Iterator

import numpy as np

from wkcore import _morton, _wkw
from wkpy.errors import CorruptFileError
from wkpy.executor import stream_tasks
from wkpy.storage.store import At, CopyRange, Hole, Reader, Store, row_batches

__all__ = ["JOURNAL", "read_box", "roll_back", "write_compressed", "write_journal", "write_raw"]

JOURNAL = ".journal"
"""A raw file's undo journal is its key plus this."""
HEADER = 16
_JOURNAL_HEAD, _JOURNAL_TAIL = 32, 24


def _head(reader: Reader) -> bytes:
    return bytes(reader.read(0, min(HEADER, reader.size)))


def read_box(reader: Reader, layout: tuple[int, int, int, int], box: tuple[int, ...], out: np.ndarray,
             at: tuple[int, ...]) -> None:
    """Decode `box` (file voxels) of the file `reader` has open into ``out[:, at...]``.

    `layout` is (block_log2, file_log2, voxel_type, voxel_bytes) as header.wkw says; the
    file's own header must agree (CorruptFileError naming the file).
    """
    head = _head(reader)
    offset, length = _wkw.table_range(layout, head, reader.size, box, reader.name)
    table = reader.read(offset, length) if length else b""
    for rows, spans in reader.batches(_wkw.plan(layout, head, reader.size, box, table, name=reader.name)):
        _wkw.decode(layout, head, box, out, at, rows, spans, reader.name)


def _read_layout(layout: tuple[int, ...]) -> tuple[int, int, int, int]:
    return (layout[0], layout[1], layout[3], layout[4])


def _whole(layout: tuple[int, ...], box: tuple[int, ...]) -> bool:
    side = 1 << (layout[0] + layout[1])
    return tuple(box) == (0, 0, 0, side, side, side)


def write_compressed(store: Store, key: str, layout: tuple[int, ...], box: tuple[int, ...], data: np.ndarray,
                     at: tuple[int, ...], threads: int) -> None:
    """Rebuild the compressed file `key` with `data` at `at` written into `box`, its blocks
    encoded in `threads` ranges on the I/O pool, and put it atomically (conditional on the
    old file being the version read). The caller holds the file's lock. The ranges are
    written in order as they finish, while later ones encode; the header and jump table,
    known only then, last, over the room left for them.

    `layout` is (block_log2, file_log2, block_type, voxel_type, voxel_bytes); an existing
    file keeps LZ4 or LZ4HC. A box covering the whole file needs only the old header (a
    damaged file is replaced); any other header is refused, naming the file.
    """
    name = store.name(key)
    whole = _whole(layout, box)
    reader = store.open(key)
    try:
        old: bytes | None = None
        if reader is not None:
            old = _head(reader) if whole else bytes(reader.read(0, reader.size))
        if old is not None and len(old) >= HEADER and old[:3] == b"WKW" and old[5] in (2, 3):
            layout = (*layout[:2], old[5], *layout[3:])
        bounds = _ranges(layout, box, threads)
        tasks = [functools.partial(_wkw.encode_range, old, layout, box, data, at, lo, hi, name)
                 for lo, hi in zip(bounds, bounds[1:])]

        def body() -> Iterator[Hole | _wkw.EncodedBlocks | At]:   # ranges written as they finish
            parts = []
            yield Hole(HEADER + (8 << (3 * layout[1])))
            for blocks, ends in stream_tasks(tasks):
                yield blocks
                parts.append((memoryview(blocks).nbytes, ends))     # freed now, while others encode
                del blocks
            yield At(0, _wkw.assemble(layout, parts))

        store.put(key, body(), mode=reader.version if reader is not None else "create")
    finally:
        if reader is not None:
            reader.close()


def _ranges(layout: tuple[int, ...], box: tuple[int, ...], k: int) -> list[int]:
    """Bounds of about `k` Morton ranges of the file's blocks holding equal shares of the
    blocks `box` touches (the blocks outside it, copied or zero, cost little), from 0 to
    the file's block count.

    The blocks lie between the Morton indices of the box's corner blocks, but not evenly
    (a box half the file deep holds none of half of that range): the bounds are quantiles
    of the Morton indices of up to 16 blocks per axis spread over the box.
    """
    g, n = layout[0], 1 << (3 * layout[1])
    axes = [np.unique(np.linspace(box[a] >> g, (box[a + 3] - 1) >> g, 16).round().astype(np.int64)).tolist()
            for a in range(3)]
    codes = sorted(_morton.encode(x, y, z) for x in axes[0] for y in axes[1] for z in axes[2])
    first, last = int(codes[0]), int(codes[-1]) + 1
    cuts = [int(codes[len(codes) * i // k]) for i in range(1, k)] if k > 1 else []
    return sorted({0, first, *cuts, last, n})


def _runs(rows: np.ndarray, blocks: bytearray) -> list[tuple[int, memoryview]]:
    """The blocks of `rows` (sorted by offset, `blocks` holding their bytes one after the
    other) as writes ``(offset, bytes)``, one per run of neighbouring blocks."""
    if len(rows) == 0:
        return []
    bb = int(rows[0, 2])
    offsets = rows[:, 1].astype(np.int64)
    cuts = [0, *(np.flatnonzero(np.diff(offsets) != bb) + 1).tolist(), len(rows)]
    view = memoryview(blocks)
    return [(int(offsets[a]), view[a * bb:b * bb]) for a, b in zip(cuts, cuts[1:])]


def _put_new_raw(store: Store, key: str, layout: tuple[int, ...], box: tuple[int, ...], data: np.ndarray,
                 at: tuple[int, ...], mode: object) -> None:
    """Put a new raw file: the box's blocks written, every other block zero (sparse)."""
    name = store.name(key)
    head, size = _wkw.new_raw_header(layout)
    rows = _wkw.plan(_read_layout(layout), head, size, box, name=name)
    blocks = _wkw.patch_raw(layout, head, size, box, data, at, rows, [], False, name)
    parts: list = [head]
    pos = HEADER
    for offset, view in _runs(rows, blocks):
        if offset > pos:
            parts.append(Hole(offset - pos))
        parts.append(view)
        pos = offset + view.nbytes
    if pos < size:
        parts.append(Hole(size - pos))
    store.put(key, parts, mode=mode)


def _journal_parts(reader: Reader, layout: tuple[int, ...], head: bytes, rows: np.ndarray,
                   ) -> Iterator[bytes | bytearray]:
    """The journal saving the old bytes of the blocks of `rows`, piece by piece."""
    jhead, chain = _wkw.journal_head(layout, head, reader.size, reader.name)
    yield jhead
    total = _JOURNAL_HEAD + len(rows) * (8 + (int(rows[0, 2]) if len(rows) else 0)) + _JOURNAL_TAIL
    for batch, spans in reader.batches(rows):
        records, chain = _wkw.journal_records(layout, head, reader.size, batch, spans, chain, reader.name)
        yield records
    yield _wkw.journal_tail(chain, total)


def write_journal(store: Store, key: str, layout: tuple[int, ...], box: tuple[int, ...]) -> None:
    """Write the undo journal that a patch of `box` into the raw file `key` writes first,
    without patching (to test and inspect crash recovery; see `roll_back`)."""
    reader = store.open(key, follow_links=False)
    if reader is None:
        raise FileNotFoundError(errno.ENOENT, "no such file", store.name(key))
    with reader:
        head = _head(reader)
        rows = _wkw.plan(_read_layout(layout), head, reader.size, box, name=reader.name)
        store.put(key + JOURNAL, _journal_parts(reader, layout, head, rows))


def write_raw(store: Store, key: str, layout: tuple[int, ...], box: tuple[int, ...], data: np.ndarray,
              at: tuple[int, ...]) -> None:
    """Write `data` at `at` into `box` of the raw file `key`; the caller holds the file's
    lock exclusively.

    A journal left by a killed writer is settled first (`roll_back`). A missing file, and
    any file the box covers whole, is built anew and put atomically. Otherwise the file is
    patched in place after its undo journal is complete; the journal is removed once the
    patch is. A store that cannot patch gets the file rewritten whole and put atomically
    instead (conditional on the version read).

    Raises
    ------
    OSError
        ``ELOOP``: the file is a symbolic link (a raw file is never patched through one).
    CorruptFileError
        The file is damaged or of another kind (naming it); nothing changes.
    """
    if store.can_patch:
        roll_back(store, key)
    name = store.name(key)
    if _whole(layout, box):
        reader = store.open(key)
        if reader is not None:
            with reader:
                _wkw.classify(layout, _head(reader), name)    # refuses another kind of WKW file
        _put_new_raw(store, key, layout, box, data, at, "overwrite")
        return
    reader = store.open(key, follow_links=False)
    if reader is None:
        _put_new_raw(store, key, layout, box, data, at, "create")
        return
    with reader:
        head = _head(reader)
        rows = _wkw.plan(_read_layout(layout), head, reader.size, box, name=name)
        partial = _wkw.plan(_read_layout(layout), head, reader.size, box, partial=True, name=name)[:, 0]
        if not store.can_patch or not reader.in_place:       # (an object, or a hard-linked file)
            spans = reader.read_spans(rows[np.isin(rows[:, 0], partial)])
            blocks = _wkw.patch_raw(layout, head, reader.size, box, data, at, rows, spans, True, name)
            parts: list = []
            pos = 0
            for offset, view in _runs(rows, blocks):
                parts += [CopyRange(reader, pos, offset - pos), view]
                pos = offset + view.nbytes
            store.put(key, [*parts, CopyRange(reader, pos, reader.size - pos)], mode=reader.version)
            return
        _wkw.journal_head(layout, head, reader.size, name)       # a raw file of the layer, or raise
        journal = key + JOURNAL
        store.put(journal, _journal_parts(reader, layout, head, rows))
        version = reader.version                 # each patch of the file as this writer left it
        for batch in row_batches(rows, reader.batch_bytes):
            spans = reader.read_spans(batch[np.isin(batch[:, 0], partial)])
            blocks = _wkw.patch_raw(layout, head, reader.size, box, data, at, batch, spans, True, name)
            version = store.patch(key, _runs(batch, blocks), mode=version)
        # on a failure after the journal was put, it stays: the next access rolls back
    store.delete(journal)


def _file_head(store: Store, key: str) -> tuple[bytes | None, int]:
    """The first bytes and size of the raw file a journal may belong to; (None, 0) if
    there is none that it could have patched (absent, a link, not a regular file)."""
    try:
        reader = store.open(key, follow_links=False)
    except CorruptFileError:
        return None, 0
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, 0
        raise
    if reader is None:
        return None, 0
    with reader:
        return (_head(reader) if reader.size >= HEADER else None), reader.size


def _unshare(store: Store, key: str) -> None:
    """Give the raw file `key` a copy of its own if it has other names (hard links made
    after the patch a journal undoes: a snapshot taken after a crash), so that rolling it
    back in place changes no other folder's file. A crash before or after the copy leaves
    the journal, applied by the next access."""
    reader = store.open(key, follow_links=False)
    if reader is not None:
        with reader:
            if not reader.in_place:
                store.put(key, [CopyRange(reader, 0, reader.size)], mode=reader.version)


def roll_back(store: Store, key: str) -> int:
    """Settle the undo journal a killed in-place patch of the raw file `key` left behind.

    The caller holds the file's lock exclusively. A complete journal (trailer, length and
    checksum agree, and it fits the file) is applied, restoring the blocks it saved, the
    file synced, and the journal deleted: 2. Any other journal (cut short while being
    written, damaged, a link, not a regular file, or not matching the file) never had a
    patch behind it and is deleted unapplied: 1. No journal: 0. The journal's format and
    every rule that judges it live in `wkcore._wkw` ("undo journal", `JournalCheck`). A
    file with other names (hard links) gets a copy of its own first: theirs keep their bytes.
    """
    name = key + JOURNAL
    try:
        journal = store.open(name, follow_links=False)
    except CorruptFileError:          # not a regular file: never read, removed
        store.delete(name)
        return 1
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        store.delete(name)            # a link planted at the journal's name: removed, never followed
        return 1
    if journal is None:
        return 0
    verdict = 1
    with journal:
        size = journal.size
        ends = (journal.read(0, _JOURNAL_HEAD), journal.read(size - _JOURNAL_TAIL, _JOURNAL_TAIL)) \
            if size >= _JOURNAL_HEAD + _JOURNAL_TAIL else (b"", b"")
        check = _wkw.JournalCheck(*_file_head(store, key), *ends, size)
        if check.plausible:
            step = max(1, journal.batch_bytes // check.record_bytes) * check.record_bytes
            end = _JOURNAL_HEAD + check.records * check.record_bytes
            pieces = range(_JOURNAL_HEAD, end, step)
            held = [journal.read(p, min(step, end - p)) for p in pieces] if len(pieces) == 1 else None
            for i, p in enumerate(pieces):
                check.scan(held[i] if held else journal.read(p, min(step, end - p)))
            if check.sealed:
                _unshare(store, key)
                bb = check.record_bytes - 8
                for i, p in enumerate(pieces):
                    records = held[i] if held else journal.read(p, min(step, end - p))
                    view = memoryview(records)
                    store.patch(key, [(off, view[at:at + bb]) for _, off, at in check.entries(records).tolist()])
                store.patch(key, (), sync=True)
                verdict = 2
    store.delete(name)
    return verdict
