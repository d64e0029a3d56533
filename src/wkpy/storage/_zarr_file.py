"""One Zarr chunk file (a shard, or an unsharded chunk) over a store: box reads and writes.

Here the store (`wkpy.storage.store`) and the buffer kernels of `wkcore._shard` meet: a
read fetches the file's index, plans the chunks a box touches, fetches their bytes in
coalesced batches and decodes them; a write encodes the touched chunks (over the old bytes
of the ones it covers only in part). `ZarrArray` calls these once per file, holding the
file's lock for writes.

A file written without old chunks (no file yet, or a box covering it whole) is written
while it is encoded: its chunk groups go into the new file in order as they finish
(`stream_tasks`), the index last (`_write_new`). How a write changes a file that exists:

- **Append** (a local shard with its index at the end and a ``crc32c`` index codec, the
  layout webknossos writes): the new chunks and then a new index are written after the old
  file's last byte; the old bytes stay as they are, so the write costs time in proportion
  to the data written, not to the shard. Before, an undo journal (`journal_key`: a hidden
  ``.<name>.wkpy-append`` beside the file, put atomically) records the old size. Readers
  take no lock and change nothing: one that found the old size reads the old index and
  chunks, which never move; one that finds a size mid-append, or a killed writer's torn
  end, finds no valid index there (its checksum fails) and reads the old file -- the first
  bytes up to the size the journal records (`open_indexed`). The next writer of the file
  settles a killed writer's journal (`settle`): a complete append (a valid index at the
  end) is kept, anything else is undone by putting the file's first ``size`` bytes back
  atomically -- so a crash leaves the old file or the new one.
- **Rewrite** (otherwise, and to compact): the new file is laid out and put atomically, the
  untouched chunks copied from the old file as they are (`CopyRange`, in the kernel for
  local files). A shard is compacted this way when the bytes its index no longer lists
  (replaced chunks, old indexes) would exceed the bytes it does (`COMPACT_RATIO`), so
  appends cost at most about twice the bytes written. A file with other names (hard
  links), a link, an object store, an unsharded array or an index without checksum are
  always rewritten.

Other programs reading a shard while wkpy appends to it (WEBKNOSSOS, tensorstore,
zarr-python take no wkpy locks) may meet the same mid-append state and report a bad index
checksum; read again, they find the old or the new file. Appended files are valid Zarr
shards that every reader reads; only their bytes differ from a compacted file's.
"""

from __future__ import annotations

import errno
import functools
import struct
from collections.abc import Sequence

import numpy as np

from wkcore import _shard
from wkcore._codecs import crc32c_of
from wkpy.errors import ConflictError, CorruptFileError, ForeignPathError
from wkpy.executor import run_tasks, stream_tasks
from wkpy.storage._cache import INDEXES
from wkpy.storage.store import At, CopyRange, Hole, Reader, Store

__all__ = ["COMPACT_RATIO", "journal_key", "open_indexed", "read_index", "read_box", "settle", "tail_hint",
           "write_box"]

_SMALL_CHUNK = 1 << 18
COMPACT_RATIO = 1.0
"""A shard is rewritten compact instead of appended to when its dead bytes would exceed
this many times its live (indexed) bytes."""
_JOURNAL = struct.Struct("<8sQI")               # magic, old size, CRC32C of the two before
_MAGIC = b"WKPYAPD1"

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
    if not spec.index_crc:                  # no CRC32C: nothing cheap to check a hit by
        return _shard.parse_index(spec, reader.read(offset, length), reader.size, reader.name)
    key = (reader.name, spec)
    crc = offset + length - 4
    index = INDEXES.get(key, reader.version, lambda: reader.read(crc, 4))
    if index is None:
        raw = reader.read(offset, length)
        index = _shard.parse_index(spec, raw, reader.size, reader.name)
        INDEXES.put(key, reader.version, index, length, check=memoryview(raw)[-4:])
    return index


def appendable(spec: _shard.ShardSpec) -> bool:
    """Whether files of `spec` can be appended to (see the module docstring): sharded, the
    index at the end, with a checksum that tells a torn index from a whole one."""
    return spec.sharded and not spec.index_at_start and spec.index_crc


def journal_key(key: str) -> str:
    """The key of the undo journal of an append to the file `key` (hidden beside it)."""
    folder, _, name = key.rpartition("/")
    return f"{folder}/.{name}.wkpy-append" if folder else f".{name}.wkpy-append"


def _journal(size: int) -> bytes:
    head = _JOURNAL.pack(_MAGIC, size, 0)[:16]
    return head + crc32c_of(head).to_bytes(4, "little")


def _parse_journal(raw: bytes | None) -> int | None:
    """The old size a journal records; None if it is not a whole, intact journal."""
    if raw is None or len(raw) != _JOURNAL.size:
        return None
    magic, size, crc = _JOURNAL.unpack(raw)
    return size if magic == _MAGIC and crc == crc32c_of(raw[:16]) else None


def _open_plain(store: Store, key: str) -> Reader | None:
    """A reader of `key` if it is a regular file and not a link (else None)."""
    try:
        return store.open(key, follow_links=False)
    except CorruptFileError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise


def settle(store: Store, key: str, spec: _shard.ShardSpec) -> int:
    """Settle the journal a killed append to the file `key` left; the caller, a writer,
    holds the file's lock exclusively (a live writer would hold it).

    Returns 0 if there is no journal; 1 if it was dropped (damaged, cut short, a link or no
    regular file, or not matching the file: it never had an append behind it that could
    be undone); 2 if the append was complete (a valid index ends the file) and is kept; 3
    if it was undone (the file's first bytes, up to the recorded size, where a valid index
    ends them, put back atomically).
    """
    name = journal_key(key)
    if not store.exists(name):
        return 0
    size = _journal_size(store, key)
    verdict = 1
    reader = _open_plain(store, key) if size is not None else None
    if reader is not None:
        with reader:
            if _index_at(reader, spec, reader.size) is not None:
                verdict = 2
            elif size <= reader.size and _index_at(reader, spec, size) is not None:
                store.put(key, [CopyRange(reader, 0, size)], mode=reader.version)
                verdict = 3
    try:
        store.delete(name)                    # (a link or FIFO planted there: removed, never followed)
    except OSError:
        pass                                  # a folder: left (no journal fits there, so writes rewrite)
    return verdict


def _index_at(reader: Reader, spec: _shard.ShardSpec, size: int) -> _shard.ShardIndex | None:
    """The index ending the first `size` bytes of the file, if they end with a valid one."""
    offset, length = _shard.index_range(spec, size)
    if not length:
        return None
    try:
        return _shard.parse_index(spec, reader.read(offset, length), size, reader.name)
    except CorruptFileError:
        return None


def _journal_size(store: Store, key: str) -> int | None:
    """The old size the journal of `key` records; None if there is no whole, intact one
    (a link or anything but a regular file there counts as none)."""
    journal = _open_plain(store, journal_key(key))
    if journal is None:
        return None
    with journal:
        return _parse_journal(journal.read(0, journal.size) if journal.size == _JOURNAL.size else None)


_READ_TRIES = 4
_CHANGED_TRIES = 64
"""`open_indexed` tries lock-free `_READ_TRIES - 1` times, then under the file's lock,
again up to `_CHANGED_TRIES` times while the file keeps changing under it (a writer of
another user: locks are per user)."""


def open_indexed(store: Store, key: str, spec: _shard.ShardSpec) -> tuple[Reader, _shard.ShardIndex] | None:
    """A reader of the file `key` with its checked index; None if there is no file.

    Readers take no lock and change nothing. Where files are appended to (a local store,
    `appendable`), an index that fails its checks may be one being written, or one a
    killed writer left: then the file's first bytes up to the size its journal records
    (the old file, whose bytes never change) are read if they end with a valid index;
    else the file is opened again (a writer finished meanwhile), the last time after
    waiting for the file's lock (no writer is then mid-append; or, one of another user,
    who does not share the locks, changed the file meanwhile: then again, a bounded
    number of times).

    Raises
    ------
    CorruptFileError
        The file's index is damaged (naming the file).
    """
    tries = _READ_TRIES + _CHANGED_TRIES
    for attempt in range(tries):
        if attempt < _READ_TRIES - 1:
            found = _open_indexed(store, key, spec, False, False)
        else:
            with store.lock(key):
                found = _open_indexed(store, key, spec, True, attempt == tries - 1)
        if found is not False:
            return found
    raise AssertionError("unreachable")


def _open_indexed(store: Store, key: str, spec: _shard.ShardSpec, locked: bool, last: bool
                  ) -> tuple[Reader, _shard.ShardIndex] | None | bool:
    """One try of `open_indexed`: False if it is to be tried again (`locked`: only if the
    file changed since it was opened, a writer that does not share this process's locks;
    `last`: never)."""
    reader = store.open(key, tail=tail_hint(spec))
    if reader is None:
        return None
    try:
        return reader, read_index(reader, spec)
    except CorruptFileError:
        if not (store.can_patch and appendable(spec)):
            reader.close()
            raise
        size = _journal_size(store, key)
        index = _index_at(reader, spec, size) if size is not None and size <= reader.size else None
        if index is not None:
            return reader, index
        reader.close()
        if last or (locked and store.version(key) == reader.version):
            raise
        return False


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
    is replaced). The new chunks are appended to the old file, or the new file replaces
    it atomically (see the module docstring), conditional on the old one being the version
    read (or absent): `WRITTEN`; a file left without chunks is removed (`REMOVED`) or
    stays absent (`ABSENT`).

    Raises
    ------
    CorruptFileError
        A partial write into a damaged file (naming it); nothing changes.
    ConflictError
        The file changed meanwhile (a store without locks and a concurrent writer).
    """
    name = store.name(key)
    whole = _whole(spec, box)
    append = not whole and store.can_patch and appendable(spec)
    if append:
        settle(store, key, spec)
    reader = None if whole else store.open(key, tail=tail_hint(spec))
    if reader is None:
        return _write_new(store, key, spec, box, data, at, subs, whole)
    try:
        index = read_index(reader, spec)
        spans = reader.read_spans(_shard.plan(spec, index, box, partial=True))
        pieces = list(subs) or [(box, at)]
        encode = functools.partial(_shard.encode, spec, data=data, index=index, spans=spans, name=name)
        sets = run_tasks(functools.partial(encode, box=b, data_offset=o) for b, o in pieces)
        if append and reader.in_place and _append(store, key, spec, reader, index, sets):
            return WRITTEN
        layout = _shard.assemble(spec, index, sets)
        if layout is None:
            store.delete(key, mode=reader.version)
            return REMOVED
        _put_layout(store, key, spec, layout, sets, reader, reader.version)
        return WRITTEN
    finally:
        reader.close()


def _put_layout(store: Store, key: str, spec: _shard.ShardSpec, layout: tuple, sets: Sequence[_shard.EncodedChunks],
                old: Reader | None, mode: object) -> None:
    """Put the file `_shard.assemble` laid out: its runs (the old file's bytes copied from
    `old`, the sets' from their buffers) and its index before or after them."""
    runs, index_bytes = layout
    body = [CopyRange(old, off, n) if source < 0 and old is not None else memoryview(sets[source])[off:off + n]
            for source, off, n in runs.tolist()]
    store.put(key, [index_bytes, *body] if spec.index_at_start else [*body, index_bytes], mode=mode)


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
    _put_layout(store, key, spec, layout[0], sets, None, mode)
    return WRITTEN


def _append(store: Store, key: str, spec: _shard.ShardSpec, reader: Reader, index: _shard.ShardIndex,
            sets: Sequence[_shard.EncodedChunks]) -> bool:
    """Append the encoded `sets` and a new index to the file `reader` has open, under its
    journal (see the module docstring); False, with nothing changed, where the file is to
    be rewritten instead (no chunk left, too much dead space, a link, a file with other
    names or one not writable at `key`, or no journal could be put)."""
    laid = _shard.append(spec, index, sets, reader.size)
    if laid is None:
        return False
    runs, index_bytes, live = laid
    end = reader.size + sum(n for _, _, n in runs.tolist())
    if end - live > COMPACT_RATIO * live:
        return False
    journal = journal_key(key)
    try:
        store.put(journal, _journal(reader.size))
    except OSError:                    # its name taken by a folder someone planted: rewrite instead
        return False
    writes = []
    pos = reader.size
    for source, off, n in runs.tolist():
        writes.append((pos, memoryview(sets[source])[off:off + n]))
        pos += n
    writes.append((pos, index_bytes))
    try:
        store.patch(key, writes, mode=reader.version)
    except ForeignPathError:           # a hard-linked file (refused before writing anything): rewritten
        store.delete(journal)
        return False
    except ConflictError:
        store.delete(journal)
        raise
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.EACCES, errno.EPERM):
            raise                      # a failed write: the journal stays, the next access undoes it
        # refused at the open, nothing written: a link is rewritten (the link replaced, never
        # written through); a file not writable (mode 0444, append-only) as it always was,
        # by a new file renamed over it where its folder allows
        store.delete(journal)
        return False
    store.delete(journal)
    return True
