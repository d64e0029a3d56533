"""The object store (`wkpy.storage.object_store`) against a real S3 server on 127.0.0.1
(moto's server mode) and fsspec's memory filesystem: the `Store` contract, conditional
writes, and WKW / Zarr arrays on it byte for byte equal to the same arrays on disk."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from conftest import random_volume

upath = pytest.importorskip("upath")
pytest.importorskip("s3fs")

from wkpy.errors import ConflictError, CorruptFileError, InvalidRequestError, UnsupportedError  # noqa: E402
from wkpy.geometry import Vec3Int  # noqa: E402
from wkpy.storage import ArrayInfo, create_array, open_array  # noqa: E402
from wkpy.storage import _zarr_file  # noqa: E402
from wkpy.storage.object_store import ObjectStore  # noqa: E402
from wkpy.storage.store import At, CopyRange, Hole, LocalStore, as_store  # noqa: E402


@pytest.fixture
def s3_root(s3_path):
    return s3_path


@pytest.fixture(params=["s3", "memory"])
def root(request, s3_root):
    if request.param == "s3":
        yield s3_root
        return
    path = upath.UPath(f"memory://wkpy-{uuid.uuid4().hex}")
    yield path
    if path.fs.exists(path.path):
        path.fs.rm(path.path, recursive=True)


def test_put_get_list_delete(root) -> None:
    store = as_store(root)
    assert isinstance(store, ObjectStore) and not store.has_locks and not store.can_patch
    assert store.get("a/b.bin") is None and store.open("a/b.bin") is None
    store.put("a/b.bin", [b"abc", Hole(3), memoryview(b"xyz")])
    store.put(".hidden/x", b"1")
    store.put("c", b"2")
    assert store.get("a/b.bin") == b"abc\0\0\0xyz"
    assert sorted(store.list()) == ["a/b.bin", "c"]            # hidden names left out
    assert list(store.list("a")) == ["a/b.bin"]
    with store.open("a/b.bin") as reader:
        assert reader.size == 9 and reader.read(6, 3) == b"xyz"
        with pytest.raises(CorruptFileError, match="b.bin"):
            reader.read(7, 5)
        rows = np.array([(0, 0, 2), (1, 1, 2), (2, 7, 2)], np.uint64)
        spans = reader.read_spans(rows)
        joined = {int(s): bytes(b) for s, b in spans}
        assert all(joined[s][o - s:o - s + n] == b"abc\0\0\0xyz"[o:o + n]
                   for o, n in ((0, 2), (1, 2), (7, 2)) for s in [max(k for k in joined if k <= o)])
        store.put("copy", [CopyRange(reader, 6, 3), b"!"])
    assert store.get("copy") == b"xyz!"
    store.put("head", iter([Hole(2), b"xyz", At(0, b"ab")]))    # a header written last
    assert store.get("head") == b"abxyz"
    with pytest.raises(ValueError, match="beyond"):
        store.put("head", [b"a", At(0, b"ab")])
    assert store.get("head") == b"abxyz"
    store.delete("head")
    assert store.get_ranges([("c", 0, 1), ("a/b.bin", 1, 2)]) == [b"2", b"bc"]
    with pytest.raises(CorruptFileError, match="more than"):
        store.get("a/b.bin", limit=4)
    assert store.delete("c") and not store.delete("c") and not store.exists("c")
    for bad in ("", "/abs", "a/../b", "a//b"):
        with pytest.raises(InvalidRequestError):
            store.put(bad, b"x")
    assert pickle_round_trip(store).get("copy") == b"xyz!"


def pickle_round_trip(store):
    import pickle

    return pickle.loads(pickle.dumps(store))


def test_conditional_writes(root) -> None:
    store = as_store(root)
    first = store.put("k", b"one", mode="create")
    with pytest.raises(ConflictError, match="exists already|changed"):
        store.put("k", b"two", mode="create")
    version = store.version("k")
    assert version is not None and version == first
    store.put("k", b"two", mode=version)
    with pytest.raises(ConflictError, match="changed since"):
        store.put("k", b"three", mode=version)                # stale version
    with pytest.raises(ConflictError):
        store.delete("k", mode=version)
    assert store.get("k") == b"two"
    assert store.delete("k", mode=store.version("k")) and store.get("k") is None


def test_reader_sees_one_version(s3_root) -> None:
    """An S3 reader is pinned to the ETag it opened: after a replace its reads raise
    ConflictError (the arrays retry) instead of mixing two versions' bytes."""
    store = as_store(s3_root)
    store.put("obj", b"a" * 100)
    reader = store.open("obj")
    assert reader.read(0, 4) == b"aaaa"
    store.put("obj", b"b" * 100)
    with pytest.raises(ConflictError, match="replaced while it was read"):
        reader.read(10, 50)


def test_missing_client_or_url_support(tmp_path: Path) -> None:
    assert isinstance(as_store(tmp_path), LocalStore)
    assert isinstance(as_store(f"file://{tmp_path}"), LocalStore)
    with pytest.raises(UnsupportedError, match="nosuchproto"):
        as_store("nosuchproto://x/y")


ARRAYS = [("zarr3", (64, 64, 64)), ("wkw", (64, 64, 64)), ("zarr", (32, 32, 32))]


@pytest.mark.parametrize("data_format,shard", ARRAYS)
def test_arrays_equal_to_local_files(root, tmp_path: Path, data_format: str, shard) -> None:
    """The same writes on S3 / memory and on disk give the same objects, byte for byte, and
    read back the same voxels (partial rewrites of compressed shards included)."""
    info = ArrayInfo(data_format=data_format, dtype=np.dtype("uint16"), num_channels=2,
                     chunk_shape=Vec3Int(32, 32, 32), shard_shape=Vec3Int(*shard), compression=True)
    data = random_volume((2, 90, 70, 40), "uint16", seed=3)
    arrays = [create_array(tmp_path / "local", info), create_array(root / "mag", info)]
    for array in arrays:
        array.write((5, 6, 7), data)
        array.write((40, 10, 10), data[:, :20, :30, :5])
    local, remote = arrays
    files = sorted(p.relative_to(tmp_path / "local").as_posix() for p in (tmp_path / "local").rglob("*")
                   if p.is_file() and not p.name.startswith("."))
    assert sorted(remote.store.list()) == files
    for key in files:
        if data_format == "zarr3" and key != "zarr.json":     # a local shard is appended to: same chunks
            assert _chunk_bytes(remote, key) == _chunk_bytes(local, key), key
            continue
        assert remote.store.get(key) == (tmp_path / "local" / key).read_bytes(), key
    reopened = open_array(root / "mag", data_format)
    box = ((0, 0, 0), (100, 80, 50))
    assert np.array_equal(reopened.read(*box), local.read(*box))


def _chunk_bytes(array, key: str) -> list:
    """The bytes of every inner chunk of the shard `key` (None where absent), in index order."""
    found = _zarr_file.open_indexed(array.store, key, array._spec)
    assert found is not None, key
    reader, index = found
    with reader:
        return [None if e is None else bytes(reader.read(*e)) for e in index.as_list()]


def test_concurrent_writers_lose_nothing(s3_root) -> None:
    """Eight array objects write disjoint 32³ pieces of one compressed S3 shard at once:
    conditional puts and retries keep every piece."""
    info = ArrayInfo(data_format="zarr3", dtype=np.dtype("uint8"), num_channels=1,
                     chunk_shape=Vec3Int(32, 32, 32), shard_shape=Vec3Int(64, 64, 64), compression=True)
    create_array(s3_root / "mag", info)
    errors = []

    def writer(i: int) -> None:
        try:
            array = open_array(s3_root / "mag", "zarr3")
            x, y, z = (i & 1) * 32, (i >> 1 & 1) * 32, (i >> 2) * 32
            array.write((x, y, z), np.full((1, 32, 32, 32), i + 1, np.uint8))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    got = open_array(s3_root / "mag", "zarr3").read((0, 0, 0), (64, 64, 64))[0]
    for i in range(8):
        x, y, z = (i & 1) * 32, (i >> 1 & 1) * 32, (i >> 2) * 32
        assert (got[x:x + 32, y:y + 32, z:z + 32] == i + 1).all(), i


def test_a_upath_that_is_also_a_local_path_is_refused_not_written_locally(tmp_path: Path, monkeypatch) -> None:
    """universal-pathlib 0.2 made every UPath a `pathlib.Path` subclass: such an S3 path
    must not be taken for the local folder ./bucket/ds."""
    from pathlib import PosixPath

    import wkpy as wk

    class OldUPath(PosixPath):                  # what upath 0.2's S3Path looks like to wkpy
        protocol = "s3"
        storage_options: dict = {}

    monkeypatch.chdir(tmp_path)
    old = OldUPath("bucket/ds")
    for call in (lambda: as_store(old), lambda: wk.Dataset(old, voxel_size=(1, 1, 1)), lambda: wk.Dataset.open(old)):
        with pytest.raises(UnsupportedError, match="universal-pathlib"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_shard_indexes_are_parsed_once_per_object_version(root, parses) -> None:
    """A remote Zarr3 shard's index is parsed on the first read only (a hit re-reads its
    CRC32C, from the store's cache of small reads); a rewritten object is read anew."""
    import wkpy as wk
    from wkpy.storage._cache import INDEXES

    INDEXES.clear()
    count = parses
    ds = wk.Dataset(root / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=32)
    old = np.random.default_rng(1).integers(0, 255, (1, 32, 32, 32), dtype=np.uint8)
    old[:, ::2] = 0
    mag.write(old, absolute_offset=(0, 0, 0))
    view = wk.Dataset.open(root / "ds", read_only=True).get_layer("c").get_mag(1)
    assert (view.read(absolute_offset=(3, 4, 5), size=(20, 20, 20)) == old[:, 3:23, 4:24, 5:25]).all()
    first = count[0]
    assert (view.read() == old).all() and count[0] == first
    new = np.random.default_rng(2).integers(0, 255, (1, 32, 32, 32), dtype=np.uint8)
    mag.write(new, absolute_offset=(0, 0, 0))
    assert (view.read() == new).all() and count[0] == first + 1
    INDEXES.clear()
