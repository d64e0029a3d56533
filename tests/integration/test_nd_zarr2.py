"""n-d layers in Zarr v2 (``dataFormat: "zarr"`` with ``additionalAxes``), as webknossos 4.3.3
writes them: the `.zarray` has no axis names, the layer's ``axisOrder`` and
``additionalAxes`` name its axes (e.g. x, y, z, t without a channel axis)."""

import json
import warnings

import numpy as np
import pytest
import webknossos
import zarr

import wkpy as wk
from wkpy.errors import PropertiesError, UnsupportedError

DATA = np.arange(20 * 30 * 10 * 3, dtype=np.uint16).reshape(20, 30, 10, 3)   # x, y, z, t


def _write(lib, path):
    """The same calls on either library: an (x, y, z, t) layer with mags 1 and 2."""
    box = lib.NDBoundingBox((5, 0, 3, 1), (20, 30, 10, 3), axes=("x", "y", "z", "t"), index=(0, 1, 2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = lib.Dataset(path, voxel_size=(1, 1, 1)).add_layer("color", "color", dtype="uint16",
                                                                  data_format="zarr", bounding_box=box)
        layer.add_mag(1, chunk_shape=16, shard_shape=16).write(DATA, absolute_bounding_box=layer.bounding_box)
        layer.add_mag(2, chunk_shape=16, shard_shape=16)


def _zarray(path, mag):
    doc = json.loads((path / "color" / mag / ".zarray").read_text())
    doc.pop("shape")  # webknossos 4.3.3 leaves z unrounded there; wkpy grows it by whole chunks
    return doc


def test_nd_zarr_layers_match_webknossos_both_ways(tmp_path):
    _write(wk, tmp_path / "ours")
    _write(webknossos, tmp_path / "theirs")
    ours, theirs = (json.loads((tmp_path / d / "datasource-properties.json").read_text()) for d in ("ours", "theirs"))
    assert ours["dataLayers"] == theirs["dataLayers"]
    for mag in ("1", "2"):
        assert _zarray(tmp_path / "ours", mag) == _zarray(tmp_path / "theirs", mag)
    for reader, folder in ((wk, "theirs"), (webknossos, "ours"), (wk, "ours")):
        layer = reader.Dataset.open(tmp_path / folder).get_layer("color")
        assert np.array_equal(layer.get_mag(1).read(absolute_bounding_box=layer.bounding_box), DATA)
    shape = json.loads((tmp_path / "ours" / "color" / "1" / ".zarray").read_text())["shape"]
    assert shape[0] >= 25 and shape[1] >= 30 and shape[2] >= 13 and shape[3] == 4  # covers the box
    assert np.array_equal(zarr.open_array(tmp_path / "ours" / "color" / "1", mode="r")[5:25, 0:30, 3:13, 1:4], DATA)


def test_nd_layers_copy_into_zarr(tmp_path):
    _write(wk, tmp_path / "src")
    copied = wk.Dataset.open(tmp_path / "src").copy_dataset(tmp_path / "copy", data_format="zarr")
    layer = copied.get_layer("color")
    assert [a.name for a in layer._properties.additional_axes] == ["t"]
    assert np.array_equal(layer.get_mag(1).read(absolute_bounding_box=layer.bounding_box), DATA)


@pytest.mark.parametrize("change,error,words", [
    (lambda d: d.update(shape=[32, 32, 16, 4, 1], chunks=[16, 16, 16, 1, 1]), UnsupportedError, "5 dimensions"),
    (lambda d: d.update(chunks=[16, 16, 16]), PropertiesError, "chunks"),
    (lambda d: d.update(chunks=[2**20, 2**20, 16, 1]), PropertiesError, "bytes, more than"),
])
def test_hostile_nd_zarray_raises_typed_errors_naming_the_file(tmp_path, change, error, words):
    _write(wk, tmp_path / "ds")
    file = tmp_path / "ds" / "color" / "1" / ".zarray"
    doc = json.loads(file.read_text())
    change(doc)
    file.write_text(json.dumps(doc))
    with pytest.raises(error, match=words) as info:
        wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1).read()
    assert str(file) in str(info.value)
