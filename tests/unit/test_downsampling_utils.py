"""The buffer-level names of `_downsampling_utils` and `_upsampling_utils`, checked against
webknossos 4.3.3's own functions on the same buffers (same calls, same voxels)."""

import warnings

import numpy as np
import pytest
import webknossos
from webknossos.dataset.layer import _downsampling_utils as theirs
from webknossos.dataset.layer import _upsampling_utils as theirs_up

import wkpy as wk
from conftest import random_volume
from wkpy.dataset.layer import _downsampling_utils as ours
from wkpy.dataset.layer import _upsampling_utils as ours_up
from wkpy.errors import InvalidRequestError, UnsupportedError


def _theirs(func, *args):
    # webknossos warns once that numba (its fast path) is missing; the numpy path is the same
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args)


DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int32", "int64", "float32", "float64"]
MODES = ["MEDIAN", "MODE", "NEAREST", "BILINEAR", "BICUBIC", "MAX", "MIN"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("factors", [(2, 2, 2), (2, 2, 1), (4, 2, 1), (1, 1, 4)])
def test_downsample_cube_equals_webknossos(mode, dtype, factors):
    data = random_volume((16, 12, 8), dtype, seed=3)
    if mode == "MODE":
        data = (data % 3).astype(dtype)         # many ties: the order inside a block decides them
    got = ours.downsample_cube(data, list(factors), ours.InterpolationModes[mode])
    want = _theirs(theirs.downsample_cube, data, list(factors), theirs.InterpolationModes[mode])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_interpolation_modes_have_webknossos_values():
    for mode in theirs.InterpolationModes:
        assert ours.InterpolationModes[mode.name].value == mode.value
    for name in ["default", "median", "MODE", "nearest", "bilinear", "bicubic", "max", "min"]:
        for category in ["color", "segmentation"]:
            assert ours.parse_interpolation_mode(name, category).name == \
                theirs.parse_interpolation_mode(name, category).name
    with pytest.raises(KeyError):
        theirs.parse_interpolation_mode("cubic", "color")
    with pytest.raises(KeyError, match="cubic"):
        ours.parse_interpolation_mode("cubic", "color")


@pytest.mark.parametrize("func", ["_mode", "_median", "_max", "_min"])
@pytest.mark.parametrize("dtype", ["uint8", "int64", "float32"])
def test_column_reductions_equal_webknossos(func, dtype):
    columns = random_volume((7, 40, 1), dtype, seed=1)[:, :, 0] % 4
    columns = columns.astype(dtype)
    np.testing.assert_array_equal(getattr(ours, func)(columns), getattr(theirs, func)(columns))
    # non-contiguous and read-only input reduces the same
    view = np.asfortranarray(columns)[:, ::2]
    view.flags.writeable = False
    np.testing.assert_array_equal(getattr(ours, func)(view), getattr(theirs, func)(view.copy()))


@pytest.mark.parametrize("factors", [[2, 2, 2], [2, 2, 1], [1, 4, 2]])
def test_non_linear_filter_3d_lays_blocks_out_as_webknossos(factors):
    data = random_volume((8, 8, 4), "uint16", seed=2)
    # a recording `func` shows the (elements, blocks) layout itself, not only its reduction
    seen = []

    def first_row(x):
        seen.append(x.copy())
        return x[0]

    got = ours.non_linear_filter_3d(data, factors, first_row)
    want = theirs.non_linear_filter_3d(data, factors, first_row)
    np.testing.assert_array_equal(seen[0], seen[1])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ours.non_linear_filter_3d(data, factors, ours._mode),
                                  theirs.non_linear_filter_3d(data, factors, theirs._mode))


def test_bad_buffers_are_refused():
    with pytest.raises(AssertionError):          # webknossos asserts here
        ours.downsample_cube(np.zeros((3, 4, 4), np.uint8), [2, 2, 2], ours.InterpolationModes.MAX)
    with pytest.raises(InvalidRequestError):
        ours.non_linear_filter_3d(np.zeros((4, 4), np.uint8), [2, 2, 2], ours._max)
    with pytest.raises(UnsupportedError, match="complex"):
        ours.downsample_cube(np.zeros((2, 2, 2), np.complex64), [2, 2, 2], ours.InterpolationModes.MAX)


@pytest.mark.parametrize("size", [(100, 100, 100), (256, 256, 256), (4096, 4096, 1), (16384, 65536, 16384),
                                  (131072, 262144, 262144), (1, 1, 1), (399, 401, 5)])
def test_default_coarsest_mag_equals_webknossos(size):
    assert ours.calculate_default_coarsest_mag(size).to_list() == \
        theirs.calculate_default_coarsest_mag(size).to_list()


@pytest.mark.parametrize("factors", [(2, 2, 2), (8, 8, 1), (1, 1, 2048), (3, 5, 7)])
@pytest.mark.parametrize("shard", [(1024, 1024, 1024), (64, 64, 32), (4096, 4096, 32)])
def test_buffer_shapes_equal_webknossos(factors, shard):
    info = wk.dataset.layer.ArrayInfo("zarr3", np.dtype("uint8"), 1, (32, 32, 32), shard, True)
    their_info = type("Info", (), {"shard_shape": webknossos.Vec3Int(shard)})()
    assert tuple(ours.determine_downsample_buffer_shape(info, factors)) == \
        tuple(theirs.determine_downsample_buffer_shape(their_info, webknossos.Vec3Int(factors)))
    assert tuple(ours.determine_upsample_buffer_shape(info)) == \
        tuple(theirs.determine_upsample_buffer_shape(their_info))


def test_aligned_mags_and_their_errors_equal_webknossos(tmp_path):
    # a mag of another layer with twice the current maximum is taken over, as in webknossos
    aligned = [wk.Mag(m) for m in ("1", "2-2-1", "4-4-2")]
    their_ds = webknossos.Dataset(tmp_path / "theirs", voxel_size=(1, 1, 1))
    their_layer = their_ds.add_layer("l", "color", data_format="wkw")
    for mag in aligned:
        their_layer.add_mag(mag.to_layer_name(), chunk_shape=32, shard_shape=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # the taken-over mag exceeds coarsest_mag in z
        want = theirs.calculate_mags_to_downsample(webknossos.Mag(1), webknossos.Mag("4-4-1"), their_ds, None)
        got = ours.calculate_mags_to_downsample(wk.Mag(1), wk.Mag("4-4-1"), aligned, None)
    assert [m.to_list() for m in got] == [m.to_list() for m in want]
    for bad_from, bad_to in [("2", "1"), ("4-4-1", "2-2-2")]:
        with pytest.raises(AssertionError):
            theirs.calculate_mags_to_downsample(webknossos.Mag(bad_from), webknossos.Mag(bad_to), None, None)
        with pytest.raises(AssertionError):
            ours.calculate_mags_to_downsample(wk.Mag(bad_from), wk.Mag(bad_to), None, None)
    with pytest.raises(AssertionError):          # two mags of one maximum in the layers to align with
        ours.calculate_mags_to_downsample(wk.Mag(1), wk.Mag(8), [wk.Mag("2-2-1"), wk.Mag(2)], None)


@pytest.mark.parametrize("factors", [[2, 2, 2], [2, 2, 1], [1, 1, 1], [1, 2, 2]])
def test_upsample_cube_equals_webknossos(factors):
    data = random_volume((5, 6, 7), "uint32", seed=4)
    np.testing.assert_array_equal(ours_up.upsample_cube(data, factors), theirs_up.upsample_cube(data, factors))


def test_upsample_cube_fills_every_voxel_of_a_block():
    # differs on purpose: webknossos fills only the first and last voxel of a block along
    # each axis, which leaves zeros for factors above 2 (its ladders never ask for those)
    data = random_volume((3, 3, 3), "uint8", seed=4) + 1
    got = ours_up.upsample_cube(data, [4, 1, 3])
    np.testing.assert_array_equal(got, data.repeat(4, 0).repeat(3, 2))
    assert (theirs_up.upsample_cube(data, [4, 1, 3]) == 0).any()
    with pytest.raises(InvalidRequestError):
        ours_up.upsample_cube(data, [0.5, 1, 1])
