"""Zarr3 mags on disk: the reference fixtures, round trips with zarr-python, tensorstore and
webknossos in both directions, the metadata webknossos writes, and typed errors."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts
import zarr
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, ShardingCodec, TransposeCodec, ZstdCodec

from wkpy.errors import CorruptFileError, DataMismatchError, PropertiesError, UnsupportedError
from wkpy.storage import ArrayInfo, Zarr3Array, Zarr3Config, create_array, open_array
from wkpy.storage._zarr_groups import write_dataset_group, write_layer_group, write_zarr_groups

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = SHARED / "fixtures"
F_ORDER = {"name": "transpose", "configuration": {"order": [3, 2, 1, 0]}}
LE = {"name": "bytes", "configuration": {"endian": "little"}}


def fixtures() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is missing")
    return FIXTURES


def zarr3_fixture_mags() -> list[tuple[str, str, str]]:
    path = FIXTURES / "manifest.json"
    if not path.is_file():
        return []
    return [(ds, layer, mag) for ds, info in json.loads(path.read_text())["datasets"].items()
            if info["data_format"] == "zarr3" for layer, linfo in info["layers"].items() for mag in linfo["mags"]]


def volume(shape, dtype, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grid = np.indices(shape[1:]).sum(axis=0) % 61
    data = grid + rng.integers(0, 5, size=shape)
    data[:, : shape[1] // 3] = 0              # some all-zero chunks
    return (data * 0.5).astype(dtype) if np.dtype(dtype).kind == "f" else data.astype(dtype)


# ---- fixtures written by webknossos -----------------------------------------------------------

@pytest.mark.parametrize("ds,layer,mag", zarr3_fixture_mags())
def test_fixture_mags_read_exactly_as_expected(ds, layer, mag):
    meta = json.loads((fixtures() / "manifest.json").read_text())["datasets"][ds]["layers"][layer]
    m = meta["mags"][mag]
    array = open_array(FIXTURES / ds / layer / mag, "zarr3")
    assert array.info.dtype == np.dtype(meta["dtype"]) and array.info.num_channels == meta["num_channels"]
    assert array.info.chunk_shape == tuple(m["chunk_shape"]) and array.info.shard_shape == tuple(m["shard_shape"])
    assert array.info.compression == m["compressed"]
    got = array.read(tuple(m["region_topleft_in_mag"]), tuple(m["region_shape"][1:]))
    expected = np.load(FIXTURES / m["expected"])
    assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_upstream_three_channel_dataset_matches_zarr_python():
    path = fixtures() / "upstream" / "simple_zarr3_dataset" / "color" / "1"
    ours = Zarr3Array.open(path).read((0, 0, 0), (30, 24, 24))
    theirs = zarr.open_array(path, mode="r")[:]
    assert ours.shape == (3, 30, 24, 24) and theirs.any()
    assert np.array_equal(ours[:, :24], theirs) and not ours[:, 24:].any()   # beyond the shape: fill


def test_fixture_lists_its_shards():
    array = Zarr3Array.open(fixtures() / "zarr3_sharded" / "segmentation" / "1")
    assert array.list_shards() == [((0, 0, 0), (64, 64, 64)), ((64, 0, 0), (64, 64, 64))]


def test_group_metadata_is_byte_identical_to_webknossos(tmp_path):
    root = fixtures() / "zarr3_default"
    props = json.loads((root / "datasource-properties.json").read_text())
    voxel = props["scale"]["factor"] if isinstance(props["scale"], dict) else props["scale"]
    mags = [(Path(m["path"]).name, tuple(m["mag"])) for m in props["dataLayers"][0]["mags"]]
    for name in ("color", "wkw_layer", "real"):
        (tmp_path / name).mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    write_zarr_groups(tmp_path, voxel, [(tmp_path / "color", "zarr3", mags, None),
                                         (tmp_path / "wkw_layer", "wkw", mags, None),
                                         (tmp_path / "linked", "zarr3", mags, None)])
    assert (tmp_path / "zarr.json").read_bytes() == (root / "zarr.json").read_bytes()
    assert (tmp_path / "color" / "zarr.json").read_bytes() == (root / "color" / "zarr.json").read_bytes()
    assert not (tmp_path / "wkw_layer" / "zarr.json").exists() and not (tmp_path / "real" / "zarr.json").exists()
    write_dataset_group(tmp_path)
    write_layer_group(tmp_path / "color", voxel, mags)
    assert (tmp_path / "color" / "zarr.json").read_bytes() == (root / "color" / "zarr.json").read_bytes()


# ---- what webknossos writes for a new mag --------------------------------------------------------

def test_default_mag_metadata_matches_webknossos(tmp_path):
    # webknossos' defaults (1024³ shards of 32³ chunks), metadata only: the data behaviour of
    # shards is the same at any shard size (below), and a 1024³ peer write needs gigabytes
    wk = pytest.importorskip("webknossos")
    ds = wk.Dataset(tmp_path / "wk", voxel_size=(11.2, 11.2, 25))
    for dtype in ("uint8", "uint16"):
        layer = ds.add_layer(dtype, "color", dtype=dtype, data_format="zarr3")
        ref = layer.add_mag(1)
        assert ref.info.shard_shape == (1024,) * 3 and ref.info.chunk_shape == (32,) * 3
        info = ArrayInfo("zarr3", np.dtype(dtype), 1, (32,) * 3, (1024,) * 3, True)
        create_array(tmp_path / "ours" / dtype, info)
        assert (tmp_path / "ours" / dtype / "zarr.json").read_text() == \
            (tmp_path / "wk" / dtype / "1" / "zarr.json").read_text()


# shard 256: the write at y 1000..1030 and the read at y 990..1054 cross the shard border at 1024
@pytest.mark.parametrize("dtype,channels,chunk,shard,compress", [
    ("uint8", 1, 32, 256, True), ("uint16", 1, 32, 256, True), ("uint8", 3, 32, 64, False),
    ("float32", 1, 32, 64, True), ("uint64", 1, 32, 32, True), ("uint32", 1, 64, 128, False),
])
def test_new_mags_match_webknossos_byte_for_byte(tmp_path, dtype, channels, chunk, shard, compress):
    wk = pytest.importorskip("webknossos")
    ds = wk.Dataset(tmp_path / "wk", voxel_size=(11.2, 11.2, 25))
    category = "segmentation" if dtype == "uint64" else "color"
    layer = ds.add_layer("l", category, dtype=dtype, num_channels=channels, data_format="zarr3")
    ref = layer.add_mag(1, chunk_shape=chunk, shard_shape=shard, compress=compress)
    info = ArrayInfo("zarr3", np.dtype(dtype), channels, (chunk,) * 3, (shard,) * 3, compress)
    ours = create_array(tmp_path / "ours", info)
    assert (tmp_path / "ours" / "zarr.json").read_text() == (tmp_path / "wk" / "l" / "1" / "zarr.json").read_text()
    data = volume((channels, 40, 30, 20), dtype)
    ref.write(data, absolute_offset=(10, 1000, 5), allow_unaligned=True, allow_resize=True)
    ours.write((10, 1000, 5), data)
    assert (tmp_path / "ours" / "zarr.json").read_text() == (tmp_path / "wk" / "l" / "1" / "zarr.json").read_text()
    assert np.array_equal(ours.read((0, 990, 0), (64, 64, 32)), ref.read(absolute_offset=(0, 990, 0), size=(64, 64, 32)))


def test_zarr3_config_codecs_are_written_like_tensorstore_does(tmp_path):
    codecs = [LE, {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "noshuffle"}},
              {"name": "crc32c"}]
    info = ArrayInfo("zarr3", np.dtype("uint32"), 1, (32,) * 3, (64,) * 3, True, Zarr3Config(codecs))
    Zarr3Array.create(tmp_path / "ours", info)
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "ts")}, "metadata": {
        "data_type": "uint32", "shape": [1, 0, 0, 0], "fill_value": 0, "dimension_names": ["c", "x", "y", "z"],
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, 64, 64, 64]}},
        "chunk_key_encoding": {"name": "default"},
        "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [1, 32, 32, 32], "codecs": codecs,
                    "index_codecs": [LE, {"name": "crc32c"}]}}]}}
    ts.open(spec, create=True).result()
    assert (tmp_path / "ours" / "zarr.json").read_text() == (tmp_path / "ts" / "zarr.json").read_text()


# ---- round trips with zarr-python and tensorstore -------------------------------------------------

CODECS = {
    "raw": [F_ORDER, LE],
    "zstd": [F_ORDER, LE, {"name": "zstd", "configuration": {"level": 5, "checksum": True}}],
    "blosc-lz4": [F_ORDER, LE, {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}}],
    "blosc-zstd-bit": [LE, {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "bitshuffle"}}],
    "gzip": [F_ORDER, LE, {"name": "gzip", "configuration": {"level": 5}}],
}
TYPES = [("uint8", 1), ("uint8", 3), ("uint16", 1), ("uint32", 1), ("uint64", 1), ("float32", 1)]
LAYOUTS = [((32,) * 3, (64,) * 3), ((16,) * 3, (16,) * 3), ((8, 16, 32), (16, 32, 64))]
CASES = [(t, c, LAYOUTS[i % len(LAYOUTS)]) for i, (t, c) in enumerate((t, c) for t in TYPES for c in CODECS)]


def zarr_python_codecs(name: str, dtype: np.dtype):
    conf = CODECS[name]
    filters = [TransposeCodec(order=[3, 2, 1, 0])] if conf[0] is F_ORDER else []
    comp = conf[-1]
    if comp["name"] == "zstd":
        return filters, [ZstdCodec(level=5, checksum=True)]
    if comp["name"] == "blosc":
        c = comp["configuration"]
        return filters, [BloscCodec(cname=c["cname"], clevel=c["clevel"], shuffle=c["shuffle"], typesize=dtype.itemsize)]
    if comp["name"] == "gzip":
        return filters, [GzipCodec(level=5)]
    return filters, None


@pytest.mark.parametrize("typ,codec,layout", CASES, ids=[f"{t[0]}x{t[1]}-{c}-{l[1][0]}" for t, c, l in CASES])
def test_round_trips_with_zarr_python_and_tensorstore(tmp_path, typ, codec, layout):
    (dtype, channels), (chunk, shard) = typ, layout
    dtype = np.dtype(dtype)
    data = volume((channels, 70, 50, 40), dtype, seed=3)
    offset = (5, 6, 7)
    # ours -> zarr-python and tensorstore
    info = ArrayInfo("zarr3", dtype, channels, chunk, shard, codec != "raw", Zarr3Config(CODECS[codec]))
    ours = Zarr3Array.create(tmp_path / "ours", info)
    ours.write(offset, data[:, :40])
    ours.write((offset[0] + 40, offset[1], offset[2]), data[:, 40:])           # unaligned, two calls
    expected = np.zeros((channels, 75, 56, 47), dtype)
    expected[:, 5:, 6:, 7:] = data
    z = zarr.open_array(tmp_path / "ours", mode="r")
    assert np.array_equal(z[:, :75, :56, :47], expected)
    t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "ours")}}).result()
    assert np.array_equal(t[:, :75, :56, :47].read().result(), expected)
    # zarr-python and tensorstore -> ours
    filters, compressors = zarr_python_codecs(codec, dtype)
    shards = None if chunk == shard else (channels, *shard)
    theirs = zarr.create_array(tmp_path / "zp", shape=(channels, 80, 64, 64), chunks=(channels, *chunk), shards=shards,
                               dtype=dtype, filters=filters, compressors=compressors, fill_value=0,
                               dimension_names=["c", "x", "y", "z"])
    theirs[:, 5:75, 6:56, 7:47] = data
    assert np.array_equal(Zarr3Array.open(tmp_path / "zp").read((0, 0, 0), (75, 56, 47)), expected)
    spec = json.loads((tmp_path / "ours" / "zarr.json").read_text())
    t2 = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "ts")},
                  "metadata": {**spec, "shape": [channels, 80, 64, 64]}}, create=True).result()
    t2[:, 5:75, 6:56, 7:47].write(data).result()
    assert np.array_equal(Zarr3Array.open(tmp_path / "ts").read((0, 0, 0), (75, 56, 47)), expected)


def test_empty_chunks_and_shards_are_omitted_like_zarr_python(tmp_path):
    data = np.zeros((1, 128, 64, 64), np.uint16)
    data[0, 3:40, 5:30, 0:20] = 9           # touches 2x1x1 chunks of the first shard only
    data[0, 100, 60, 60] = 1                # one chunk of the second shard
    z = zarr.create_array(tmp_path / "zp", shape=data.shape, chunks=(1, 32, 32, 32), shards=(1, 64, 64, 64),
                          dtype="uint16", filters=[TransposeCodec(order=[3, 2, 1, 0])],
                          compressors=[ZstdCodec(level=5, checksum=True)], fill_value=0)
    z[:] = data
    ours = Zarr3Array.create(tmp_path / "ours", ArrayInfo("zarr3", np.dtype("uint16"), 1, (32,) * 3, (64,) * 3, True))
    ours.write((0, 0, 0), data)
    ours.write((0, 0, 0), np.zeros((1, 1, 1, 1), np.uint16))   # a no-op rewrite keeps the layout
    def data_files(root: Path) -> list[str]:     # without wkpy's lock files
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() and not p.relative_to(root).parts[0].startswith("."))

    files = data_files(tmp_path / "zp")
    assert files == data_files(tmp_path / "ours")
    assert files == ["c/0/0/0/0", "c/0/1/0/0", "zarr.json"]
    for key in files[:-1]:
        theirs = Zarr3Array.open(tmp_path / "zp")._spec
        from one_file import shard_index
        assert [e is None for e in shard_index(tmp_path / "zp" / key, theirs)] == \
               [e is None for e in shard_index(tmp_path / "ours" / key, theirs)]
    ours.write((96, 32, 32), np.zeros((1, 32, 32, 32), np.uint16))     # erase the second shard's chunk
    assert not (tmp_path / "ours" / "c/0/1/0/0").exists()


# ---- other layouts other writers use ---------------------------------------------------------------

def test_index_at_start_big_endian_crc_inner_chunks_and_v2_keys(tmp_path):
    data = volume((1, 40, 40, 40), "int32", seed=5)
    codecs = [BytesCodec(endian="big")]
    z = zarr.create_array(tmp_path / "a", shape=(1, 40, 40, 40), chunks=(1, 16, 16, 16),
                          dtype="int32", serializer=ShardingCodec(chunk_shape=(1, 8, 8, 8), codecs=[*codecs, {"name": "crc32c"}],
                                                                  index_location="start"),
                          compressors=None, filters=None, fill_value=-1, chunk_key_encoding={"name": "v2", "separator": "."})
    z[:] = data
    a = Zarr3Array.open(tmp_path / "a")
    assert np.array_equal(a.read((0, 0, 0), (40, 40, 40)), data)
    assert a.read((39, 39, 39), (3, 1, 1)).tolist() == [[[[data[0, 39, 39, 39]]], [[-1]], [[-1]]]]
    a.write((3, 4, 5), np.full((1, 20, 3, 3), 77, np.int32))
    data[:, 3:23, 4:7, 5:8] = 77
    assert np.array_equal(zarr.open_array(tmp_path / "a", mode="r")[:], data)
    assert all("." in p.name for p in (tmp_path / "a").iterdir() if p.name != "zarr.json")


def test_three_dimensional_arrays_without_channels(tmp_path):
    data = volume((1, 30, 20, 10), "uint8")[0]
    z = zarr.create_array(tmp_path / "a", shape=data.shape, chunks=(8, 8, 8), shards=(16, 16, 16), dtype="uint8",
                          filters=[TransposeCodec(order=[2, 1, 0])], compressors=[ZstdCodec(level=1)],
                          dimension_names=["x", "y", "z"])
    z[:] = data
    a = Zarr3Array.open(tmp_path / "a")
    assert a.info.num_channels == 1 and a.shape == (30, 20, 10)
    assert np.array_equal(a.read((0, 0, 0), (30, 20, 10))[0], data)
    a.write((1, 1, 1), np.full((1, 2, 2, 2), 200, np.uint8))
    data[1:3, 1:3, 1:3] = 200
    assert np.array_equal(zarr.open_array(tmp_path / "a", mode="r")[:], data)


def test_nan_fill_value_and_shape_growth(tmp_path):
    info = ArrayInfo("zarr3", np.dtype("float32"), 1, (8,) * 3, (16,) * 3, True)
    a = Zarr3Array.create(tmp_path / "a", info)
    doc = json.loads((tmp_path / "a" / "zarr.json").read_text())
    doc["fill_value"] = "NaN"
    (tmp_path / "a" / "zarr.json").write_text(json.dumps(doc))
    a = Zarr3Array.open(tmp_path / "a")
    a.write((20, 0, 0), np.ones((1, 3, 3, 3), np.float32))
    assert a.shape == (32, 16, 16)
    got = a.read((19, 0, 0), (5, 1, 1))[0, :, 0, 0]
    assert np.isnan(got[0]) and (got[1:4] == 1).all() and np.isnan(got[4])
    assert np.isnan(zarr.open_array(tmp_path / "a", mode="r")[0, 0, 0, 0])


def test_concurrent_growth_from_many_threads_keeps_every_extent(tmp_path):
    a = Zarr3Array.create(tmp_path / "a", ArrayInfo("zarr3", np.dtype("uint8"), 1, (8,) * 3, (16,) * 3, False))
    others = [Zarr3Array.open(tmp_path / "a") for _ in range(8)]
    ends = [(16 * (i + 1), 16 * (8 - i), 16) for i in range(8)]
    threads = [threading.Thread(target=o.write, args=((e[0] - 1, e[1] - 1, 0), np.ones((1, 1, 1, 1), np.uint8)))
               for o, e in zip(others, ends)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.refresh()
    assert a.shape == (128, 128, 16)
    assert a.read((0, 0, 0), (128, 128, 1)).sum() == 8


def test_concurrent_writers_of_one_shard_lose_no_update(tmp_path):
    info = ArrayInfo("zarr3", np.dtype("uint16"), 1, (8,) * 3, (64,) * 3, True)
    Zarr3Array.create(tmp_path / "a", info)
    n, rounds = 6, 8
    arrays = [Zarr3Array.open(tmp_path / "a") for _ in range(n)]
    barrier = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for r in range(rounds):
                barrier.wait()                 # all writers of a round start together
                arrays[i].write((8 * i, 0, 0), np.full((1, 8, 64, 64), 10 * r + i + 1, np.uint16))
                barrier.wait()
        except BaseException as e:  # pragma: no cover - reported below
            if not isinstance(e, threading.BrokenBarrierError):
                errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    reader = Zarr3Array.open(tmp_path / "a")
    try:
        for r in range(rounds):
            barrier.wait(timeout=60)
            barrier.wait(timeout=60)
            got = reader.read((0, 0, 0), (8 * n, 64, 64))
            assert [int(got[0, 8 * i:8 * i + 8].min()) for i in range(n)] == [10 * r + i + 1 for i in range(n)]
    finally:
        barrier.abort()                        # releases the writers if a round failed
        for t in threads:
            t.join()
    assert not errors, errors


# ---- typed errors ------------------------------------------------------------------------------

def _make(tmp_path) -> Path:
    a = Zarr3Array.create(tmp_path / "m", ArrayInfo("zarr3", np.dtype("uint8"), 1, (8,) * 3, (16,) * 3, True))
    a.write((0, 0, 0), volume((1, 16, 16, 16), "uint8") + 1)
    return tmp_path / "m"


@pytest.mark.parametrize("change,error,words", [
    (lambda d: d["codecs"][0]["configuration"]["codecs"].append({"name": "bz2"}), UnsupportedError, "'bz2'"),
    (lambda d: d["codecs"][0]["configuration"]["codecs"].__setitem__(2, {"name": "lzma"}), UnsupportedError, "'lzma'"),
    (lambda d: d.pop("shape"), PropertiesError, "'shape'"),
    (lambda d: d.__setitem__("shape", [1, -3, 2, 2]), PropertiesError, "shape"),
    (lambda d: d.__setitem__("data_type", "complex64"), UnsupportedError, "complex64"),
    (lambda d: d.__setitem__("node_type", "group"), PropertiesError, "node_type"),
    (lambda d: d.__setitem__("fill_value", "zero"), PropertiesError, "fill_value"),
    (lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [1, 16, 0, 16]), PropertiesError, "chunk_shape"),
    (lambda d: d["codecs"][0]["configuration"].__setitem__("chunk_shape", [1, 6, 8, 8]), PropertiesError, "divide"),
    (lambda d: d["codecs"][0]["configuration"].__setitem__("index_location", "middle"), PropertiesError, "index_location"),
    (lambda d: d["codecs"][0]["configuration"]["index_codecs"].insert(1, {"name": "zstd"}), UnsupportedError, "index_codecs"),
    (lambda d: d.__setitem__("dimension_names", ["c", "a", "b", "z"]), UnsupportedError, "dimension_names"),
    (lambda d: d.__setitem__("dimension_names", ["c", "x", "x", "z"]), PropertiesError, "dimension_names .* twice"),
    (lambda d: d.__setitem__("dimension_names", ["c", "x", 3, "z"]), PropertiesError, "dimension_names"),
    (lambda d: d.__setitem__("dimension_names", ["c", "x", "y"]), PropertiesError, "dimension_names"),
    (lambda d: d.__setitem__("chunk_key_encoding", {"name": "flat"}), UnsupportedError, "chunk_key_encoding"),
])
def test_bad_zarr_json_raises_typed_errors_naming_file_and_field(tmp_path, change, error, words):
    path = _make(tmp_path)
    doc = json.loads((path / "zarr.json").read_text())
    change(doc)
    (path / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(error, match=words) as err:
        Zarr3Array.open(path)
    assert str(path / "zarr.json") in str(err.value)


def test_missing_or_garbled_zarr_json(tmp_path):
    path = _make(tmp_path)
    (path / "zarr.json").write_text("{not json")
    with pytest.raises(PropertiesError, match="not valid JSON"):
        Zarr3Array.open(path)
    (path / "zarr.json").unlink()
    with pytest.raises(PropertiesError, match="missing"):
        Zarr3Array.open(path)


def test_bad_index_checksum_in_a_zarr_python_shard(tmp_path):
    z = zarr.create_array(tmp_path / "a", shape=(1, 16, 16, 16), chunks=(1, 8, 8, 8), shards=(1, 16, 16, 16),
                          dtype="uint8", fill_value=0)
    z[:] = 5
    shard = tmp_path / "a" / "c/0/0/0/0"
    raw = bytearray(shard.read_bytes())
    raw[-6] ^= 0x10
    shard.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="checksum") as err:
        Zarr3Array.open(tmp_path / "a").read((0, 0, 0), (4, 4, 4))
    assert str(shard) in str(err.value)
    raw = shard.read_bytes()
    shard.write_bytes(raw[:-140] + struct.pack("<I", 0))     # truncated: index runs into the chunks
    with pytest.raises(CorruptFileError):
        Zarr3Array.open(tmp_path / "a").read((0, 0, 0), (16, 16, 16))


def test_writes_of_another_dtype_or_channel_count_are_refused(tmp_path):
    a = Zarr3Array.open(_make(tmp_path))
    with pytest.raises(DataMismatchError, match="dtype"):
        a.write((0, 0, 0), np.zeros((1, 2, 2, 2), np.uint16))
    with pytest.raises(DataMismatchError, match="c=1"):
        a.write((0, 0, 0), np.zeros((2, 2, 2, 2), np.uint8))


def test_stray_chunk_file_names_beyond_the_shape_or_not_canonical_are_not_counted(tmp_path):
    import shutil

    from wkpy.storage.zarr3 import write_whole_array

    write_whole_array(tmp_path / "a", np.arange(1, 100, dtype=np.uint64), target_chunk_bytes=64,
                      target_shard_bytes=256)
    array = Zarr3Array.open(tmp_path / "a", ranks=(1,))
    assert array.stored_elements() == 99
    # a copy of a shard under a grid index far beyond the shape (and int64) holds none of its elements
    shutil.copy(tmp_path / "a" / "c" / "0", tmp_path / "a" / "c" / "99999999999999999999")
    assert array.stored_elements() == 99
    # names that are not how `key` spells an index ("03", Arabic-Indic three) are no chunk files
    shutil.copy(tmp_path / "a" / "c" / "0", tmp_path / "a" / "c" / "03")
    shutil.copy(tmp_path / "a" / "c" / "0", tmp_path / "a" / "c" / "\u0663")
    assert array.meta.parse_key("c/03") is None and array.meta.parse_key("c/\u0663") is None
    assert array.meta.parse_key("c/3") == (3,)
    (tmp_path / "a" / "c" / "3").unlink()
    assert array.stored_elements() == 99 - 3


def test_reading_a_whole_array_costs_what_its_files_hold_not_what_its_shape_claims(tmp_path):
    from wkpy.dataset._utils.tensorstore_helpers import read_zarr3_array, write_zarr3_array

    write_zarr3_array(tmp_path / "a", np.arange(1, 100, dtype=np.uint64), target_chunk_size_bytes=64,
                      target_shard_size_bytes=256)
    meta_file = tmp_path / "a" / "zarr.json"
    doc = json.loads(meta_file.read_text())
    # 2**30 elements in 32-element shards: 2**25 shards, of which 4 exist (only those are visited)
    doc["shape"] = [2**30]
    meta_file.write_text(json.dumps(doc))
    out = read_zarr3_array(tmp_path / "a")
    assert out.shape == (2**30,)
    assert out[:99].tolist() == list(range(1, 100)) and out[99:200].sum() == 0
    del out
    for shape in ([2**40], [2**61]):                # more than memory holds: a typed refusal
        doc["shape"] = shape
        meta_file.write_text(json.dumps(doc))
        with pytest.raises(UnsupportedError, match="zarr.json.*too large to read whole"):
            read_zarr3_array(tmp_path / "a")


def test_a_whole_array_with_an_empty_axis_is_written_and_read_back(tmp_path):
    from wkpy.dataset._utils.tensorstore_helpers import read_zarr3_array, write_zarr3_array

    write_zarr3_array(tmp_path / "a", np.zeros((5, 0), np.uint32), target_chunk_size_bytes=64,
                      target_shard_size_bytes=256)
    assert read_zarr3_array(tmp_path / "a").shape == (5, 0)
    assert zarr.open_array(tmp_path / "a", mode="r").shape == (5, 0)
