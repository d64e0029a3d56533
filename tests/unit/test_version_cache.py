"""`wkpy.storage._cache.VersionCache`: entries by key under one version, check bytes, bounds."""

from __future__ import annotations

import random
import threading

import pytest

from wkpy.storage._cache import VersionCache


def test_a_hit_needs_the_version_the_value_came_from():
    cache: VersionCache[str] = VersionCache(4, 100)
    cache.put("k", ("ino", 1), "one", 10)
    assert cache.get("k", ("ino", 1)) == "one"
    assert cache.get("k", ("ino", 2)) is None
    assert cache.get("other", ("ino", 1)) is None
    cache.put("k", ("ino", 2), "two", 30)            # another version replaces the entry
    assert cache.get("k", ("ino", 1)) is None and cache.get("k", ("ino", 2)) == "two"
    assert len(cache) == 1 and cache.nbytes == 30


def test_a_hit_on_an_entry_with_check_bytes_needs_the_same_bytes_again():
    cache: VersionCache[str] = VersionCache(4, 100)
    cache.put("k", 1, "index", 10, check=memoryview(b"\x01\x02\x03\x04"))
    asked = []

    def check(found: bytes):
        return lambda: asked.append(1) or found

    assert cache.get("k", 1, check(b"\x01\x02\x03\x04")) == "index"
    assert cache.get("k", 1, check(bytearray(b"\x01\x02\x03\x05"))) is None     # the file changed
    assert cache.get("k", 1) is None                 # nothing to check with: no hit
    assert cache.get("k", 2, check(b"\x01\x02\x03\x04")) is None   # another version: not even read
    assert len(asked) == 2
    cache.put("plain", 1, "bytes", 5)
    assert cache.get("plain", 1) == "bytes"          # no check bytes: the version suffices


def test_errors_of_the_check_reach_the_caller():
    cache: VersionCache[str] = VersionCache(4, 100)
    cache.put("k", 1, "index", 10, check=b"abcd")

    def gone() -> bytes:
        raise OSError("file ends")

    with pytest.raises(OSError, match="file ends"):
        cache.get("k", 1, gone)


def test_entries_and_bytes_are_bounded_least_recently_used_first():
    cache: VersionCache[int] = VersionCache(3, 100)
    for i in range(3):
        cache.put(i, 0, i, 10)
    assert cache.get(0, 0) == 0                      # 0 is now the most recently used
    cache.put(3, 0, 3, 10)                           # a fourth entry: 1 goes
    assert [cache.get(i, 0) for i in range(4)] == [0, None, 2, 3]
    cache.put(4, 0, 4, 85)                           # 115 bytes: the oldest go until <= 100
    assert cache.nbytes <= 100 and cache.get(4, 0) == 4
    assert cache.get(0, 0) is None and cache.get(2, 0) is None
    cache.put(5, 0, 5, 101)                          # larger than the whole cache: not kept
    assert cache.get(5, 0) is None and cache.get(4, 0) == 4
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_threads_hammering_one_cache_keep_its_bounds_and_sums():
    cache: VersionCache[tuple[int, int]] = VersionCache(16, 1000)
    errors = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(3000):
                key, version = rng.randrange(40), rng.randrange(3)
                if rng.random() < 0.5:
                    cache.put(key, version, (key, version), rng.randrange(1, 120), check=bytes([version]))
                else:
                    got = cache.get(key, version, lambda: bytes([version]))
                    assert got is None or got == (key, version)
        except BaseException as e:        # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) <= 16 and cache.nbytes <= 1000
    assert cache.nbytes == sum(e[3] for e in cache._entries.values())
