"""`VersionCache`: what was read or parsed from one version of a file or object, bounded.

Reading a 64³ cutout from a 1024³ Zarr3 shard touches 27 chunks, but the shard's index
lists 32,768 (512 KiB with its CRC32C): reading and checking it again for every cutout
cost a quarter of the cutout's time. One cache serves every store the same way:

- `wkpy.storage._zarr_file.read_index` keeps parsed shard indexes (`INDEXES`, one cache
  for the process), keyed by the file's name and the array's `ShardSpec`, under the
  version token its reader opened (`Reader.version`);
- `wkpy.storage.object_store.ObjectStore` keeps the bytes of small reads (headers, jump
  tables, indexes up to 64 KiB) per store, keyed by object and byte range, under the
  object's version (its ETag).

An entry holds one version per key: a read of another version misses and its result
replaces the entry (so a rewritten file never leaves its old entries behind). Entries
and bytes are both bounded; the least recently used entries go first.

**A version alone does not prove the content.** A local file's version is (device,
inode, size, mtime in ns): a shard replaced by rename may get the inode number its
predecessor freed, the mtime advances in clock ticks of several milliseconds (two writes
in one tick get the same), and sizes repeat (uncompressed shards always have one size).
So an entry may carry `check` bytes, a few bytes of the file that change with what was
parsed, which the caller reads again and compares on each hit (`get`'s `check`): a Zarr3
index ends in the CRC32C of its entries. A stale hit then needs a file replaced within
one mtime tick by one with the same inode number and size whose index differs yet has the
same CRC32C (for two different indexes, a chance of 2^-32); an index that is the same
byte for byte parses the same, so reusing it is right whatever the chunks hold. Where no
such bytes exist (an index without CRC32C, a WKW jump table), callers do not cache local
reads. Object stores' versions are ETags or generations, which change with every write.

Thread-safe (one lock per cache, made again in a forked child).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["INDEXES", "VersionCache"]

T = TypeVar("T")

_caches: weakref.WeakSet[VersionCache[Any]] = weakref.WeakSet()


class VersionCache(Generic[T]):
    """At most `max_entries` values of at most `max_bytes` in all, each under a key and
    the version of the file it came from (see the module docstring).

    Parameters
    ----------
    max_entries : how many keys it holds at most.
    max_bytes : the sum of the entries' `nbytes` it holds at most (a larger value is not kept).
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, bytes | None, T, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        _caches.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """The sum of the entries' sizes."""
        return self._bytes

    def get(self, key: Hashable, version: Any, check: Callable[[], bytes] | None = None) -> T | None:
        """The value kept for `key` if it came from `version` (and, if the entry has check
        bytes, `check()` returns the same bytes: the caller reads them again from the
        version it has open); else None.

        `check` runs outside the cache's lock (it reads a file); its errors reach the caller.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(key)
        if entry[1] is not None and (check is None or bytes(check()) != entry[1]):
            return None
        return entry[2]

    def put(self, key: Hashable, version: Any, value: T, nbytes: int, check: bytes | None = None) -> None:
        """Keep `value` (of `nbytes`) for `key`, read from `version`, replacing what the key
        held; with `check`, a hit needs the caller to find those bytes again (see `get`)."""
        if nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[3]
            self._entries[key] = (version, None if check is None else bytes(check), value, nbytes)
            self._bytes += nbytes
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, gone = self._entries.popitem(last=False)
                self._bytes -= gone[3]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _after_fork(self) -> None:
        self._lock = threading.Lock()      # a thread of the parent may have held it


def _reset_after_fork() -> None:
    for cache in list(_caches):
        cache._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


INDEXES: VersionCache[Any] = VersionCache(max_entries=256, max_bytes=64 << 20)
"""Parsed Zarr3 shard indexes of this process (a 1024³ shard of 32³ chunks: 512 KiB each)."""
