"""`ObjectStore`: the `Store` seam over object storage and HTTP, through fsspec.

One store serves the objects under one prefix, named by a ``upath.UPath`` (protocol,
bucket/host, path and the storage options: endpoint, credentials), as webknossos 4.3.3
takes them. The client is fsspec's filesystem for the protocol (s3fs for ``s3://``,
fsspec's HTTP filesystem over aiohttp for ``https://``, gcsfs for ``gs://``, fsspec's
in-process ``memory://``); wkpy adds the range planning, coalescing, conditional writes and
caching, not a client.

What holds, per protocol:

- ``s3://`` (AWS S3 and compatible servers with conditional writes: MinIO, moto, ...):
  reads pin the version they opened (range GETs with ``If-Match`` on the ETag), so every
  read of a reader sees one version of the object; `put` uploads the whole object (a
  reader sees the old or the new one, never a part); ``mode="create"`` sends
  ``If-None-Match: *`` and a version sends ``If-Match: <ETag>``, a refused condition
  raising `ConflictError` -- concurrent writers of one shard or of
  ``datasource-properties.json`` therefore never lose an update silently (the arrays
  and the dataset re-read and retry). A conditional `delete` checks the ETag first and
  deletes after: a writer replacing the object in between can lose that one object
  (S3 offers no conditional delete everywhere); wkpy deletes conditionally only shards
  that a write left without chunks.
- ``memory://``: fsspec's filesystem of this process; conditions are checked and applied
  under one lock, so they hold exactly (between threads; processes do not share it).
- ``http://``, ``https://``: read-only (`ReadOnlyError` on any write); reads are range GETs
  of the version opened where the server gives a strong ETag (``If-Match``; a server
  answering 412 raises `ConflictError` and the read starts again), else of whatever the
  server holds at the time. Only 404 and 410 mean "no such object" (a chunk reads as the
  fill value); any other refusal (403, 5xx) or an unreachable server raises
  `RemoteStorageError`, never zeros.
- any other fsspec protocol (``gs://``, ...): reads as for HTTP; unconditional puts only --
  a conditional put raises `UnsupportedError` rather than risk a lost update.

Reads plan byte ranges, join neighbours with gaps up to `ObjectReader.coalesce_gap` and
send the ranges of one call concurrently. Small reads (shard indexes, WKW headers and
jump tables) are cached per store, keyed by object and range under the object's version
(a `wkpy.storage._cache.VersionCache`), so a second read of a shard costs one HEAD request
and the chunk ranges; parsed Zarr3 shard indexes are kept as for local files
(`wkpy.storage._zarr_file.read_index`). Object stores have no locks
(`has_locks` False) and no in-place patches (`can_patch` False).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from wkpy.errors import (ConflictError, CorruptFileError, ReadOnlyError, RemoteStorageError,
                         UnsupportedError, WkError)
from wkpy.storage._cache import VersionCache
from wkpy.storage.store import At, CopyRange, Hole, Mode, Version, _Reads, _ranges_by_reader, check_at, check_key

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["ObjectReader", "ObjectStore"]

_READ_ONLY = ("http", "https")
_CACHED = 1 << 16            # reads up to this size are cached (indexes, headers, jump tables)
_CACHE_BYTES = 64 << 20      # what the cache of one store holds at most
_CACHE_ENTRIES = 1 << 14     # and how many reads
_SINGLE_PUT = 5 << 30        # S3's limit for one PUT (conditional puts must be one)
_CONCURRENCY = 32            # range requests of one call in flight at once


def _code(error: BaseException) -> str | None:
    """The S3 error code behind a translated s3fs/botocore error, if any."""
    seen = 0
    while error is not None and seen < 8:
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", "")) or None
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
        seen += 1
    return None


def _client_error(where: str, error: BaseException) -> RemoteStorageError:
    """The typed error for what the client library raised (a refused or failed request,
    missing credentials, an unreachable server), naming the URL."""
    return RemoteStorageError(f"{where}: {type(error).__name__}: {error}")


def _http_missing(error: FileNotFoundError) -> bool:
    """Whether fsspec's HTTP client, which raises FileNotFoundError for any failed HEAD and
    GET, met a missing object (404 or 410), not a server error, a refusal (403) or no
    server: only then is a chunk absent (fill value) rather than unreadable."""
    cause = error.__cause__
    return cause is None or getattr(cause, "status", None) in (404, 410)


def _refused(error: BaseException) -> bool:
    """Whether `error` is a refused write condition (HTTP 412, or 409 from a racing
    conditional write)."""
    if isinstance(error, FileExistsError):
        return True
    code = _code(error)
    if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
        return True
    return "pre-condition" in str(error) or "precondition" in str(error).lower()


class ObjectReader(_Reads):
    """One version of one object, open for reads (nothing is held open)."""

    def __init__(self, store: ObjectStore, key: str, size: int, version: Version) -> None:
        self.store, self.key, self.name = store, key, store.name(key)
        self.size, self.version = size, version
        self.in_place = False                                  # objects are only ever replaced whole
        self.coalesce_gap = store.coalesce_gap
        self.prefetched: tuple[int, bytes] | None = None      # (offset, bytes) fetched with the open

    def read(self, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        if offset + length > self.size:
            raise CorruptFileError(f"{self.name}: object ends at byte {self.size}, "
                                   f"{offset + length - self.size} bytes short")
        return self.store._fetch(self, [(offset, offset + length)])[0]

    def read_spans(self, rows: np.ndarray) -> list[tuple[int, Buffer]]:
        if len(rows) == 0:
            return []
        runs = self._runs(rows)
        if max(e for _, e in runs) > self.size:
            raise CorruptFileError(f"{self.name}: object ends at byte {self.size}, before the chunks its "
                                   "index lists")
        return list(zip((s for s, _ in runs), self.store._fetch(self, runs)))

    def close(self) -> None:
        pass

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ObjectStore:
    """The objects under one prefix of an object store or web server (see the module
    docstring).

    Parameters
    ----------
    root : upath.UPath
        The prefix (for instance ``UPath("s3://bucket/ds/color/1", endpoint_url=...)``);
        keys are ``/``-separated names under it.

    Raises
    ------
    UnsupportedError
        fsspec, universal-pathlib or the protocol's client is not installed (named with
        the extra that brings it, ``pip install "wkpy[s3]"``).
    """

    has_locks = False
    can_patch = False
    coalesce_gap = 1 << 18

    def __init__(self, root: Any) -> None:
        self.root = root
        self.protocol = _protocol(root)
        try:
            self.fs = root.fs
        except ImportError as e:
            raise UnsupportedError(f"{root}: reading {self.protocol}:// needs its client library ({e}); install "
                                   "it with pip install \"wkpy[s3]\" (S3), \"wkpy[http]\" or \"wkpy[gcs]\"") from None
        self._base = str(root.path).rstrip("/")
        self._url = str(root).rstrip("/")
        self.read_only = self.protocol in _READ_ONLY
        self._cache: VersionCache[bytes] = VersionCache(_CACHE_ENTRIES, _CACHE_BYTES)

    def __repr__(self) -> str:
        return f"ObjectStore({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectStore) and other._url == self._url and \
            getattr(other.root, "storage_options", None) == getattr(self.root, "storage_options", None)

    def __hash__(self) -> int:
        return hash(self._url)

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root}              # the UPath carries protocol and storage options

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"])  # type: ignore[misc]

    # ---- names ----------------------------------------------------------------------------
    def name(self, key: str) -> str:
        """The URL of `key` (for messages).

        Raises
        ------
        InvalidRequestError
            A key that is not a relative name under the prefix.
        """
        check_key(key, self._url)
        return f"{self._url}/{key}"

    def _path(self, key: str) -> str:
        self.name(key)
        return f"{self._base}/{key}" if self._base else key

    def child(self, key: str) -> ObjectStore:
        """The store of the prefix `key` under this one (same client and options)."""
        self.name(key)
        return ObjectStore(self.root / key)

    # ---- reads ----------------------------------------------------------------------------
    def _info(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:         # never from a listing cache: another process may have replaced it
            info = self.fs.info(path, refresh=True) if self.protocol == "s3" else self.fs.info(path)
        except FileNotFoundError as e:
            if self.protocol in _READ_ONLY and not _http_missing(e):
                raise _client_error(self.name(key), e.__cause__ or e) from e
            return None
        except Exception as e:
            raise _client_error(self.name(key), e) from e
        if info.get("type") == "directory":
            return None
        return info

    def open(self, key: str, *, follow_links: bool = True, tail: int = 0) -> ObjectReader | None:
        """A reader of the object `key` at its current version, or None if there is none.
        With `tail`, S3 fetches the object's last `tail` bytes in the same request that
        finds its size and ETag (one GET instead of a HEAD and a GET).

        Raises
        ------
        RemoteStorageError
            The server could not be reached or refused the request (naming the URL).
        """
        if tail > 0 and self.protocol == "s3":
            return self._open_tail(key, tail)
        info = self._info(key)
        if info is None:
            return None
        size = info.get("size")
        if not isinstance(size, int) or size < 0:
            raise CorruptFileError(f"{self.name(key)}: the server gives no size for it")
        return ObjectReader(self, key, size, self._version_of(info))

    def _open_tail(self, key: str, tail: int) -> ObjectReader | None:
        """`open` with a suffix range GET: size from ``Content-Range``, version from the ETag."""
        from fsspec.asyn import sync

        fs, path = self.fs, self._path(key)
        bucket, name, _ = fs.split_path(path)

        async def get() -> tuple[dict[str, Any], bytes]:
            resp = await fs._call_s3("get_object", Bucket=bucket, Key=name, Range=f"bytes=-{tail}")
            try:
                return resp, bytes(await resp["Body"].read())
            finally:
                resp["Body"].close()

        try:
            resp, data = sync(fs.loop, get)
        except FileNotFoundError:
            return None
        except (WkError, MemoryError):
            raise
        except Exception as e:
            if _code(e) in ("InvalidRange", "416"):       # an empty object has no suffix range
                return self.open(key)
            raise _client_error(self.name(key), e) from e
        etag, total = resp.get("ETag"), resp.get("ContentRange")
        size = int(str(total).rsplit("/", 1)[1]) if total and "/" in str(total) else len(data)
        if not etag or size < len(data):
            raise CorruptFileError(f"{self.name(key)}: the server gives no ETag or size for it")
        reader = ObjectReader(self, key, size, str(etag))
        reader.prefetched = (size - len(data), data)
        return reader

    def _version_of(self, info: dict[str, Any]) -> Version:
        if self.protocol == "memory":
            return (info.get("created"), info.get("size"))
        for field in ("ETag", "etag", "generation", "md5Hash"):
            if info.get(field):
                return str(info[field])
        return (info.get("size"), str(info.get("LastModified", info.get("mtime", ""))))

    def _fetch(self, reader: ObjectReader, runs: Sequence[tuple[int, int]]) -> list[bytes]:
        """The bytes of each ``(start, stop)`` of the object `reader` has open, fetched
        concurrently; small ones through the cache."""
        out: list[bytes | None] = [None] * len(runs)
        wanted = []
        have = reader.prefetched
        for i, (s, e) in enumerate(runs):
            if have is not None and have[0] <= s and e <= have[0] + len(have[1]):
                out[i] = have[1][s - have[0]:e - have[0]]
                continue
            if e - s <= _CACHED:
                hit = self._cache.get((reader.key, s, e), reader.version)
                if hit is not None:
                    out[i] = hit
                    continue
            wanted.append(i)
        if wanted:
            got = self._get(reader, [runs[i] for i in wanted])
            for i, data in zip(wanted, got):
                s, e = runs[i]
                if len(data) != e - s:
                    raise CorruptFileError(f"{reader.name}: the server sent {len(data)} bytes for bytes "
                                           f"{s}..{e - 1} (the object is {reader.size} bytes)")
                out[i] = data
                if e - s <= _CACHED:
                    self._cache.put((reader.key, s, e), reader.version, data, len(data))
        return out  # type: ignore[return-value]

    def _get(self, reader: ObjectReader, runs: Sequence[tuple[int, int]]) -> list[bytes]:
        path = self._path(reader.key)
        try:
            if self.protocol == "s3":
                return self._s3_ranges(path, runs, reader.version)
            pin = {}
            if self.protocol in _READ_ONLY and isinstance(reader.version, str) and \
                    not reader.version.startswith("W/"):          # a strong ETag: the version opened
                pin = {"headers": {**dict(getattr(self.fs, "kwargs", {}).get("headers") or {}),
                                   "If-Match": reader.version}}
            return list(self.fs.cat_ranges([path] * len(runs), [s for s, _ in runs], [e for _, e in runs],
                                           on_error="raise", **pin))
        except FileNotFoundError:
            raise ConflictError(f"{reader.name}: deleted while it was read") from None
        except (WkError, MemoryError):
            raise
        except Exception as e:
            if _refused(e):
                raise ConflictError(f"{reader.name}: replaced while it was read (a concurrent writer)") from None
            raise _client_error(reader.name, e) from e

    def _s3_ranges(self, path: str, runs: Sequence[tuple[int, int]], etag: Version) -> list[bytes]:
        """Range GETs pinned to `etag` (``If-Match``), up to `_CONCURRENCY` in flight."""
        from fsspec.asyn import sync

        fs = self.fs
        bucket, key, _ = fs.split_path(path)
        async def one(start: int, stop: int, gate: asyncio.Semaphore) -> bytes:
            async with gate:
                resp = await fs._call_s3("get_object", Bucket=bucket, Key=key, Range=f"bytes={start}-{stop - 1}",
                                         **({"IfMatch": etag} if isinstance(etag, str) else {}))
                try:
                    return bytes(await resp["Body"].read())
                finally:
                    resp["Body"].close()

        async def all_runs() -> list[bytes]:
            gate = asyncio.Semaphore(_CONCURRENCY)
            return list(await asyncio.gather(*(one(s, e, gate) for s, e in runs)))

        return sync(fs.loop, all_runs)

    def get(self, key: str, *, limit: int | None = None) -> bytes | None:
        """The whole object `key` (None if absent).

        Raises
        ------
        CorruptFileError
            Larger than `limit` bytes (nothing of it is fetched then).
        """
        reader = self.open(key)
        if reader is None:
            return None
        if limit is not None and reader.size > limit:
            raise CorruptFileError(f"{reader.name}: {reader.size:,} bytes, more than the {limit:,} "
                                   "a metadata file may have")
        return reader.read(0, reader.size)

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Buffer]:
        """The bytes of each ``(key, offset, length)``, in order (FileNotFoundError for a
        missing object)."""
        return _ranges_by_reader(self, requests)

    def exists(self, key: str) -> bool:
        """Whether an object named `key` exists."""
        return self._info(key) is not None

    def version(self, key: str) -> Version | None:
        info = self._info(key)
        return None if info is None else self._version_of(info)

    def list(self, prefix: str = "") -> Iterator[str]:
        """The keys of the objects under `prefix` ("" for all), hidden names (any part
        starting with ``.``) left out. HTTP servers cannot be listed: nothing is yielded."""
        if self.read_only:
            return
        top = self._path(prefix) if prefix else self._base
        try:
            self.fs.invalidate_cache(top)
            found = self.fs.find(top)
        except FileNotFoundError:
            return
        except Exception as e:
            raise _client_error(f"{self._url}: listing failed", e) from e
        cut = len(self._base) + 1 if self._base else 0
        for path in sorted(found):
            rel = path[cut:] if path.startswith(self._base) else None
            if rel and not any(p.startswith(".") or not p for p in rel.split("/")):
                yield rel

    # ---- writes ---------------------------------------------------------------------------
    def _writable(self, key: str) -> str:
        if self.read_only:
            raise ReadOnlyError(f"{self.name(key)}: {self.protocol}:// is read-only")
        return self._path(key)

    def prepare(self, keys: Iterable[str]) -> None:
        """Nothing to prepare (object stores have no folders); checks the keys.

        Raises
        ------
        ReadOnlyError
            The store is read-only (HTTP).
        """
        for key in keys:
            self._writable(key)

    def lock(self, key: str, *, shared: bool = False) -> contextlib.AbstractContextManager[None]:
        """No lock (object stores have none): conditional puts order the writers."""
        return contextlib.nullcontext()

    def put(self, key: str, data: Buffer | Iterable[Buffer | CopyRange | Hole | At], *, mode: Mode = "overwrite",
            sync: bool = False) -> Version:
        """Upload the concatenated `data` as the object `key`, whole (see the module
        docstring for the conditions per protocol); `sync` has no meaning here.

        Raises
        ------
        ConflictError
            `mode` is not met (the object exists, or is not that version); nothing changed.
        ReadOnlyError
            HTTP(S).
        UnsupportedError
            A conditional put on a protocol without conditional writes.
        RemoteStorageError
            The upload failed (naming the URL).
        """
        path = self._writable(key)
        body = _join(data)
        try:
            if self.protocol == "s3":
                return self._s3_put(key, path, body, mode)
            if self.protocol == "memory":
                with _MEMORY_LOCK:
                    self._check(key, mode)
                    self.fs.pipe_file(path, body)
                    return self.version(key)
            if mode != "overwrite":
                raise UnsupportedError(f"{self.name(key)}: {self.protocol}:// offers no conditional writes, so "
                                       "wkpy cannot update it without risking lost updates (S3 and memory:// can)")
            self.fs.pipe_file(path, body)
            return self.version(key)
        except (WkError, MemoryError):
            raise
        except Exception as e:
            if _refused(e) or (isinstance(e, FileNotFoundError) and mode != "overwrite"):
                # (If-Match on an object deleted meanwhile: S3 answers 404)
                raise ConflictError(f"{self.name(key)}: changed since it was read (a concurrent writer); "
                                    "nothing was written") from None
            raise _client_error(f"{self.name(key)}: upload failed", e) from e

    def _s3_put(self, key: str, path: str, body: bytes, mode: Mode) -> Version:
        if mode == "overwrite":
            out = self.fs.pipe_file(path, body)
        else:
            if len(body) >= _SINGLE_PUT:
                raise UnsupportedError(f"{self.name(key)}: {len(body):,} bytes are more than one conditional PUT "
                                       "may upload")
            if mode == "create":
                condition = {"IfNoneMatch": "*"}
            elif isinstance(mode, str):
                condition = {"IfMatch": mode}
            else:
                raise ConflictError(f"{self.name(key)}: changed since it was read (version {mode!r})")
            out = self.fs.pipe_file(path, body, chunksize=_SINGLE_PUT, **condition)
        etag = out.get("ETag") if isinstance(out, dict) else None
        return str(etag) if etag else self.version(key)

    def _check(self, key: str, mode: Mode) -> None:
        if mode == "overwrite":
            return
        now = self.version(key)
        if mode == "create" and now is not None:
            raise ConflictError(f"{self.name(key)}: exists already (a concurrent writer created it)")
        if mode != "create" and now != mode:
            raise ConflictError(f"{self.name(key)}: changed since it was read (a concurrent writer); "
                                "nothing was written")

    def patch(self, key: str, writes: Iterable[tuple[int, Buffer]], *, sync: bool = False,
              mode: Version | None = None) -> Version:
        """Not offered by object stores (`can_patch` is False).

        Raises
        ------
        UnsupportedError
            Always.
        """
        raise UnsupportedError(f"{self.name(key)}: objects cannot be patched in place")

    def delete(self, key: str, *, mode: Version | None = None) -> bool:
        """Delete the object `key`; False if there was none. With `mode` (a version) only
        if it is still that version (checked just before; see the module docstring).

        Raises
        ------
        ConflictError
            The object is not the version `mode`.
        ReadOnlyError
            HTTP(S).
        """
        path = self._writable(key)
        with _MEMORY_LOCK if self.protocol == "memory" else contextlib.nullcontext():
            now = self.version(key)
            if mode is not None and now != mode:
                raise ConflictError(f"{self.name(key)}: changed since it was read (a concurrent writer); "
                                    "nothing was deleted")
            if now is None:
                return False
            try:
                self.fs.rm_file(path)
            except FileNotFoundError:
                return False
            except Exception as e:
                raise _client_error(f"{self.name(key)}: delete failed", e) from e
        return True

    def snapshot(self, prefix: str) -> dict[str, Version]:
        """The version of every object under `prefix` (keys relative to it, hidden names
        too), from one listing: what `copy_prefix` callers compare before and after to
        notice a concurrent writer."""
        top = self._path(prefix)
        try:
            self.fs.invalidate_cache(top)
            found = self.fs.find(top, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as e:
            raise _client_error(f"{self.name(prefix)}: listing failed", e) from e
        cut = len(top) + 1
        return {path[cut:]: self._version_of(info) for path, info in found.items()
                if path.startswith(top + "/") and info.get("type") != "directory"}

    def copy_prefix(self, source: str, target: str) -> int:
        """Copy every object under `source` to the same key under `target` (server-side
        where the service copies objects itself); how many were copied.

        Raises
        ------
        ReadOnlyError
            HTTP(S).
        """
        self._writable(target)
        keys = sorted(self.snapshot(source))
        if keys:
            try:
                self.fs.copy([self._path(f"{source}/{k}") for k in keys],
                             [self._path(f"{target}/{k}") for k in keys])
            except Exception as e:
                raise _client_error(f"{self.name(source)}: copy to {self.name(target)} failed", e) from e
        return len(keys)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` (hidden names too); how many there were.

        Raises
        ------
        ReadOnlyError
            HTTP(S).
        """
        top = self._writable(prefix)
        try:
            self.fs.invalidate_cache(top)
            found = [p for p in self.fs.find(top) if p.startswith(top + "/")]
            if found:
                self.fs.rm(found)
        except FileNotFoundError:
            return 0
        except Exception as e:
            raise _client_error(f"{self.name(prefix)}: delete failed", e) from e
        return len(found)


_MEMORY_LOCK = threading.RLock()


def _join(data: Buffer | Iterable[Buffer | CopyRange | Hole | At]) -> bytes:
    """The parts of a `put` as one buffer (`CopyRange`s fetched from their reader)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    out = bytearray()
    for part in data:
        if isinstance(part, Hole):
            out += bytes(part.length)
        elif isinstance(part, CopyRange):
            out += part.reader.read(part.offset, part.length)
        elif isinstance(part, At):
            at = check_at(part, len(out))
            out[at:at + memoryview(part.data).nbytes] = memoryview(part.data).cast("B")
        else:
            out += memoryview(part).cast("B")
    return bytes(out)           # (aiohttp refuses a large bytearray body: "might lock the event loop")


def _protocol(root: Any) -> str:
    protocol = getattr(root, "protocol", "")
    if isinstance(protocol, (tuple, list)):
        protocol = protocol[0] if protocol else ""
    return "s3" if protocol in ("s3", "s3a") else str(protocol)
