"""MagView and View methods and the dataset calls around them that webknossos 4.3.3 has
(rechunk, merge_with_view, get_views_on_disk, get_zarr_array, write_layer, chunked-work
checks, warnings, webknossos' private names its users poke), each made on wkpy and on
webknossos with the same calls and compared."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

import wkpy as wk
from conftest import random_volume
from peers import layers_json, quiet, raised, warned

webknossos = pytest.importorskip("webknossos")

LIBS = (("py", wk), ("wk", webknossos))
DATA = random_volume((64, 64, 32), "uint8", seed=7)


def _mag(lib, path, data_format="zarr3", compress=True, chunk=32, shard=64):
    ds = lib.Dataset(path, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint8", data_format=data_format)
    mag = layer.add_mag(1, chunk_shape=chunk, shard_shape=shard, compress=compress)
    mag.write(DATA, absolute_offset=(0, 0, 0), allow_resize=True)
    return mag


def sequential():
    """An executor running each task at once, for both libraries (webknossos' default starts
    a process pool, slow to spawn)."""
    from cluster_tools import get_executor

    return get_executor("sequential")


def _total(view):
    return int(view.read().sum())


def test_private_names_webknossos_users_poke_read_our_state(tmp_path):
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name, data_format="wkw", compress=False)
        assert mag._properties.path == "./color/1" and mag._properties.cube_length == 64
        assert not mag._is_compressed() and mag._get_file_dimensions() == lib.Vec3Int(64, 64, 64)
        assert mag._cached_array is not None
        info = mag.info
        assert info.chunk_shape.xyz == lib.Vec3Int.full(32) and info.chunks_per_shard.xyz == lib.Vec3Int.full(2)
        assert mag.layer.is_mag_view_foreign(mag) is False and mag.layer.is_foreign is False
        assert mag.layer.resolved_path == (tmp_path / name / "color").resolve()
        assert info.bounding_box.size.c == 1 and info.bounding_box.axes == ("c", "x", "y", "z")
        box = mag.layer.normalized_bounding_box
        assert (tuple(box.topleft), tuple(box.size), box.axes) == ((0, 0, 0, 0), (1, 64, 64, 32), ("c", "x", "y", "z"))
        assert warned(lambda: mag.is_foreign)[1] == {"deprecation"}


def test_a_pickled_mag_view_reopens_its_storage_and_remembers_the_mag_it_saw(tmp_path):
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name)
        again = pickle.loads(pickle.dumps(mag))
        assert mag._cached_array is not None and again._cached_array is None
        np.testing.assert_array_equal(again.read(), mag.read())
        assert again._cached_array is not None
    # a copy made before the mag was deleted and re-created refuses to write into the new one
    mag = wk.Dataset.open(tmp_path / "py").get_layer("color").get_mag(1)
    mag.read()
    stale = pickle.dumps(mag)
    layer = wk.Dataset.open(tmp_path / "py").get_layer("color")
    layer.delete_mag(1)
    layer.add_mag(1, chunk_shape=32, shard_shape=64)
    with pytest.raises(wk.errors.OperationError):
        pickle.loads(stale).write(DATA, absolute_offset=(0, 0, 0))
    assert not layer.get_mag(1).read().any()


def test_changed_private_properties_are_saved_like_webknossos(tmp_path):
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name)
        mag._properties.path = f"../{name}/color/1"
        mag.layer.dataset._save_dataset_properties()
        again = lib.Dataset.open(tmp_path / name).get_layer("color").get_mag(1)
        assert again.path == tmp_path / name / "color" / "1"
        np.testing.assert_array_equal(again.read()[0], DATA)
    theirs = json.dumps(layers_json(tmp_path / "wk")).replace("../wk/", "../py/")
    assert layers_json(tmp_path / "py") == json.loads(theirs)


def test_writable_sub_views_off_the_shard_grid_warn_like_webknossos(tmp_path):
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name)
        assert warned(lambda: mag.get_view(absolute_offset=(8, 8, 8), size=(16, 16, 16)))[1] == {"user"}
        assert warned(lambda: mag.get_view(absolute_offset=(0, 0, 0), size=(64, 64, 32)))[1] == set()
        assert warned(lambda: mag.get_view(absolute_offset=(8, 8, 8), size=(16, 16, 16), read_only=True))[1] == set()
        read_only = mag.get_view(absolute_offset=(8, 8, 8), size=(16, 16, 16), read_only=True)
        assert AssertionError in raised(lambda: read_only.get_view(read_only=False))


@pytest.mark.parametrize("shape", [(0, 64, 64), (16, 64, 64), (100, 64, 64), (64, 50, 64)])
def test_chunked_work_refuses_chunk_shapes_off_the_grid_like_webknossos(tmp_path, shape):
    got = {}
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name)
        other = mag.layer.dataset.add_layer("t", "color", dtype="uint8", data_format="zarr3",
                                            bounding_box=mag.bounding_box).add_mag(1, chunk_shape=32, shard_shape=64)
        got[name] = [raised(lambda: mag.for_each_chunk(lambda args: None, chunk_shape=shape)),
                     raised(lambda: mag.map_chunk(lambda view: None, chunk_shape=shape)),
                     raised(lambda: mag.for_zipped_chunks(lambda args: None, other, source_chunk_shape=shape,
                                                          target_chunk_shape=shape)),
                     raised(lambda: mag.for_zipped_chunks(lambda args: None, other, source_chunk_shape=(64, 64, 64)))]
    assert all(theirs and theirs <= ours for ours, theirs in zip(got["py"], got["wk"]))
    assert all(AssertionError in x for x in got["py"])


def test_read_only_views_take_chunk_multiples_and_content_is_equal_takes_a_chunk_shape(tmp_path):
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name)
        view = mag.get_view(read_only=True)
        with sequential() as executor:   # webknossos would start a process pool per call
            assert len(view.map_chunk(_total, chunk_shape=(32, 32, 32), executor=executor)) == 4
            assert AssertionError in raised(lambda: mag.map_chunk(_total, chunk_shape=(32, 32, 32)))
            copy = quiet(lambda: mag.layer.dataset.add_layer_as_copy(mag.layer, "copy", executor=executor))
            assert mag.content_is_equal(copy.get_mag(1), chunk_shape=(32, 32, 32), executor=executor)
            copy.get_mag(1).write(np.zeros((16, 16, 16), np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)
            assert not mag.content_is_equal(copy.get_mag(1), chunk_shape=(32, 32, 32), executor=executor)


def test_rechunk_in_place_and_into_another_dataset_like_webknossos(tmp_path):
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name, data_format="wkw", compress=False, chunk=32, shard=32)
        with sequential() as ex:
            quiet(lambda: mag.compress(target_path=tmp_path / f"{name}-compressed", executor=ex))
            quiet(lambda: mag.rechunk(chunk_shape=32, shard_shape=64, compress=True, executor=ex))
            quiet(lambda: mag.rechunk(target_path=tmp_path / f"{name}-other", shard_shape=128, executor=ex))
        assert quiet(lambda: mag.compress(target_path=tmp_path / f"{name}-none")) is None   # compressed already
        assert not (tmp_path / f"{name}-none").exists()
        for path in (tmp_path / name, tmp_path / f"{name}-other", tmp_path / f"{name}-compressed"):
            again = lib.Dataset.open(path).get_layer("color").get_mag(1)
            np.testing.assert_array_equal(again.read()[0], DATA)
    for suffix in ("", "-other", "-compressed"):
        ours, theirs = layers_json(tmp_path / f"py{suffix}"), layers_json(tmp_path / f"wk{suffix}")
        if suffix == "":   # webknossos 4.3.3 keeps the old cubeLength (32) after rechunking in place
            assert ours[0]["mags"][0].pop("cubeLength") == 64 and theirs[0]["mags"][0].pop("cubeLength") == 32
        assert ours == theirs
        ours = wk.Dataset.open(tmp_path / f"py{suffix}").get_layer("color").get_mag(1).info
        theirs = webknossos.Dataset.open(tmp_path / f"wk{suffix}").get_layer("color").get_mag(1).info
        assert (ours.chunk_shape, ours.shard_shape, ours.compression_mode) == \
            (theirs.chunk_shape, theirs.shard_shape, theirs.compression_mode)
    assert not [p for p in os.listdir(tmp_path / "py" / "color") if p.startswith(".")]


def test_merge_with_view_overlays_an_annotation_like_webknossos(tmp_path):
    out = {}
    for name, lib in LIBS:
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        fallback = ds.add_layer("seg", "segmentation", dtype="uint32", data_format="zarr3", largest_segment_id=5)
        base = fallback.add_mag(1, chunk_shape=32, shard_shape=64)
        base.write(np.full((64, 64, 32), 5, np.uint32), absolute_offset=(0, 0, 0), allow_resize=True)
        volume = ds.add_layer("vol", "segmentation", dtype="uint32", data_format="zarr3", largest_segment_id=9)
        annotation = volume.add_mag(1, chunk_shape=32, shard_shape=32)
        annotation.write(np.full((32, 32, 32), 9, np.uint32), absolute_offset=(32, 0, 0), allow_resize=True)
        annotation.write(np.full((32, 32, 32), 7, np.uint32), absolute_offset=(64, 64, 0), allow_resize=True)
        other = ds.add_layer("c", "color", dtype="uint8", data_format="zarr3").add_mag(1, chunk_shape=32,
                                                                                         shard_shape=32)
        with sequential() as executor:
            refused = raised(lambda: base.merge_with_view(other, executor))   # another dtype
            quiet(lambda: base.merge_with_view(annotation, executor))
        out[name] = ((tuple(fallback.bounding_box.topleft), tuple(fallback.bounding_box.size)), base.read(absolute_offset=(0, 0, 0), size=(128, 128, 32)), refused)
    assert out["py"][0] == out["wk"][0]
    assert out["wk"][2] and out["wk"][2] <= out["py"][2]
    np.testing.assert_array_equal(out["py"][1], out["wk"][1])


def test_views_on_disk_are_the_shards_like_webknossos(tmp_path):
    boxes = {}
    for name, lib in LIBS:
        mag = _mag(lib, tmp_path / name, shard=32)
        views = list(mag.get_views_on_disk(read_only=True))
        boxes[name] = sorted(tuple(v.bounding_box.topleft) + tuple(v.bounding_box.size) for v in views)
        assert all(v.read_only for v in views)
    assert boxes["py"] == boxes["wk"] and len(boxes["py"]) == 4


def test_get_zarr_array_is_a_zarr_python_array(tmp_path):
    zarr = pytest.importorskip("zarr")
    mag = _mag(wk, tmp_path / "z")
    array = mag.get_zarr_array()
    assert isinstance(array, zarr.Array)
    np.testing.assert_array_equal(array[:, :64, :64, :32], mag.read())
    wkw_mag = _mag(wk, tmp_path / "w", data_format="wkw")
    theirs = _mag(webknossos, tmp_path / "t", data_format="wkw")
    assert raised(theirs.get_zarr_array) <= raised(wkw_mag.get_zarr_array)


def test_get_or_add_mag_refuses_another_layout_like_webknossos(tmp_path):
    for name, lib in LIBS:
        layer = _mag(lib, tmp_path / name).layer
        assert layer.get_or_add_mag(1, chunk_shape=32, shard_shape=64, compress=True) is layer.get_mag(1)
        for kwargs in (dict(chunk_shape=64), dict(shard_shape=128), dict(compress=False)):
            assert raised(lambda: layer.get_or_add_mag(1, **kwargs)) >= {ValueError}


@pytest.mark.parametrize("offset", [None, (32, 64, 0)])
@pytest.mark.parametrize("mag", [1, 2])
def test_write_layer_writes_like_webknossos(tmp_path, offset, mag):
    data = random_volume((3, 64, 32, 16), "uint8", seed=2)
    for name, lib in LIBS:
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer = quiet(lambda: ds.write_layer("color", "color", data, data_format="zarr3", shard_shape=64,
                                             absolute_offset=offset, mag=mag, downsample=False))
        assert layer.num_channels == 3
    assert layers_json(tmp_path / "py") == layers_json(tmp_path / "wk")
    ours = wk.Dataset.open(tmp_path / "py").get_layer("color")
    theirs = webknossos.Dataset.open(tmp_path / "wk").get_layer("color")
    np.testing.assert_array_equal(ours.get_mag(mag).read(), data)
    np.testing.assert_array_equal(ours.get_mag(mag).read(), theirs.get_mag(mag).read())


def test_write_layer_then_downsamples(tmp_path):
    # webknossos 4.3.3's write_layer is write_layer(downsample=False) and layer.downsample();
    # downsampling itself is cross-checked in test_downsampling.py
    data = random_volume((64, 64, 16), "uint8", seed=2)
    at_once = wk.Dataset(tmp_path / "a", voxel_size=(1, 1, 1)).write_layer("color", "color", data,
                                                                           data_format="zarr3", shard_shape=64)
    stepwise = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1)).write_layer(
        "color", "color", data, data_format="zarr3", shard_shape=64, downsample=False)
    stepwise.downsample()
    assert layers_json(tmp_path / "a") == layers_json(tmp_path / "b")
    assert [m.to_layer_name() for m in at_once.mags] == ["1", "2", "4"]
    for mag in at_once.mags:
        np.testing.assert_array_equal(at_once.get_mag(mag).read(), stepwise.get_mag(mag).read())


def test_buffered_slice_writer_offsets_and_alignment_like_webknossos(tmp_path):
    data = random_volume((32, 32, 24), "uint8", seed=1)
    got = {}
    for name, lib in LIBS:
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3",
                             bounding_box=lib.BoundingBox((0, 0, 0), (32, 32, 40)))
        mag = quiet(lambda: layer.add_mag(1, chunk_shape=(32, 32, 8), shard_shape=(32, 32, 8)))
        kinds = []
        with mag.get_buffered_slice_writer() as writer:
            for z in range(16):
                writer.send(data[:, :, z])
            writer.reset_offset(absolute_offset=(0, 0, 24))
            for z in range(16, 24):
                writer.send(data[:, :, z])
        errors = raised(lambda: mag.get_buffered_slice_writer(absolute_offset=(0, 0, 3)))
        # the same opening words in both libraries' message (code matches on them)
        with pytest.raises(ValueError, match="Using an offset that doesn't align with the datataset's shard shape"):
            mag.get_buffered_slice_writer(absolute_offset=(0, 0, 3))
        with pytest.warns(UserWarning, match="Using a buffer size that doesn't align with the datataset's shard"):
            mag.get_buffered_slice_writer(buffer_size=12, allow_unaligned=True)
        _, found = warned(lambda: mag.get_buffered_slice_writer(absolute_offset=(0, 0, 3), allow_unaligned=True))
        kinds.append(found)
        def read_slices():
            with mag.get_buffered_slice_reader(dimension=2) as reader:
                return list(reader)

        kinds.append(warned(read_slices)[1])
        got[name] = (mag.read()[0], errors, kinds)
    np.testing.assert_array_equal(got["py"][0], got["wk"][0])
    np.testing.assert_array_equal(got["py"][0][:, :, 24:32], data[:, :, 16:24])
    assert got["wk"][1] and got["wk"][1] <= got["py"][1]
    assert got["py"][2] == got["wk"][2] == [{"user"}, {"deprecation"}]


def test_transfer_modes_like_webknossos(tmp_path):
    from upath import UPath
    from webknossos.dataset.transfer_mode import TransferMode as Theirs

    for name, mode in (("py", wk.TransferMode), ("wk", Theirs)):
        root = UPath(tmp_path / name)
        for kind in ("COPY", "SYMLINK", "MOVE_AND_SYMLINK"):
            src = root / f"src-{kind}"
            src.mkdir(parents=True)
            (src / "a.txt").write_text(kind)
            mode[kind].transfer(src, root / f"dst-{kind}")
            assert (root / f"dst-{kind}" / "a.txt").read_text() == kind and (src / "a.txt").read_text() == kind
            assert (root / f"dst-{kind}").is_symlink() == (kind == "SYMLINK")
            assert src.is_symlink() == (kind == "MOVE_AND_SYMLINK")
            if kind != "COPY":
                assert AssertionError in raised(lambda: mode[kind].transfer(src, root / f"dst-{kind}"))
    assert wk.TransferMode("move+symlink") is wk.TransferMode.MOVE_AND_SYMLINK
    with pytest.raises(wk.errors.UnsupportedError):
        wk.TransferMode.HTTP.transfer(tmp_path / "a", tmp_path / "b")


def test_unsupported_properties_versions_are_refused_like_webknossos(tmp_path):
    for name, lib in LIBS:
        lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        file = tmp_path / name / "datasource-properties.json"
        file.write_text(json.dumps(dict(json.loads(file.read_text()), version=9000)))
        assert raised(lambda: lib.Dataset.open(tmp_path / name)) >= {AssertionError}
    with pytest.raises(wk.errors.UnsupportedVersionError, match="version 9000"):
        wk.Dataset.open(tmp_path / "py")


def test_deprecated_spellings_warn_like_webknossos(tmp_path):
    kinds = {}
    for name, lib in LIBS:
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer, first = warned(lambda: ds.add_layer("c", "color", dtype_per_channel="uint16", data_format="zarr3"))
        _, second = warned(lambda: layer.dtype_per_channel)
        _, third = warned(lambda: layer.add_mag(1, chunk_shape=32, chunks_per_shard=2))
        _, fourth = warned(lambda: ds.get_or_add_layer("d", "color", dtype_per_channel="uint8", data_format="zarr3"))
        _, fifth = warned(lambda: layer.is_remote_to_dataset)
        source = lib.Dataset(tmp_path / f"{name}-src", voxel_size=(1, 1, 1))
        source.add_layer("r", "color", dtype="uint16", data_format="zarr3").add_mag(1, chunk_shape=32, shard_shape=64)
        _, sixth = warned(lambda: ds.add_remote_layer(source.get_layer("r")))
        other = ds.add_layer("o", "color", dtype="uint16", data_format="zarr3")
        _, seventh = warned(lambda: other.add_remote_mag(source.get_layer("r").get_mag(1)))
        kinds[name] = [first, second, third, fourth, fifth, sixth, seventh]
    assert kinds["py"] == kinds["wk"] == [{"deprecation"}] * 7
    theirs = json.dumps(layers_json(tmp_path / "wk")).replace("/wk-src/", "/py-src/")
    assert layers_json(tmp_path / "py") == json.loads(theirs)


def test_add_layer_layout_keywords_are_ignored_as_webknossos_does_but_said_so(tmp_path):
    for name, lib in LIBS:
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer, kinds = warned(lambda: ds.add_layer("c", "color", dtype="uint8", data_format="zarr3",
                                                   chunk_shape=(8, 8, 8)))
        assert kinds == ({"user"} if name == "py" else set())
        assert not (tmp_path / name / "c").exists()            # a layer's folder comes with its first mag
        assert layer.add_mag(1).info.chunk_shape == (32, 32, 32)
    assert layers_json(tmp_path / "py") == layers_json(tmp_path / "wk")


def test_add_mag_from_zarrarray_copies_a_zarr3_array_like_webknossos(tmp_path):
    tensorstore = pytest.importorskip("tensorstore")
    data = random_volume((2, 16, 16, 16), "uint8", seed=9)
    source = tmp_path / "array.zarr"
    array = tensorstore.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(source)},
                              "metadata": {"data_type": "uint8", "shape": data.shape, "fill_value": 0,
                                           "chunk_grid": {"name": "regular",
                                                          "configuration": {"chunk_shape": (2, 8, 8, 8)}},
                                           "chunk_key_encoding": {"name": "default",
                                                                  "configuration": {"separator": "."}},
                                           "codecs": ["bytes", {"name": "zstd", "configuration": {"level": 3}}]},
                              "create": True}).result()
    array[:].write(data).result()
    for name, lib in LIBS:
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer = quiet(lambda: ds.add_layer("c", "color", dtype="uint8", num_channels=2, data_format="zarr3",
                                           bounding_box=lib.BoundingBox((0, 0, 0), (8, 8, 8))))
        # (webknossos 4.3.3 fails to extend the box of a layer with channels: not asked here)
        mag = quiet(lambda: layer.add_mag_from_zarrarray(1, source, extend_layer_bounding_box=False))
        np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)), data)
    assert layers_json(tmp_path / "py") == layers_json(tmp_path / "wk")
    assert source.is_dir()                                    # copied, not moved
    ds = wk.Dataset(tmp_path / "grown", voxel_size=(1, 1, 1))
    layer = quiet(lambda: ds.add_layer("c", "color", dtype="uint8", num_channels=2, data_format="zarr3",
                                       bounding_box=wk.BoundingBox((0, 0, 0), (8, 8, 8))))
    layer.add_mag_from_zarrarray(1, source)
    assert layer.bounding_box == wk.BoundingBox((0, 0, 0), (16, 16, 16))
    with pytest.raises(wk.errors.DuplicateError):
        wk.Dataset.open(tmp_path / "py").get_layer("c").add_mag_from_zarrarray(1, source)


def test_a_failed_rechunk_into_another_dataset_lists_no_half_filled_mag(tmp_path):
    # the copy reads a damaged shard and stops: the target mag was built hidden, so it is
    # neither listed nor left as a folder (as the mags add_mag_as_copy builds)
    mag = _mag(wk, tmp_path / "py", data_format="wkw", compress=False, chunk=32, shard=32)
    damaged = sorted((mag.path / "z0" / "y0").glob("*.wkw"))[-1]
    damaged.write_bytes(b"WKW\x01" + b"\xff" * 60)
    with pytest.raises(wk.errors.CorruptFileError):
        mag.rechunk(target_path=tmp_path / "other", shard_shape=64)
    layer = wk.Dataset.open(tmp_path / "other").get_layer("color")
    assert layer.mags == {}
    assert not [p for p in os.listdir(tmp_path / "other" / "color")]


@pytest.mark.parametrize("buffer_size", [-1, 2.5])
def test_a_bad_slice_buffer_size_raises_a_typed_error(tmp_path, buffer_size):
    # webknossos fails the writer with an AssertionError only after buffering more slices
    # than it asked for; wkpy refuses the size at once (never an unbounded buffer)
    errors = {}
    for name, lib in LIBS:
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3",
                             bounding_box=lib.BoundingBox((0, 0, 0), (32, 32, 32)))
        mag = quiet(lambda: layer.add_mag(1, chunk_shape=32, shard_shape=32))

        def write():
            with mag.get_buffered_slice_writer(buffer_size=buffer_size) as writer:
                for _ in range(3):
                    writer.send(np.ones((32, 32), np.uint8))

        errors[name] = raised(write)
    assert errors["wk"] and errors["wk"] <= errors["py"]
    with pytest.raises(wk.errors.InvalidRequestError, match="buffer_size"):
        wk.Dataset.open(tmp_path / "py").get_layer("color").get_mag(1).get_buffered_slice_reader(
            buffer_size=buffer_size)
