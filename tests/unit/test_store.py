"""The store seam (`wkpy.storage.store`): the local store's reads, atomic and conditional
writes, links and special files; and the arrays on a store that cannot patch in place."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from wkpy.errors import ConflictError, CorruptFileError, ForeignPathError
from wkpy.storage import open_array
from wkpy.storage.store import CopyRange, Hole, LocalStore, coalesce, row_batches

DATA = bytes(range(256)) * 64          # 16 KiB


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    (tmp_path / "s").mkdir()
    return LocalStore(tmp_path / "s")


def test_a_put_of_parts_is_their_concatenation_with_sparse_holes(store):
    store.prepare(["a/b/src"])
    store.put("a/b/src", DATA)
    with store.open("a/b/src") as src:
        store.put("a/dst", [b"head", CopyRange(src, 100, 1000), Hole(5000), memoryview(DATA)[:10], Hole(7)])
    want = b"head" + DATA[100:1100] + bytes(5000) + DATA[:10] + bytes(7)
    assert store.get("a/dst") == want
    assert sorted(store.list()) == ["a/b/src", "a/dst"]
    assert store.get_ranges([("a/dst", 4, 1000), ("a/b/src", 0, 3), ("a/dst", 0, 4)]) == \
        [DATA[100:1100], DATA[:3], b"head"]


def test_a_reader_keeps_the_version_it_opened(store):
    store.put("k", b"old" * 10)
    with store.open("k") as reader:
        store.put("k", b"new" * 20)
        assert reader.size == 30 and reader.read(0, 6) == b"oldold"
        with pytest.raises(CorruptFileError, match="bytes short"):
            reader.read(25, 10)
    assert store.get("k") == b"new" * 20


def test_conditional_puts_and_deletes_compare_versions(store):
    assert store.put("k", b"one", mode="create")
    with pytest.raises(ConflictError, match="exists already"):
        store.put("k", b"two", mode="create")
    with store.open("k") as reader:
        seen = reader.version
    store.put("k", b"three", mode=seen)
    with pytest.raises(ConflictError, match="changed since"):
        store.put("k", b"four", mode=seen)          # the version it was read at is gone
    with pytest.raises(ConflictError):
        store.delete("k", mode=seen)
    assert store.get("k") == b"three"
    assert store.delete("k", mode=store.version("k")) and not store.delete("k")
    assert sorted(os.listdir(store.root)) == []      # no temporary file left by the refusals


def test_reads_coalesce_neighbours_and_batches_are_bounded(store):
    store.put("k", DATA)
    rows = np.array([[0, 0, 100], [1, 150, 50], [2, 10000, 10]], np.uint64)
    with store.open("k") as reader:
        reader.coalesce_gap = 64
        spans = reader.read_spans(rows)
        assert [(s, len(b)) for s, b in spans] == [(0, 200), (10000, 10)]
        assert spans[0][1] == DATA[:200]
        reader.batch_bytes = 120
        assert [b[:, 0].tolist() for b, _ in reader.batches(rows)] == [[0], [1, 2]]
    starts, stops = coalesce(np.array([0, 5, 100]), np.array([10, 8, 110]), 0)
    assert starts.tolist() == [0, 100] and stops.tolist() == [10, 110]
    assert [len(b) for b in row_batches(np.array([[0, 0, 500]] * 3, np.uint64), 100)] == [1, 1, 1]


def test_special_files_and_links_are_refused_or_replaced(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"precious")
    os.mkfifo(store.root / "fifo")
    with pytest.raises(CorruptFileError, match="not a regular file"):
        store.get("fifo")                              # never read: it cannot hang
    os.symlink(victim, store.root / "link")
    with pytest.raises(OSError) as info:
        store.open("link", follow_links=False)
    assert info.value.errno == errno.ELOOP
    with pytest.raises(OSError):
        store.patch("link", [(0, b"X")])               # never patched through
    with pytest.raises(ForeignPathError):
        store.prepare(["link"])                        # a shard name leading out of the store
    os.symlink(outside, store.root / "sub")
    with pytest.raises(ForeignPathError):
        store.prepare(["sub/x"])                       # a folder leading out of the store
    store.put("link", b"mine")                         # a put replaces the link itself
    assert not (store.root / "link").is_symlink() and victim.read_bytes() == b"precious"
    with pytest.raises(Exception, match="not a key"):
        store.get("../outside/victim")


class WholeFileStore(LocalStore):
    """A local store that cannot patch in place, as an object store: every write is a put."""

    can_patch = False

    def patch(self, key, writes, *, sync=False):  # type: ignore[no-untyped-def]
        raise AssertionError("patch called on a store that cannot patch")


def test_raw_wkw_on_a_store_without_patching_is_rewritten_whole(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", dtype="uint16").add_mag(1, chunk_shape=8, shard_shape=32, compress=False)
    mag.write(np.ones((32, 32, 32), np.uint16), absolute_offset=(0, 0, 0))
    array = open_array(WholeFileStore(tmp_path / "ds" / "c" / "1"), "wkw")
    model = np.zeros((1, 40, 32, 32), np.uint16)
    model[:, :32] = 1
    data = np.arange(1 * 30 * 9 * 13, dtype=np.uint16).reshape(1, 30, 9, 13)
    array.write((5, 20, 1), data)                      # into the file, and a new file beside it
    model[:, 5:35, 20:29, 1:14] = data
    assert (array.read((0, 0, 0), (40, 32, 32)) == model).all()
    assert not list((tmp_path / "ds" / "c" / "1").rglob("*.journal"))
    assert (mag.read(absolute_offset=(0, 0, 0), size=(32, 32, 32)) == model[:, :32]).all()
