"""The keywords and defaults of `Layer.downsample*`, `upsample`, `redownsample` and the
cube jobs, checked against webknossos 4.3.3 with the same calls (same mags, same JSON,
same voxels)."""

import json
import warnings

import numpy as np
import pytest
import webknossos
from cluster_tools import SequentialExecutor
from webknossos.dataset.layer import _downsampling_utils as theirs_down
from webknossos.dataset.layer import _upsampling_utils as theirs_up

import wkpy as wk
from conftest import random_volume
from wkpy.dataset.layer import _downsampling_utils as ours_down
from wkpy.dataset.layer import _upsampling_utils as ours_up


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _pair(tmp_path, data, *, mag=1, voxel_size=(1, 1, 1), data_format="wkw", chunk=8, shard=16, name="l"):
    """One color layer with the same data in a wkpy and a webknossos dataset."""
    layers = []
    for lib, folder in ((wk, "ours"), (webknossos, "theirs")):
        ds = lib.Dataset(tmp_path / folder, voxel_size=voxel_size, exist_ok=True)
        layer = _quiet(ds.add_layer, name, "color", dtype=data.dtype, data_format=data_format,
                       num_channels=data.shape[0])
        view = _quiet(layer.add_mag, mag, chunk_shape=chunk, shard_shape=shard)
        _quiet(view.write, data, allow_resize=True)
        layers.append(layer)
    return layers


def _mags_json(layer):
    props = json.loads((layer.dataset.path / "datasource-properties.json").read_text())
    entry = next(d for d in props["dataLayers"] if d["name"] == layer.name)
    return entry["boundingBox"], sorted((m["mag"], m.get("path"), m.get("cubeLength")) for m in entry["mags"])


def _same(ours, theirs):
    assert _mags_json(ours) == _mags_json(theirs)
    assert sorted(m.to_layer_name() for m in ours.mags) == sorted(m.to_layer_name() for m in theirs.mags)
    for mag, view in theirs.mags.items():
        mine = ours.get_mag(mag.to_layer_name())
        assert tuple(mine.info.chunk_shape) == tuple(view.info.chunk_shape.xyz)
        assert tuple(mine.info.shard_shape) == tuple(view.info.shard_shape.xyz)
        np.testing.assert_array_equal(mine.read(), view.read(), err_msg=mag.to_layer_name())


def test_downsample_mag_list_and_only_setup_mags_equal_webknossos(tmp_path):
    ours, theirs = _pair(tmp_path, random_volume((1, 10, 20, 30), "uint8"), voxel_size=(1, 1, 2))
    targets = ["4-4-8", "2", "32-32-8", "32"]                 # unsorted, as webknossos allows
    ours.downsample_mag_list(from_mag=wk.Mag(1), target_mags=[wk.Mag(m) for m in targets], only_setup_mags=True)
    _quiet(theirs.downsample_mag_list, from_mag=webknossos.Mag(1), target_mags=[webknossos.Mag(m) for m in targets],
           only_setup_mags=True, executor=SequentialExecutor())
    _same(ours, theirs)
    assert not ours.get_mag("4-4-8").read().any()
    ours.downsample_mag_list(from_mag=wk.Mag(1), target_mags=[wk.Mag(m) for m in targets], allow_overwrite=True)
    _quiet(theirs.downsample_mag_list, from_mag=webknossos.Mag(1), target_mags=[webknossos.Mag(m) for m in targets],
           allow_overwrite=True, executor=SequentialExecutor())
    _same(ours, theirs)
    bad = ["1", "1-1-2", "2-2-1", "2"]                      # 1-1-2 → 2-2-1 is no downsampling step
    with pytest.raises(AssertionError):
        theirs.downsample_mag_list(from_mag=webknossos.Mag(1), target_mags=[webknossos.Mag(m) for m in bad])
    with pytest.raises(AssertionError, match="1-1-2"):
        ours.downsample_mag_list(from_mag=wk.Mag(1), target_mags=[wk.Mag(m) for m in bad])
    with pytest.raises(ValueError):                         # exists, no allow_overwrite
        ours.downsample_mag(1, 2)
    with pytest.raises(ValueError):
        theirs.downsample_mag(webknossos.Mag(1), webknossos.Mag(2))


def test_downsample_defaults_equal_webknossos(tmp_path):
    # a layer one voxel deep is sampled in x and y only; from_mag defaults to the coarsest mag
    data = np.full((1, 100, 100, 1), 123, np.uint8)
    ours, theirs = _pair(tmp_path, data, chunk=8, shard=64)
    with pytest.warns(UserWarning, match="CONSTANT_Z"):
        ours.downsample(coarsest_mag=wk.Mag(4), sampling_mode="isotropic")
    with pytest.warns(UserWarning, match="CONSTANT_Z"):
        theirs.downsample(coarsest_mag=webknossos.Mag(4), sampling_mode="isotropic", executor=SequentialExecutor())
    _same(ours, theirs)
    assert (ours.get_mag("4-4-1").read() == 123).all()     # not darkened
    _quiet(ours.downsample, coarsest_mag=wk.Mag(16))
    _quiet(theirs.downsample, coarsest_mag=webknossos.Mag(16), executor=SequentialExecutor())
    _same(ours, theirs)
    assert "16-16-1" in [m.to_layer_name() for m in ours.mags]


@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
@pytest.mark.parametrize("depth", [1, 10, 32, 33, 64])
@pytest.mark.parametrize("chunk,shard", [(None, None), (16, None), (16, 64), (None, 2048)])
def test_new_mag_shapes_follow_webknossos_rule(data_format, depth, chunk, shard):
    # webknossos' defaults for new mags (never the source mag's shapes): flat Zarr3 layers
    # get 4096×4096×32 shards. (webknossos itself takes about a minute to fill such a mag.)
    from webknossos.dataset.layer.layer import _get_shard_and_chunk_shapes

    box = wk.BoundingBox((0, 0, 0), (64, 64, depth))
    got = ours_down.resampled_mag_shapes(data_format, box, chunk, shard)
    want = _get_shard_and_chunk_shapes(data_format=webknossos.DataFormat(data_format), chunk_shape=chunk,
                                       shard_shape=shard, layer_bounding_box=webknossos.BoundingBox(box.topleft,
                                                                                                    box.size))
    assert [tuple(v) for v in got] == [tuple(v) for v in want]


def test_new_mag_shapes_equal_webknossos(tmp_path):
    deep, deep_theirs = _pair(tmp_path / "deep", random_volume((1, 64, 64, 64), "uint8"), data_format="zarr3")
    deep.downsample(coarsest_mag=wk.Mag(4), chunk_shape=16, shard_shape=64)
    _quiet(deep_theirs.downsample, coarsest_mag=webknossos.Mag(4), chunk_shape=16, shard_shape=64,
           executor=SequentialExecutor())
    _same(deep, deep_theirs)


def test_from_mag_view_equals_webknossos(tmp_path):
    data = random_volume((1, 32, 32, 16), "uint8", seed=8)
    src_ours, src_theirs = _pair(tmp_path / "src", data, mag=2, data_format="zarr3", chunk=8, shard=64)
    targets = []
    for lib, source in ((wk, src_ours), (webknossos, src_theirs)):
        ds = lib.Dataset(tmp_path / "dst" / lib.__name__, voxel_size=(1, 1, 1))
        targets.append(_quiet(ds.add_layer, "l", "color", bounding_box=source.bounding_box, data_format="zarr3"))
    ours, theirs = targets
    ours.upsample(from_mag=wk.Mag(2), from_mag_view=src_ours.get_mag(2), finest_mag=wk.Mag(1), compress=False,
                  sampling_mode="isotropic", align_with_other_layers=False, shard_shape=(64, 64, 32))
    _quiet(theirs.upsample, from_mag=webknossos.Mag(2), from_mag_view=src_theirs.get_mag(2),
           finest_mag=webknossos.Mag(1), compress=False, sampling_mode="isotropic", align_with_other_layers=False,
           shard_shape=(64, 64, 32), executor=SequentialExecutor())
    _same(ours, theirs)
    ours.downsample(from_mag=wk.Mag(2), from_mag_view=src_ours.get_mag(2), coarsest_mag=wk.Mag(4),
                    shard_shape=(64, 64, 32))
    _quiet(theirs.downsample, from_mag=webknossos.Mag(2), from_mag_view=src_theirs.get_mag(2),
           coarsest_mag=webknossos.Mag(4), shard_shape=(64, 64, 32), executor=SequentialExecutor())
    _same(ours, theirs)
    for layer, source, lib in ((ours, src_ours, wk), (theirs, src_theirs, webknossos)):
        with pytest.raises(ValueError, match="does not match from_mag"):
            layer.upsample(from_mag=lib.Mag(4), from_mag_view=source.get_mag(2), finest_mag=lib.Mag(1))
        with pytest.raises(ValueError, match="does not match from_mag"):
            layer.downsample_mag(lib.Mag(1), lib.Mag(8), from_mag_view=source.get_mag(2))


def test_upsample_and_redownsample_equal_webknossos(tmp_path):
    ours, theirs = _pair(tmp_path, random_volume((1, 23, 21, 9), "uint16", seed=9), mag="4-4-2",
                         voxel_size=(1, 1, 1))
    ours.upsample(from_mag=wk.Mag("4-4-2"), finest_mag=wk.Mag(1), compress=False)
    _quiet(theirs.upsample, from_mag=webknossos.Mag("4-4-2"), finest_mag=webknossos.Mag(1), compress=False,
           executor=SequentialExecutor())
    _same(ours, theirs)
    change = random_volume((1, 30, 20, 10), "uint16", seed=10)
    ours.get_mag(1).write(change, absolute_offset=(8, 8, 0), allow_unaligned=True)
    _quiet(theirs.get_mag(1).write, change, absolute_offset=(8, 8, 0), allow_unaligned=True)
    ours.redownsample()
    _quiet(theirs.redownsample, executor=SequentialExecutor())
    _same(ours, theirs)
    # all of mag 1 cleared: the coarser mags must not keep their old voxels
    box = theirs.bounding_box
    ours.get_mag(1).write(np.zeros((1, *box.size), np.uint16), absolute_offset=tuple(box.topleft))
    _quiet(theirs.get_mag(1).write, np.zeros((1, *box.size), np.uint16), absolute_offset=box.topleft)
    ours.redownsample()
    _quiet(theirs.redownsample, executor=SequentialExecutor())
    _same(ours, theirs)
    assert not ours.get_mag(2).read().any()
    with pytest.raises(AssertionError):                      # mag 2-2-1 exists already
        theirs.upsample(from_mag=webknossos.Mag("4-4-2"), finest_mag=webknossos.Mag(1))
    with pytest.raises(AssertionError):
        ours.upsample(from_mag=wk.Mag("4-4-2"), finest_mag=wk.Mag(1))


@pytest.mark.parametrize("mode", ["MAX", "NEAREST", "MEDIAN"])
def test_cube_jobs_equal_webknossos(tmp_path, mode):
    data = random_volume((3, 32, 24, 16), "uint8", seed=6)
    layers = _pair(tmp_path, data, chunk=8, shard=16)
    offset, size = (8, 0, 4), (24, 24, 12)
    for layer, lib, down, up in ((layers[0], wk, ours_down, ours_up), (layers[1], webknossos, theirs_down, theirs_up)):
        mag1 = layer.get_mag(1)
        mag2 = _quiet(layer._initialize_mag_from_other_mag, "2", mag1, False)
        views = [_quiet(m.get_view, absolute_offset=offset, size=size) for m in (mag1, mag2)]
        down.downsample_cube_job((*views, 0), lib.Vec3Int(2, 2, 2), down.InterpolationModes[mode],
                                 lib.Vec3Int(4, 8, 2))
        fine = _quiet(layer._initialize_mag_from_other_mag, "1-1-2", mag2, False)
        views = [_quiet(m.get_view, absolute_offset=offset, size=size) for m in (mag2, fine)]
        up.upsample_cube_job((*views, 0), [0.5, 0.5, 1.0], fine.info.shard_shape)
    _same(*layers)
