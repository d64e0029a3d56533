"""The store seam: bytes by key, under every array format.

The array formats (`wkpy.storage.wkw`, `wkpy.storage._zarr_array`) never open a file. They
ask a `Store` for bytes by key -- a ``/``-separated name inside the array's folder, such as
``z0/y0/x0.wkw``, ``c/0/0/0/0`` or ``zarr.json`` -- and hand those bytes to the kernels in
`wkcore`, which work on buffers only (the way zarr-python puts a codec pipeline over its
stores and tensorstore its format drivers over kvstore drivers). One store, `LocalStore`,
serves local folders; an object store (S3, GCS, HTTP) is another implementation of the
same protocol.

What a store provides (the `Store` protocol):

- `open(key, tail=n)` -> a `Reader` of one **version** of the object (None if absent): its
  `size`, its `version` token, `read(offset, length)`, and `read_spans(rows)` /
  `batches(rows)`, which fetch the byte ranges of chunk rows (``(chunk, offset, nbytes)``,
  as the kernels' planners return them), coalescing neighbours (gaps up to
  `Reader.coalesce_gap`) and bounding what one batch holds (`Reader.batch_bytes`). Every
  read of one reader sees the same version, whatever writers do meanwhile. `tail` is a
  hint: the caller will read the last `tail` bytes (a shard index at the end), which a
  remote store fetches in the same request that finds the object.
- `get(key)` (whole object), `get_ranges([(key, offset, length), ...])`.
- `put(key, parts, mode=...)`: atomic -- readers see the old object or the new one,
  never a part. `parts` are buffers, `CopyRange`s (bytes of an open reader's object,
  copied without passing through Python where the store can), `Hole`s (zero bytes) and
  `At`s (bytes over earlier ones: a header known only once the body is, so that the body
  can be written while it is still being encoded). `parts` may be a generator: a local
  store writes each part as it comes.
  `mode` is ``"overwrite"``, ``"create"`` (fail if the key exists) or a version token
  from a reader (fail unless the object is still that version): the conditional write,
  raising `ConflictError` when it fails. `delete(key, mode=...)` likewise.
- `patch(key, writes, mode=version)`: bytes written in place, within the file or after
  its end (raw WKW files with their undo journal, appends to Zarr shards with theirs); only
  if `can_patch`, and only into a file a reader found `in_place` (a regular file with no
  other name: never through a link, never into a hard-linked file another folder shares).
- `list(prefix)`, `exists(key)`, `version(key)`, `name(key)` (for messages).
- `prepare(keys)`: get ready to `put` these keys (a local store creates their folders,
  refusing links that lead out of it); every writer calls it before its puts.
- `lock(key, shared=...)`: a lock ordering the read-modify-writes of one key, if the
  store has locks (`has_locks`); else a no-op, and conditional puts are what keeps
  concurrent writers from losing updates.

What a remote (object) store must add to fit: `open` pins the object's ETag or generation
(range GETs with ``If-Match``), `read_spans` issues the coalesced range requests
concurrently, `put` uploads whole objects (multipart for large ones, with server-side
copies for `CopyRange`s where the service has them) with ``If-Match`` /
``If-None-Match: *`` for the conditional modes, `can_patch` is False (the raw WKW writer
then rewrites whole files), `has_locks` is False, and `prepare` does nothing. fsspec
(s3fs, gcsfs, aiohttp) and obstore both offer what that needs.

`LocalStore` keeps the local fast path: `pread` straight into new buffers, one ``pread``
per coalesced run, ``copy_file_range`` for `CopyRange`, sparse files for `Hole`s, a
temporary file (created with ``O_EXCL | O_NOFOLLOW``, never through a link) renamed over
the key for atomic puts, ``fsync`` on request, ``flock`` locks from `wkpy.locking`, and
conditional puts compared under the key's lock.
"""

from __future__ import annotations

import errno
import os
import random
import time
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, Union

import numpy as np

from wkpy._paths import ensure_inside
from wkpy.errors import ConflictError, CorruptFileError, ForeignPathError, InvalidRequestError
from wkpy.locking import lock_file_for, path_lock

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["At", "CopyRange", "Hole", "LocalStore", "Reader", "Store", "Version", "as_store", "coalesce", "retry_on_conflict",
           "row_batches"]

T = TypeVar("T")
CONFLICT_TRIES = 25
"""How often a read-modify-write on a store without locks is tried before its `ConflictError`
reaches the caller (each retry after a random pause growing up to a second)."""

Version = Any
"""A store's token for one version of an object (local: device, inode, size, mtime)."""

Mode = Union[Literal["overwrite", "create"], Version]
"""How a `put` may replace: always, only a new key, or only that version."""

COALESCE_GAP = 1 << 13
"""Local reads join byte ranges with gaps up to this (one `pread` instead of several): a
``pread`` of cached pages costs about what copying 8 KiB more does, so larger gaps cost more
than the calls they save (a 64³ cutout of a WKW file read 27 % bytes more with 64 KiB, for
9 % more CPU time)."""
BATCH_BYTES = 8 << 20
"""Bytes of chunk data one batch of a read fetches at most (more if one chunk is larger)."""
_COPY_PIECE = 8 << 20
_SMALL = 64                                      # rows coalesced without numpy


@dataclass(frozen=True)
class CopyRange:
    """A part of a `put`: `length` bytes at `offset` of the object `reader` has open."""

    reader: Reader
    offset: int
    length: int


@dataclass(frozen=True)
class Hole:
    """A part of a `put`: `length` zero bytes (a local store leaves them sparse)."""

    length: int


@dataclass(frozen=True)
class At:
    """A part of a `put`: `data` written at `offset` over bytes the parts before it gave
    (usually a `Hole` left for a header); the object does not grow, nor does the position
    of the next part move.

    Raises
    ------
    ValueError (from `put`)
        `data` would reach beyond the bytes given so far.
    """

    offset: int
    data: Buffer


def coalesce(offsets: np.ndarray, ends: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Join byte ranges ``[offsets[i], ends[i])``, sorted by offset, whose gaps are at most
    `gap` bytes: the (starts, stops) of the runs."""
    run_end = np.maximum.accumulate(ends)
    idx = np.concatenate(([0], np.flatnonzero(offsets[1:] > run_end[:-1] + gap) + 1))
    return offsets[idx], np.maximum.reduceat(ends, idx)


def row_batches(rows: np.ndarray, budget: int) -> Iterator[np.ndarray]:
    """Consecutive slices of the chunk rows `rows` ((k, 3): chunk, offset, nbytes), each of
    at most `budget` bytes of chunk data (or one row, if that is larger)."""
    if len(rows) <= 1 or (len(rows) <= _SMALL and sum(rows[:, 2].tolist()) <= budget) \
            or int(rows[:, 2].sum()) <= budget:
        if len(rows):
            yield rows
        return
    ends = np.cumsum(rows[:, 2], dtype=np.int64)
    start, taken = 0, 0
    while start < len(rows):
        stop = max(start + 1, int(np.searchsorted(ends, taken + budget, side="right")))
        yield rows[start:stop]
        taken = int(ends[stop - 1])
        start = stop


class Reader(Protocol):
    """One version of one object, open for reads (a context manager; `close` when done)."""

    key: str
    name: str
    size: int
    version: Version
    in_place: bool              # may be patched in place (a local file with one name)
    coalesce_gap: int
    batch_bytes: int

    def read(self, offset: int, length: int) -> Buffer:
        """`length` bytes at `offset` (CorruptFileError if the object ends before)."""
        ...

    def read_spans(self, rows: np.ndarray) -> list[tuple[int, Buffer]]:
        """The bytes of chunk rows ((k, 3): chunk, offset, nbytes; sorted by offset) as
        spans, ``(offset, buffer)``, neighbours coalesced."""
        ...

    def batches(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, list[tuple[int, Buffer]]]]:
        """The rows in batches of bounded size, each with its spans. A batch's buffers may be
        reused for the next batch: use them before asking for it."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Reader: ...

    def __exit__(self, *exc: object) -> None: ...


class Store(Protocol):
    """Bytes by key (see the module docstring)."""

    root: Any                   # where the store is (a local folder's Path, or a URL)
    has_locks: bool
    can_patch: bool

    def name(self, key: str) -> str: ...

    def open(self, key: str, *, follow_links: bool = True, tail: int = 0) -> Reader | None: ...

    def get(self, key: str, *, limit: int | None = None) -> bytes | None: ...

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Buffer]: ...

    def exists(self, key: str) -> bool: ...

    def version(self, key: str) -> Version | None: ...

    def put(self, key: str, data: Buffer | Iterable[Buffer | CopyRange | Hole | At], *, mode: Mode = "overwrite",
            sync: bool = False) -> Version: ...

    def patch(self, key: str, writes: Iterable[tuple[int, Buffer]], *, sync: bool = False,
              mode: Version | None = None) -> Version: ...

    def delete(self, key: str, *, mode: Version | None = None) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def prepare(self, keys: Iterable[str]) -> None: ...

    def lock(self, key: str, *, shared: bool = False) -> AbstractContextManager[None]: ...


class _Reads:
    """`read_spans`, `batches` and `get_ranges` from `read` and `open` (shared by stores)."""

    coalesce_gap = COALESCE_GAP
    batch_bytes = BATCH_BYTES

    def read(self, offset: int, length: int) -> Buffer:
        raise NotImplementedError

    def _runs(self, rows: np.ndarray) -> list[tuple[int, int]]:
        """The coalesced byte runs ``(start, stop)`` holding the rows' bytes."""
        if len(rows) <= _SMALL:                  # a few rows: cheaper without numpy
            items = rows[:, 1:].tolist()
            items.sort()                         # (planners sort already: then a linear check)
            gap, runs = self.coalesce_gap, []
            start, stop = items[0][0], items[0][0] + items[0][1]
            for off, n in items:
                if off > stop + gap:
                    runs.append((start, stop))
                    start, stop = off, off + n
                elif off + n > stop:
                    stop = off + n
            runs.append((start, stop))
            return runs
        offsets = rows[:, 1].astype(np.int64)
        starts, stops = coalesce(offsets, offsets + rows[:, 2].astype(np.int64), self.coalesce_gap)
        return list(zip(starts.tolist(), stops.tolist()))

    def read_spans(self, rows: np.ndarray) -> list[tuple[int, Buffer]]:
        if len(rows) == 0:
            return []
        return [(s, self.read(s, e - s)) for s, e in self._runs(rows)]

    def batches(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, list[tuple[int, Buffer]]]]:
        for batch in row_batches(rows, self.batch_bytes):
            yield batch, self.read_spans(batch)


class LocalReader(_Reads):
    """A local file open for reads: one version of it (the open file), whatever renames
    happen meanwhile."""

    def __init__(self, key: str, name: str, fd: int, st: os.stat_result) -> None:
        self.key, self.name, self.fd = key, name, fd
        self.size = st.st_size
        self.version = _version(st)
        self.in_place = st.st_nlink == 1

    def batches(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, list[tuple[int, Buffer]]]]:
        """As `Reader.batches`, reading every batch into one buffer kept for the whole call
        (its pages are faulted in once, not per batch).

        A request of one batch (a cutout) gets a buffer of its size: one allocation, not one
        `bytes` per coalesced run -- malloc hands the pages of many freed mid-sized blocks
        back to the system, so the next call would fault every 4 KiB of them in again (90
        page faults per 64³ cutout of a WKW file), where the pages of one larger block are
        reused."""
        if not len(rows):
            return
        small = len(rows) <= _SMALL and sum(rows[:, 2].tolist()) <= self.batch_bytes
        buf = np.empty(0, np.uint8)
        view: memoryview | None = None
        part: memoryview | None = None
        spans: list[tuple[int, Buffer]] | None = None
        for batch in row_batches(rows, self.batch_bytes):
            runs = self._runs(batch)
            need = sum(e - s for s, e in runs)
            if len(buf) < need:                  # one buffer at a time; not zeroed (preadv fills
                view = part = spans = None       # what is used), with room for coalesced gaps
                buf = np.empty(0, np.uint8)
                buf = np.empty(need if small else max(need, self.batch_bytes + (self.batch_bytes >> 2)), np.uint8)
            view = memoryview(buf.data)
            spans = []
            pos = 0
            for s, e in runs:
                part = view[pos:pos + e - s]
                self._read_into(part, s)
                spans.append((s, part))
                pos += e - s
            yield batch, spans

    def _read_into(self, view: memoryview, offset: int) -> None:
        done = 0
        while done < view.nbytes:
            n = os.preadv(self.fd, [view[done:]], offset + done)
            if n == 0:
                raise CorruptFileError(f"{self.name}: file ends at byte {offset + done}, "
                                       f"{view.nbytes - done} bytes short")
            done += n

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) == length:
            return data
        out = bytearray(data)
        while len(out) < length:          # a large read comes in pieces
            more = os.pread(self.fd, length - len(out), offset + len(out))
            if not more:
                raise CorruptFileError(f"{self.name}: file ends at byte {offset + len(out)}, "
                                       f"{length - len(out)} bytes short")
            out += more
        return bytes(out)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> LocalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _version(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _write_all(fd: int, data: Buffer, pos: int) -> int:
    view = memoryview(data).cast("B")
    done, n = 0, view.nbytes
    while done < n:
        done += os.pwrite(fd, view[done:], pos + done)
    return n


def _copy(reader: Reader, offset: int, length: int, fd: int, pos: int) -> None:
    """Copy bytes of an open object into the file `fd`: in the kernel (``copy_file_range``)
    between local files, else through a buffer."""
    src = getattr(reader, "fd", -1)
    while length > 0 and src >= 0:
        try:
            n = os.copy_file_range(src, fd, length, offset, pos)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTSUP):
                raise
            break
        if n == 0:
            raise CorruptFileError(f"{reader.name}: file ends at byte {offset}, {length} bytes short")
        offset, pos, length = offset + n, pos + n, length - n
    while length > 0:
        piece = min(length, _COPY_PIECE)
        _write_all(fd, reader.read(offset, piece), pos)
        offset, pos, length = offset + piece, pos + piece, length - piece


class LocalStore:
    """The files of one local folder (`root`), by key (see the module docstring).

    Parameters
    ----------
    root : the folder; keys are ``/``-separated paths inside it.
    """

    has_locks = True
    can_patch = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._prefix = os.path.join(os.fspath(self.root), "")

    def __repr__(self) -> str:
        return f"LocalStore({os.fspath(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalStore) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"])  # type: ignore[misc]

    # ---- names ----------------------------------------------------------------------------
    def name(self, key: str) -> str:
        """The file name of `key` (a string: the hot paths open files by it).

        Raises
        ------
        InvalidRequestError
            A key that is not a relative path inside the folder.
        """
        check_key(key, self.root)
        return self._prefix + key

    def path(self, key: str) -> Path:
        """The file of `key` as a `Path` (see `name`)."""
        return Path(self.name(key))

    # ---- reads ----------------------------------------------------------------------------
    def open(self, key: str, *, follow_links: bool = True, tail: int = 0) -> LocalReader | None:
        """A reader of the file `key`, or None if there is none (`tail`, a prefetch hint
        for remote stores, has no use here).

        Raises
        ------
        CorruptFileError
            It is not a regular file (a FIFO, device or folder: never read, so it can
            neither hang nor flood the caller).
        OSError
            ``ELOOP`` if `follow_links` is False and the name is a symbolic link.
        """
        path = self.name(key)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise CorruptFileError(f"{path}: not a regular file")
        except BaseException:
            os.close(fd)
            raise
        return LocalReader(key, path, fd, st)

    def get(self, key: str, *, limit: int | None = None) -> bytes | None:
        """The whole file `key` (None if absent).

        Raises
        ------
        CorruptFileError
            Not a regular file, or larger than `limit` bytes.
        """
        reader = self.open(key)
        if reader is None:
            return None
        with reader:
            if limit is not None and reader.size > limit:
                raise CorruptFileError(f"{reader.name}: {reader.size:,} bytes, more than the {limit:,} "
                                       "a metadata file may have")
            return reader.read(0, reader.size)

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Buffer]:
        """The bytes of each ``(key, offset, length)``, in order; the ranges of one file are
        read with neighbours coalesced. A missing file raises FileNotFoundError."""
        return _ranges_by_reader(self, requests)

    def exists(self, key: str) -> bool:
        """Whether something (a file, a link, anything) has the name `key`."""
        return os.path.lexists(self.name(key))

    def version(self, key: str) -> Version | None:
        try:
            return _version(os.stat(self.name(key)))
        except FileNotFoundError:
            return None

    def list(self, prefix: str = "") -> Iterator[str]:
        """The keys of the regular files under `prefix` (a folder key, "" for all), hidden
        names (lock files, temporaries, work folders) left out; links to folders are not
        followed."""
        top = self.path(prefix) if prefix else self.root
        base = os.fspath(self.root)
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = os.path.relpath(folder, base)
            for name in files:
                if not name.startswith("."):
                    yield name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")

    # ---- writes ---------------------------------------------------------------------------
    def prepare(self, keys: Iterable[str]) -> None:
        """Create the folders of the keys about to be written (each distinct folder checked
        once, so a write of many small files resolves a few dozen folders, not every file)
        and refuse a link planted at a key's own name that leads out of the store's folder.

        Raises
        ------
        ForeignPathError
            A link leads a folder or a key out of the store's folder.
        """
        paths = [self.path(k) for k in keys]
        for folder in sorted({p.parent for p in paths}):
            ensure_inside(self.root, folder).mkdir(parents=True, exist_ok=True)
        for path in paths:
            if os.path.islink(path):
                ensure_inside(self.root, path)

    def lock(self, key: str, *, shared: bool = False) -> AbstractContextManager[None]:
        """The lock of `key` (see `wkpy.locking`): exclusive for writers, shared for readers
        of files patched in place."""
        return path_lock(lock_file_for(self.root, key), exclusive=not shared)

    def _check(self, key: str, mode: Mode) -> None:
        if mode == "overwrite":
            return
        now = self.version(key)
        if mode == "create":
            if now is not None:
                raise ConflictError(f"{self.name(key)}: exists already (a concurrent writer created it)")
        elif now != mode:
            raise ConflictError(f"{self.name(key)}: changed since it was read (a concurrent writer); "
                                "nothing was written")

    def put(self, key: str, data: Buffer | Iterable[Buffer | CopyRange | Hole | At], *, mode: Mode = "overwrite",
            sync: bool = False) -> Version:
        """Replace the file `key` atomically by the concatenated `data` (see the module
        docstring for parts and modes). A link at the name is replaced, never written
        through; the temporary file is created beside it with ``O_EXCL | O_NOFOLLOW``.

        Raises
        ------
        ConflictError
            `mode` is not met (the file exists, or is not that version); nothing changed.
        """
        path = self.name(key)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = self._create(key, tmp)
        try:
            pos = 0
            one = isinstance(data, (bytes, bytearray, memoryview))
            parts: Iterable[Any] = [data] if one else data  # type: ignore[assignment]
            for part in parts:
                if isinstance(part, Hole):
                    pos += part.length
                elif isinstance(part, CopyRange):
                    _copy(part.reader, part.offset, part.length, fd, pos)
                    pos += part.length
                elif isinstance(part, At):
                    _write_all(fd, part.data, check_at(part, pos))
                else:
                    pos += _write_all(fd, part, pos)
            if os.fstat(fd).st_size != pos:
                os.ftruncate(fd, pos)     # a trailing hole
            if sync:
                os.fsync(fd)
            new = _version(os.fstat(fd))
        except BaseException:
            os.close(fd)
            _unlink(tmp)
            raise
        try:
            os.close(fd)
            if mode == "overwrite":
                os.replace(tmp, path)
            else:
                with self.lock(key):
                    self._check(key, mode)
                    os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise
        return new

    def _create(self, key: str, tmp: str) -> int:
        """Create the temporary file: a name left by a killed writer of this process and
        thread (or a link planted there) is removed first, never opened."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        for attempt in range(3):
            try:
                return os.open(tmp, flags, 0o644)
            except FileExistsError:
                _unlink(tmp)
            except FileNotFoundError:
                if attempt:
                    raise
                self.prepare([key])
        return os.open(tmp, flags, 0o644)

    def patch(self, key: str, writes: Iterable[tuple[int, Buffer]], *, sync: bool = False,
              mode: Version | None = None) -> Version:
        """Write bytes into the existing file `key` in place, at each ``(offset, bytes)``
        (an offset at or after the end appends); `sync` flushes them to disk. With `mode` (a
        version token from a reader) only if the file is still that version. Returns the
        file's new version.

        Raises
        ------
        OSError
            ``ELOOP``: the name is a symbolic link (never written through);
            FileNotFoundError if there is no file.
        CorruptFileError
            It is not a regular file.
        ForeignPathError
            The file has other names (hard links): it may belong to another folder too.
        ConflictError
            It is not the version `mode` (nothing was written).
        """
        path = self.name(key)
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise CorruptFileError(f"{path}: not a regular file")
            if st.st_nlink != 1:
                raise ForeignPathError(f"{path}: the file has {st.st_nlink} names (hard links); it is never "
                                       "changed in place")
            if mode is not None and _version(st) != mode:
                raise ConflictError(f"{path}: changed since it was read (a concurrent writer); nothing was written")
            for offset, data in writes:
                _write_all(fd, data, offset)
            if sync:
                os.fdatasync(fd)
            return _version(os.fstat(fd))
        finally:
            os.close(fd)

    def delete(self, key: str, *, mode: Version | None = None) -> bool:
        """Remove the file (or link) `key`; False if there was none. With `mode` (a version
        token) only if it is still that version.

        Raises
        ------
        ConflictError
            The file is not the version `mode`.
        """
        path = self.name(key)
        if mode is None:
            return _unlink(path)
        with self.lock(key):
            self._check(key, mode)
            return _unlink(path)


def check_at(part: At, size: int) -> int:
    """The offset of the `At` part `part` of a `put` that has given `size` bytes so far
    (ValueError if its bytes would reach beyond them)."""
    n = memoryview(part.data).nbytes
    if part.offset < 0 or part.offset + n > size:
        raise ValueError(f"an At part of {n} bytes at {part.offset} reaches beyond the {size} bytes before it")
    return part.offset


def _unlink(path: str | os.PathLike[str]) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def retry_on_conflict(store: Store, attempt: Callable[[], T]) -> T:
    """`attempt()`, tried again after a `ConflictError` (a concurrent writer replaced what it
    read) when `store` has no locks, up to `CONFLICT_TRIES` times with random growing
    pauses; with locks, conflicts cannot come from wkpy writers and are raised at once.

    Raises
    ------
    ConflictError
        Every try found its object changed (a typed error naming it; nothing was lost
        silently).
    """
    if store.has_locks:
        return attempt()
    for n in range(CONFLICT_TRIES - 1):
        try:
            return attempt()
        except ConflictError:
            time.sleep(random.uniform(0, min(1.0, 0.005 * 2 ** n)))
    return attempt()


def check_key(key: str, where: Any) -> None:
    """Raise `InvalidRequestError` unless `key` is a relative ``/``-separated name without
    empty, ``.`` or ``..`` parts or NUL (so it stays inside the store at `where`)."""
    if not key or key[0] == "/" or "\0" in key or any(p in ("", ".", "..") for p in key.split("/")):
        raise InvalidRequestError(f"{key!r} is not a key inside {where}")


def _ranges_by_reader(store: Store, requests: Sequence[tuple[str, int, int]]) -> list[Buffer]:
    """`Store.get_ranges` from `Store.open` and `Reader.read_spans` (one reader per key)."""
    out: list[Buffer | None] = [None] * len(requests)
    by_key: dict[str, list[int]] = {}
    for i, (key, _, _) in enumerate(requests):
        by_key.setdefault(key, []).append(i)
    for key, which in by_key.items():
        reader = store.open(key)
        if reader is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", store.name(key))
        with reader:
            rows = np.array([(i, requests[i][1], requests[i][2]) for i in which], np.uint64).reshape(-1, 3)
            rows = rows[np.argsort(rows[:, 1], kind="stable")]
            spans = reader.read_spans(rows)
            starts = [s for s, _ in spans]
            for i, off, n in rows.tolist():
                s, buf = spans[int(np.searchsorted(starts, off, side="right")) - 1]
                out[i] = memoryview(buf)[off - s:off - s + n]
    return out  # type: ignore[return-value]


def as_store(location: Any) -> Store:
    """`location` if it is a store; else the store of the place it names: a
    `wkpy.storage.object_store.ObjectStore` for a URL (``s3://``, ``https://``,
    ``memory://``, ... as a string or a ``upath.UPath`` with its storage options), the
    `LocalStore` of a local folder otherwise (see `wkpy._urls.as_location`).

    Raises
    ------
    UnsupportedError
        A URL whose client library is not installed (named with the extra that brings it).
    """
    if isinstance(location, Path) and not hasattr(location, "protocol"):   # (not a UPath)
        return LocalStore(location)
    if isinstance(location, LocalStore) or hasattr(location, "has_locks"):
        return location                                   # type: ignore[no-any-return]
    from wkpy._urls import as_location

    where = as_location(location)
    if isinstance(where, Path):
        return LocalStore(where)
    from wkpy.storage.object_store import ObjectStore

    return ObjectStore(where)
