"""The façade: Dataset / Layer / MagView / View semantics, errors, and webknossos 4.3.3 agreement."""

import json
import warnings

import numpy as np
import pytest
import webknossos

import wkpy as wk
from conftest import random_volume


@pytest.fixture
def ds(tmp_path):
    return wk.Dataset(tmp_path / "ds", voxel_size=(11.2, 11.2, 25))


# ---- creation and opening ------------------------------------------------------------------

def test_create_writes_properties_and_open_reads_them(tmp_path):
    ds = wk.Dataset(tmp_path / "a", voxel_size=(1, 2, 3))
    assert (tmp_path / "a" / "datasource-properties.json").is_file()
    assert ds.name == "a" and ds.voxel_size == (1.0, 2.0, 3.0)
    again = wk.Dataset.open(tmp_path / "a")
    assert again.voxel_size == (1.0, 2.0, 3.0) and again.layers == {}


def test_voxel_size_with_unit(tmp_path):
    ds = wk.Dataset(tmp_path / "u", voxel_size_with_unit=wk.VoxelSize((1, 1, 2), "micrometer"))
    assert ds.voxel_size == (1000.0, 1000.0, 2000.0)
    assert json.loads((tmp_path / "u/datasource-properties.json").read_text())["scale"]["unit"] == "micrometer"


def test_create_over_existing_dataset_needs_exist_ok(tmp_path):
    wk.Dataset(tmp_path / "a", voxel_size=(1, 1, 1))
    with pytest.raises(RuntimeError):
        wk.Dataset(tmp_path / "a", voxel_size=(1, 1, 1))
    assert wk.Dataset(tmp_path / "a", voxel_size=(1, 1, 1), exist_ok=True).voxel_size == (1, 1, 1)
    with pytest.raises(RuntimeError):
        wk.Dataset(tmp_path / "a", voxel_size=(2, 1, 1), exist_ok=True)


def test_create_in_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "junk").write_text("x")
    with pytest.raises(wk.DatasetExistsError):
        wk.Dataset(tmp_path / "x", voxel_size=(1, 1, 1))


def test_open_missing_dataset_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        wk.Dataset.open(tmp_path / "nothing")


def test_malformed_properties_name_the_field(tmp_path):
    ds = wk.Dataset(tmp_path / "m", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color")
    p = tmp_path / "m" / "datasource-properties.json"
    obj = json.loads(p.read_text())
    obj["dataLayers"][0]["boundingBox"]["width"] = "wide"
    p.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match="width"):
        wk.Dataset.open(tmp_path / "m")


# ---- layers and mags ----------------------------------------------------------------------

def test_layers_and_mags(ds):
    color = ds.add_layer("color", "color", dtype_per_channel="uint8", num_channels=3)
    seg = ds.add_layer("seg", wk.SEGMENTATION_CATEGORY, dtype_per_channel="uint32", largest_segment_id=7)
    assert isinstance(seg, wk.SegmentationLayer) and seg.largest_segment_id == 7
    assert ds.get_color_layers() == [color] and ds.get_segmentation_layers() == [seg]
    m1 = color.add_mag(1)
    m2 = color.add_mag("2-2-1", compress=False)
    assert list(color.mags) == [wk.Mag(1), wk.Mag("2-2-1")]
    assert color.get_mag("1") is m1 and color.get_finest_mag() is m1
    assert m2.info.compression is False and m1.info.compression is True
    assert m1.info.chunk_shape == (32, 32, 32) and m1.info.shard_shape == (1024, 1024, 1024)
    assert (ds.path / "color" / "2-2-1" / "header.wkw").is_file()
    reopened = wk.Dataset.open(ds.path)
    assert reopened.get_layer("seg").largest_segment_id == 7
    assert list(reopened.get_layer("color").mags) == [wk.Mag(1), wk.Mag("2-2-1")]
    color.delete_mag("2-2-1")
    assert not (ds.path / "color" / "2-2-1").exists()
    assert list(wk.Dataset.open(ds.path).get_layer("color").mags) == [wk.Mag(1)]


def test_layer_and_mag_errors(ds):
    layer = ds.add_layer("color", "color")
    layer.add_mag(1)
    with pytest.raises(IndexError):
        ds.add_layer("color", "color")
    with pytest.raises(IndexError):
        layer.add_mag("1")
    with pytest.raises(KeyError):
        ds.get_layer("nope")
    with pytest.raises(IndexError):
        ds.get_layer("nope")
    with pytest.raises(KeyError):
        layer.get_mag(4)
    with pytest.raises(ValueError):
        layer.add_mag(2, chunk_shape=33)
    with pytest.raises(ValueError):
        layer.add_mag(2, chunk_shape=64, shard_shape=32)
    with pytest.raises(ValueError):
        ds.add_layer("bad", "color", dtype_per_channel="complex64")


def test_largest_segment_id_is_persisted_and_refreshable(ds):
    seg = ds.add_layer("seg", "segmentation", dtype_per_channel="uint64", largest_segment_id=None)
    mag = seg.add_mag(1)
    data = np.zeros((40, 30, 20), np.uint64)
    data[3, 4, 5] = 2**60 + 3
    mag.write(data, absolute_offset=(0, 0, 0), allow_unaligned=True)
    seg.refresh_largest_segment_id()
    assert wk.Dataset.open(ds.path).get_layer("seg").largest_segment_id == 2**60 + 3
    seg.largest_segment_id = 5
    assert wk.Dataset.open(ds.path).get_layer("seg").largest_segment_id == 5


def test_delete_layer(ds):
    ds.add_layer("a", "color").add_mag(1)
    ds.delete_layer("a")
    assert "a" not in wk.Dataset.open(ds.path).layers and not (ds.path / "a").exists()


# ---- read and write -----------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Data type .* with multiple channels:UserWarning")
@pytest.mark.parametrize("compress", [True, False])
def test_write_grows_the_bounding_box_and_reads_back(ds, compress):
    layer = ds.add_layer("color", "color", dtype_per_channel="uint16", num_channels=2,
                         bounding_box=wk.BoundingBox((10, 20, 30), (5, 5, 5)))
    mag = layer.add_mag(1, chunk_shape=8, shard_shape=32, compress=compress)
    data = random_volume((2, 50, 40, 30), "uint16")
    mag.write(data, absolute_offset=(10, 20, 30), allow_unaligned=True)
    assert layer.bounding_box == wk.BoundingBox((10, 20, 30), (50, 40, 30))
    assert wk.Dataset.open(ds.path).get_layer("color").bounding_box == layer.bounding_box
    np.testing.assert_array_equal(mag.read(), data)
    np.testing.assert_array_equal(mag.read(absolute_offset=(12, 20, 30), size=(3, 4, 5)), data[:, 2:5, :4, :5])
    np.testing.assert_array_equal(mag.read(relative_offset=(2, 0, 0), size=(3, 4, 5)), data[:, 2:5, :4, :5])
    box = wk.BoundingBox((11, 21, 31), (7, 8, 9))
    np.testing.assert_array_equal(mag.read(absolute_bounding_box=box), data[:, 1:8, 1:9, 1:10])
    np.testing.assert_array_equal(mag.read(relative_bounding_box=wk.BoundingBox((1, 1, 1), (7, 8, 9))),
                                  data[:, 1:8, 1:9, 1:10])
    # outside anything written: zeros
    assert not mag.read(absolute_offset=(500, 500, 500), size=(4, 4, 4)).any()


def test_mag2_coordinates_are_mag1(ds):
    layer = ds.add_layer("color", "color", num_channels=3)
    mag2 = layer.add_mag(2)
    data = random_volume((3, 256, 256, 16), "uint8")
    mag2.write(data, absolute_offset=(10, 20, 30), allow_unaligned=True)
    assert layer.bounding_box == wk.BoundingBox((10, 20, 30), (512, 512, 32))
    assert mag2.read(absolute_offset=(10, 20, 30), size=(512, 512, 32)).shape == (3, 256, 256, 16)
    np.testing.assert_array_equal(mag2.read(), data)
    with pytest.raises(AssertionError):
        mag2.read(absolute_offset=(11, 20, 30), size=(4, 4, 4))
    with pytest.raises(ValueError):
        mag2.write(data[:, :4, :4, :4], absolute_offset=(11, 20, 30), allow_unaligned=True)


def test_single_channel_accepts_3d_data_and_returns_4d(ds):
    mag = ds.add_layer("c", "color").add_mag(1)
    data = random_volume((20, 20, 20), "uint8")
    mag.write(data, absolute_offset=(0, 0, 0), allow_unaligned=True)
    assert mag.read().shape == (1, 20, 20, 20)
    np.testing.assert_array_equal(mag.read()[0], data)


@pytest.mark.parametrize("bad,exc", [
    (np.zeros((2, 4, 4, 4), np.uint8), AssertionError),          # channel count
    (np.zeros((4, 4, 4), np.uint16), ValueError),                # dtype: never a silent cast
    (np.zeros((4, 4), np.uint8), ValueError),                    # dimensions
])
def test_bad_data_is_refused(ds, bad, exc):
    mag = ds.add_layer("c", "color").add_mag(1)
    with pytest.raises(exc):
        mag.write(bad, absolute_offset=(0, 0, 0), allow_unaligned=True)


def test_bad_positions_are_refused(ds):
    mag = ds.add_layer("c", "color").add_mag(1)
    data = np.zeros((4, 4, 4), np.uint8)
    with pytest.raises(AssertionError):
        mag.write(data, absolute_offset=(-4, 0, 0), allow_unaligned=True)
    with pytest.raises(AssertionError):
        mag.read(absolute_offset=(0, 0, 0), size=(0, 4, 4))
    with pytest.raises(AssertionError):
        mag.read(absolute_offset=(0, 0, 0), relative_offset=(0, 0, 0), size=(4, 4, 4))
    with pytest.raises(AssertionError):
        mag.read(absolute_offset=(0, 0, 0))
    with pytest.raises(ValueError):
        mag.write(np.zeros((4, 4, 4), np.uint8), absolute_bounding_box=wk.BoundingBox((0, 0, 0), (5, 5, 5)),
                  allow_unaligned=True)


def test_unaligned_compressed_writes_need_allow_unaligned(ds):
    layer = ds.add_layer("c", "color", bounding_box=wk.BoundingBox((0, 0, 0), (64, 64, 42)))
    mag = layer.add_mag(1, chunk_shape=8, shard_shape=32)
    with pytest.raises(ValueError, match="aligned"):
        mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(8, 0, 0))
    assert not (ds.path / "c" / "1" / "z0").exists(), "a refused write must not touch the disk"
    mag.write(np.ones((32, 32, 32), np.uint8), absolute_offset=(32, 0, 0))  # whole shard: fine
    # a box that ends at the layer's bounding box may stop short of the shard border
    mag.write(np.full((32, 32, 10), 2, np.uint8), absolute_offset=(32, 0, 32))
    assert (mag.read(absolute_offset=(32, 0, 32), size=(32, 32, 10)) == 2).all()
    with pytest.raises(ValueError, match="aligned"):  # stops short of both the shard and the box
        mag.write(np.full((32, 32, 9), 2, np.uint8), absolute_offset=(32, 0, 32))


def test_unaligned_raw_writes_warn_but_work(ds):
    layer = ds.add_layer("c", "color", bounding_box=wk.BoundingBox((0, 0, 0), (64, 64, 64)))
    mag = layer.add_mag(1, chunk_shape=8, shard_shape=32, compress=False)
    with pytest.warns(wk.UnalignedWriteWarning):
        mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(8, 0, 0))
    assert mag.read(absolute_offset=(8, 0, 0), size=(8, 8, 8)).all()


def test_json_update_allowed_false_skips_the_properties(ds):
    layer = ds.add_layer("c", "color")
    mag = layer.add_mag(1)
    mag.write(np.ones((64, 64, 64), np.uint8), absolute_offset=(0, 0, 0), json_update_allowed=False,
              allow_unaligned=True)
    assert layer.bounding_box.is_empty()
    assert wk.Dataset.open(ds.path).get_layer("c").bounding_box.is_empty()
    layer.bounding_box = wk.BoundingBox((0, 0, 0), (64, 64, 64))
    assert wk.Dataset.open(ds.path).get_layer("c").get_mag(1).read().all()


def test_views(ds):
    layer = ds.add_layer("c", "color")
    mag = layer.add_mag(1, chunk_shape=8, shard_shape=32)
    mag.write(random_volume((64, 64, 64), "uint8"), absolute_offset=(0, 0, 0))
    view = mag.get_view(absolute_offset=(8, 8, 8), size=(16, 16, 16))
    assert view.bounding_box == wk.BoundingBox((8, 8, 8), (16, 16, 16))
    np.testing.assert_array_equal(view.read(), mag.read(absolute_offset=(8, 8, 8), size=(16, 16, 16)))
    sub = view.get_view(relative_offset=(4, 4, 4), size=(4, 4, 4))
    assert sub.bounding_box.topleft == wk.Vec3Int(12, 12, 12)
    with pytest.raises(AssertionError):
        view.get_view(relative_offset=(0, 0, 0), size=(32, 32, 32))
    big = view.get_view(relative_offset=(0, 0, 0), size=(32, 32, 32), read_only=True)
    with pytest.raises(PermissionError):
        big.write(np.zeros((4, 4, 4), np.uint8), relative_offset=(0, 0, 0))
    with pytest.raises(AssertionError):
        view.write(np.zeros((32, 32, 32), np.uint8), relative_offset=(0, 0, 0), allow_unaligned=True)
    view.write(np.full((16, 16, 16), 9, np.uint8), allow_unaligned=True)
    assert (mag.read(absolute_offset=(8, 8, 8), size=(16, 16, 16)) == 9).all()
    chunks = list(mag.chunk((32, 32, 32)))
    assert len(chunks) == 8 and all(c.bounding_box.size == wk.Vec3Int(32, 32, 32) for c in chunks)


def test_read_only_everything(tmp_path):
    ds = wk.Dataset(tmp_path / "r", voxel_size=(1, 1, 1))
    ds.add_layer("c", "color").add_mag(1)
    ro = wk.Dataset.open(tmp_path / "r", read_only=True)
    layer = ro.get_layer("c")
    for action in (lambda: ro.add_layer("d", "color"), lambda: layer.add_mag(2),
                   lambda: layer.get_mag(1).write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0)),
                   lambda: setattr(layer, "bounding_box", wk.BoundingBox((0, 0, 0), (1, 1, 1))),
                   lambda: ro.delete_layer("c")):
        with pytest.raises(PermissionError):
            action()
        with pytest.raises(RuntimeError):
            action()
    before = (tmp_path / "r" / "datasource-properties.json").read_bytes()
    assert (tmp_path / "r" / "datasource-properties.json").read_bytes() == before


def test_failed_property_save_leaves_old_json(ds, monkeypatch):
    layer = ds.add_layer("c", "color")
    path = ds.path / "datasource-properties.json"
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("wkpy.dataset.dataset.save_properties", boom)
    with pytest.raises(OSError):
        layer.bounding_box = wk.BoundingBox((0, 0, 0), (9, 9, 9))
    assert path.read_bytes() == before
    assert layer.bounding_box.is_empty(), "a failed save must not leave the change in memory"
    assert [p.name for p in ds.path.iterdir() if p.name.endswith(".tmp")] == []


# ---- agreement with webknossos 4.3.3 -----------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_webknossos_opens_what_we_create(tmp_path, compress):
    ds = wk.Dataset(tmp_path / "ours", voxel_size=(4, 4, 40))
    color = ds.add_layer("color", "color", dtype_per_channel="uint8", num_channels=3)
    seg = ds.add_layer("seg", "segmentation", dtype_per_channel="uint32", largest_segment_id=99)
    c_data = random_volume((3, 70, 60, 50), "uint8")
    s_data = random_volume((1, 70, 60, 50), "uint32", seed=4)
    for layer, data in ((color, c_data), (seg, s_data)):
        layer.add_mag(1, compress=compress).write(data, absolute_offset=(3, 4, 5), allow_unaligned=True)
        layer.add_mag("2-2-1", compress=compress).write(data[:, ::2, ::2, :], absolute_offset=(4, 4, 5),
                                                           allow_unaligned=True)
    theirs = webknossos.Dataset.open(tmp_path / "ours")
    assert tuple(theirs.voxel_size) == (4.0, 4.0, 40.0)
    assert theirs.get_layer("seg").largest_segment_id == 99
    for name, data in (("color", c_data), ("seg", s_data)):
        layer = theirs.get_layer(name)
        assert layer.bounding_box.topleft == (3, 4, 5)
        np.testing.assert_array_equal(layer.get_mag(1).read(absolute_offset=(3, 4, 5), size=(70, 60, 50)), data)
        np.testing.assert_array_equal(
            layer.get_mag("2-2-1").read(absolute_offset=(4, 4, 5), size=(70, 60, 50)), data[:, ::2, ::2, :])


def test_we_open_what_webknossos_creates(tmp_path):
    theirs = webknossos.Dataset(tmp_path / "theirs", voxel_size=(1, 1, 2))
    layer = theirs.add_layer("color", "color", dtype_per_channel="uint16", num_channels=1, data_format="wkw")
    data = random_volume((1, 64, 64, 64), "uint16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer.add_mag(1, chunk_shape=16, shard_shape=64).write(data, absolute_offset=(0, 0, 0), allow_resize=True)
    ours = wk.Dataset.open(tmp_path / "theirs")
    mag = ours.get_layer("color").get_mag(1)
    assert mag.info.chunk_shape == (16, 16, 16) and mag.info.shard_shape == (64, 64, 64)
    np.testing.assert_array_equal(mag.read(), data)
