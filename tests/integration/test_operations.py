"""Dataset operations: copies, links, compression, slice I/O and executors."""

import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
import webknossos

import wkpy as wk
from conftest import random_volume

# two uint8 channels: allowed, with webknossos' warning that WEBKNOSSOS cannot show them
# links are what these tests are about: webknossos 4.3.3 deprecates them with this warning too
pytestmark = [pytest.mark.filterwarnings("ignore:Data type .* with multiple channels:UserWarning"),
              pytest.mark.filterwarnings("ignore:Using symlinks is deprecated:DeprecationWarning")]


def _dataset(tmp_path, name="src", compress=False):
    ds = wk.Dataset(tmp_path / name, voxel_size=(4, 4, 40))
    color = ds.add_layer("color", "color", dtype="uint8", num_channels=2)
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", largest_segment_id=6)
    c = random_volume((2, 90, 70, 40), "uint8")
    s = (random_volume((1, 90, 70, 40), "uint32", seed=2) % 7).astype(np.uint32)
    color.add_mag(1, chunk_shape=16, shard_shape=32, compress=compress).write(c, absolute_offset=(5, 6, 7),
                                                                               allow_unaligned=True)
    seg.add_mag(1, chunk_shape=16, shard_shape=32, compress=compress).write(s, absolute_offset=(5, 6, 7),
                                                                             allow_unaligned=True)
    return ds, c, s


def test_copy_dataset_rechunks_and_compresses(tmp_path):
    ds, c, s = _dataset(tmp_path)
    copy = ds.copy_dataset(tmp_path / "copy", chunk_shape=8, shard_shape=64, compress=True)
    for name, data in (("color", c), ("seg", s)):
        mag = copy.get_layer(name).get_mag(1)
        assert (mag.info.chunk_shape, mag.info.shard_shape, mag.info.compression) == ((8,) * 3, (64,) * 3, True)
        np.testing.assert_array_equal(mag.read(), data)
    assert copy.get_layer("seg").largest_segment_id == 6
    assert copy.voxel_size == (4, 4, 40)
    theirs = webknossos.Dataset.open(tmp_path / "copy")
    np.testing.assert_array_equal(theirs.get_layer("color").get_mag(1).read(), c)
    with pytest.raises(RuntimeError):
        ds.copy_dataset(tmp_path / "copy")
    assert sorted(ds.copy_dataset(tmp_path / "c2", layers_to_ignore=["seg"]).layers) == ["color"]


@pytest.mark.parametrize("make_relative", [False, True])
def test_symlink_layer(tmp_path, make_relative):
    src, c, _ = _dataset(tmp_path)
    other = wk.Dataset(tmp_path / "other", voxel_size=(4, 4, 40))
    linked = other.add_symlink_layer(src.get_layer("color"), make_relative=make_relative)
    link = tmp_path / "other" / "color"
    assert link.is_symlink()
    assert os.path.isabs(os.readlink(link)) != make_relative
    np.testing.assert_array_equal(linked.get_mag(1).read(), c)
    np.testing.assert_array_equal(wk.Dataset.open(tmp_path / "other").get_layer("color").get_mag(1).read(), c)
    np.testing.assert_array_equal(webknossos.Dataset.open(tmp_path / "other").get_layer("color").get_mag(1).read(), c)
    with pytest.raises(IndexError):
        other.add_symlink_layer(src.get_layer("color"))
    renamed = other.add_symlink_layer(src.get_layer("color"), "color2")
    assert renamed.name == "color2"


def test_copy_layer_layer_like_and_existing_files(tmp_path):
    src, c, s = _dataset(tmp_path)
    dst = wk.Dataset(tmp_path / "dst", voxel_size=(4, 4, 40))
    copied = dst.add_layer_as_copy(src.get_layer("seg"), "seg_copy", compress=True)
    np.testing.assert_array_equal(copied.get_mag(1).read(), s)
    like = dst.add_layer_like(src.get_layer("color"), "empty")
    assert like.num_channels == 2 and like.bounding_box == src.get_layer("color").bounding_box and not like.mags
    # existing files: a layer folder copied in by hand
    import shutil

    shutil.copytree(tmp_path / "src" / "color", tmp_path / "dst" / "raw_color")
    found = dst.add_layer_for_existing_files("raw_color", "color")
    assert found.num_channels == 2 and list(found.mags) == [wk.Mag(1)]
    assert found.bounding_box.contains_bbox(src.get_layer("color").bounding_box)
    np.testing.assert_array_equal(found.get_mag(1).read(absolute_offset=(5, 6, 7), size=(90, 70, 40)), c)


def test_compress_in_place(tmp_path):
    ds, c, _ = _dataset(tmp_path)
    before = sum(f.stat().st_size for f in (tmp_path / "src" / "color").rglob("*.wkw"))
    ds.compress()
    mag = wk.Dataset.open(tmp_path / "src").get_layer("color").get_mag(1)
    assert mag.info.compression
    np.testing.assert_array_equal(mag.read(), c)
    after = sum(f.stat().st_size for f in (tmp_path / "src" / "color").rglob("*.wkw"))
    assert after < before
    assert not list((tmp_path / "src" / "color").glob(".*"))


@pytest.mark.parametrize("dimension", ["x", "y", "z"])
def test_buffered_slice_writer_and_reader(tmp_path, dimension):
    ds = wk.Dataset(tmp_path / "s", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", dtype="uint16").add_mag(1, chunk_shape=8, shard_shape=16)
    volume = random_volume((1, 24, 20, 36), "uint16")
    axis = "xyz".index(dimension)
    with mag.get_buffered_slice_writer(absolute_offset=(0, 0, 0), dimension=dimension, buffer_size=16) as writer:
        for i in range(volume.shape[1 + axis]):
            writer.send(np.take(volume[0], i, axis=axis))
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(24, 20, 36)), volume)
    assert ds.get_layer("c").bounding_box == wk.BoundingBox((0, 0, 0), (24, 20, 36))
    with mag.get_buffered_slice_reader(dimension=dimension, buffer_size=8) as reader:
        slices = list(reader)
    assert len(slices) == volume.shape[1 + axis]
    np.testing.assert_array_equal(np.stack(slices, axis=1 + axis), volume)


def test_buffered_slice_writer_refuses_misaligned_offsets(tmp_path):
    ds = wk.Dataset(tmp_path / "s", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color").add_mag(1, chunk_shape=8, shard_shape=16)
    with pytest.raises(ValueError):
        mag.get_buffered_slice_writer(absolute_offset=(0, 0, 3))
    with pytest.raises(ValueError):
        mag.get_buffered_slice_writer(buffer_size=12)


def _sum_chunk(view):
    return int(view.read().astype(np.int64).sum())


def _invert_chunk(args):
    view, _ = args
    view.write(255 - view.read(), json_update_allowed=False)


def _copy_chunk(args):
    source, target, _ = args
    target.write(source.read(), json_update_allowed=False)


def _fail_on_second(args):
    view, i = args
    if i == 1:
        raise ZeroDivisionError("chunk 1 failed on purpose")


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_chunkwise_processing_on_executors(tmp_path, kind):
    ds = wk.Dataset(tmp_path / "e", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color").add_mag(1, chunk_shape=8, shard_shape=16)
    data = random_volume((1, 48, 32, 16), "uint8")
    mag.write(data, absolute_offset=(0, 0, 0))
    pool = ThreadPoolExecutor(2) if kind == "threads" else ProcessPoolExecutor(2)
    with pool:
        assert sum(mag.map_chunk(_sum_chunk, chunk_shape=(16, 16, 16), executor=pool)) == int(data.sum())
        mag.for_each_chunk(_invert_chunk, chunk_shape=(16, 16, 16), executor=pool)
        np.testing.assert_array_equal(mag.read(), 255 - data)
        target = ds.add_layer("t", "color", bounding_box=mag.bounding_box).add_mag(1, chunk_shape=8, shard_shape=16)
        mag.for_zipped_chunks(_copy_chunk, target_view=target, source_chunk_shape=(16, 16, 16),
                              target_chunk_shape=(16, 16, 16), executor=pool)
        np.testing.assert_array_equal(target.read(), 255 - data)
        with pytest.raises(ZeroDivisionError, match="on purpose"):
            mag.for_each_chunk(_fail_on_second, chunk_shape=(16, 16, 16), executor=pool)


def test_dask_distributed_executor(tmp_path):
    distributed = pytest.importorskip("distributed")
    src, c, s = _dataset(tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        executor = client.get_executor()
        copy = src.copy_dataset(tmp_path / "dask_copy", compress=True, chunk_shape=16, shard_shape=32,
                                executor=executor)
        np.testing.assert_array_equal(copy.get_layer("color").get_mag(1).read(), c)
        # the same bytes as a thread-pool run
        with ThreadPoolExecutor(2) as pool:
            src.copy_dataset(tmp_path / "thread_copy", compress=True, chunk_shape=16, shard_shape=32, executor=pool)
        for shard in sorted((tmp_path / "thread_copy").rglob("*.wkw")):
            twin = tmp_path / "dask_copy" / shard.relative_to(tmp_path / "thread_copy")
            assert twin.read_bytes() == shard.read_bytes(), shard
        layer = copy.get_layer("seg")
        layer.downsample(coarsest_mag=wk.Mag(4), sampling_mode="isotropic", executor=executor)
        assert [m.to_layer_name() for m in layer.mags] == ["1", "2", "4"]
        local = wk.Dataset.open(tmp_path / "dask_copy").get_layer("seg")
        assert local.get_mag(2).read().any()
        with pytest.raises(ZeroDivisionError):
            local.get_mag(1).for_each_chunk(_fail_on_second, chunk_shape=(32, 32, 32), executor=executor)


def test_wkw_to_zarr3_copy_and_back_on_a_process_pool(tmp_path):
    src, c, s = _dataset(tmp_path, compress=True)
    with ProcessPoolExecutor(2) as pool:
        zarr = src.copy_dataset(tmp_path / "as_zarr", data_format="zarr3", chunk_shape=16, shard_shape=64,
                                executor=pool)
        zarr.get_layer("seg").downsample(coarsest_mag=wk.Mag(2), sampling_mode="isotropic", executor=pool)
        back = zarr.copy_dataset(tmp_path / "back", data_format="wkw", executor=pool)
    assert zarr.get_layer("color").data_format == "zarr3"
    np.testing.assert_array_equal(zarr.get_layer("color").get_mag(1).read(), c)
    np.testing.assert_array_equal(back.get_layer("seg").get_mag(1).read(), s)
    assert back.get_layer("seg").get_mag(2).read().any()
    theirs = webknossos.Dataset.open(tmp_path / "as_zarr")
    np.testing.assert_array_equal(theirs.get_layer("color").get_mag(1).read(), c)
    assert (tmp_path / "as_zarr" / "zarr.json").is_file() and (tmp_path / "as_zarr" / "seg" / "zarr.json").is_file()


def test_copy_and_symlink_mags_from_another_layer(tmp_path):
    src, c, _ = _dataset(tmp_path)
    dst = wk.Dataset(tmp_path / "mags", voxel_size=(4, 4, 40))
    layer = dst.add_layer("color", "color", dtype="uint8", num_channels=2)
    copied = layer.add_mag_as_copy(src.get_layer("color").get_mag(1), compress=True, chunk_shape=8, shard_shape=64)
    assert copied.info.compression and copied.info.shard_shape == (64, 64, 64)
    np.testing.assert_array_equal(copied.read(), c)
    other = dst.add_layer("linked", "color", dtype="uint8", num_channels=2)
    linked = other.add_symlink_mag(tmp_path / "src" / "color" / "1", make_relative=True)
    assert (tmp_path / "mags" / "linked" / "1").is_symlink()
    np.testing.assert_array_equal(linked.read(), c)
    np.testing.assert_array_equal(wk.Dataset.open(tmp_path / "mags").get_layer("linked").get_mag(1).read(), c)
    np.testing.assert_array_equal(webknossos.Dataset.open(tmp_path / "mags").get_layer("linked").get_mag(1).read(), c)
    with pytest.raises(IndexError):
        other.add_symlink_mag(src.get_layer("color").get_mag(1))
    wrong = dst.add_layer("u16", "color", dtype="uint16", num_channels=2)
    with pytest.raises(ValueError):
        wrong.add_mag_as_copy(src.get_layer("color").get_mag(1))


def _mag_sum(mag):
    return int(mag.read().astype(np.int64).sum())


def test_mag_views_travel_to_worker_processes(tmp_path):
    src, c, _ = _dataset(tmp_path)
    mag = src.get_layer("color").get_mag(1)
    with ProcessPoolExecutor(1) as pool:
        assert pool.submit(_mag_sum, mag).result() == int(c.astype(np.int64).sum())
