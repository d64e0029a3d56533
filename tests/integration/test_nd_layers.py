"""n-d layers (additional axes besides c, x, y, z) as webknossos 4.3.3 stores them.

Reference layers are written by webknossos itself (small shards: 8³ chunks in 16³ shards);
wkpy reads them through its storage API, whose boxes run along (x, y, z, additional axes in
the array's order) and whose arrays are (c, x, y, z, additional axes).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import tensorstore
import webknossos
import zarr

import wkpy as wk
from wkpy.errors import InvalidRequestError, PropertiesError, UnsupportedError
from wkpy.storage import ArrayInfo, Zarr3Array
from wkpy.storage.wkw import WkwArray

# (axes in array order, topleft, size, channels): t first, t last, c before t, two extra axes
LAYOUTS = {
    "txyz": (("t", "x", "y", "z"), (2, 0, 0, 0), (3, 20, 30, 10), 1),
    "xyzt": (("x", "y", "z", "t"), (5, 0, 3, 1), (20, 30, 10, 3), 1),
    "ctxyz": (("c", "t", "x", "y", "z"), (0, 1, 0, 0, 0), (2, 2, 20, 17, 10), 2),
    "tsxyz": (("t", "s", "x", "y", "z"), (1, 0, 0, 0, 0), (2, 2, 20, 30, 9), 1),
}


def _webknossos_layer(path, layout):
    axes, topleft, size, channels = LAYOUTS[layout]
    ds = webknossos.Dataset(path, voxel_size=(1, 1, 1))
    box = webknossos.NDBoundingBox(topleft=topleft, size=size, axes=axes, index=tuple(range(len(axes))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = ds.add_layer("color", webknossos.COLOR_CATEGORY, dtype_per_channel="uint16",
                             num_channels=channels, data_format="zarr3", bounding_box=box)
        mag = layer.add_mag(1, chunk_shape=8, shard_shape=16)
        data = (np.random.default_rng(len(layout)).integers(1, 60000, size)).astype(np.uint16)
        mag.write(data, absolute_bounding_box=layer.bounding_box)
    return data


def _read_like_webknossos(array, layout):
    """wkpy's storage read of the layer's box, in the axis order webknossos reads it."""
    axes, topleft, size, _ = LAYOUTS[layout]
    at, n = dict(zip(axes, topleft)), dict(zip(axes, size))
    canon = ("x", "y", "z", *array.info.extra_axes)
    got = array.read(tuple(at[a] for a in canon), tuple(n[a] for a in canon))
    names = ("c", *canon)
    if "c" not in axes:
        got, names = got[0], canon
    return np.transpose(got, [names.index(a) for a in axes])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_webknossos_nd_layers_read_identically(tmp_path, layout):
    data = _webknossos_layer(tmp_path / "ds", layout)
    axes = LAYOUTS[layout][0]
    file = tmp_path / "ds" / "datasource-properties.json"
    before = file.read_text()
    ds = wk.Dataset.open(tmp_path / "ds")
    layer = ds.get_layer("color")
    props = layer._properties
    assert props.array_axes == axes
    assert [a.name for a in props.additional_axes] == [a for a in axes if a not in "cxyz"]
    assert ds._properties.to_json_text() == before      # written back exactly as webknossos wrote it
    array = layer.get_mag(1)._array
    assert array.info.axes == axes and array.info.num_channels == LAYOUTS[layout][3]
    assert np.array_equal(_read_like_webknossos(array, layout), data)
    ds.default_view_configuration = {"zoom": 2.0}        # a properties change rewrites the file
    after = json.loads(file.read_text())["dataLayers"][0]
    assert after == json.loads(before)["dataLayers"][0]


@pytest.mark.parametrize("layout", ["txyz", "ctxyz"])
def test_add_mag_of_an_nd_layer_writes_what_webknossos_writes(tmp_path, layout):
    _webknossos_layer(tmp_path / "theirs", layout)
    _webknossos_layer(tmp_path / "ours", layout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        webknossos.Dataset.open(tmp_path / "theirs").get_layer("color").add_mag(2, chunk_shape=8, shard_shape=16)
    wk.Dataset.open(tmp_path / "ours").get_layer("color").add_mag(2, chunk_shape=8, shard_shape=16)
    name = "color/2/zarr.json"
    assert (tmp_path / "ours" / name).read_text() == (tmp_path / "theirs" / name).read_text()
    ours, theirs = (json.loads((tmp_path / d / "datasource-properties.json").read_text()) for d in ("ours", "theirs"))
    assert ours["dataLayers"] == theirs["dataLayers"]


@pytest.mark.parametrize("axes,channels", [(("c", "t", "x", "y", "z"), 2), (("x", "y", "z", "t"), 1),
                                           (("t", "s", "x", "c", "y", "z"), 3)])
def test_wkpy_nd_arrays_read_by_zarr_python_and_tensorstore(tmp_path, axes, channels):
    info = ArrayInfo("zarr3", np.dtype("uint16"), channels, (8, 8, 8), (16, 16, 16), True, axes=axes)
    array = Zarr3Array.create(tmp_path / "a", info)
    extra = array.info.extra_axes
    rng = np.random.default_rng(0)
    model = np.zeros((channels, 40, 24, 20, *(4 for _ in extra)), np.uint16)
    for offset, size in (((3, 0, 5, *(1 for _ in extra)), (30, 20, 9, *(2 for _ in extra))),
                         ((10, 4, 0, *(0 for _ in extra)), (5, 20, 20, *(4 for _ in extra)))):
        block = rng.integers(1, 9999, (channels, *size)).astype(np.uint16)
        array.write(offset, block)
        model[(slice(None), *(slice(o, o + n) for o, n in zip(offset, size)))] = block
    got = Zarr3Array.open(tmp_path / "a").read((0,) * (3 + len(extra)), model.shape[1:])
    assert np.array_equal(got, model)
    names = ("c", "x", "y", "z", *extra)
    if "c" in axes:
        expected = np.transpose(model, [names.index(a) for a in axes])
    else:
        expected = np.transpose(model[0], [names[1:].index(a) for a in axes])
    z = zarr.open_array(tmp_path / "a", mode="r")
    assert tuple(z.metadata.dimension_names) == axes
    assert np.array_equal(z[tuple(slice(0, n) for n in expected.shape)], expected)
    t = tensorstore.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "a")}}).result()
    assert tuple(t.domain.labels) == axes
    assert np.array_equal(t[tuple(slice(0, n) for n in expected.shape)].read().result(), expected)


def test_nd_boxes_need_an_offset_per_axis(tmp_path):
    info = ArrayInfo("zarr3", np.dtype("uint8"), 1, (8, 8, 8), (16, 16, 16), True, axes=("t", "x", "y", "z"))
    array = Zarr3Array.create(tmp_path / "a", info)
    with pytest.raises(InvalidRequestError, match=r"4 offsets and sizes \(x, y, z, t\)"):
        array.read((0, 0, 0), (4, 4, 4))
    with pytest.raises(wk.errors.DataMismatchError, match="x, y, z, t"):
        array.write((0, 0, 0), np.zeros((1, 4, 4, 4), np.uint8))
    with pytest.raises(wk.errors.DataMismatchError, match="no c axis"):
        Zarr3Array.create(tmp_path / "b", ArrayInfo("zarr3", np.dtype("uint8"), 2, (8,) * 3, (16,) * 3, True,
                                                    axes=("t", "x", "y", "z")))


def test_copies_references_and_links_keep_the_axes_and_voxels(tmp_path):
    data = _webknossos_layer(tmp_path / "src", "ctxyz")
    source = wk.Dataset.open(tmp_path / "src")
    layer = source.get_layer("color")
    with warnings.catch_warnings():      # webknossos' warning about 2 channels of uint16
        warnings.simplefilter("ignore")
        copied = source.copy_dataset(tmp_path / "copy", chunk_shape=8, shard_shape=16)
        other = wk.Dataset(tmp_path / "other", voxel_size=(1, 1, 1))
        made = [copied.get_layer("color"), other.add_layer_as_ref(layer, "ref"),
                other.add_symlink_layer(layer, "link"), other.add_copy_layer(layer, "copy2"),
                other.add_layer_like(layer, "like")]
    for new in made:
        assert new._properties.additional_axes == layer._properties.additional_axes
        assert new._properties.axis_order == {"c": 0, "x": 2, "y": 3, "z": 4}
    for new in made[:4]:
        assert np.array_equal(_read_like_webknossos(new.get_mag(1)._array, "ctxyz"), data)
    theirs = webknossos.Dataset.open(tmp_path / "copy").get_layer("color")     # webknossos reads the copy
    assert np.array_equal(theirs.get_mag(1).read(absolute_bounding_box=theirs.bounding_box), data)
    box = json.loads((tmp_path / "src" / "datasource-properties.json").read_text())["dataLayers"][0]
    for name in ("additionalAxes", "boundingBox"):
        assert json.loads((tmp_path / "copy" / "datasource-properties.json").read_text())["dataLayers"][0][name] == box[name]


def test_wkw_refuses_additional_axes(tmp_path):
    _webknossos_layer(tmp_path / "src", "txyz")
    source = wk.Dataset.open(tmp_path / "src")
    with pytest.raises(UnsupportedError, match="additional axes"):
        source.copy_dataset(tmp_path / "copy", data_format="wkw")
    with pytest.raises(UnsupportedError, match="WKW"):
        WkwArray.create(tmp_path / "w", ArrayInfo("wkw", np.dtype("uint8"), 1, (32,) * 3, (32,) * 3, True,
                                                  axes=("t", "x", "y", "z")))
    target = wk.Dataset(tmp_path / "w3", voxel_size=(1, 1, 1))
    wkw_layer = target.add_layer("w", "color", data_format="wkw")
    wkw_layer.add_mag(1)
    file = tmp_path / "w3" / "datasource-properties.json"
    doc = json.loads(file.read_text())
    doc["dataLayers"][0]["additionalAxes"] = [{"name": "t", "bounds": [0, 2], "index": 4}]
    file.write_text(json.dumps(doc))
    with pytest.raises(UnsupportedError, match="additional axes"):
        wk.Dataset.open(tmp_path / "w3").get_layer("w").get_mag(1)._array


# ---- hostile zarr.json ------------------------------------------------------------------------

def _nd_mag(tmp_path):
    _webknossos_layer(tmp_path / "ds", "txyz")
    return tmp_path / "ds" / "color" / "1"


@pytest.mark.parametrize("rank", [9, 64, 100_000])
def test_zarr_json_with_many_axes_is_unsupported(tmp_path, rank):
    mag = _nd_mag(tmp_path)
    doc = json.loads((mag / "zarr.json").read_text())
    doc["shape"] = [1] * rank
    doc["dimension_names"] = ["x", "y", "z", *(f"a{i}" for i in range(rank - 3))]
    doc["chunk_grid"]["configuration"]["chunk_shape"] = [1] * rank
    doc["codecs"][0]["configuration"]["chunk_shape"] = [1] * rank
    (mag / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(UnsupportedError, match=f"{rank} dimensions") as info:
        Zarr3Array.open(mag)
    assert str(mag / "zarr.json") in str(info.value)


@pytest.mark.parametrize("change,error,words", [
    (lambda d: d.__setitem__("shape", [2**63, 32, 32, 16]), PropertiesError, "shape"),
    (lambda d: d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [2**31 + 1, 16, 16, 16]),
     PropertiesError, "chunk_shape"),
    (lambda d: (d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [2**20, 16, 16, 16]),
                d["codecs"][0]["configuration"].__setitem__("chunk_shape", [1, 1, 1, 1])),
     PropertiesError, "chunks, more than"),
    (lambda d: (d["chunk_grid"]["configuration"].__setitem__("chunk_shape", [2**20, 256, 256, 256]),
                d["codecs"][0]["configuration"].__setitem__("chunk_shape", [2**20, 256, 256, 256])),
     PropertiesError, "bytes, more than"),
    (lambda d: d.__setitem__("dimension_names", ["t", "x", "y", "t"]), PropertiesError, "twice"),
    (lambda d: d.__setitem__("dimension_names", ["t" * 10_000, "x", "y", "z"]), PropertiesError, "dimension_names"),
    (lambda d: d.__setitem__("dimension_names", "txyz"), PropertiesError, "dimension_names"),
])
def test_hostile_nd_zarr_json_raises_typed_errors(tmp_path, change, error, words):
    mag = _nd_mag(tmp_path)
    doc = json.loads((mag / "zarr.json").read_text())
    change(doc)
    (mag / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(error, match=words) as info:
        Zarr3Array.open(mag)
    assert str(mag / "zarr.json") in str(info.value)


def test_the_layers_axes_name_the_arrays_axes_over_dimension_names(tmp_path):
    data = _webknossos_layer(tmp_path / "ds", "txyz")
    mag = tmp_path / "ds" / "color" / "1"
    doc = json.loads((mag / "zarr.json").read_text())
    doc["dimension_names"] = ["time", "a", "b", "d"]      # as webknossos, axisOrder and additionalAxes win
    (mag / "zarr.json").write_text(json.dumps(doc))
    array = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)._array
    assert array.info.axes == ("t", "x", "y", "z")
    assert np.array_equal(_read_like_webknossos(array, "txyz"), data)
    with pytest.raises(UnsupportedError, match="lack x, y or z"):
        Zarr3Array.open(mag)


@pytest.mark.parametrize("topleft,size,axes", [
    ((-2, 0, 0, 0), (3, 8, 8, 8), ("t", "x", "y", "z")),        # t below 0
    ((0, 0, 0, 0), (0, 8, 8, 8), ("t", "x", "y", "z")),         # empty along t
    ((0, 0, 0, 0), (2, 8, 8, 8), ("channel", "x", "y", "z")),   # "channel" is c in zarr.json
])
def test_boxes_whose_additional_axes_the_properties_cannot_hold_are_refused(tmp_path, topleft, size, axes):
    # webknossos 4.3.3 writes these layers; wkpy refuses them up front instead of writing a
    # datasource-properties.json it then refuses to open
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    with pytest.raises(InvalidRequestError, match="additionalAxes"):
        ds.add_layer("bad", "color", dtype="uint8", data_format="zarr3",
                     bounding_box=wk.NDBoundingBox(topleft, size, axes, (0, 1, 2, 3)))
    layer = ds.add_layer("good", "color", dtype="uint8", data_format="zarr3",
                         bounding_box=wk.NDBoundingBox((0, 0, 0, 0), (2, 8, 8, 8), ("t", "x", "y", "z"), (0, 1, 2, 3)))
    if axes[0] == "t":
        with pytest.raises(InvalidRequestError, match="additionalAxes"):
            layer.bounding_box = wk.NDBoundingBox(topleft, size, axes, (0, 1, 2, 3))
    assert list(wk.Dataset.open(tmp_path / "ds").layers) == ["good"]
    assert wk.Dataset.open(tmp_path / "ds").get_layer("good").bounding_box.get_bounds("t") == (0, 2)
