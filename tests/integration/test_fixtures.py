"""The reference datasets in ../shared/fixtures read exactly as their expected arrays."""

import numpy as np
import pytest

from conftest import FIXTURES, fixture_mags, fixtures_or_skip, manifest
import wkpy as wk

WKW_MAGS = fixture_mags("wkw")


def _expected(ds, layer, mag):
    info = manifest()["datasets"][ds]["layers"][layer]["mags"][mag]
    return info, np.load(FIXTURES / info["expected"])


@pytest.mark.parametrize("ds,layer,mag", WKW_MAGS or [pytest.param(None, None, None, marks=pytest.mark.skip("no ../shared"))])
def test_whole_mag_reads_as_expected(ds, layer, mag):
    fixtures_or_skip()
    info, expected = _expected(ds, layer, mag)
    view = wk.Dataset.open(FIXTURES / ds, read_only=True).get_layer(layer).get_mag(mag)
    m = view.mag.to_vec3_int()
    topleft = wk.Vec3Int(info["region_topleft_in_mag"]) * m
    size = wk.Vec3Int(info["region_shape"][1:]) * m
    got = view.read(absolute_offset=topleft, size=size)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(view.read(), expected)
    assert view.info.chunk_shape == tuple(info["chunk_shape"])
    assert view.info.shard_shape == tuple(info["shard_shape"])
    assert view.info.compression == info["compressed"]


@pytest.mark.parametrize("ds,layer,mag", WKW_MAGS or [pytest.param(None, None, None, marks=pytest.mark.skip("no ../shared"))])
def test_unaligned_sub_boxes_read_as_expected(ds, layer, mag):
    fixtures_or_skip()
    info, expected = _expected(ds, layer, mag)
    view = wk.Dataset.open(FIXTURES / ds, read_only=True).get_layer(layer).get_mag(mag)
    m = view.mag.to_vec3_int()
    top = np.array(info["region_topleft_in_mag"])
    shape = np.array(info["region_shape"][1:])
    rng = np.random.default_rng(1)
    for _ in range(20):
        lo = rng.integers(0, shape)
        hi = np.minimum(shape, lo + rng.integers(1, 40, size=3))
        got = view.read(absolute_offset=wk.Vec3Int(top + lo) * m, size=wk.Vec3Int(hi - lo) * m)
        np.testing.assert_array_equal(got, expected[:, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])
    # beyond the data: zeros, and the data part still right
    got = view.read(absolute_offset=wk.Vec3Int(top + shape - 2) * m, size=wk.Vec3Int(6, 6, 6) * m)
    np.testing.assert_array_equal(got[:, :2, :2, :2], expected[:, -2:, -2:, -2:])
    assert not got[:, 2:].any()


def test_every_fixture_properties_file_opens():
    root = fixtures_or_skip()
    opened = 0
    for props in sorted(root.rglob("datasource-properties.json")):
        ds = wk.Dataset.open(props.parent, read_only=True)
        for layer in ds.layers.values():
            assert layer.mags or layer.bounding_box is not None
        opened += 1
    assert opened >= 5
