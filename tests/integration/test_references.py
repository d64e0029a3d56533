"""Layers and mags referenced from other datasets, segmentation-layer lookups and the
dataset's box, cross-checked against webknossos 4.3.3 (same calls, same JSON, same voxels)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import wkpy
from wkpy import errors

webknossos = pytest.importorskip("webknossos")


def _source(lib, path):
    ds = lib.Dataset(path, voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", data_format="zarr3", largest_segment_id=9)
    seg.add_mag(1, chunk_shape=32, shard_shape=64).write(np.full((64, 64, 32), 9, np.uint32),
                                                         absolute_offset=(0, 0, 0), allow_resize=True)
    seg.add_mag(2, chunk_shape=32, shard_shape=64).write(np.full((32, 32, 16), 4, np.uint32),
                                                         absolute_offset=(0, 0, 0), allow_resize=True)
    ds.add_layer("color", "color", dtype="uint8", data_format="zarr3").add_mag(
        1, chunk_shape=32, shard_shape=64).write(np.ones((16, 16, 16), np.uint8), absolute_offset=(32, 0, 0), allow_resize=True)
    return ds


def _layers(path):
    return {layer["name"]: layer for layer in json.loads((path / "datasource-properties.json").read_text())["dataLayers"]}


def test_add_layer_as_ref_writes_what_webknossos_writes_and_reads_the_same_voxels(tmp_path):
    out = {}
    for lib, name in ((webknossos, "wk"), (wkpy, "py")):
        source = _source(lib, tmp_path / f"{name}-src")
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = ds.add_layer_as_ref(source.get_layer("seg"), "ref")
        out[name] = (layer.get_mag(2).read(absolute_offset=(0, 0, 0), size=(64, 64, 32)),
                     _layers(tmp_path / name)["ref"])
        assert isinstance(ds.get_segmentation_layer("ref"), lib.SegmentationLayer)
        assert ds.calculate_bounding_box() == layer.bounding_box
    np.testing.assert_array_equal(out["py"][0], out["wk"][0])
    ours, theirs = out["py"][1], out["wk"][1]
    assert [m["path"] for m in ours["mags"]] == [str(tmp_path / "py-src" / "seg" / m) for m in ("1", "2")]
    assert [m["path"].replace("/wk-src/", "/py-src/") for m in theirs["mags"]] == [m["path"] for m in ours["mags"]]
    for key in ("boundingBox", "elementClass", "category", "dataFormat", "largestSegmentId", "numChannels"):
        assert ours.get(key) == theirs.get(key), key


def test_referenced_layers_are_read_only_and_deleting_them_keeps_the_source(tmp_path):
    source = _source(wkpy, tmp_path / "src")
    ds = wkpy.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer_as_ref(source.get_layer("seg"))
    with pytest.raises(errors.ReadOnlyError):
        layer.get_mag(1).write(np.zeros((32, 32, 32), np.uint32), absolute_offset=(0, 0, 0), allow_resize=True)
    ds.delete_layer("seg")
    again = wkpy.Dataset.open(tmp_path / "src").get_layer("seg").get_mag(1)
    assert (again.read(absolute_offset=(0, 0, 0), size=(64, 64, 32)) == 9).all()


def test_add_mag_as_ref_under_another_mag_and_its_checks(tmp_path):
    source = _source(wkpy, tmp_path / "src")
    ds = wkpy.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("seg", "segmentation", dtype="uint32", data_format="zarr3")
    view = layer.add_mag_as_ref(source.get_layer("seg").get_mag(2), mag=4)
    assert view.mag == wkpy.Mag(4) and view.data_format == wkpy.DataFormat.Zarr3 and view.read_only
    assert layer.bounding_box == wkpy.BoundingBox((0, 0, 0), (128, 128, 64))
    with pytest.raises(errors.DuplicateError):
        layer.add_mag_as_ref(source.get_layer("seg").get_mag(2), mag=4)
    with pytest.raises(AssertionError):
        layer.add_mag_as_ref(source.get_layer("color").get_mag(1))


def test_a_color_layer_is_not_a_segmentation_layer_in_either_library(tmp_path):
    for lib, name in ((webknossos, "wk"), (wkpy, "py")):
        ds = _source(lib, tmp_path / name)
        with pytest.raises(TypeError):
            ds.get_segmentation_layer("color")
        assert ds.get_layer("seg").as_segmentation_layer() is ds.get_layer("seg")
    assert wkpy.Dataset(tmp_path / "empty", voxel_size=(1, 1, 1)).calculate_bounding_box().is_empty()


def test_copy_dataset_names_the_copy_after_its_folder_like_webknossos(tmp_path):
    names = {}
    for lib, name in ((webknossos, "wk"), (wkpy, "py")):
        source = lib.Dataset(tmp_path / f"{name}-src", voxel_size=(1, 1, 1), name="original")
        source.add_layer("color", "color", dtype="uint8", data_format="zarr3").add_mag(
            1, chunk_shape=32, shard_shape=64).write(np.ones((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0),
                                                     allow_resize=True)
        names[name] = source.copy_dataset(tmp_path / name / "the-copy").name
    assert names["py"] == names["wk"] == "the-copy"


def test_cxyz_and_xyz_reads_and_writes_match_webknossos(tmp_path):
    data = np.arange(2 * 32 * 16 * 8, dtype=np.uint8).reshape(2, 32, 16, 8)
    got = {}
    for lib, name in ((webknossos, "wk"), (wkpy, "py")):
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # both warn about 2 channels
            layer = ds.add_layer("c", "color", dtype="uint8", num_channels=2, data_format="zarr3")
        mag = layer.add_mag(1, chunk_shape=32, shard_shape=64)
        layer.bounding_box = lib.BoundingBox((0, 0, 0), (64, 64, 64))
        mag.write_cxyz(data, absolute_offset=(8, 0, 0), allow_unaligned=True)
        box = lib.BoundingBox((8, 0, 0), (32, 16, 8))
        got[name] = (mag.read_cxyz(absolute_offset=(8, 0, 0), size=(32, 16, 8)),
                     mag.read_xyz(absolute_bounding_box=box))
        with pytest.raises(AssertionError):
            mag.write_cxyz(data[0], absolute_offset=(0, 0, 0), allow_unaligned=True)
    for ours, theirs in zip(got["py"], got["wk"]):
        assert ours.shape == theirs.shape == data.shape
        np.testing.assert_array_equal(ours, theirs)
