"""The reduction kernels against a numpy reference, for every mode and dtype."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from wkcore import _downsample

DTYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64"]


def blocks(data: np.ndarray, f) -> np.ndarray:
    """(X, Y, Z, n) view of the blocks, elements ordered y fastest, then x, then z."""
    X, Y, Z = (s // k for s, k in zip(data.shape, f))
    b = data.reshape(X, f[0], Y, f[1], Z, f[2])      # x, i, y, j, z, k
    b = b.transpose(0, 2, 4, 5, 1, 3)                 # x, y, z, k, i, j  (j fastest)
    return b.reshape(X, Y, Z, -1)


def mode_ref(b: np.ndarray) -> np.ndarray:
    out = np.empty(b.shape[:-1], b.dtype)
    for idx in np.ndindex(*b.shape[:-1]):
        vals = list(b[idx])
        out[idx] = max(vals, key=lambda v: (vals.count(v), -vals.index(v)))
    return out


def reference(data: np.ndarray, f, mode: str) -> np.ndarray:
    b = blocks(data, f)
    if mode == "median":
        return np.median(b, axis=-1).astype(data.dtype)
    if mode == "mode":
        return mode_ref(b)
    if mode == "average":
        mean = b.astype(np.float64).mean(axis=-1)
        return (mean if data.dtype.kind == "f" else np.rint(mean)).astype(data.dtype)
    return b.max(axis=-1) if mode == "max" else b.min(axis=-1)


def reduce(data, f, mode):
    out = np.zeros(tuple(s // k for s, k in zip(data.shape, f)), data.dtype, order="F")
    _downsample.downsample(data, out, f, mode)
    return out


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(DTYPES), st.sampled_from(sorted(_downsample.MODES)),
       st.tuples(*[st.sampled_from([1, 2, 3, 4])] * 3), st.tuples(*[st.integers(1, 3)] * 3),
       st.integers(0, 2**32 - 1), st.booleans())
def test_kernel_matches_numpy_reference(dtype, mode, f, n, seed, fortran):
    rng = np.random.default_rng(seed)
    shape = tuple(a * b for a, b in zip(f, n))
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo, hi = (max(info.min, -50), min(info.max, 50)) if info else (-50, 50)
    data = rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    if mode == "mode":  # few distinct values so that ties and majorities happen
        data = (data % 3).astype(dtype)
    if fortran:
        data = np.asfortranarray(data)
    np.testing.assert_array_equal(reduce(data, f, mode), reference(data, f, mode))


def test_median_of_an_even_block_follows_numpy():
    data = np.array([1, 2, 250, 251], np.uint8).reshape(2, 2, 1)
    assert reduce(data, (2, 2, 1), "median")[0, 0, 0] == np.uint8(np.median([1, 2, 250, 251]))
    f = np.array([0.1, 0.2, 0.3, 0.4], np.float32).reshape(2, 2, 1)
    assert reduce(f, (2, 2, 1), "median")[0, 0, 0] == np.median(f)


def test_median_with_nan_is_nan():
    data = np.array([1, np.nan, 3, 4], np.float32).reshape(2, 2, 1)
    assert np.isnan(reduce(data, (2, 2, 1), "median")[0, 0, 0])


def test_mode_ties_go_to_the_earliest_value_in_y_x_z_order():
    data = np.zeros((2, 2, 1), np.uint32)
    data[0, 0, 0], data[0, 1, 0], data[1, 0, 0], data[1, 1, 0] = 5, 7, 7, 5   # order: 5, 7, 7, 5
    assert reduce(data, (2, 2, 1), "mode")[0, 0, 0] == 5


@pytest.mark.parametrize("bad", [
    dict(f=(2, 2, 2), shape=(3, 4, 4)), dict(f=(0, 1, 1)), dict(mode="cubic"), dict(out_dtype="uint16"),
])
def test_bad_arguments(bad):
    f = bad.get("f", (2, 2, 2))
    data = np.zeros(bad.get("shape", (4, 4, 4)), np.uint8)
    out = np.zeros((2, 2, 2), bad.get("out_dtype", "uint8"))
    with pytest.raises(ValueError):
        _downsample.downsample(data, out, f, bad.get("mode", "median"))
