"""Copies and references of layers, mags and datasets (`add_layer_as_copy`,
`add_mag_as_copy`, the deprecated fs-copy names, `copy_dataset`, `shallow_copy_dataset`),
each made on wkpy and on webknossos 4.3.3 with the same calls and compared: the
properties JSON, the layouts, the voxels, the warnings and the builtin errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from cluster_tools import get_executor

import wkpy as wk
from conftest import random_volume
from peers import layers_json, quiet, raised, warned

webknossos = pytest.importorskip("webknossos")

LIBS = (("py", wk), ("wk", webknossos))
BOX = ((6, 6, 6), (40, 50, 30))
COLOR = random_volume((40, 50, 30), "uint16", seed=3)
SEG = random_volume((40, 50, 30), "uint32", seed=4) % 9


def _source(lib, path, data_format="zarr3"):
    """A dataset with a two-mag color layer (view configuration, transformation) and a
    segmentation layer, small shards so webknossos stays small."""
    ds = lib.Dataset(path, voxel_size=(1, 1, 1))
    color = ds.add_layer("color", "color", dtype="uint16", data_format=data_format,
                         bounding_box=lib.BoundingBox(*BOX))
    color.add_mag(1, chunk_shape=32, shard_shape=64).write(COLOR, absolute_offset=BOX[0])
    color.add_mag(2, chunk_shape=32, shard_shape=64, compress=False).write(
        COLOR[::2, ::2, ::2], absolute_offset=BOX[0], allow_unaligned=True)
    color.default_view_configuration = lib.LayerViewConfiguration(alpha=40.0, color=(255, 0, 0))
    color.coordinate_transformations = [lib.AffineCoordinateTransformation.from_translation((1, 2, 3))]
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", data_format=data_format, largest_segment_id=8,
                       bounding_box=lib.BoundingBox(*BOX))
    seg.add_mag(1, chunk_shape=32, shard_shape=64).write(SEG, absolute_offset=BOX[0])
    return ds


def _layouts(ds):
    return {(name, m.to_layer_name()): (tuple(v.info.chunk_shape), tuple(v.info.shard_shape),
                                        bool(v.info.compression_mode))
            for name, layer in ds.layers.items() for m, v in layer.mags.items()}


def _voxels(ds):
    return {(name, m.to_layer_name()): v.read() for name, layer in ds.layers.items() for m, v in layer.mags.items()
            if not layer.bounding_box.is_empty()}


def _assert_same(ours, theirs):
    assert layers_json(ours.path) == layers_json(theirs.path)
    assert _layouts(ours) == _layouts(theirs)
    a, b = _voxels(ours), _voxels(theirs)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))


@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_add_layer_as_copy_keeps_metadata_layout_and_voxels(tmp_path, data_format):
    out = {}
    for name, lib in LIBS:
        source = _source(lib, tmp_path / f"{name}-src", data_format)
        target = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer, kinds = warned(lambda: target.add_layer_as_copy(source.get_layer("color")))
        seg, _ = warned(lambda: target.add_layer_as_copy(source.path / "seg", "seg2"))
        assert seg.largest_segment_id == 8 and not layer.read_only
        assert layer.default_view_configuration == lib.LayerViewConfiguration(alpha=40.0, color=(255, 0, 0))
        assert raised(lambda: target.add_layer_as_copy(source.get_layer("color"))) == {IndexError} or name == "py"
        out[name] = (target, kinds, raised(lambda: target.add_layer_as_copy(source.get_layer("color"))))
    (ours, our_warnings, our_error), (theirs, their_warnings, their_error) = out["py"], out["wk"]
    assert our_warnings == their_warnings == set()
    assert their_error and their_error <= our_error
    _assert_same(ours, theirs)
    # the copy is independent: writing it leaves the source alone
    ours.get_layer("color").get_mag(1).write(np.zeros((4, 4, 4), np.uint16), absolute_offset=(6, 6, 6),
                                             allow_unaligned=True)
    np.testing.assert_array_equal(wk.Dataset.open(tmp_path / "py-src").get_layer("color").get_mag(1).read()[0],
                                  COLOR)


def test_add_layer_as_copy_rechunks_converts_and_merges_into_existing_layers(tmp_path):
    out = {}
    for name, lib in LIBS:
        source = _source(lib, tmp_path / f"{name}-src", "wkw")
        target = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        quiet(lambda: target.add_layer_as_copy(source.get_layer("color"), "c32", data_format="zarr3",
                                               shard_shape=32, compress=True))
        # exists_ok: into the layer of that name, keeping what it has that the source lacks
        existing = target.add_layer("seg", "segmentation", dtype="uint32", data_format="wkw", largest_segment_id=8)
        existing.default_view_configuration = lib.LayerViewConfiguration(alpha=12.0)
        quiet(lambda: target.add_layer_as_copy(source.get_layer("seg"), exists_ok=True))
        out[name] = target
    _assert_same(out["py"], out["wk"])
    assert out["py"].get_layer("c32").get_mag(1).info.shard_shape == (32, 32, 32)
    assert out["py"].get_layer("seg").default_view_configuration == wk.LayerViewConfiguration(alpha=12.0)


def test_add_mag_as_copy_keeps_or_changes_the_layout_and_can_rename_the_mag(tmp_path):
    out = {}
    for name, lib in LIBS:
        source = _source(lib, tmp_path / f"{name}-src")
        target = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        layer = target.add_layer("color", "color", dtype="uint16", data_format="zarr3")
        kept, kinds = warned(lambda: layer.add_mag_as_copy(source.get_layer("color").get_mag(1)))
        again = quiet(lambda: layer.add_mag_as_copy(source.get_layer("color").get_mag(2), mag=4, shard_shape=32,
                                                    compress=True))
        assert not kept.read_only and not again.read_only
        out[name] = (target, kinds, raised(lambda: layer.add_mag_as_copy(source.get_layer("color").get_mag(1))))
    (ours, our_kinds, our_error), (theirs, their_kinds, their_error) = out["py"], out["wk"]
    assert our_kinds == their_kinds == set()
    assert their_error and their_error <= our_error
    _assert_same(ours, theirs)
    layer = ours.get_layer("color")
    assert layer.bounding_box == wk.BoundingBox((6, 6, 6), (86, 106, 66))   # mag 2 voxels listed as mag 4 reach 92
    assert layer.get_mag(1).info.shard_shape == (64, 64, 64) and layer.get_mag(4).info.shard_shape == (32, 32, 32)


def test_the_deprecated_copy_names_warn_like_webknossos_and_copy_the_same(tmp_path):
    out = {}
    for name, lib in LIBS:
        source = _source(lib, tmp_path / f"{name}-src")
        target = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        kinds = [warned(lambda: target.add_copy_layer(source.get_layer("seg")))[1],
                 # (not renamed: webknossos 4.3.3 then keeps the source's mag paths, which point nowhere)
                 warned(lambda: target.add_fs_copy_layer(source.get_layer("color")))[1]]
        layer = target.add_layer("other", "color", dtype="uint16", data_format="zarr3")
        kinds.append(warned(lambda: layer.add_copy_mag(source.get_layer("color").get_mag(1)))[1])
        kinds.append(warned(lambda: layer.add_fs_copy_mag(source.get_layer("color").get_mag(2)))[1])
        copy, dataset_kinds = warned(lambda: source.fs_copy_dataset(tmp_path / f"{name}-fs"))
        kinds.append(dataset_kinds)
        out[name] = (target, copy, kinds)
    assert out["py"][2] == out["wk"][2] == [{"deprecation"}] * 5
    _assert_same(out["py"][0], out["wk"][0])
    _assert_same(out["py"][1], out["wk"][1])


def test_copy_dataset_and_its_options_like_webknossos(tmp_path):
    out = {}
    for name, lib in LIBS:
        source = _source(lib, tmp_path / f"{name}-src")
        with get_executor("sequential") as ex:   # webknossos would start a process pool per mag
            copy = quiet(lambda: source.copy_dataset(tmp_path / name, data_format="wkw", shard_shape=64,
                                                     layers_to_ignore=["seg"], executor=ex))
            out[name] = (copy, raised(lambda: source.copy_dataset(tmp_path / name, executor=ex)))
            again = quiet(lambda: source.copy_dataset(tmp_path / name, exists_ok=True, executor=ex))
            assert again.layers.keys() == {"color", "seg"}
    assert out["wk"][1] and out["wk"][1] <= out["py"][1]
    _assert_same(out["py"][0], out["wk"][0])


def test_shallow_copy_dataset_references_every_layer(tmp_path):
    out = {}
    for name, lib in LIBS:
        source = _source(lib, tmp_path / f"{name}-src")
        source.default_view_configuration = lib.DatasetViewConfiguration(zoom=1.5)
        shallow, kinds = warned(lambda: source.shallow_copy_dataset(tmp_path / name, make_relative=True))
        assert kinds == {"deprecation"}
        assert shallow.name == source.name and shallow.default_view_configuration.zoom == 1.5
        assert not (tmp_path / name / "color").exists() and not (tmp_path / name / "seg").exists()
        assert all(m.read_only for layer in shallow.layers.values() for m in layer.mags.values())
        assert not shallow.get_layer("color").read_only
        out[name] = shallow
    ours, theirs = layers_json(tmp_path / "py"), layers_json(tmp_path / "wk")
    for layer in theirs:
        for mag in layer["mags"]:
            mag["path"] = mag["path"].replace("/wk-src/", "/py-src/")
    assert ours == theirs
    a, b = _voxels(out["py"]), _voxels(out["wk"])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    with pytest.raises(wk.errors.ReadOnlyError):
        out["py"].get_layer("color").get_mag(1).write(np.zeros((4, 4, 4), np.uint16), absolute_offset=(8, 8, 8),
                                                     allow_unaligned=True)
    # a new mag of a referencing layer is its own, inside the new dataset
    mag4 = out["py"].get_layer("color").add_mag(4, chunk_shape=32, shard_shape=32)
    assert mag4.path == tmp_path / "py" / "color" / "4" and not mag4.read_only


def test_a_failed_copy_lists_nothing_and_leaves_no_folder(tmp_path):
    source = _source(wk, tmp_path / "src", "wkw")
    shard = next((tmp_path / "src" / "color" / "1").rglob("x*.wkw"))
    shard.write_bytes(shard.read_bytes()[:20] + b"\xff" * 40)    # a damaged source shard
    target = wk.Dataset(tmp_path / "dst", voxel_size=(1, 1, 1))
    layer = target.add_layer("color", "color", dtype="uint16")
    before = layer.bounding_box
    with pytest.raises(wk.errors.CorruptFileError):
        layer.add_mag_as_copy(source.get_layer("color").get_mag(1), shard_shape=32)
    assert wk.Mag(1) not in wk.Dataset.open(tmp_path / "dst").get_layer("color").mags
    assert layer.bounding_box == before
    assert sorted(os.listdir(tmp_path / "dst" / "color")) == []       # no mag folder, no hidden leftover
    layer.add_mag(1)                                                   # the name is free


def test_copies_of_linked_and_referenced_layers_are_own_writable_data(tmp_path):
    source = _source(wk, tmp_path / "src")
    middle = wk.Dataset(tmp_path / "mid", voxel_size=(1, 1, 1))
    middle.add_layer_as_ref(source.get_layer("color"))
    copy = middle.copy_dataset(tmp_path / "copy")
    mag = copy.get_layer("color").get_mag(1)
    assert not mag.read_only and os.path.realpath(mag.path).startswith(os.path.realpath(tmp_path / "copy"))
    mag.write(np.zeros((8, 8, 8), np.uint16), absolute_offset=(8, 8, 8), allow_unaligned=True)
    np.testing.assert_array_equal(wk.Dataset.open(tmp_path / "src").get_layer("color").get_mag(1).read()[0], COLOR)


def test_a_failed_layer_copy_lists_no_half_copied_layer(tmp_path):
    # mag 1 copies, mag 2 has a damaged shard: the layer was built hidden, so nothing is
    # listed and no folder (visible or hidden) is left; the name stays free
    source = _source(wk, tmp_path / "src", "wkw")
    shard = next((tmp_path / "src" / "color" / "2").rglob("x*.wkw"))
    shard.write_bytes(shard.read_bytes()[:20] + b"\xff" * 40)
    target = wk.Dataset(tmp_path / "dst", voxel_size=(1, 1, 1))
    with pytest.raises(wk.errors.CorruptFileError):
        target.add_layer_as_copy(source.get_layer("color"), "copied", shard_shape=32)
    assert "copied" not in target.layers and "copied" not in wk.Dataset.open(tmp_path / "dst").layers
    assert [p for p in os.listdir(tmp_path / "dst") if p != "datasource-properties.json"
            and not p.endswith(".lock") and p != "zarr.json"] == []
    copied = target.add_layer_as_copy(source.get_layer("seg"), "copied")
    np.testing.assert_array_equal(copied.get_mag(1).read()[0], SEG)
