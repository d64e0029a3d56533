"""Linked and referenced data is read-only (issue 12, items 1 and 2).

A layer linked with `add_symlink_layer`, a mag linked with `add_symlink_mag`, and a mag
whose `path` in the JSON is an absolute path into another dataset all belong to that
other dataset: writing, compressing, downsampling into or deleting them raises
`ReadOnlyError`, and deleting the linking layer removes only the link and the JSON
entry. The other dataset's files and voxels stay exactly as they were.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import wkpy as wk
from conftest import tree_state
from wkpy.errors import ReadOnlyError, WkError

# links are what these tests are about: webknossos 4.3.3 deprecates them with this warning too
pytestmark = pytest.mark.filterwarnings("ignore:Using symlinks is deprecated:DeprecationWarning")

SIDE = 64


def data(seed: int) -> np.ndarray:
    x, y, z = np.ogrid[:SIDE, :SIDE, :SIDE]
    return ((x * 3 + y * 5 + z * 7 + seed) % 250 + 1).astype(np.uint8)


def without_locks(state: dict) -> dict:
    """Lock files are the subject of tests/integration/test_fork.py; leave them out here."""
    return {k: v for k, v in state.items() if ".wkpy-locks" not in k.split("/")}


@pytest.fixture
def source(tmp_path):
    """Dataset `a`: a raw WKW color layer with mags 1 and 2 (raw, so compress has work)."""
    a = wk.Dataset(tmp_path / "a", voxel_size=(1, 1, 1))
    layer = a.add_layer("color", "color", dtype="uint8", data_format="wkw")
    layer.add_mag(1, chunk_shape=32, shard_shape=32, compress=False).write(data(1), absolute_offset=(0, 0, 0))
    layer.add_mag(2, chunk_shape=32, shard_shape=32, compress=False).write(
        data(2)[: SIDE // 2, : SIDE // 2, : SIDE // 2], absolute_offset=(0, 0, 0))
    return tmp_path / "a"


def assert_source_intact(path, before):
    assert without_locks(tree_state(path)) == without_locks(before), "files of the linked dataset changed"
    layer = wk.Dataset.open(path).get_layer("color")
    assert sorted(layer.mags) == [wk.Mag(1), wk.Mag(2)]
    np.testing.assert_array_equal(layer.get_mag(1).read(absolute_offset=(0, 0, 0), size=(SIDE,) * 3)[0], data(1))
    half = SIDE // 2
    np.testing.assert_array_equal(layer.get_mag(2).read(absolute_offset=(0, 0, 0), size=(SIDE,) * 3)[0][:half, :half, :half],
                                  data(2)[:half, :half, :half])


def refuses(change, source, before) -> None:
    """`change()` must raise ReadOnlyError; whatever it does, the linked dataset stays intact
    (checked first, so a write that went through is reported as such)."""
    try:
        change()
    except ReadOnlyError:
        raised = None
    else:
        raised = "did not raise ReadOnlyError"
    assert_source_intact(source, before)
    assert raised is None, raised


# what "changing data through the layer/mag" means; each must raise ReadOnlyError
def _write(layer, mag):
    layer.get_mag(mag).write(np.full((8, 8, 8), 99, np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)


def _view_write(layer, mag):
    view = layer.get_mag(mag).get_view(absolute_offset=(0, 0, 0), size=(16 * mag,) * 3)  # mag-1 voxels
    view.write(np.full((16, 16, 16), 99, np.uint8))


def _delete_mag(layer, mag):
    layer.delete_mag(mag)


def _compress(layer, mag):
    layer.get_mag(mag).compress()


MAG_OPS = {"write": _write, "view_write": _view_write, "delete_mag": _delete_mag, "compress": _compress}


def linked_layer(b, a_path, make_relative):
    return b.add_symlink_layer(wk.Dataset.open(a_path).get_layer("color"), make_relative=make_relative)


@pytest.mark.parametrize("make_relative", [False, True])
@pytest.mark.parametrize("op", [*MAG_OPS, "downsample_mag", "layer_compress", "add_mag", "downsample_new_mag"])
def test_symlinked_layer_refuses_changes(tmp_path, source, make_relative, op):
    before = tree_state(source)
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    layer = linked_layer(b, source, make_relative)
    # through the layer as returned, and through a freshly opened dataset
    def change(current):
        if op in MAG_OPS:
            MAG_OPS[op](current, 1)
        elif op == "downsample_mag":
            current.downsample_mag(1, 2, allow_overwrite=True)
        elif op == "layer_compress":
            current.compress()
        elif op == "add_mag":
            current.add_mag(4, chunk_shape=32, shard_shape=32)
        else:
            current.downsample_mag(2, 4)

    # through the layer as returned, and through a freshly opened dataset
    for current in (layer, wk.Dataset.open(tmp_path / "b").get_layer("color")):
        if op == "layer_compress":  # compressing the whole layer may skip what it does not own
            try:
                change(current)
            except ReadOnlyError:
                pass
            assert_source_intact(source, before)
        else:
            refuses(lambda: change(current), source, before)


@pytest.mark.parametrize("make_relative", [False, True])
def test_deleting_a_symlinked_layer_removes_only_the_link(tmp_path, source, make_relative):
    before = tree_state(source)
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    linked_layer(b, source, make_relative)
    wk.Dataset.open(tmp_path / "b").delete_layer("color")
    assert not (tmp_path / "b" / "color").exists() and not (tmp_path / "b" / "color").is_symlink()
    assert "color" not in wk.Dataset.open(tmp_path / "b").layers
    assert_source_intact(source, before)


def test_dataset_wide_operations_leave_a_linked_layer_alone(tmp_path, source):
    before = tree_state(source)
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    linked_layer(b, source, False)
    try:
        wk.Dataset.open(tmp_path / "b").compress()
    except WkError:
        pass  # refusing is fine; changing `a` is not
    assert_source_intact(source, before)


@pytest.fixture
def with_symlinked_mag(tmp_path, source):
    """Dataset `b` with its own raw mag 1 and a link to `a`'s mag 2."""
    def make(make_relative):
        b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
        layer = b.add_layer("color", "color", dtype="uint8", data_format="wkw")
        layer.add_mag(1, chunk_shape=32, shard_shape=32, compress=False).write(data(3), absolute_offset=(0, 0, 0))
        layer.add_symlink_mag(wk.Dataset.open(source).get_layer("color").get_mag(2), make_relative=make_relative)
        return wk.Dataset.open(tmp_path / "b").get_layer("color")
    return make


@pytest.mark.parametrize("make_relative", [False, True])
@pytest.mark.parametrize("op", [*MAG_OPS, "downsample_mag"])
def test_symlinked_mag_refuses_changes(source, with_symlinked_mag, make_relative, op):
    before = tree_state(source)
    layer = with_symlinked_mag(make_relative)
    b_path = layer.dataset.path
    if op == "delete_mag":  # refusing, or dropping only the link and the entry, are both safe
        try:
            layer.delete_mag(2)
        except ReadOnlyError:
            assert wk.Mag(2) in wk.Dataset.open(b_path).get_layer("color").mags
        else:
            assert wk.Mag(2) not in wk.Dataset.open(b_path).get_layer("color").mags
            assert not os.path.lexists(b_path / "color" / "2")
        assert_source_intact(source, before)
        return
    refuses(lambda: MAG_OPS[op](layer, 2) if op in MAG_OPS else layer.downsample_mag(1, 2, allow_overwrite=True),
            source, before)
    assert wk.Mag(2) in wk.Dataset.open(b_path).get_layer("color").mags


def test_deleting_a_layer_with_a_symlinked_mag_leaves_the_mag(tmp_path, source, with_symlinked_mag):
    before = tree_state(source)
    layer = with_symlinked_mag(False)
    layer.dataset.delete_layer("color")
    assert not (tmp_path / "b" / "color").exists()
    assert_source_intact(source, before)


def make_referencing(tmp_path, source, referenced: int) -> wk.Layer:
    """Dataset `b` whose layer lists `a`'s mag `referenced` by absolute path (hand-edited
    JSON) beside its own other mag (1 or 2)."""
    own = 2 if referenced == 1 else 1
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    layer = b.add_layer("color", "color", dtype="uint8", data_format="wkw")
    for m in (1, 2):
        layer.add_mag(m, chunk_shape=32, shard_shape=32, compress=False)
    layer.get_mag(own).write(data(4)[: SIDE // own, : SIDE // own, : SIDE // own], absolute_offset=(0, 0, 0))
    shutil.rmtree(tmp_path / "b" / "color" / str(referenced))
    props_file = tmp_path / "b" / "datasource-properties.json"
    props = json.loads(props_file.read_text())
    (entry,) = [m for m in props["dataLayers"][0]["mags"] if m["mag"] == [referenced] * 3]
    entry["path"] = str((source / "color" / str(referenced)).resolve())
    props["dataLayers"][0]["boundingBox"] = {"topLeft": [0, 0, 0], "width": SIDE, "height": SIDE, "depth": SIDE}
    props_file.write_text(json.dumps(props, indent=4))
    opened = wk.Dataset.open(tmp_path / "b").get_layer("color")
    want = wk.Dataset.open(source).get_layer("color").get_mag(referenced).read(absolute_offset=(0, 0, 0),
                                                                             size=(SIDE,) * 3)
    np.testing.assert_array_equal(opened.get_mag(referenced).read(absolute_offset=(0, 0, 0), size=(SIDE,) * 3), want)
    return opened


@pytest.mark.parametrize("referenced,op", [(r, op) for r in (1, 2) for op in [*MAG_OPS, "compress_layer"]]
                         + [(2, "downsample_into")])   # nothing downsamples into the finest mag
def test_mag_referenced_by_absolute_path_refuses_changes(tmp_path, source, referenced, op):
    before = tree_state(source)
    layer = make_referencing(tmp_path, source, referenced)
    if op == "delete_mag":  # refusing, or dropping only the entry, are both safe
        try:
            layer.delete_mag(referenced)
        except ReadOnlyError:
            assert wk.Mag(referenced) in wk.Dataset.open(tmp_path / "b").get_layer("color").mags
        else:
            assert wk.Mag(referenced) not in wk.Dataset.open(tmp_path / "b").get_layer("color").mags
        assert_source_intact(source, before)
    elif op == "compress_layer":  # compressing the whole layer may skip the foreign mag
        try:
            layer.compress()
        except ReadOnlyError:
            pass
        assert_source_intact(source, before)
    elif op == "downsample_into":
        refuses(lambda: layer.downsample_mag(1, 2, allow_overwrite=True), source, before)
    else:
        refuses(lambda: MAG_OPS[op](layer, referenced), source, before)


def test_downsampling_from_a_referenced_mag_is_fine_and_leaves_it_alone(tmp_path, source):
    before = tree_state(source)
    layer = make_referencing(tmp_path, source, 1)  # reading the foreign mag 1 to fill b's own mag 2 is allowed
    layer.downsample_mag(1, 2, allow_overwrite=True)
    assert_source_intact(source, before)
    assert (layer.dataset.path / "color" / "2").is_dir()


def test_deleting_a_layer_with_a_referenced_mag_keeps_the_foreign_files(tmp_path, source):
    before = tree_state(source)
    make_referencing(tmp_path, source, 1).dataset.delete_layer("color")
    assert "color" not in wk.Dataset.open(tmp_path / "b").layers
    assert not (tmp_path / "b" / "color").exists()
    assert_source_intact(source, before)
