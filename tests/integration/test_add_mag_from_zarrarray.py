"""`Layer.add_mag_from_zarrarray`: a Zarr v3 array made by tensorstore copied (or moved)
into a layer as a mag, checked against webknossos 4.3.3 (same JSON, same files, same
voxels) where webknossos gets that far."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import webknossos

import wkpy as wk
from conftest import tree_state
from wkpy.errors import DataMismatchError, DuplicateError, InvalidRequestError, OperationError, ReadOnlyError

ts = pytest.importorskip("tensorstore")


def _array(path, shape, *, chunk=None, seed=0, dtype="uint8"):
    """A Zarr v3 array written by tensorstore: unsharded, blosc-compressed, "." keys."""
    data = np.random.default_rng(seed).integers(1, 200, size=shape).astype(dtype)
    arr = ts.open({
        "driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}, "create": True,
        "metadata": {"data_type": dtype, "shape": list(shape), "fill_value": 0,
                     "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunk or shape)}},
                     "chunk_key_encoding": {"name": "default", "configuration": {"separator": "."}},
                     "codecs": ["bytes", {"name": "blosc", "configuration": {
                         "cname": "zstd", "clevel": 5, "shuffle": "shuffle", "typesize": 1}}]}}).result()
    arr[...].write(data).result()
    return data


def _layers(tmp_path, box=None, **kwargs):
    out = []
    for lib, name in ((wk, "ours"), (webknossos, "theirs")):
        ds = lib.Dataset(tmp_path / name, voxel_size=(10, 10, 10))
        if box is not None:
            kwargs["bounding_box"] = lib.BoundingBox(*box)
        out.append(ds.add_layer("color", "color", data_format="zarr3", **kwargs))
    return out


def _layer_json(root):
    return json.loads((root / "datasource-properties.json").read_text())["dataLayers"]


@pytest.mark.parametrize("shape,channels", [((3, 16, 16, 24), 3), ((16, 16, 16), 1)])
def test_a_copied_array_equals_webknossos(tmp_path, shape, channels):
    data = _array(tmp_path / "src.zarr", shape, chunk=(shape[0], 8, 8, 8) if len(shape) == 4 else (8, 8, 8))
    before = tree_state(tmp_path / "src.zarr")
    ours, theirs = _layers(tmp_path, ((0, 0, 0), (16, 16, 16)), num_channels=channels)
    got = ours.add_mag_from_zarrarray("1", tmp_path / "src.zarr", extend_layer_bounding_box=False)
    theirs.add_mag_from_zarrarray("1", tmp_path / "src.zarr", extend_layer_bounding_box=False)
    assert _layer_json(tmp_path / "ours") == _layer_json(tmp_path / "theirs")
    assert tree_state(tmp_path / "ours" / "color" / "1") == tree_state(tmp_path / "theirs" / "color" / "1")
    assert tree_state(tmp_path / "src.zarr") == before                      # the source stays as it was
    cxyz = data if len(shape) == 4 else data[np.newaxis]
    np.testing.assert_array_equal(got.read(absolute_offset=(0, 0, 0), size=shape[-3:]), cxyz)
    reopened = wk.Dataset.open(tmp_path / "ours").get_layer("color").get_mag(1)
    np.testing.assert_array_equal(reopened.read(absolute_offset=(0, 0, 0), size=shape[-3:]), cxyz)
    got.write(np.zeros((channels, 8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))    # a mag of its own
    assert tree_state(tmp_path / "src.zarr") == before


def test_the_box_grows_to_the_arrays_extent_in_mag_1(tmp_path):
    _array(tmp_path / "a2", (1, 20, 16, 8), seed=1)
    _array(tmp_path / "a1", (1, 24, 8, 8), seed=2)
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format="zarr3", bounding_box=wk.BoundingBox((4, 0, 0), (16, 16, 16)))
    layer.add_mag_from_zarrarray(2, tmp_path / "a2")
    assert layer.bounding_box == wk.BoundingBox((4, 0, 0), (40, 32, 16))     # the top-left stays
    layer.add_mag_from_zarrarray(1, tmp_path / "a1")
    assert layer.bounding_box == wk.BoundingBox((4, 0, 0), (40, 32, 16))
    shape = json.loads((tmp_path / "ds" / "color" / "1" / "zarr.json").read_text())["shape"]
    assert shape[1:] >= [44, 32, 16]                                         # zarr.json follows the box
    assert wk.Dataset.open(tmp_path / "ds").get_layer("color").bounding_box == layer.bounding_box


def test_a_fresh_layer_takes_the_arrays_voxel_type(tmp_path):
    """What webknossos-libs' add_existing_zarr_array example does: a 3-channel array into
    a layer made with the defaults (webknossos 4.3.3 fails there at the box update)."""
    data = _array(tmp_path / "rgb", (3, 24, 24, 24))
    ours, theirs = _layers(tmp_path)
    got = ours.add_mag_from_zarrarray(1, tmp_path / "rgb")
    assert (ours.num_channels, ours.dtype, ours.bounding_box) == (3, np.dtype("uint8"),
                                                                  wk.BoundingBox((0, 0, 0), (24, 24, 24)))
    np.testing.assert_array_equal(got.read(), data)
    with pytest.raises(ValueError):
        theirs.add_mag_from_zarrarray(1, tmp_path / "rgb")


def test_relative_paths_are_taken_from_the_dataset_folder(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    data = _array(tmp_path / "ds" / "incoming", (1, 8, 8, 8))
    layer = ds.add_layer("color", "color", data_format="zarr3")
    np.testing.assert_array_equal(layer.add_mag_from_zarrarray(1, "incoming").read(), data)


def test_move_takes_the_folder_along(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    data = _array(tmp_path / "src", (1, 8, 8, 8))
    layer = ds.add_layer("color", "color", data_format="zarr3")
    inode = os.stat(tmp_path / "src").st_ino
    got = layer.add_mag_from_zarrarray(1, tmp_path / "src", move=True)
    assert not (tmp_path / "src").exists()
    assert os.stat(tmp_path / "ds" / "color" / "1").st_ino == inode          # renamed, not copied
    np.testing.assert_array_equal(got.read(), data)


def test_move_across_file_systems_copies_then_deletes(tmp_path):
    other = "/dev/shm"
    if not os.path.isdir(other) or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system to move from")
    src = os.path.join(other, f"wkpy-test-{os.getpid()}-{tmp_path.name}")
    try:
        data = _array(src, (1, 8, 8, 8))
        layer = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1)).add_layer("color", "color", data_format="zarr3")
        np.testing.assert_array_equal(layer.add_mag_from_zarrarray(1, src, move=True).read(), data)
        assert not os.path.exists(src)
    finally:
        shutil.rmtree(src, ignore_errors=True)


def test_bad_arrays_and_layers_raise_typed_errors_and_change_nothing(tmp_path):
    _array(tmp_path / "u16", (1, 8, 8, 8), dtype="uint16")
    _array(tmp_path / "u8", (1, 8, 8, 8))
    (tmp_path / "empty").mkdir()
    ours, theirs = _layers(tmp_path, ((0, 0, 0), (8, 8, 8)))
    ours.add_mag(1)
    with pytest.raises(ValueError):                                          # as webknossos
        theirs.add_mag_from_zarrarray(2, tmp_path / "empty")
    before = tree_state(tmp_path / "ours")
    with pytest.raises(InvalidRequestError, match="Zarr v3 array") as info:
        ours.add_mag_from_zarrarray(2, tmp_path / "empty")
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidRequestError):
        ours.add_mag_from_zarrarray(2, tmp_path / "missing")
    with pytest.raises(DataMismatchError, match="uint16"):
        ours.add_mag_from_zarrarray(2, tmp_path / "u16")
    with pytest.raises(DuplicateError):
        ours.add_mag_from_zarrarray(1, tmp_path / "u8")
    assert tree_state(tmp_path / "ours") == before
    wkw = ours.dataset.add_layer("w", "color", data_format="wkw")
    before = tree_state(tmp_path / "ours")
    with pytest.raises(DataMismatchError, match="zarr3"):
        wkw.add_mag_from_zarrarray(1, tmp_path / "u8")
    os.mkfifo(tmp_path / "u8" / "fifo")                 # a copy that fails half way
    with pytest.raises(OperationError, match="copying"):
        ours.add_mag_from_zarrarray(2, tmp_path / "u8")
    assert tree_state(tmp_path / "ours") == before and 2 not in [m.x for m in ours.mags]
    read_only = wk.Dataset.open(tmp_path / "ours", read_only=True).get_layer("color")
    with pytest.raises(ReadOnlyError):
        read_only.add_mag_from_zarrarray(2, tmp_path / "u8")
