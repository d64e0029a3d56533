"""Views of n-d layers: boxes over the layer's axes and data in their order, cross-checked
with webknossos 4.3.3 (same calls, same boxes, same voxels, same files).

Layers are small (8³ chunks in 16³ shards) so that webknossos' writes stay cheap.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import webknossos

import wkpy as wk
from wkpy.errors import DataMismatchError, InvalidRequestError

# (axes in array order, topleft, size, channels): t first, t last, c before t, two extra axes
LAYOUTS = {
    "txyz": (("t", "x", "y", "z"), (2, 0, 0, 0), (3, 20, 30, 10), 1),
    "xyzt": (("x", "y", "z", "t"), (5, 0, 3, 1), (20, 30, 10, 3), 1),
    "ctxyz": (("c", "t", "x", "y", "z"), (0, 1, 0, 0, 0), (2, 2, 20, 17, 10), 2),
    "tsxyz": (("t", "s", "x", "y", "z"), (1, 0, 0, 0, 0), (2, 2, 20, 30, 9), 1),
}


def _box(lib, layout):
    axes, topleft, size, _ = LAYOUTS[layout]
    return lib.NDBoundingBox(topleft=topleft, size=size, axes=axes, index=tuple(range(len(axes))))


def _data(layout, seed=0):
    size = LAYOUTS[layout][2]
    return np.random.default_rng(seed + len(layout)).integers(1, 60000, size).astype(np.uint16)


def _layer(lib, path, layout, write=True):
    """The same n-d layer made by webknossos or wkpy through the same calls."""
    channels = LAYOUTS[layout][3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lib.Dataset(path, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", lib.COLOR_CATEGORY, dtype_per_channel="uint16", num_channels=channels,
                             data_format="zarr3", bounding_box=_box(lib, layout))
        mag = layer.add_mag(1, chunk_shape=8, shard_shape=16)
        if write:
            mag.write(_data(layout), absolute_bounding_box=layer.bounding_box)
    return layer, mag


def _same_box(ours, theirs):
    assert type(ours).__name__ == type(theirs).__name__
    assert repr(ours) == repr(theirs)
    assert tuple(ours.topleft) == tuple(theirs.topleft) and tuple(ours.size) == tuple(theirs.size)
    assert ours.axes == theirs.axes and tuple(ours.index) == tuple(theirs.index)


def _quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layers_written_by_both_are_identical(tmp_path, layout):
    theirs, _ = _layer(webknossos, tmp_path / "theirs", layout)
    ours, _ = _layer(wk, tmp_path / "ours", layout)
    _same_box(ours.bounding_box, theirs.bounding_box)
    _same_box(ours.normalized_bounding_box, theirs.normalized_bounding_box)
    _same_box(ours.get_mag(1).bounding_box, theirs.get_mag(1).bounding_box)
    props = [json.loads((tmp_path / d / "datasource-properties.json").read_text())["dataLayers"] for d in
             ("ours", "theirs")]
    assert props[0] == props[1]
    assert (tmp_path / "ours/color/1/zarr.json").read_bytes() == (tmp_path / "theirs/color/1/zarr.json").read_bytes()
    # each reads the other's voxels, in the layer's axis order
    cross = [_quiet(webknossos.Dataset.open, tmp_path / "ours").get_layer("color").get_mag(1).read(),
             wk.Dataset.open(tmp_path / "theirs").get_layer("color").get_mag(1).read()]
    for got in cross:
        assert got.shape == LAYOUTS[layout][2]
        assert np.array_equal(got, _data(layout))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reads_and_views_match_webknossos(tmp_path, layout):
    _layer(webknossos, tmp_path / "ds", layout)
    theirs = _quiet(webknossos.Dataset.open, tmp_path / "ds").get_layer("color").get_mag(1)
    ours = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    box = ours.bounding_box
    one = box                                                 # one position along each additional axis
    for extra in (a for a in box.axes if a not in "cxyz"):
        one = one.with_bounds(extra, box.get_bounds(extra)[1] - 1, 1)
    inner = box.with_topleft_xyz(box.topleft_xyz + (2, 3, 1)).with_size_xyz((9, 8, 7))
    calls = [
        ("read", {}),
        ("read", {"absolute_offset": tuple(box.topleft_xyz), "size": (4, 5, 6)}),
        ("read", {"relative_offset": (1, 2, 3), "size": (7, 8, 5)}),
        ("read", {"absolute_bounding_box": one}),
        ("read", {"absolute_bounding_box": inner}),
        ("read_cxyz", {"absolute_bounding_box": one}),
    ]
    if "c" in box.axes:                                       # webknossos 4.3.3 drops the channel axis wrongly otherwise
        calls.append(("read_xyz", {"absolute_bounding_box": one}))
    for name, kwargs in calls:
        to_them = {k: (v.__class__.__name__ == "NDBoundingBox" and webknossos.NDBoundingBox(
            tuple(v.topleft), tuple(v.size), v.axes, tuple(v.index))) or v for k, v in kwargs.items()}
        want = _quiet(getattr(theirs, name), **to_them)
        got = getattr(ours, name)(**kwargs)
        assert got.shape == want.shape, (name, kwargs)
        assert np.array_equal(got, want), (name, kwargs)
    for kwargs in ({"absolute_offset": tuple(box.topleft_xyz), "size": (8, 8, 8)}, {"absolute_bounding_box": one}):
        to_them = {k: webknossos.NDBoundingBox(tuple(v.topleft), tuple(v.size), v.axes, tuple(v.index))
                   if k == "absolute_bounding_box" else v for k, v in kwargs.items()}
        view, their_view = ours.get_view(**kwargs), _quiet(theirs.get_view, **to_them)
        _same_box(view.bounding_box, their_view.bounding_box)
        assert np.array_equal(view.read(), _quiet(their_view.read))
        sub = view.get_view(relative_offset=(1, 1, 1), size=(3, 3, 3))
        assert np.array_equal(sub.read(), _quiet(their_view.get_view, relative_offset=(1, 1, 1), size=(3, 3, 3)).read())
    # chunks: one per position along the additional axes, tiled along x, y, z
    chunks = list(ours.chunk((16, 16, 8), chunk_border_alignments=(16, 16, 8)))
    their_chunks = _quiet(lambda: list(theirs.chunk((16, 16, 8), chunk_border_alignments=(16, 16, 8))))
    assert [repr(c.bounding_box) for c in chunks] == [repr(c.bounding_box) for c in their_chunks]
    assert all(np.array_equal(c.read(), _quiet(t.read)) for c, t in zip(chunks, their_chunks))


@pytest.mark.parametrize("layout", ["txyz", "ctxyz", "xyzt"])
def test_partial_writes_match_webknossos(tmp_path, layout):
    axes, topleft, size, channels = LAYOUTS[layout]
    results = []
    for lib in (webknossos, wk):
        layer, mag = _layer(lib, tmp_path / lib.__name__, layout)
        box = layer.bounding_box
        extra = [a for a in axes if a not in "cxyz"][0]
        one = box.with_bounds(extra, box.get_bounds(extra)[0] + 1, 1)
        rng = np.random.default_rng(7)
        block = rng.integers(1, 999, (channels, 5, 6, 7)).astype(np.uint16)
        at = one.with_topleft_xyz(one.topleft_xyz + (3, 2, 1)).with_size_xyz((5, 6, 7))
        _quiet(mag.write_cxyz, block, allow_unaligned=True, absolute_bounding_box=at)
        if axes[-3:] == ("x", "y", "z"):
            # a write with an offset covers the view's extent along the additional axes
            # (webknossos 4.3.3 takes the last three axes of the data for x, y, z, so only
            # layers with x, y, z last compare)
            shape = tuple(n if a not in "xyz" else {"x": 4, "y": 3, "z": 2}[a] for a, n in zip(axes, size))
            _quiet(mag.write, np.full(shape, 7, np.uint16), allow_unaligned=True,
                   absolute_offset=tuple(box.topleft_xyz + (10, 10, 5)))
        results.append(_quiet(mag.read))
        results.append(_quiet(mag.read_cxyz, absolute_bounding_box=at))
        assert np.array_equal(results[-1], block)
    assert np.array_equal(results[0], results[2]) and np.array_equal(results[1], results[3])


def test_writes_beyond_the_box_grow_it_as_webknossos_does(tmp_path):
    layers = []
    for lib in (webknossos, wk):
        layer, mag = _layer(lib, tmp_path / lib.__name__, "txyz", write=False)
        grown = layer.bounding_box.with_bounds("t", 4, 3).with_size_xyz((24, 30, 10))
        _quiet(mag.write, np.ones(tuple(grown.size), np.uint16), absolute_bounding_box=grown, allow_resize=True)
        layers.append(layer)
    _same_box(layers[1].bounding_box, layers[0].bounding_box)
    props = [json.loads((tmp_path / d / "datasource-properties.json").read_text())["dataLayers"]
             for d in ("wkpy", "webknossos")]
    assert props[0] == props[1]
    zarr_json = [json.loads((tmp_path / d / "color/1/zarr.json").read_text()) for d in ("wkpy", "webknossos")]
    assert zarr_json[0]["shape"] == zarr_json[1]["shape"]


def test_bad_nd_requests_raise_typed_errors(tmp_path):
    _, mag = _layer(wk, tmp_path / "ds", "txyz")
    box = mag.bounding_box
    with pytest.raises(InvalidRequestError, match="axes"):
        mag.read(absolute_bounding_box=wk.NDBoundingBox((0, 0, 0, 0), (1, 1, 1, 1), ("s", "x", "y", "z")))
    with pytest.raises(InvalidRequestError, match="'t' has size 3") as raised:
        mag.read_cxyz()
    assert isinstance(raised.value, ValueError)
    with pytest.raises(DataMismatchError, match="does not fit"):
        mag.write(np.zeros((2, 20, 30, 10), np.uint16), absolute_bounding_box=box)
    with pytest.raises(DataMismatchError, match="channels"):
        mag.write_cxyz(np.zeros((2, 4, 4, 4), np.uint16), absolute_bounding_box=box.with_bounds("t", 2, 1)
                       .with_size_xyz((4, 4, 4)))
    with pytest.raises(InvalidRequestError, match="negative"):
        mag.read(absolute_bounding_box=box.with_bounds("t", -1, 2))
    with pytest.raises(InvalidRequestError, match="larger"):
        mag.get_view(absolute_bounding_box=box.with_bounds("t", 0, 9))
    assert mag.get_view(absolute_bounding_box=box.with_bounds("t", 0, 9), read_only=True).read().shape[0] == 9


def test_three_d_layers_keep_bounding_boxes(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3",
                         bounding_box=wk.NDBoundingBox((0, 0, 0), (8, 8, 8), "xyz"))
    assert type(layer.bounding_box) is wk.BoundingBox
    assert layer._properties.additional_axes == []
    mag = layer.add_mag(1)
    mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))
    assert type(mag.get_view(absolute_offset=(0, 0, 0), size=(4, 4, 4), read_only=True).bounding_box) is wk.BoundingBox
    assert mag.read_cxyz(absolute_bounding_box=wk.BoundingBox((0, 0, 0), (8, 8, 8))).shape == (1, 8, 8, 8)


def test_a_write_of_the_wrong_shape_names_the_shape_it_was_given(tmp_path):
    box = wk.NDBoundingBox(topleft=(0, 0, 0, 0), size=(2, 16, 16, 8), axes=("t", "x", "y", "z"), index=(0, 1, 2, 3))
    layer = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1)).add_layer(
        "color", "color", dtype="uint8", data_format="zarr3", bounding_box=box)
    mag = layer.add_mag(1, chunk_shape=8, shard_shape=16)
    with pytest.raises(DataMismatchError, match=r"data of shape \(1, 2, 16, 16, 8\) does not fit"):
        mag.write(np.zeros((1, 2, 16, 16, 8), np.uint8), absolute_bounding_box=layer.bounding_box)
