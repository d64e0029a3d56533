"""`transform` of one layer into another, checked against webknossos 4.3.3's `transform` on
the same data (same calls: same voxels, same returned box, same properties JSON)."""

import json
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import webknossos
from cluster_tools import SequentialExecutor
from webknossos.dataset.layer import _transform_utils as theirs_utils

import wkpy as wk
from conftest import random_volume
from wkpy.dataset.layer import _transform_utils as ours_utils


def shift_back(points: np.ndarray) -> np.ndarray:
    """An inverse transform: output x samples input x − (5, 3, 2); NaN where x < 8."""
    out = points - np.array([5.0, 3.0, 2.0])
    out[points[:, 0] < 8] = np.nan
    return out


def _layers(tmp_path, data, *, mag=1, offset=(0, 0, 0), num_channels=1, prefill=None):
    """The same input (and output) layers in a wkpy and a webknossos dataset; small shards."""
    made = []
    for lib, name in ((wk, "ours"), (webknossos, "theirs")):
        extra = {} if lib is wk else {"data_format": "wkw"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = lib.Dataset(tmp_path / name / "in", voxel_size=(1, 1, 1))
            layer = source.add_layer("color", "color", num_channels=num_channels, dtype=data.dtype, **extra)
            layer.add_mag(mag, chunk_shape=8, shard_shape=16).write(data, absolute_offset=offset, allow_resize=True,
                                                                    allow_unaligned=True)
            target = lib.Dataset(tmp_path / name / "out", voxel_size=(1, 1, 1))
            out = target.add_layer("color", "color", num_channels=num_channels, dtype=data.dtype, **extra)
            if prefill is not None:
                out.add_mag(mag, chunk_shape=8, shard_shape=16).write(prefill, allow_resize=True)
        made.append((layer, out))
    return made


def _run_both(made, ours_kwargs, theirs_kwargs):
    (our_in, our_out), (their_in, their_out) = made
    got_box = ours_utils.transform(our_in, our_out, **ours_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want_box = theirs_utils.transform(their_in, their_out, executor=SequentialExecutor(), **theirs_kwargs)
    assert got_box.to_tuple6() == want_box.to_tuple6()
    assert our_out.bounding_box.to_tuple6() == their_out.bounding_box.to_tuple6()
    mag = next(iter(their_out.mags))
    box = their_out.bounding_box
    got = our_out.get_mag(mag.to_layer_name()).read(absolute_offset=tuple(box.topleft), size=tuple(box.size))
    want = their_out.get_mag(mag).read(absolute_offset=box.topleft, size=box.size)
    np.testing.assert_array_equal(got, want)
    ours_json = json.loads((our_out.dataset.path / "datasource-properties.json").read_text())["dataLayers"][0]
    theirs_json = json.loads((their_out.dataset.path / "datasource-properties.json").read_text())["dataLayers"][0]
    assert ours_json["boundingBox"] == theirs_json["boundingBox"]
    assert [m["mag"] for m in ours_json["mags"]] == [m["mag"] for m in theirs_json["mags"]]
    return got


def _affine(angle_degrees, scale, shift):
    angle = np.deg2rad(angle_degrees)
    forward = np.eye(4)
    forward[:3, :3] = np.diag(scale) @ np.array([[np.cos(angle), -np.sin(angle), 0],
                                                 [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    forward[:3, 3] = shift
    return forward


@pytest.mark.parametrize("forward", [
    np.diag([2.0, 2.0, 1.0, 1.0]),
    _affine(30, (1.3, 0.8, 1.1), (5.5, -3.25, 7.0)),
    _affine(90, (1, 1, 1), (-1, 0, 0)),
    _affine(-17, (0.7, 0.7, 2.5), (0.5, 0.5, 0.5)),
])
def test_affine_transform_equals_webknossos(tmp_path, forward):
    data = random_volume((1, 24, 20, 12), "uint8", seed=11)
    made = _layers(tmp_path, data, offset=(3, 5, 2))
    _run_both(made, dict(transform=ours_utils.AffineTransform(forward), translate_to_positive=True),
              dict(transform=theirs_utils.AffineTransform(forward), translate_to_positive=True))


@pytest.mark.parametrize("fill_value", [None, 0, 77])
def test_inverse_transform_fill_value_and_mask_equal_webknossos(tmp_path, fill_value):
    data = random_volume((2, 20, 20, 20), "uint16", seed=12) + 1
    made = _layers(tmp_path, data, num_channels=2, prefill=np.full((2, 40, 40, 24), 999, np.uint16))
    mask_data = np.zeros((1, 20, 20, 20), np.uint8)
    mask_data[:, 4:15, :, 6:] = 1
    for (layer, _), lib in zip(made, (wk, webknossos)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mask = layer.dataset.add_layer("mask", "color", **({} if lib is wk else {"data_format": "wkw"}))
            mask.add_mag(1, chunk_shape=8, shard_shape=16).write(mask_data, allow_resize=True)
    box = (4, 0, 0), (32, 40, 24)
    kwargs = dict(inverse_transform=shift_back, fill_value=fill_value, buffer_shape=(6, 5, 7))
    got = _run_both(made, dict(kwargs, output_bbox=wk.BoundingBox(*box),
                               input_mask_layer=made[0][0].dataset.get_layer("mask")),
                    dict(kwargs, output_bbox=webknossos.BoundingBox(*box),
                         input_mask_layer=made[1][0].dataset.get_layer("mask")))
    assert (got == (999 if fill_value is None else fill_value)).any()


def test_mag2_transform_and_default_output_box_equal_webknossos(tmp_path):
    data = random_volume((1, 16, 16, 8), "float32", seed=13)
    made = _layers(tmp_path, data, mag=2)
    forward = _affine(10, (1, 1, 1), (4, 2, 6))
    _run_both(made, dict(transform=ours_utils.AffineTransform(forward), translate_to_positive=True),
              dict(transform=theirs_utils.AffineTransform(forward), translate_to_positive=True))
    assert list(made[0][1].mags) == [wk.Mag(2)]


def test_process_executor_and_custom_transform(tmp_path):
    data = random_volume((1, 32, 32, 16), "uint8", seed=14)
    ds = wk.Dataset(tmp_path / "in", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color")
    layer.add_mag(1, chunk_shape=8, shard_shape=16).write(data, allow_resize=True)
    out = wk.Dataset(tmp_path / "out", voxel_size=(1, 1, 1)).add_layer("color", "color")
    with ProcessPoolExecutor(2) as pool:
        box = ours_utils.transform(layer, out, ours_utils.AffineTransform(np.eye(4)), chunk_shape=(32, 32, 16),
                                   executor=pool)
    assert box == layer.bounding_box
    np.testing.assert_array_equal(out.get_mag(1).read(), data)
    # the output's mag takes the input mag's chunk and shard shape, as in webknossos
    assert tuple(out.get_mag(1).info.shard_shape) == (16, 16, 16)


def test_errors_are_those_of_webknossos(tmp_path):
    data = random_volume((1, 16, 16, 16), "uint8", seed=15)
    (our_in, our_out), (their_in, their_out) = _layers(tmp_path, data)
    for mod, src, dst, lib in ((ours_utils, our_in, our_out, wk), (theirs_utils, their_in, their_out, webknossos)):
        with pytest.raises(ValueError, match="Exactly one"):
            mod.transform(src, dst)
        with pytest.raises(ValueError, match="Exactly one"):
            mod.transform(src, dst, mod.AffineTransform(np.eye(4)), inverse_transform=shift_back)
        with pytest.raises(ValueError):
            mod.AffineTransform(np.eye(3))
        with pytest.raises(KeyError):
            mod.transform(src, dst, inverse_transform=shift_back, mag=4, output_bbox=lib.BoundingBox((0, 0, 0), (8, 8, 8)))
        with pytest.raises(ValueError):
            mod.transform(src, dst, inverse_transform=shift_back, output_bbox=lib.BoundingBox((-8, 0, 0), (8, 8, 8)))
        with pytest.raises(ValueError):    # the output layer's box is empty
            mod.transform(src, dst, inverse_transform=shift_back)
    other = our_out.dataset.add_layer("wide", "color", dtype="uint16")
    with pytest.raises(ValueError, match="uint16"):
        ours_utils.transform(our_in, other, inverse_transform=shift_back, output_bbox=wk.BoundingBox((0, 0, 0), (8, 8, 8)))
    with pytest.raises(ValueError, match="chunk_shape"):
        ours_utils.transform(our_in, our_out, inverse_transform=shift_back, chunk_shape=(24, 16, 16),
                             output_bbox=wk.BoundingBox((0, 0, 0), (8, 8, 8)))
