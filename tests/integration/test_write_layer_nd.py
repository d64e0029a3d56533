"""`Dataset.write_layer` with `axes` (n-d data) and with fewer than three dimensions, next to
webknossos 4.3.3."""

import json
import warnings

import numpy as np
import pytest
import webknossos

import wkpy as wk
from peers import raised

DATA = (np.arange(3 * 2 * 20 * 16 * 8) % 251).astype(np.uint8).reshape(3, 2, 20, 16, 8)   # c, t, x, y, z


def _write(lib, path, offset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lib.Dataset(path, voxel_size=(1, 1, 1)).write_layer(
            "color", "color", data=DATA, data_format="zarr3", axes=("c", "t", "x", "y", "z"), chunk_shape=8,
            shard_shape=16, absolute_offset=offset, downsample=False)


@pytest.mark.parametrize("offset", [None, (0, 3, 12, 12, 12)])
def test_write_layer_with_axes_matches_webknossos(tmp_path, offset):
    ours, theirs = _write(wk, tmp_path / "ours", offset), _write(webknossos, tmp_path / "theirs", offset)
    assert tuple(ours.bounding_box.topleft) == tuple(theirs.bounding_box.topleft) == (offset or (0,) * 5)
    assert tuple(ours.bounding_box.size) == tuple(theirs.bounding_box.size) == DATA.shape
    docs = [{name: json.loads((tmp_path / side / name).read_text())
             for name in ("datasource-properties.json", "color/1/zarr.json")} for side in ("ours", "theirs")]
    for doc in docs:
        doc["datasource-properties.json"].pop("id")   # named after the folders
    assert docs[0] == docs[1]
    for layer in (ours, theirs):
        np.testing.assert_array_equal(layer.get_mag(1).read(), DATA)
    # an offset of another length is refused by both
    bad = (lambda lib, name: lambda: lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1)).write_layer(
        "c", "color", data=DATA, data_format="zarr3", axes=("c", "t", "x", "y", "z"), absolute_offset=(1, 2, 3),
        downsample=False))
    assert raised(bad(webknossos, "b1")) <= raised(bad(wk, "b2"))


def test_write_layer_pads_data_of_fewer_than_three_dimensions(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    for name, data in (("one", np.arange(5, dtype=np.uint8)), ("two", np.ones((5, 6), np.uint8))):
        layer = ds.write_layer(name, "color", data=data, downsample=False)
        assert tuple(layer.bounding_box.size) == (*data.shape, 1, 1)[:3]
        np.testing.assert_array_equal(layer.get_mag(1).read()[0].reshape(data.shape), data)
