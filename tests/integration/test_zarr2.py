"""Zarr v2 layers (``data_format="zarr"``): the files webknossos 4.3.3 writes for the same
calls, round trips with webknossos, zarr-python and tensorstore in both directions, arrays
written by other tools (compressors, orders, separators, byte orders), and typed errors
for hostile `.zarray` files."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import tensorstore as ts
import webknossos
import zarr
from cluster_tools import SequentialExecutor

import wkpy as wk
from conftest import random_volume
from wkpy.errors import InvalidRequestError, PropertiesError, UnsupportedError, WkError
from wkpy.storage import ArrayInfo, Zarr2Array, create_array, open_array
from wkpy.storage._zarr2_meta import parse_zarray, parse_zarray_doc

# webknossos runs in-process (SequentialExecutor): its default is a pool of fresh processes
# per call, which costs seconds each and tests nothing of ours


def _quiet(call, *args, **kwargs):
    """Call a webknossos function without its chunk-shape and multi-channel advice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path (links are not followed)."""
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def _assert_same_files(ours: Path, theirs: Path) -> None:
    """The same files with the same bytes; compressed chunks may differ in their bytes
    (another zstd build), never in what they decode to; `.zgroup` holds the version as
    an integer in wkpy and as a string in webknossos (see `wkpy.storage._zarr_groups`)."""
    a, b = _files(ours), _files(theirs)
    assert sorted(a) == sorted(b)
    zstd = numcodecs.Zstd()
    for name, data in a.items():
        if name.endswith(".zgroup"):
            assert json.loads(data) == {"zarr_format": 2} and json.loads(b[name]) == {"zarr_format": "2"}
            assert data.replace(b"2", b'"2"') == b[name]
        elif data != b[name]:
            assert data[:4] == b[name][:4] == b"\x28\xb5\x2f\xfd", name     # both zstd frames
            assert zstd.decode(data) == zstd.decode(b[name]), name


def _write_both(ours_mag, theirs_mag, data, offset):
    ours_mag.write(data, absolute_offset=offset, allow_unaligned=True)
    _quiet(theirs_mag.write, data, absolute_offset=offset, allow_resize=True, allow_unaligned=True)


# ---- the same calls give the same files as webknossos ---------------------------------------------

@pytest.mark.parametrize("dtype,channels,chunk,compress", [
    ("uint8", 1, 16, True), ("uint8", 1, 16, False), ("uint16", 2, 8, True), ("uint8", 3, 32, False),
    ("float32", 1, 16, True), ("uint64", 1, 16, False), ("int16", 1, 8, True),
])
def test_new_layers_match_webknossos_file_for_file(tmp_path, dtype, channels, chunk, compress):
    datasets = {}
    for name, module in (("ours", wk), ("theirs", webknossos)):
        ds = module.Dataset(tmp_path / name / "ds", voxel_size=(11.2, 11.2, 25))
        kwargs = {"largest_segment_id": 0} if dtype == "uint64" else {}
        category = "segmentation" if dtype == "uint64" else "color"
        layer = _quiet(ds.add_layer, "color", category, dtype=dtype, num_channels=channels, data_format="zarr",
                       **kwargs)
        _quiet(layer.add_mag, 1, chunk_shape=chunk, compress=compress)
        datasets[name] = ds
    ours, theirs = (datasets[n].get_layer("color") for n in ("ours", "theirs"))
    data = random_volume((channels, 40, 30, 20), dtype)
    _write_both(ours.get_mag(1), theirs.get_mag(1), data, (10, 20, 5))
    for layer in (ours, theirs):
        _quiet(layer.add_mag, 2, chunk_shape=chunk, compress=not compress)
        layer.bounding_box = layer.bounding_box.extended_by(type(layer.bounding_box)((0, 0, 0), (100, 10, 10)))
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")
    meta = json.loads((tmp_path / "ours" / "ds" / "color" / "1" / ".zarray").read_text())
    assert meta["compressor"] == ({"id": "zstd", "level": 5} if compress else None)
    assert meta["chunks"] == [channels, chunk, chunk, chunk] and meta["order"] == "F"
    info = ours.get_mag(1).info
    assert info.data_format == "zarr" and info.chunk_shape == info.shard_shape == (chunk,) * 3
    for mag in (1, 2):
        box = dict(absolute_offset=(0, 0, 0), size=(100, 64, 32))
        np.testing.assert_array_equal(ours.get_mag(mag).read(**box), theirs.get_mag(mag).read(**box))


def test_default_shapes_and_empty_mags_match_webknossos(tmp_path):
    for name, module in (("ours", wk), ("theirs", webknossos)):
        ds = module.Dataset(tmp_path / name / "ds", voxel_size=(4, 4, 40))
        seg = ds.add_layer("seg", "segmentation", dtype="uint32", data_format=wk.DataFormat.Zarr,
                           largest_segment_id=7, bounding_box=module.BoundingBox((0, 0, 0), (70, 40, 3)))
        mag = seg.add_mag(1)
        assert mag.info.chunk_shape == mag.info.shard_shape == (32, 32, 32)
        _quiet(seg.add_mag, "2-2-1")
    _assert_same_files(tmp_path / "ours", tmp_path / "theirs")
    shape = json.loads((tmp_path / "ours" / "ds" / "seg" / "2-2-1" / ".zarray").read_text())["shape"]
    assert shape == [1, 64, 32, 32]     # the layer's box in mag 2-2-1, rounded up to chunks


def test_operations_match_webknossos(tmp_path):
    """compress, downsample, copy into and out of Zarr v2: same files, same voxels."""
    data = random_volume((1, 50, 40, 24), "uint8")

    def build(module, root):
        ds = module.Dataset(root / "ds", voxel_size=(11, 11, 25))
        layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr")
        mag = layer.add_mag(1, chunk_shape=16, compress=False)
        mag.write(data, absolute_offset=(0, 0, 0), allow_resize=True)
        layer.downsample(coarsest_mag=module.Mag(4), sampling_mode="isotropic", chunk_shape=16, shard_shape=16,
                         executor=SequentialExecutor())
        mag.compress(executor=SequentialExecutor())
        ds.copy_dataset(root / "to_zarr3", data_format="zarr3", chunk_shape=16, shard_shape=32,
                        executor=SequentialExecutor())
        wkw = module.Dataset(root / "wkw", voxel_size=(11, 11, 25))
        source = wkw.add_layer("color", "color", dtype="uint8", data_format="wkw")
        source.add_mag(1, chunk_shape=8, shard_shape=32).write(data, absolute_offset=(0, 0, 0), allow_resize=True)
        wkw.copy_dataset(root / "from_wkw", data_format="zarr", shard_shape=8, executor=SequentialExecutor())

    build(wk, tmp_path / "ours")
    _quiet(build, webknossos, tmp_path / "theirs")
    for name in ("ds", "from_wkw"):
        _assert_same_files(tmp_path / "ours" / name, tmp_path / "theirs" / name)
    for name in ("ds", "from_wkw", "to_zarr3"):
        ours, theirs = wk.Dataset.open(tmp_path / "ours" / name), webknossos.Dataset.open(tmp_path / "theirs" / name)
        assert str(ours.get_layer("color").data_format) == str(theirs.get_layer("color").data_format)
        for mag in theirs.get_layer("color").mags:
            np.testing.assert_array_equal(ours.get_layer("color").get_mag(mag.to_layer_name()).read(),
                                          theirs.get_layer("color").get_mag(mag).read())
    assert json.loads((tmp_path / "ours" / "ds" / "color" / "1" / ".zarray").read_text())["compressor"] == \
        {"id": "zstd", "level": 5}


def test_zarr_has_no_shards(tmp_path):
    for module, error in ((wk, InvalidRequestError), (webknossos, AssertionError)):
        ds = module.Dataset(tmp_path / module.__name__, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", "color", data_format="zarr")
        with pytest.raises(error):
            _quiet(layer.add_mag, 1, chunk_shape=16, shard_shape=64)
    with pytest.raises(AssertionError):       # what code written for webknossos catches
        wk.Dataset.open(tmp_path / "wkpy").get_layer("color").add_mag(1, chunk_shape=16, shard_shape=64)
    assert not wk.Dataset.open(tmp_path / "wkpy").get_layer("color").mags
    assert sorted(p.name for p in (tmp_path / "wkpy" / "color").iterdir()) == [".zattrs", ".zgroup"]


# ---- wkpy's files read by the peers, theirs read by wkpy --------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype,channels", [("uint8", 3), ("uint16", 1), ("float32", 1), ("uint64", 1)])
def test_wkpy_layers_read_by_webknossos_zarr_python_and_tensorstore(tmp_path, dtype, channels, compress):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    kwargs = {"largest_segment_id": 0} if dtype == "uint64" else {}
    category = "segmentation" if dtype == "uint64" else "color"
    mag = ds.add_layer("l", category, dtype=dtype, num_channels=channels, data_format="zarr", **kwargs).add_mag(
        1, chunk_shape=16, compress=compress)
    data = random_volume((channels, 45, 33, 20), dtype)
    data[:, :16] = 0                                   # all-zero chunks are not stored
    mag.write(data, absolute_offset=(3, 2, 1), allow_unaligned=True)
    expected = mag.read(absolute_offset=(0, 0, 0), size=(48, 48, 32))
    path = tmp_path / "ds" / "l" / "1"
    assert zarr.open_array(path, mode="r").shape == (channels, 48, 48, 32)
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[:], expected)
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}).result()
    np.testing.assert_array_equal(store.read().result(), expected)
    theirs = webknossos.Dataset.open(tmp_path / "ds").get_layer("l").get_mag(1)
    np.testing.assert_array_equal(theirs.read(absolute_offset=(0, 0, 0), size=(48, 48, 32)), expected)
    group = zarr.open_group(tmp_path / "ds", mode="r")       # the .zgroup files are valid Zarr v2
    assert group["l"].attrs["multiscales"][0]["datasets"][0]["path"] == "1"


def test_webknossos_layers_read_and_written_by_wkpy(tmp_path):
    ds = webknossos.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = _quiet(ds.add_layer, "l", "color", dtype="uint16", num_channels=2, data_format="zarr")
    data = random_volume((2, 40, 36, 20), "uint16")
    _quiet(_quiet(layer.add_mag, 1, chunk_shape=16).write, data, absolute_offset=(4, 0, 8), allow_resize=True,
           allow_unaligned=True)
    _quiet(_quiet(layer.add_mag, "2-2-1", chunk_shape=8, compress=False).write, data[:, :20, :18],
           absolute_offset=(8, 0, 8), allow_resize=True, allow_unaligned=True)
    ours = wk.Dataset.open(tmp_path / "ds").get_layer("l")
    assert ours.data_format == "zarr" and ours.num_channels == 2
    assert ours.get_mag(1).info.compression and not ours.get_mag("2-2-1").info.compression
    for mag in ("1", "2-2-1"):
        box = dict(absolute_offset=(0, 0, 0), size=(48, 48, 32))
        np.testing.assert_array_equal(ours.get_mag(mag).read(**box), layer.get_mag(mag).read(**box))
    patch = np.full((2, 16, 16, 16), 9, np.uint16)
    ours.get_mag(1).write(patch, absolute_offset=(16, 16, 16))
    np.testing.assert_array_equal(
        webknossos.Dataset.open(tmp_path / "ds").get_layer("l").get_mag(1).read(absolute_offset=(16, 16, 16),
                                                                                 size=(16, 16, 16)), patch)


# arrays other tools write: every compressor, order, separator and byte order wkpy reads
FOREIGN = {
    "blosc-lz4": dict(compressors=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)),
    "blosc-zstd-auto": dict(compressors=numcodecs.Blosc("zstd", 3, numcodecs.Blosc.AUTOSHUFFLE), order="F"),
    "blosc-bit": dict(compressors=numcodecs.Blosc("blosclz", 9, numcodecs.Blosc.BITSHUFFLE), dtype="uint8"),
    "zstd-checksum": dict(compressors=numcodecs.Zstd(level=3, checksum=True)),
    "gzip": dict(compressors=numcodecs.GZip(level=5), order="F"),
    "zlib": dict(compressors=numcodecs.Zlib(level=1)),
    "raw-big-endian": dict(compressors=None, dtype=">u2", order="F"),
    "zlib-big-endian": dict(compressors=numcodecs.Zlib(level=3), dtype=">i4"),
    "float-fill": dict(compressors=None, dtype="<f4", fill_value=1.5),
    "null-fill": dict(compressors=None, dtype="<f8", fill_value=None),
}


@pytest.mark.parametrize("separator", [".", "/"])
@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_arrays_of_zarr_python_read_and_written_by_wkpy(tmp_path, name, separator):
    kwargs = dict(FOREIGN[name])
    dtype = kwargs.pop("dtype", "<u2")
    fill = kwargs.pop("fill_value", 0)
    path = tmp_path / "a"
    theirs = zarr.create_array(store=path, shape=(2, 37, 30, 21), chunks=(2, 16, 8, 16), dtype=dtype,
                               zarr_format=2, fill_value=fill,
                               chunk_key_encoding={"name": "v2", "separator": separator}, **kwargs)
    data = random_volume((2, 37, 30, 21), np.dtype(dtype).newbyteorder("="))
    data[:, 16:32, 8:16] = 0
    theirs[:, :, :, :] = data
    theirs[:, 16:32, 8:16, :16] = fill if fill is not None else 0
    expected = theirs[:]
    ours = Zarr2Array.open(path)
    assert ours.info.chunk_shape == ours.info.shard_shape == (16, 8, 16)
    assert ours.info.compression == (kwargs["compressors"] is not None)
    got = ours.read((0, 0, 0), (37, 30, 21))
    assert got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, expected)
    beyond = ours.read((30, 0, 0), (16, 8, 8))[:, 7:]            # past the array's shape: the fill value
    assert np.all(beyond == (fill or 0))
    if name != "zstd-checksum":                                   # tensorstore does not know the flag
        store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}).result()
        np.testing.assert_array_equal(ours.read((0, 0, 0), (37, 30, 21)), store.read().result())
    patch = (random_volume((2, 20, 10, 5), got.dtype, seed=3) + 1).astype(got.dtype)
    ours.write((5, 3, 14), patch)                                 # unaligned: read-modify-write of chunks
    expected[:, 5:25, 3:13, 14:19] = patch
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[:], expected)
    assert json.loads((path / ".zarray").read_text())["compressor"] == \
        (None if kwargs["compressors"] is None else kwargs["compressors"].get_config())


def test_three_dimensional_arrays_and_registering_existing_files(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    data = random_volume((40, 30, 20), "uint8")
    for mag, part in (("1", data), ("2-2-1", data[::2, ::2])):
        array = zarr.create_array(store=tmp_path / "ds" / "color" / mag, shape=part.shape, chunks=(16, 16, 16),
                                  dtype="uint8", zarr_format=2, compressors=numcodecs.Blosc())
        array[:] = part
    layer = ds.add_layer_for_existing_files("color", "color")
    assert layer.data_format == "zarr" and sorted(m.to_layer_name() for m in layer.mags) == ["1", "2-2-1"]
    np.testing.assert_array_equal(layer.get_mag(1).read(absolute_offset=(0, 0, 0), size=(40, 30, 20))[0], data)
    np.testing.assert_array_equal(layer.get_mag("2-2-1").read(absolute_offset=(0, 0, 0), size=(40, 30, 20))[0],
                                  data[::2, ::2])
    layer.get_mag(1).write(np.full((1, 16, 16, 16), 5, np.uint8), absolute_offset=(32, 16, 0))
    got = zarr.open_array(tmp_path / "ds" / "color" / "1", mode="r")
    assert got.shape == (48, 32, 20) and np.all(got[32:48, 16:32, :16] == 5)


def test_create_array_refuses_what_zarr2_cannot_store(tmp_path):
    with pytest.raises(InvalidRequestError, match="no sharding"):
        create_array(tmp_path / "a", ArrayInfo("zarr", np.dtype("uint8"), 1, (32,) * 3, (64,) * 3, True))
    with pytest.raises(UnsupportedError):
        create_array(tmp_path / "b", ArrayInfo("zarr", np.dtype("complex64"), 1, (32,) * 3, (32,) * 3, True))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    array = create_array(tmp_path / "c", ArrayInfo("zarr", np.dtype("uint8"), 1, (8,) * 3, (8,) * 3, False))
    assert isinstance(open_array(tmp_path / "c", "zarr"), Zarr2Array) and array.info.data_format == "zarr"


# ---- hostile .zarray files -------------------------------------------------------------------

def _zarr_dataset(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("color", "color", data_format="zarr").add_mag(1, chunk_shape=8)
    mag.write(random_volume((1, 16, 16, 16), "uint8"), absolute_offset=(0, 0, 0))
    file = tmp_path / "ds" / "color" / "1" / ".zarray"
    return file, json.loads(file.read_text())


@pytest.mark.parametrize("field,value,error,message", [
    ("dtype", "<U5", UnsupportedError, "dtype"),
    ("dtype", "<c8", UnsupportedError, "dtype"),
    ("dtype", "\x00", UnsupportedError, "dtype"),
    ("dtype", "|u2", UnsupportedError, "dtype"),
    ("dtype", [["a", "<u1"]], UnsupportedError, "structured"),
    ("dtype", 5, PropertiesError, "dtype"),
    ("shape", [1, 2**63, 16, 16], PropertiesError, "shape"),
    ("shape", [99999999999, 16, 16, 16], PropertiesError, "channels"),
    ("shape", [1, 16.5, 16, 16], PropertiesError, "shape"),
    ("shape", "16", PropertiesError, "shape"),
    ("shape", [1, 16, 16], PropertiesError, "chunks"),
    ("shape", [1, 1, 16, 16, 16], UnsupportedError, "dimensions"),
    ("chunks", [1, 2**11, 2**11, 2**11], PropertiesError, "chunks"),
    ("chunks", [1, 2**40, 1, 1], PropertiesError, "chunks"),
    ("chunks", [1, 0, 8, 8], PropertiesError, "chunks"),
    ("chunks", [1, True, 8, 8], PropertiesError, "chunks"),
    ("zarr_format", "2", PropertiesError, "zarr_format"),
    ("zarr_format", 3, PropertiesError, "zarr_format"),
    ("order", "X", PropertiesError, "order"),
    ("compressor", {"id": "lz4"}, UnsupportedError, "compressor"),
    ("compressor", "zstd", PropertiesError, "compressor"),
    ("compressor", {"id": "zstd", "level": "5"}, PropertiesError, "compressor.level"),
    ("compressor", {"id": "blosc", "shuffle": 7}, PropertiesError, "compressor.shuffle"),
    ("compressor", {"id": "blosc", "cname": "snappy"}, UnsupportedError, "cname"),
    ("filters", [{"id": "delta", "dtype": "<u1"}], UnsupportedError, "filters"),
    ("filters", 5, PropertiesError, "filters"),
    ("dimension_separator", ":", PropertiesError, "dimension_separator"),
    ("fill_value", "x", PropertiesError, "fill_value"),
    ("fill_value", 2**70, PropertiesError, "fill_value"),
])
def test_hostile_zarray_fields_are_typed_errors(tmp_path, field, value, error, message):
    file, doc = _zarr_dataset(tmp_path)
    doc[field] = value
    with pytest.raises(error) as info:
        parse_zarray_doc(file, doc)
    assert str(file) in str(info.value) and message in str(info.value)
    file.write_text(json.dumps(doc))
    with pytest.raises(error) as info:
        wk.Dataset.open(file.parents[2]).get_layer("color").get_mag(1).read(absolute_offset=(0, 0, 0),
                                                                             size=(8, 8, 8))
    assert str(file) in str(info.value)


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '{"a": ' * 5000 + "1" + "}" * 5000, "\xff"])
def test_unreadable_zarray_files_are_properties_errors(tmp_path, text):
    file, _ = _zarr_dataset(tmp_path)
    file.write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff" else b"\xff\xfe")
    with pytest.raises(PropertiesError) as info:
        parse_zarray(file)
    assert str(file) in str(info.value)


def test_missing_or_special_zarray_is_a_properties_error(tmp_path):
    file, _ = _zarr_dataset(tmp_path)
    file.unlink()
    with pytest.raises(PropertiesError, match="missing"):
        wk.Dataset.open(file.parents[2]).get_layer("color").get_mag(1).read()
    os.mkfifo(file)                                   # must not hang on open
    with pytest.raises(WkError) as info:
        wk.Dataset.open(file.parents[2]).get_layer("color").get_mag(1).read()
    assert str(file) in str(info.value)


def test_zarray_contradicting_the_properties_is_refused(tmp_path):
    file, doc = _zarr_dataset(tmp_path)
    doc["dtype"], doc["fill_value"] = "<u2", 0
    file.write_text(json.dumps(doc))
    with pytest.raises(PropertiesError, match="voxel type"):
        wk.Dataset.open(file.parents[2]).get_layer("color").get_mag(1).read()
    doc["dtype"], doc["shape"], doc["chunks"] = "|u1", [3, 16, 16, 16], [3, 8, 8, 8]
    file.write_text(json.dumps(doc))
    with pytest.raises(PropertiesError, match="number of channels") as info:
        wk.Dataset.open(file.parents[2]).get_layer("color").get_mag(1).read()
    assert ".zarray" in str(info.value)


def test_damaged_chunks_are_corrupt_file_errors_and_get_replaced(tmp_path):
    file, _ = _zarr_dataset(tmp_path)
    chunk = file.parent / "0" / "0" / "0" / "0"
    chunk.write_bytes(b"\x28\xb5\x2f\xfd garbage")
    mag = wk.Dataset.open(file.parents[2]).get_layer("color").get_mag(1)
    with pytest.raises(wk.errors.CorruptFileError) as info:
        mag.read(absolute_offset=(0, 0, 0), size=(8, 8, 8))
    assert "0/0/0/0" in str(info.value)
    mag.write(np.full((1, 8, 8, 8), 3, np.uint8), absolute_offset=(0, 0, 0))   # covers the whole chunk
    assert np.all(mag.read(absolute_offset=(0, 0, 0), size=(8, 8, 8)) == 3)
