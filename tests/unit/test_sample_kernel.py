"""The nearest-neighbour sampling kernel (`wkcore._sample`) against a numpy oracle."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wkcore import _sample


def oracle(src, coords, lo, hi, origin, mag, mask, out, offset, shape):
    """The same sampling in plain numpy (boolean masks and fancy indexing)."""
    with np.errstate(invalid="ignore"):
        usable = ~np.isnan(coords).any(axis=1) & (coords >= lo).all(axis=1) & (coords <= hi).all(axis=1)
    rows = np.nonzero(usable)[0]
    index = np.floor((coords[rows] - np.asarray(origin, float)) / np.asarray(mag, float) + 0.5).astype(np.int64)
    if mask is not None:
        keep = mask[index[:, 0], index[:, 1], index[:, 2]] > 0
        rows, index = rows[keep], index[keep]
    i, j, k = np.unravel_index(rows, shape)
    out[:, offset[0] + i, offset[1] + j, offset[2] + k] = src[:, index[:, 0], index[:, 1], index[:, 2]]
    return len(rows)


@settings(max_examples=60)
@given(st.sampled_from(["uint8", "int16", "uint64", "float32", "float64"]), st.integers(1, 2),
       st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)), st.sampled_from([1, 2]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_kernel_matches_the_numpy_oracle(dtype, channels, shape, mag, with_mask, seed):
    rng = np.random.default_rng(seed)
    src = (rng.random((channels, 6, 7, 5)) * 100).astype(dtype)
    n = shape[0] * shape[1] * shape[2]
    origin = (4.0, 2.0, 0.0)
    coords = rng.uniform(-3, 20, size=(n, 3)).round(1)
    coords[rng.random(n) < 0.1, rng.integers(0, 3)] = np.nan
    lo = np.array(origin)
    hi = lo + (np.array(src.shape[1:]) - 1) * mag    # the last sample position per axis
    mask = (rng.random(src.shape[1:]) < 0.7).astype(np.uint8) if with_mask else None
    offset = (1, 0, 2)
    out = np.zeros((channels, shape[0] + 1, shape[1], shape[2] + 2), dtype)
    want = out.copy()
    m = (mag, mag, mag)
    written = _sample.sample_nearest(src, coords, lo, hi, origin, m, mask, out, offset, shape)
    assert written == oracle(src, coords, lo, hi, origin, m, mask, want, offset, shape)
    np.testing.assert_array_equal(out, want)
    count, mins, maxs = _sample.coordinate_extent(coords, lo, hi)
    with np.errstate(invalid="ignore"):
        usable = coords[~np.isnan(coords).any(axis=1) & (coords >= lo).all(axis=1) & (coords <= hi).all(axis=1)]
    assert count == len(usable)
    if count:
        assert mins == tuple(usable.min(axis=0)) and maxs == tuple(usable.max(axis=0))
    else:
        assert mins is None and maxs is None


def test_ties_round_up():
    src = np.arange(4, dtype=np.uint8).reshape(1, 4, 1, 1)
    coords = np.array([[0.5, 0, 0], [1.5, 0, 0], [2.49, 0, 0]])
    out = np.zeros((1, 3, 1, 1), np.uint8)
    _sample.sample_nearest(src, coords, (0, 0, 0), (3, 0, 0), (0, 0, 0), (1, 1, 1), None, out, (0, 0, 0), (3, 1, 1))
    assert out.ravel().tolist() == [1, 2, 2]


@pytest.mark.parametrize("bad", [
    dict(coords=np.zeros((5, 3))),                              # not one row per tile voxel
    dict(out=np.zeros((1, 2, 2, 2), np.uint16)),                # another dtype
    dict(offset=(1, 0, 0)),                                     # the tile leaves the output
    dict(mask=np.ones((3, 3, 3), np.uint8)),                    # the mask does not cover the source
    dict(coords=np.full((8, 3), 9.0), hi=(9, 9, 9)),            # samples outside the source
])
def test_bad_arguments_raise(bad):
    args = dict(src=np.zeros((1, 2, 2, 2), np.uint8), coords=np.zeros((8, 3)), lo=(0, 0, 0), hi=(1, 1, 1),
                origin=(0, 0, 0), mag=(1, 1, 1), mask=None, out=np.zeros((1, 2, 2, 2), np.uint8),
                offset=(0, 0, 0), shape=(2, 2, 2))
    args.update(bad)
    with pytest.raises(ValueError):
        _sample.sample_nearest(**args)


def test_threads_sampling_at_once_agree():
    rng = np.random.default_rng(7)
    src = rng.integers(0, 2**16, size=(1, 64, 64, 64), dtype=np.uint16)
    coords = rng.uniform(0, 63, size=(32**3, 3))
    lo, hi = (0, 0, 0), (63, 63, 63)

    def run(_):
        out = np.zeros((1, 32, 32, 32), np.uint16)
        _sample.sample_nearest(src, coords, lo, hi, (0, 0, 0), (1, 1, 1), None, out, (0, 0, 0), (32, 32, 32))
        return out

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(8)))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_a_tile_whose_end_overflows_int64_is_refused():
    # offset + shape wraps around in 64-bit arithmetic (and x·y·z of the shape wraps to 4):
    # checked in C this passed and wrote 4 bytes before `out`'s buffer
    src = np.zeros((1, 2, 2, 2), np.uint8)
    out = np.zeros((1, 2, 4, 1), np.uint8)
    with pytest.raises(ValueError, match="does not fit"):
        _sample.sample_nearest(src, np.zeros((4, 3)), (0, 0, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1), None, out,
                               (2**62 - 1, 0, 0), (2**62 + 1, 4, 1))
    with pytest.raises(ValueError, match="does not fit"):      # numpy's uint64 scalar arithmetic wraps too
        _sample.sample_nearest(src, np.zeros((1, 3)), (0, 0, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1), None, out,
                               (np.uint64(2**63), 0, 0), (np.uint64(1), 1, 1))


@pytest.mark.parametrize("origin, mag", [((-1, -1, -1), (1e-300, 1, 1)), ((np.nan, 0, 0), (1, 1, 1))])
def test_a_source_index_beyond_int64_or_nan_is_refused(origin, mag):
    src = np.zeros((1, 2, 2, 2), np.uint8)
    out = np.zeros((1, 1, 1, 1), np.uint8)
    with pytest.raises(ValueError, match="samples outside"):
        _sample.sample_nearest(src, np.zeros((1, 3)), (0, 0, 0), (1, 1, 1), origin, mag, None, out,
                               (0, 0, 0), (1, 1, 1))
