"""Downsampling and upsampling through the façade, checked against webknossos 4.3.3."""

import warnings

import numpy as np
import pytest
import webknossos
from cluster_tools import SequentialExecutor
from webknossos.dataset.layer import _downsampling_utils as theirs_utils

import wkpy as wk
from conftest import random_volume
from wkpy.dataset.layer import _downsampling_utils as ours_utils


# webknossos runs in-process (SequentialExecutor): its default is a pool of fresh processes
# per call, which costs seconds each and tests nothing of ours


def _pair(tmp_path, dtype, category, data, voxel_size=(11, 11, 25)):
    ours = wk.Dataset(tmp_path / "ours", voxel_size=voxel_size)
    theirs = webknossos.Dataset(tmp_path / "theirs", voxel_size=voxel_size)
    kwargs = {"largest_segment_id": 9} if category == "segmentation" else {}
    a = ours.add_layer("l", category, dtype_per_channel=dtype, **kwargs)
    b = theirs.add_layer("l", category, dtype_per_channel=dtype, data_format="wkw", **kwargs)
    a.add_mag(1, chunk_shape=16, shard_shape=64).write(data, absolute_offset=(3, 5, 7), allow_unaligned=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.add_mag(1, chunk_shape=16, shard_shape=64).write(data, absolute_offset=(3, 5, 7), allow_resize=True,
                                                             allow_unaligned=True)
    return a, b


@pytest.mark.parametrize("category,dtype", [("color", "uint8"), ("color", "float32"), ("segmentation", "uint32"),
                                            ("segmentation", "uint64")])
def test_default_downsampling_equals_webknossos(tmp_path, category, dtype):
    data = random_volume((1, 100, 90, 40), dtype)
    if category == "segmentation":
        data = (data % 4).astype(dtype)
    ours, theirs = _pair(tmp_path, dtype, category, data)
    ours.downsample(coarsest_mag=wk.Mag(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.downsample(coarsest_mag=webknossos.Mag(4), executor=SequentialExecutor())
    assert [m.to_layer_name() for m in ours.mags] == [m.to_layer_name() for m in theirs.mags]
    for mag in theirs.mags:
        np.testing.assert_array_equal(ours.get_mag(mag.to_layer_name()).read(), theirs.get_mag(mag).read())
    reopened = wk.Dataset.open(tmp_path / "ours").get_layer("l")
    assert len(reopened.mags) == len(theirs.mags)


@pytest.mark.parametrize("mode,tolerance,dtype", [
    ("nearest", 0, "uint8"), ("nearest", 0, "uint16"), ("nearest", 0, "float32"), ("bilinear", 0, "uint8"),
    ("bilinear", 0, "uint16"), ("bilinear", 0, "float32"), ("bicubic", 0, "uint8"), ("bicubic", 0, "float32"),
    ("mode", 0, "uint8"), ("median", 0, "uint8"), ("max", 0, "uint8"), ("min", 0, "uint8")])
def test_every_webknossos_interpolation_mode_matches(tmp_path, mode, tolerance, dtype):
    data = random_volume((1, 70, 52, 30), dtype, seed=5)
    ours, theirs = _pair(tmp_path, dtype, "color", data)
    ours.downsample(coarsest_mag=wk.Mag(4), interpolation_mode=mode, sampling_mode="isotropic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.downsample(coarsest_mag=webknossos.Mag(4), interpolation_mode=mode, sampling_mode="isotropic",
                          executor=SequentialExecutor())
    for mag in theirs.mags:
        a = ours.get_mag(mag.to_layer_name()).read().astype(np.float64)
        b = theirs.get_mag(mag).read().astype(np.float64)
        assert np.abs(a - b).max() <= tolerance, (mode, mag)


@pytest.mark.parametrize("mode", ["max", "min", "average", "median", "mode"])
def test_interpolation_modes_reduce_blocks(tmp_path, mode):
    ds = wk.Dataset(tmp_path / "d", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", dtype_per_channel="uint16")
    data = random_volume((1, 64, 64, 64), "uint16")
    layer.add_mag(1, chunk_shape=16, shard_shape=32).write(data, absolute_offset=(0, 0, 0))
    layer.downsample_mag(1, 2, interpolation_mode=mode)
    got = layer.get_mag(2).read()[0]
    b = data[0].reshape(32, 2, 32, 2, 32, 2)
    if mode == "max":
        np.testing.assert_array_equal(got, b.max(axis=(1, 3, 5)))
    elif mode == "min":
        np.testing.assert_array_equal(got, b.min(axis=(1, 3, 5)))
    elif mode == "average":
        np.testing.assert_array_equal(got, np.rint(b.mean(axis=(1, 3, 5))).astype(np.uint16))
    else:
        assert got.shape == (32, 32, 32) and got.any()


def test_isotropic_and_constant_z_ladders(tmp_path):
    ds = wk.Dataset(tmp_path / "d", voxel_size=(4, 4, 40))
    layer = ds.add_layer("c", "color")
    layer.add_mag(1).write(random_volume((1, 64, 64, 8), "uint8"), absolute_offset=(0, 0, 0), allow_unaligned=True)
    layer.downsample(coarsest_mag=wk.Mag(8), sampling_mode="constant_z")
    assert [m.to_layer_name() for m in layer.mags] == ["1", "2-2-1", "4-4-1", "8-8-1"]
    layer2 = ds.add_layer("d", "color")
    layer2.add_mag(1).write(random_volume((1, 64, 64, 8), "uint8"), absolute_offset=(0, 0, 0), allow_unaligned=True)
    layer2.downsample(coarsest_mag=wk.Mag(4), sampling_mode="isotropic", align_with_other_layers=False)
    assert [m.to_layer_name() for m in layer2.mags] == ["1", "2", "4"]


@pytest.mark.parametrize("voxel_size", [(1, 1, 1), (11, 11, 25), (4, 4, 40), (5, 7, 3), None])
@pytest.mark.parametrize("coarsest", ["8", "16-16-4", "32"])
def test_mag_ladder_equals_webknossos(voxel_size, coarsest):
    try:
        theirs = theirs_utils.calculate_mags_to_downsample(webknossos.Mag(1), webknossos.Mag(coarsest), None, voxel_size)
        theirs_up = theirs_utils.calculate_mags_to_upsample(webknossos.Mag(coarsest), webknossos.Mag(1), None, voxel_size)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            ours_utils.calculate_mags_to_downsample(wk.Mag(1), wk.Mag(coarsest), None, voxel_size)
        return
    ours = ours_utils.calculate_mags_to_downsample(wk.Mag(1), wk.Mag(coarsest), None, voxel_size)
    ours_up = ours_utils.calculate_mags_to_upsample(wk.Mag(coarsest), wk.Mag(1), None, voxel_size)
    assert [m.to_list() for m in ours] == [m.to_list() for m in theirs]
    assert [m.to_list() for m in ours_up] == [m.to_list() for m in theirs_up]


def test_downsampling_errors(tmp_path):
    ds = wk.Dataset(tmp_path / "d", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color")
    layer.add_mag(2)
    with pytest.raises(KeyError):
        layer.downsample_mag(1, 4)
    with pytest.raises(ValueError):
        layer.downsample_mag(2, 1)
    layer.add_mag(4)
    with pytest.raises(ValueError):
        layer.downsample_mag(2, 4)
    with pytest.raises(KeyError):     # as webknossos: an unknown mode name
        layer.downsample_mag(2, 8, interpolation_mode="cubic")


def test_upsample_repeats_voxels(tmp_path):
    ds = wk.Dataset(tmp_path / "d", voxel_size=(1, 1, 1))
    layer = ds.add_layer("c", "color", bounding_box=wk.BoundingBox((0, 0, 0), (64, 64, 64)))
    coarse = random_volume((1, 16, 16, 16), "uint8")
    layer.add_mag(4).write(coarse, absolute_offset=(0, 0, 0))
    layer.upsample(from_mag=wk.Mag(4), finest_mag=wk.Mag(1), sampling_mode="isotropic")
    assert [m.to_layer_name() for m in layer.mags] == ["1", "2", "4"]
    fine = layer.get_mag(1).read()
    np.testing.assert_array_equal(fine, coarse.repeat(4, 1).repeat(4, 2).repeat(4, 3))
