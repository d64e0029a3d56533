"""Parsed Zarr3 shard indexes kept between reads (`wkpy.storage._cache.INDEXES`): a hit
needs the file's version and its index's CRC32C unchanged, so a file replaced within one
mtime tick by one with the same inode number and size is still read right."""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import threading
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from conftest import array_in_layout, random_volume
from wkpy.errors import CorruptFileError
from wkpy.storage import open_array, store as store_module
from wkpy.storage._cache import INDEXES

SHARD, CHUNK = 32, 8


@pytest.fixture(autouse=True)
def _empty_cache():
    INDEXES.clear()
    yield
    INDEXES.clear()



@pytest.fixture
def one_version(monkeypatch):
    """Every local file reports the same version, as a file replaced within one mtime tick
    by another of the same size on the inode its predecessor freed would."""
    monkeypatch.setattr(store_module, "_version", lambda st: (1, 2, 3, 4))


def _mag(tmp_path: Path, dtype: str = "uint8", channels: int = 1, compress: bool = True):  # type: ignore[no-untyped-def]
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    if dtype == "uint64":                              # (a segmentation layer's dtype only)
        layer = ds.add_layer("c", "segmentation", dtype=dtype, data_format="zarr3", largest_segment_id=0)
    else:
        layer = ds.add_layer("c", "color", dtype=dtype, num_channels=channels, data_format="zarr3")
    return layer.add_mag(1, chunk_shape=CHUNK, shard_shape=SHARD, compress=compress)


def _shard_file(tmp_path: Path) -> Path:
    return tmp_path / "ds" / "c" / "1" / "c" / "0" / "0" / "0" / "0"


def _noise(seed: int, fraction: float) -> np.ndarray:
    """A shard of zeros with `fraction` of random voxels: its chunks compress to sizes
    that differ with `fraction`, so two such shards have different indexes."""
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 255, (1, SHARD, SHARD, SHARD), dtype=np.uint8)
    data[rng.random(data.shape) >= fraction] = 0
    return data


def test_a_second_read_of_a_shard_does_not_parse_its_index_again(tmp_path, parses):
    mag = _mag(tmp_path)
    data = _noise(1, 0.5)
    mag.write(data, absolute_offset=(0, 0, 0))
    assert (mag.read(absolute_offset=(3, 5, 7), size=(20, 20, 20)) == data[:, 3:23, 5:25, 7:27]).all()
    first = parses[0]
    for off in [(0, 0, 0), (11, 2, 9), (24, 24, 24)]:
        got = mag.read(absolute_offset=off, size=(8, 8, 8))
        assert (got == data[:, off[0]:off[0] + 8, off[1]:off[1] + 8, off[2]:off[2] + 8]).all()
    assert parses[0] == first
    other = wk.Dataset.open(tmp_path / "ds", read_only=True).get_layer("c").get_mag(1)
    assert (other.read() == data).all()
    assert parses[0] > first, "another array (another ShardSpec) parses for itself"


def test_a_rewritten_shard_with_the_same_version_is_read_anew(tmp_path, parses, one_version):
    """Same inode, size and mtime, another index: the CRC32C differs, the index is parsed again."""
    mag = _mag(tmp_path)
    old, new = _noise(1, 0.2), _noise(2, 0.7)
    mag.write(old, absolute_offset=(0, 0, 0))
    assert (mag.read() == old).all()
    mag.write(new, absolute_offset=(0, 0, 0))
    before = parses[0]
    assert (mag.read() == new).all()
    assert parses[0] == before + 1
    assert (mag.read() == new).all()
    assert parses[0] == before + 1


def test_an_identical_index_is_reused_whatever_the_chunks_hold(tmp_path, parses, one_version):
    """Uncompressed shards of one chunk set have identical indexes: reusing the parsed one
    is right, and the new chunks are read."""
    mag = _mag(tmp_path, compress=False)
    old, new = _noise(1, 1.0), _noise(2, 1.0)
    mag.write(old, absolute_offset=(0, 0, 0))
    assert (mag.read() == old).all()
    before = parses[0]
    mag.write(new, absolute_offset=(0, 0, 0))
    assert (mag.read() == new).all()
    assert parses[0] == before


def test_a_damaged_index_after_a_cached_read_raises_naming_the_file(tmp_path, one_version):
    mag = _mag(tmp_path)
    mag.write(_noise(1, 0.5), absolute_offset=(0, 0, 0))
    mag.read()
    path = _shard_file(tmp_path)
    raw = bytearray(path.read_bytes())
    n = 16 * (SHARD // CHUNK) ** 3 + 4
    raw[-n:] = random.Random(3).randbytes(n)          # the index and its CRC32C: garbage
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=str(path.name)):
        mag.read()


def test_a_shard_cut_short_after_a_cached_read_raises_naming_the_file(tmp_path):
    mag = _mag(tmp_path)
    mag.write(_noise(1, 0.5), absolute_offset=(0, 0, 0))
    mag.read()
    path = _shard_file(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptFileError, match=str(path.name)):
        mag.read()


def test_an_index_without_crc32c_is_parsed_on_every_read(tmp_path, parses):
    """Nothing cheap tells whether such an index is still the one parsed: never cached."""
    doc = {"zarr_format": 3, "node_type": "array", "shape": [1, SHARD, SHARD, SHARD], "data_type": "uint8",
           "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, SHARD, SHARD, SHARD]}},
           "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
           "fill_value": 0, "dimension_names": ["c", "x", "y", "z"],
           "codecs": [{"name": "sharding_indexed", "configuration": {
               "chunk_shape": [1, CHUNK, CHUNK, CHUNK],
               "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd",
                                                                                     "configuration": {"level": 1}}],
               "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
               "index_location": "end"}}]}
    folder = tmp_path / "arr"
    folder.mkdir()
    (folder / "zarr.json").write_text(json.dumps(doc))
    array = open_array(folder, "zarr3")
    data = _noise(1, 0.5)
    array.write((0, 0, 0), data)
    for _ in range(3):
        assert (array.read((0, 0, 0), (SHARD,) * 3) == data).all()
    assert parses[0] >= 3 and len(INDEXES) == 0


@pytest.mark.filterwarnings("ignore:Data type .* with multiple channels")
@pytest.mark.parametrize("dtype,channels", [("uint8", 1), ("uint8", 3), ("uint16", 1), ("uint16", 2), ("uint32", 1),
                                            ("uint64", 1), ("float32", 1), ("int8", 1)])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_cached_reads_of_odd_boxes_give_what_was_written(tmp_path, dtype, channels, layout):
    mag = _mag(tmp_path, dtype, channels)
    data = random_volume((channels, 45, 38, 33), dtype, seed=5)
    mag.write(array_in_layout(data, layout), absolute_offset=(3, 1, 2), allow_unaligned=True)
    ref = np.zeros((channels, 80, 80, 80), dtype)
    ref[:, 3:48, 1:39, 2:35] = data
    rng = np.random.default_rng(7)
    for _ in range(12):                                   # the first read parses, the others hit
        lo = [int(v) for v in rng.integers(0, 50, 3)]
        size = [int(v) for v in rng.integers(1, 30, 3)]
        got = mag.read(absolute_offset=tuple(lo), size=tuple(size))
        want = ref[:, lo[0]:lo[0] + size[0], lo[1]:lo[1] + size[1], lo[2]:lo[2] + size[2]]
        assert got.dtype == want.dtype and (got == want).all()


def test_readers_see_old_or_new_while_a_writer_replaces_shards_of_one_version(tmp_path, one_version):
    """Three reader threads, one writer replacing the shard again and again with two
    contents whose indexes differ, every file with the same version: each read is one of
    them whole (the CRC32C check is what tells them apart)."""
    mag = _mag(tmp_path)
    a, b = _noise(1, 0.2), _noise(2, 0.7)
    mag.write(a, absolute_offset=(0, 0, 0))
    stop = threading.Event()
    bad: list[str] = []

    def reader() -> None:
        view = wk.Dataset.open(tmp_path / "ds", read_only=True).get_layer("c").get_mag(1)
        while not stop.is_set():
            got = view.read()
            if not ((got == a).all() or (got == b).all()):
                bad.append("a read mixing two shards")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(30):
            mag.write(b if i % 2 == 0 else a, absolute_offset=(0, 0, 0))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not bad


def test_many_shards_through_a_small_cache(tmp_path, monkeypatch):
    """More shards than entries: evicted indexes are parsed again, every read is right."""
    monkeypatch.setattr(INDEXES, "max_entries", 2)
    mag = _mag(tmp_path)
    data = random_volume((1, 3 * SHARD, 2 * SHARD, SHARD), "uint8", seed=9)
    mag.write(data, absolute_offset=(0, 0, 0))
    for _ in range(3):
        for x in range(0, 3 * SHARD - 24, 20):
            for y in range(0, 2 * SHARD - 24, 20):
                got = mag.read(absolute_offset=(x, y, 4), size=(24, 24, 24))
                assert (got == data[:, x:x + 24, y:y + 24, 4:28]).all()
    assert len(INDEXES) <= 2


def _read_in_child(path: str, conn) -> None:  # type: ignore[no-untyped-def]
    mag = wk.Dataset.open(path, read_only=True).get_layer("c").get_mag(1)
    conn.send(mag.read().tobytes())


def test_a_forked_child_reads_through_the_cache_its_parent_filled(tmp_path):
    mag = _mag(tmp_path)
    data = _noise(4, 0.5)
    mag.write(data, absolute_offset=(0, 0, 0))
    mag.read()
    hold = threading.Event()
    done = threading.Event()

    def holder() -> None:                    # a thread holding the cache's lock at the fork
        with INDEXES._lock:
            hold.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    hold.wait(10)
    try:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_read_in_child, args=(str(tmp_path / "ds"), child))
        proc.start()
        got = parent.recv() if parent.poll(60) else None
        proc.join(60)
    finally:
        done.set()
        t.join()
    assert got == data.tobytes()


def test_reads_beyond_the_shape_re_read_the_metadata_but_parse_only_a_change(tmp_path, parses, monkeypatch):
    """A box leaving the array's shape re-reads zarr.json (another process may have grown
    the array); an unchanged document keeps the parsed metadata, its spec and so the cached
    shard indexes, and a grown one is seen."""
    doc = {"zarr_format": 3, "node_type": "array", "shape": [1, 40, 40, 40], "data_type": "uint8",
           "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, SHARD, SHARD, SHARD]}},
           "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
           "fill_value": 0, "dimension_names": ["c", "x", "y", "z"],
           "codecs": [{"name": "sharding_indexed", "configuration": {
               "chunk_shape": [1, CHUNK, CHUNK, CHUNK],
               "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
               "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
               "index_location": "end"}}]}
    folder = tmp_path / "arr"
    folder.mkdir()
    (folder / "zarr.json").write_text(json.dumps(doc))
    reader, writer = open_array(folder, "zarr3"), open_array(folder, "zarr3")
    data = random_volume((1, 40, 40, 40), "uint8", seed=2)
    writer.write((0, 0, 0), data)
    docs = []
    real = type(reader).parse_doc.__func__

    def counting(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        docs.append(1)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(type(reader), "parse_doc", classmethod(counting))
    spec = reader._spec
    for i in range(3):
        got = reader.read((30, 30, 30), (20, 20, 20))
        assert (got[:, :10, :10, :10] == data[:, 30:, 30:, 30:]).all() and not got[:, 10:].any()
        first = parses[0] if i == 0 else first
    assert docs == [] and reader._spec is spec
    assert parses[0] == first == 8                         # the 8 shards' indexes, once
    more = random_volume((1, 20, 20, 20), "uint8", seed=3)
    writer.write((40, 40, 40), more)                      # grows the shape in zarr.json
    docs.clear()
    got = reader.read((30, 30, 30), (30, 30, 30))
    assert (got[:, 10:, 10:, 10:] == more[:, :20, :20, :20]).all()
    assert (got[:, :10, :10, :10] == data[:, 30:, 30:, 30:]).all()
    assert len(docs) == 1                                  # the reader's parse of the new document


@pytest.mark.parametrize("same_version", [False, True])
def test_reads_around_appends_into_a_cached_shard(tmp_path, monkeypatch, same_version):
    """A partial write appends chunks and a new index to the shard (same inode, larger
    size): a reader that opened the old size keeps reading the old index and chunks, which
    stay where they were; a new read gets the new index (a new version; and were the
    version the same, another CRC32C)."""
    from wkpy.storage import _zarr_file

    mag = _mag(tmp_path)
    old = _noise(1, 0.5)
    mag.write(old, absolute_offset=(0, 0, 0))
    assert (mag.read() == old).all()                        # the index is cached
    array = mag._array
    spec = array._spec
    path = _shard_file(tmp_path)
    ino = path.stat().st_ino
    early = array.store.open(array._key((0, 0, 0, 0)))
    if same_version:
        monkeypatch.setattr(store_module, "_version", lambda st: (1, 2, 3, 4))
        early.version = (1, 2, 3, 4)
    patch = np.full((1, 8, 8, 8), 7, np.uint8)
    mag.write(patch, absolute_offset=(8, 16, 0), allow_unaligned=True)
    assert path.stat().st_ino == ino, "appended in place"
    new = old.copy()
    new[:, 8:16, 16:24, 0:8] = 7
    assert (mag.read() == new).all()
    with early:                                             # the old version, read through the cache
        got = np.zeros_like(old, order="F")
        _zarr_file.read_box(early, _zarr_file.read_index(early, spec), spec, (0, 0, 0, 0, 1, SHARD, SHARD, SHARD),
                            got, (0, 0, 0, 0))
    assert (got == old).all()
