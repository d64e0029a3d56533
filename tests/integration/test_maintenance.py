"""Maintenance (compress, delete) against concurrent writers, interrupted maintenance,
linked data staying read-only, and datasets holding only the files webknossos writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from wkpy import errors

SIDE = 64          # shard side; the mag is 2×2×2 shards of 2×2×2 chunks
POSITIONS = [(x, y, z) for x in range(0, 128, 16) for y in range(0, 128, 32) for z in range(0, 128, 32)]


def _dataset(tmp_path: Path, data_format: str) -> wk.MagView:
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype_per_channel="uint8", data_format=data_format)
    shard = 32 if data_format == "zarr" else SIDE          # Zarr v2 has no shards
    mag = layer.add_mag(1, chunk_shape=32, shard_shape=shard, compress=False)
    mag.write(np.full((128, 128, 128), 1, np.uint8), absolute_offset=(0, 0, 0))
    return mag


WRITER = textwrap.dedent("""
    import sys, numpy as np, wkpy as wk
    mag = wk.Dataset.open(sys.argv[1]).get_layer("color").get_mag(1)
    positions = [tuple(map(int, p.split(","))) for p in sys.argv[2:]]
    for i, (x, y, z) in enumerate(positions):
        mag.write(np.full((16, 32, 32), 2 + i % 200, np.uint8), absolute_offset=(x, y, z),
                  allow_unaligned=True, json_update_allowed=False)
        print(i, flush=True)
""")


@pytest.mark.parametrize("data_format", ["wkw", "zarr3", "zarr"])
def test_compress_while_another_process_writes_loses_no_completed_write(tmp_path, data_format):
    mag = _dataset(tmp_path, data_format)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "ds"),
                               *(",".join(map(str, p)) for p in POSITIONS)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    writer.stdout.readline()                  # the writer is at work
    mag.compress()
    out, _ = writer.communicate(timeout=300)  # a hang guard
    assert writer.returncode == 0
    reopened = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    assert reopened.info.compression
    data = reopened.read(absolute_offset=(0, 0, 0), size=(128, 128, 128))[0]
    for i, (x, y, z) in enumerate(POSITIONS):
        assert (data[x:x + 16, y:y + 32, z:z + 32] == 2 + i % 200).all(), (i, (x, y, z))
    names = sorted(p.name for p in (tmp_path / "ds" / "color").iterdir())
    assert names == {"wkw": ["1"], "zarr3": ["1", "zarr.json"], "zarr": [".zattrs", ".zgroup", "1"]}[data_format]


def test_a_write_after_the_mag_was_deleted_elsewhere_fails_instead_of_recreating_it(tmp_path):
    mag = _dataset(tmp_path, "wkw")
    other = wk.Dataset.open(tmp_path / "ds")
    other.get_layer("color").delete_mag(1)
    with pytest.raises(errors.OperationError, match="does not exist"):
        mag.write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0), json_update_allowed=False,
                  allow_unaligned=True)
    assert not (tmp_path / "ds" / "color" / "1").exists()


@pytest.mark.parametrize("data_format", ["wkw", "zarr3", "zarr"])
def test_written_datasets_hold_no_lock_files(tmp_path, data_format):
    mag = _dataset(tmp_path, data_format)
    mag.read(absolute_offset=(0, 0, 0), size=(64, 64, 64))
    mag.compress()
    hidden = [p.relative_to(tmp_path / "ds").as_posix() for p in (tmp_path / "ds").rglob(".*")]
    assert sorted(hidden) == ([".zgroup", "color/.zattrs", "color/.zgroup", "color/1/.zarray"]
                              if data_format == "zarr" else [])   # the Zarr v2 metadata webknossos writes


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in [root, *root.rglob("*")]}


def test_reading_a_raw_wkw_dataset_changes_nothing_in_it_so_read_only_media_work(tmp_path):
    mag = _dataset(tmp_path, "wkw")
    before = _tree(tmp_path / "ds")
    as_root = os.geteuid() == 0          # root ignores file modes: then the unchanged tree is the proof
    if not as_root:
        for p in [tmp_path / "ds", *(tmp_path / "ds").rglob("*")]:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
    try:
        view = wk.Dataset.open(tmp_path / "ds", read_only=True).get_layer("color").get_mag(1)
        assert (view.read(absolute_offset=(0, 0, 0), size=(128, 128, 128)) == 1).all()
        assert (mag.read(absolute_offset=(10, 10, 10), size=(30, 30, 30)) == 1).all()
    finally:
        for p in [tmp_path / "ds", *(tmp_path / "ds").rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
    assert _tree(tmp_path / "ds") == before


# ---- interrupted maintenance leaves states that the next open resolves ------------------------

def test_a_layer_moved_aside_but_still_listed_is_restored_on_open(tmp_path):
    _dataset(tmp_path, "wkw")
    root = tmp_path / "ds"
    os.rename(root / "color", root / ".wkpy-old-0123456789ab-color")    # killed before the JSON update
    ds = wk.Dataset.open(root)
    assert (ds.get_layer("color").get_mag(1).read(absolute_offset=(0, 0, 0), size=(8, 8, 8)) == 1).all()
    assert sorted(p.name for p in root.iterdir()) == ["color", "datasource-properties.json"]


def test_a_deleted_layers_leftover_is_removed_and_never_read_back(tmp_path):
    _dataset(tmp_path, "wkw")
    root = tmp_path / "ds"
    ds = wk.Dataset.open(root)
    ds.delete_layer("color")
    # as if killed after the JSON update, before the files were gone
    (root / ".wkpy-old-0123456789ab-color" / "1").mkdir(parents=True)
    ds = wk.Dataset.open(root)
    assert sorted(p.name for p in root.iterdir()) == ["datasource-properties.json"]
    mag = ds.add_layer("color", "color", dtype_per_channel="uint8").add_mag(1, chunk_shape=32, shard_shape=SIDE)
    assert (mag.read(absolute_offset=(0, 0, 0), size=(128, 128, 128)) == 0).all()


def test_a_mag_swapped_out_halfway_is_restored_and_a_half_built_one_removed(tmp_path):
    mag = _dataset(tmp_path, "zarr3")
    layer_dir = tmp_path / "ds" / "color"
    os.rename(layer_dir / "1", layer_dir / ".wkpy-old-0123456789ab-1")   # the two-rename fallback, killed
    (layer_dir / ".wkpy-new-ba9876543210-1").mkdir()
    ds = wk.Dataset.open(tmp_path / "ds")
    assert sorted(p.name for p in layer_dir.iterdir()) == ["1", "zarr.json"]
    again = ds.get_layer("color").get_mag(1)
    assert not again.info.compression
    again.compress()
    assert (again.read(absolute_offset=(0, 0, 0), size=(128, 128, 128)) == 1).all()
    del mag


def test_a_stale_mag_folder_is_not_adopted_by_add_mag(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype_per_channel="uint8")
    (tmp_path / "ds" / "color" / "1" / "z0").mkdir(parents=True)
    with pytest.raises(errors.DuplicateError, match="holds files"):
        layer.add_mag(1)


# ---- linked and referenced data is read-only ----------------------------------------------------

@pytest.mark.parametrize("make_relative", [False, True])
def test_a_linked_layer_is_read_only_and_deleting_it_removes_only_the_link(tmp_path, make_relative):
    _dataset(tmp_path, "wkw")
    a = wk.Dataset.open(tmp_path / "ds")
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    linked = b.add_symlink_layer(a.get_layer("color"), make_relative=make_relative)
    assert linked.read_only and linked.get_mag(1).read_only
    with pytest.raises(errors.ReadOnlyError):
        linked.delete_mag(1)
    with pytest.raises(errors.ReadOnlyError):
        linked.get_mag(1).write(np.full((32, 32, 32), 99, np.uint8), absolute_offset=(0, 0, 0))
    with pytest.raises(errors.ReadOnlyError):
        linked.add_mag(2)
    with pytest.raises(errors.ReadOnlyError):
        linked.get_mag(1).compress()
    b.delete_layer("color")
    assert not os.path.lexists(tmp_path / "b" / "color")
    view = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    assert (view.read(absolute_offset=(0, 0, 0), size=(128, 128, 128)) == 1).all()


def test_a_linked_mag_is_read_only_and_deleting_it_removes_only_the_link(tmp_path):
    _dataset(tmp_path, "wkw")
    a = wk.Dataset.open(tmp_path / "ds")
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    layer = b.add_layer("color", "color", dtype_per_channel="uint8")
    mag = layer.add_symlink_mag(a.get_layer("color").get_mag(1))
    with pytest.raises(errors.ForeignPathError):
        mag.write(np.full((32, 32, 32), 99, np.uint8), absolute_offset=(0, 0, 0))
    layer.delete_mag(1)
    assert not os.path.lexists(tmp_path / "b" / "color" / "1")
    b.delete_layer("color")
    view = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    assert (view.read(absolute_offset=(0, 0, 0), size=(128, 128, 128)) == 1).all()


def test_a_mag_referenced_by_absolute_path_is_read_but_never_written_or_deleted(tmp_path):
    import json

    _dataset(tmp_path, "wkw")
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    b.add_layer("color", "color", dtype_per_channel="uint8")
    props_file = tmp_path / "b" / "datasource-properties.json"
    props = json.loads(props_file.read_text())
    a_layer = json.loads((tmp_path / "ds" / "datasource-properties.json").read_text())["dataLayers"][0]
    props["dataLayers"][0]["boundingBox"] = a_layer["boundingBox"]
    props["dataLayers"][0]["mags"] = [{"mag": [1, 1, 1], "path": str(tmp_path / "ds" / "color" / "1"),
                                       "cubeLength": SIDE}]
    props_file.write_text(json.dumps(props))
    b = wk.Dataset.open(tmp_path / "b")
    mag = b.get_layer("color").get_mag(1)
    assert (mag.read(absolute_offset=(0, 0, 0), size=(8, 8, 8)) == 1).all()
    with pytest.raises(errors.ForeignPathError):
        mag.write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0))
    b.get_layer("color").delete_mag(1)
    b.delete_layer("color")
    view = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    assert (view.read(absolute_offset=(0, 0, 0), size=(128, 128, 128)) == 1).all()


@pytest.mark.parametrize("data_format", ["wkw", "zarr3", "zarr"])
def test_views_of_a_deleted_mag_or_layer_refuse_reads_and_writes(tmp_path, data_format):
    mag = _dataset(tmp_path, data_format)
    layer = mag.layer
    layer.add_mag(2, chunk_shape=32, shard_shape=32 if data_format == "zarr" else SIDE)
    mag2 = layer.get_mag(2)
    layer.delete_mag(2)
    with pytest.raises(errors.OperationError, match="was deleted"):
        mag2.write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)
    layer.dataset.delete_layer("color")
    with pytest.raises(errors.OperationError, match="was deleted"):
        mag.read(absolute_offset=(0, 0, 0), size=(8, 8, 8))
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == sorted(["datasource-properties.json"] + \
        {"wkw": [], "zarr3": ["zarr.json"], "zarr": [".zgroup"]}[data_format])


def test_compressing_an_already_compressed_linked_mag_does_nothing(tmp_path):
    mag = _dataset(tmp_path, "wkw")
    mag.compress()
    b = wk.Dataset(tmp_path / "b", voxel_size=(1, 1, 1))
    linked = b.add_symlink_layer(wk.Dataset.open(tmp_path / "ds").get_layer("color"))
    linked.get_mag(1).compress()
    b.compress()


def test_an_attachment_copy_listed_but_not_yet_renamed_is_put_in_place_on_open(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", largest_segment_id=7)
    (tmp_path / "mesh.hdf5").write_bytes(b"mesh bytes")
    copied = seg.attachments.add_attachment_as_copy(
        wk.MeshAttachment.from_path_and_name(tmp_path / "mesh.hdf5", "mesh", data_format="hdf5"))
    target = Path(copied.path)
    assert target.read_bytes() == b"mesh bytes" and target.is_relative_to(tmp_path / "ds")
    os.rename(target, target.with_name(".wkpy-new-0123456789ab-" + target.name))   # killed before the rename
    (target.parent / ".wkpy-new-ba9876543210-stray.hdf5").write_bytes(b"x")         # killed before the save
    wk.Dataset.open(tmp_path / "ds")
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert target.read_bytes() == b"mesh bytes"
