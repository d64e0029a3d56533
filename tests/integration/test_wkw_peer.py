"""WKW files: what wkpy writes the `wkw` library reads, and the reverse."""

import numpy as np
import pytest
import wkw

from conftest import random_volume
from wkpy.storage import ArrayInfo
from wkpy.storage.wkw import WkwArray

DTYPES = ["uint8", "uint16", "uint32", "uint64", "float32", "float64"]
BLOCK_TYPES = {"raw": wkw.Header.BLOCK_TYPE_RAW, "lz4": wkw.Header.BLOCK_TYPE_LZ4, "lz4hc": wkw.Header.BLOCK_TYPE_LZ4HC}
# a box that straddles blocks and files, aligned to neither
OFFSET, SHAPE = (5, 30, 61), (70, 40, 9)


def ours(path, dtype, nc, block_type):
    info = ArrayInfo("wkw", np.dtype(dtype), nc, (8, 8, 8), (32, 32, 32), block_type != "raw")
    return WkwArray.create(path, info)


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nc", [1, 3])
def test_wkw_reads_what_we_write(tmp_path, block_type, dtype, nc):
    array = ours(tmp_path, dtype, nc, block_type)
    data = random_volume((nc, *SHAPE), dtype)
    array.write(OFFSET, data)
    with wkw.Dataset.open(str(tmp_path)) as ds:
        assert ds.header.block_type == BLOCK_TYPES[block_type] or (block_type == "lz4hc" and ds.header.block_type == 2)
        got = ds.read((0, 0, 0), (96, 96, 96))
    expected = np.zeros((nc, 96, 96, 96), dtype)
    expected[:, 5:75, 30:70, 61:70] = data
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("block_type", BLOCK_TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nc", [1, 3])
def test_we_read_what_wkw_writes(tmp_path, block_type, dtype, nc):
    data = random_volume((nc, 64, 64, 64), dtype, seed=3)
    with wkw.Dataset.create(str(tmp_path), wkw.Header(np.dtype(dtype), block_len=8, file_len=4,
                                                      block_type=BLOCK_TYPES[block_type], num_channels=nc)) as ds:
        ds.write((0, 0, 0), data)
    array = WkwArray.open(tmp_path)
    assert array.info.num_channels == nc and array.info.dtype == np.dtype(dtype)
    assert array.info.compression == (block_type != "raw")
    np.testing.assert_array_equal(array.read((0, 0, 0), (64, 64, 64)), data)
    np.testing.assert_array_equal(array.read(OFFSET, SHAPE)[:, :59, :34, :3],
                                  data[:, 5:64, 30:64, 61:70])
    # and a patch written by us into wkw's file is seen by wkw, the rest untouched
    patch = random_volume((nc, 10, 11, 12), dtype, seed=9)
    array.write((20, 21, 22), patch)
    data[:, 20:30, 21:32, 22:34] = patch
    with wkw.Dataset.open(str(tmp_path)) as ds:
        np.testing.assert_array_equal(ds.read((0, 0, 0), (64, 64, 64)), data)


def test_lz4hc_files_compress_at_least_as_well_as_lz4(tmp_path):
    sizes = {}
    for bt in ("lz4", "lz4hc"):
        array = ours(tmp_path / bt, "uint8", 1, "lz4")
        array._block_type = 3 if bt == "lz4hc" else 2
        array.write((0, 0, 0), random_volume((1, 32, 32, 32), "uint8"))
        sizes[bt] = (tmp_path / bt / "z0/y0/x0.wkw").stat().st_size
    assert sizes["lz4hc"] <= sizes["lz4"]


def test_lz4hc_is_an_option_of_add_mag(tmp_path):
    import wkpy as wk

    ds = wk.Dataset(tmp_path / "hc", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color").add_mag(1, chunk_shape=8, shard_shape=32, compress="lz4hc")
    data = random_volume((1, 32, 32, 32), "uint8")
    mag.write(data, absolute_offset=(0, 0, 0))
    assert mag.info.compression and mag.info.lz4hc
    with wkw.Dataset.open(str(tmp_path / "hc" / "c" / "1")) as theirs:
        assert theirs.header.block_type == wkw.Header.BLOCK_TYPE_LZ4HC
        np.testing.assert_array_equal(theirs.read((0, 0, 0), (32, 32, 32)), data)
    assert wk.Dataset.open(tmp_path / "hc").get_layer("c").get_mag(1).info.lz4hc
