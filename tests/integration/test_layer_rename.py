"""Renaming layers (`Layer.name = ...`): cross-checked against webknossos 4.3.3 (JSON,
folders, voxels, errors), and crash-safe: each intermediate state a crash can leave is
put back together when the dataset is opened."""

from __future__ import annotations

import os

import numpy as np
import pytest

import wkpy as wk
from conftest import random_volume
from peers import layers_json, quiet, raised
from wkpy._trash import rename_marker

webknossos = pytest.importorskip("webknossos")

LIBS = (("py", wk), ("wk", webknossos))
DATA = random_volume((20, 30, 10), "uint8", seed=5)


def _dataset(lib, path, data_format="zarr3"):
    ds = lib.Dataset(path, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint8", data_format=data_format)
    layer.add_mag(1, chunk_shape=32, shard_shape=64).write(DATA, absolute_offset=(0, 0, 0), allow_resize=True)
    layer.add_mag(2, chunk_shape=32, shard_shape=64)
    ds.add_layer("other", "color", dtype="uint8", data_format=data_format)
    return ds


@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_rename_moves_the_folder_and_the_mag_paths_like_webknossos(tmp_path, data_format):
    errors = {}
    for name, lib in LIBS:
        ds = _dataset(lib, tmp_path / name, data_format)
        layer = ds.get_layer("color")
        mag = layer.get_mag(1)
        layer.name = "color2"
        layer.name = "color2"                        # the same name: nothing to do
        assert (tmp_path / name / "color2" / "1").is_dir() and not (tmp_path / name / "color").exists()
        assert "color2" in ds.layers and "color" not in ds.layers and ds.get_layer("color2") is layer
        np.testing.assert_array_equal(mag.read()[0], DATA)        # a view made before still reads
        errors[name] = [raised(lambda: setattr(layer, "name", "other")),   # taken
                        raised(lambda: setattr(layer, "name", "a/b"))]     # invalid
    assert layers_json(tmp_path / "py") == layers_json(tmp_path / "wk")
    assert all(theirs and theirs <= ours for ours, theirs in zip(errors["py"], errors["wk"]))
    # the mag object made before the rename writes into the new folder
    ds = wk.Dataset.open(tmp_path / "py")
    ds.get_layer("color2").get_mag(1).write(np.ones((4, 4, 4), np.uint8), absolute_offset=(0, 0, 0),
                                            allow_unaligned=True)
    assert not (tmp_path / "py" / "color").exists()


def test_a_referencing_layer_is_renamed_without_folders(tmp_path):
    for name, lib in LIBS:
        source = _dataset(lib, tmp_path / f"{name}-src")
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer = ds.add_layer_as_ref(source.get_layer("color"))
        layer.name = "ref"
        assert not (tmp_path / name / "ref").exists() and not (tmp_path / name / "color").exists()
        np.testing.assert_array_equal(ds.get_layer("ref").get_mag(1).read()[0], DATA)
    theirs = layers_json(tmp_path / "wk")
    for layer in theirs:
        for mag in layer["mags"]:
            mag["path"] = mag["path"].replace("/wk-src/", "/py-src/")
    assert layers_json(tmp_path / "py") == theirs


def test_attachments_inside_the_layer_folder_follow_it(tmp_path):
    # webknossos 4.3.3 leaves such paths pointing at the old folder; wkpy moves them along
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", largest_segment_id=1)
    (tmp_path / "m.hdf5").write_bytes(b"mesh")
    seg.attachments.add_attachment_as_copy(wk.MeshAttachment.from_path_and_name(tmp_path / "m.hdf5", "m",
                                                                                data_format="hdf5"))
    seg.attachments.add_attachment_as_ref(wk.MeshAttachment.from_path_and_name(tmp_path / "m.hdf5", "outside",
                                                                               data_format="hdf5"))
    seg.name = "seg2"
    paths = {a.name: a.path for a in wk.Dataset.open(tmp_path / "ds").get_layer("seg2").attachments}
    assert paths["m"] == tmp_path / "ds" / "seg2" / "meshes" / "m.hdf5" and paths["m"].read_bytes() == b"mesh"
    assert paths["outside"] == tmp_path / "m.hdf5"


def test_a_crash_before_the_properties_name_the_new_folder_keeps_the_old_name(tmp_path):
    _dataset(wk, tmp_path / "ds")
    marker = rename_marker(tmp_path / "ds" / "color", tmp_path / "ds" / "color2")   # the first step, then a crash
    ds = wk.Dataset.open(tmp_path / "ds")
    assert not os.path.lexists(marker) and "color" in ds.layers
    np.testing.assert_array_equal(ds.get_layer("color").get_mag(1).read()[0], DATA)


def test_a_crash_after_the_properties_name_the_new_folder_finishes_the_rename(tmp_path):
    ds = _dataset(wk, tmp_path / "ds")
    ds.get_layer("color").name = "color2"
    # the state a crash right after saving the properties leaves: the old folder and the marker
    os.rename(tmp_path / "ds" / "color2", tmp_path / "ds" / "color")
    marker = rename_marker(tmp_path / "ds" / "color", tmp_path / "ds" / "color2")
    ds = wk.Dataset.open(tmp_path / "ds")
    assert not os.path.lexists(marker) and not (tmp_path / "ds" / "color").exists()
    np.testing.assert_array_equal(ds.get_layer("color2").get_mag(1).read()[0], DATA)
    assert sorted(p for p in os.listdir(tmp_path / "ds") if p.startswith(".")) == []


def test_a_stale_view_of_a_renamed_layer_refuses_to_write_instead_of_recreating_the_old_folder(tmp_path):
    _dataset(wk, tmp_path / "ds", "wkw")
    stale = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    stale.read()
    wk.Dataset.open(tmp_path / "ds").get_layer("color").name = "color2"
    with pytest.raises(wk.errors.OperationError):
        stale.write(np.ones((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0))
    assert not (tmp_path / "ds" / "color").exists()


def test_renaming_is_refused_on_read_only_datasets_like_webknossos(tmp_path):
    for name, lib in LIBS:
        _dataset(lib, tmp_path / name)
    ours = wk.Dataset.open(tmp_path / "py", read_only=True).get_layer("color")
    theirs = quiet(lambda: webknossos.Dataset.open(tmp_path / "wk", read_only=True).get_layer("color"))
    expected = raised(lambda: setattr(theirs, "name", "x"))
    assert expected and expected <= raised(lambda: setattr(ours, "name", "x"))
    assert (tmp_path / "py" / "color").is_dir()


def test_a_linked_mag_inside_the_layer_folder_follows_the_rename(tmp_path):
    # the mag is a link in the layer's own folder to a foreign mag: its path names the link,
    # which moves with the folder (its resolved target lies outside and must not decide)
    source = _dataset(wk, tmp_path / "src")
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("linked", "color", dtype="uint8", data_format="zarr3")
    with pytest.warns(DeprecationWarning):
        layer.add_symlink_mag(source.get_layer("color").get_mag(1), make_relative=True)
    layer.name = "linked2"
    reopened = wk.Dataset.open(tmp_path / "ds")
    np.testing.assert_array_equal(reopened.get_layer("linked2").get_mag(1).read()[0], DATA)
    assert not (tmp_path / "ds" / "linked").exists()
