"""Segmentation-layer attachments, cross-checked against webknossos 4.3.3 (same calls, same JSON)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

import wkpy

# links are what these tests are about: webknossos 4.3.3 deprecates them with this warning too
pytestmark = pytest.mark.filterwarnings("ignore:Using symlinks is deprecated:DeprecationWarning")

wk = pytest.importorskip("webknossos")

PROPS = "datasource-properties.json"


def _outside_files(root: Path) -> dict[str, Path]:
    """Attachment files of each kind, in a folder beside the datasets."""
    files = {}
    for name, content in (("mesh.hdf5", b"mesh"), ("agglo.hdf5", b"agglo"), ("index.hdf5", b"index"),
                          ("cumsum.json", b"{}"), ("conn.hdf5", b"conn")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
        files[name] = root / name
    (root / "zmesh").mkdir(exist_ok=True)
    (root / "zmesh" / "zarr.json").write_text('{"zarr_format": 3}')
    files["zmesh"] = root / "zmesh"
    return files


def _build(lib, path: Path, files: dict[str, Path]):
    ds = lib.Dataset(path, voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", largest_segment_id=7)
    att = seg.attachments
    att.add_attachment_as_ref(lib.MeshAttachment.from_path_and_name(files["mesh.hdf5"], "mesh", data_format="hdf5"
                                                                    if lib is wkpy else lib.AttachmentDataFormat.HDF5))
    fmt = lib.AttachmentDataFormat
    att.add_attachment_as_copy(lib.MeshAttachment.from_path_and_name(files["zmesh"], "zmesh", data_format=fmt.Zarr3))
    att.add_attachment_as_copy(lib.AgglomerateAttachment.from_path_and_name(files["agglo.hdf5"], "agglo",
                                                                            data_format=fmt.HDF5))
    att.add_attachment_as_ref(lib.SegmentIndexAttachment.from_path_and_name(files["index.hdf5"], "index",
                                                                            data_format=fmt.HDF5))
    att.add_attachment_as_copy(lib.CumsumAttachment.from_path_and_name(files["cumsum.json"], "cumsum",
                                                                       data_format=fmt.JSON))
    att.add_attachment_as_ref(lib.ConnectomeAttachment.from_path_and_name(files["conn.hdf5"], "conn",
                                                                          data_format=fmt.HDF5))
    return ds


def _json(path: Path) -> dict:
    return json.loads((path / PROPS).read_text())


def _summary(layer) -> list[tuple[str, str, str, str]]:
    return [(type(a).__name__, a.name, str(a.path), str(a.data_format)) for a in layer.attachments]


def _relative(summary, root: Path):
    return [(t, n, os.path.relpath(p, root), f) for t, n, p, f in summary]


@pytest.fixture
def pair(tmp_path: Path):
    files = _outside_files(tmp_path / "outside")
    theirs = _build(wk, tmp_path / "wk", files)
    ours = _build(wkpy, tmp_path / "py", files)
    return tmp_path, ours, theirs


def test_same_calls_write_the_same_attachments(pair) -> None:
    tmp_path, ours, theirs = pair
    a, b = _json(ours.path), _json(theirs.path)
    assert a["dataLayers"][0]["attachments"] == b["dataLayers"][0]["attachments"]
    assert list(a["dataLayers"][0]) == list(b["dataLayers"][0])
    assert (ours.path / "seg" / "meshes" / "zmesh" / "zarr.json").read_text() == '{"zarr_format": 3}'
    assert (ours.path / "seg" / "agglomerates" / "agglo.hdf5").read_bytes() == b"agglo"
    assert (ours.path / "seg" / "cumsum" / "cumsum.json").exists()
    # the listed objects agree (same kinds, names, paths relative to each dataset, formats)
    reopened = wkpy.Dataset.open(ours.path).get_layer("seg")
    assert (_relative(_summary(reopened), ours.resolved_path)
            == _relative(_summary(wk.Dataset.open(theirs.path).get_layer("seg")), theirs.resolved_path))
    assert len(reopened.attachments.meshes) == 2 and reopened.attachments.cumsum.name == "cumsum"
    assert not reopened.attachments.is_empty


def test_rename_and_delete_match_webknossos(pair) -> None:
    tmp_path, ours, theirs = pair
    for ds in (ours, theirs):
        att = ds.get_layer("seg").attachments
        att.rename_attachment(att.meshes[0], new_name="renamed")
        att.delete_attachment(att.segment_index)
        att.delete_attachment(att.connectomes[0])
    a, b = _json(ours.path), _json(theirs.path)
    assert a["dataLayers"][0]["attachments"] == b["dataLayers"][0]["attachments"]
    assert "connectomes" not in a["dataLayers"][0]["attachments"]
    assert (tmp_path / "outside" / "conn.hdf5").exists()     # unlisting never deletes files
    with pytest.raises(wkpy.DuplicateError):
        ours.get_layer("seg").attachments.add_attachment_as_ref(
            wkpy.AgglomerateAttachment.from_path_and_name(tmp_path / "x", "agglo", data_format="hdf5"))
    for ds in (ours, theirs):
        att = ds.get_layer("seg").attachments
        for attachment in list(att):
            att.delete_attachment(attachment)
    assert "attachments" not in _json(ours.path)["dataLayers"][0]
    assert "attachments" not in _json(theirs.path)["dataLayers"][0]


def test_copies_carry_attachments_like_webknossos(pair) -> None:
    tmp_path, ours, theirs = pair
    for lib, ds, name in ((wkpy, ours, "py"), (wk, theirs, "wk")):
        ds.copy_dataset(tmp_path / f"{name}-copy")
        other = lib.Dataset(tmp_path / f"{name}-other", voxel_size=(1, 1, 1))
        other.add_layer_as_copy(ds.get_layer("seg"), "copied")
        other.add_layer_like(ds.get_layer("seg"), "like")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            other.add_symlink_layer(ds.get_layer("seg"), "linked")
    for suffix in ("-copy", "-other"):
        a, b = _json(tmp_path / f"py{suffix}"), _json(tmp_path / f"wk{suffix}")
        la = {x["name"]: x.get("attachments") for x in a["dataLayers"]}
        lb = {x["name"]: x.get("attachments") for x in b["dataLayers"]}
        for name in la:
            if name == "linked":   # absolute paths into each side's own source dataset
                assert la[name] == json.loads(json.dumps(lb[name]).replace(
                    str(theirs.resolved_path), str(ours.resolved_path)))
            else:
                assert la[name] == lb[name], (suffix, name)
    copy = wkpy.Dataset.open(tmp_path / "py-copy").get_layer("seg")
    for attachment in copy.attachments:    # every local attachment was copied into the new layer
        assert Path(attachment.path).is_relative_to(copy.dataset.resolved_path / "seg")
        assert Path(attachment.path).exists()


def test_hostile_attachment_entries_never_lead_writes_outside(tmp_path: Path) -> None:
    files = _outside_files(tmp_path / "outside")
    ds = _build(wkpy, tmp_path / "py", files)
    obj = _json(ds.path)
    obj["dataLayers"][0]["attachments"]["agglomerates"][0]["name"] = "../../../escaped"
    (ds.path / PROPS).write_text(json.dumps(obj))
    opened = wkpy.Dataset.open(ds.path)
    with pytest.raises(wkpy.InvalidRequestError):
        list(opened.get_layer("seg").attachments)
    with pytest.raises(wkpy.InvalidRequestError):
        opened.copy_dataset(tmp_path / "copy")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "copy" / "escaped").exists()
    obj["dataLayers"][0]["attachments"]["agglomerates"][0]["dataFormat"] = "exe"
    (ds.path / PROPS).write_text(json.dumps(obj))
    with pytest.raises(wkpy.PropertiesError, match="attachments.agglomerates"):
        wkpy.Dataset.open(ds.path)


def test_copy_into_a_linked_layer_is_refused(tmp_path: Path) -> None:
    files = _outside_files(tmp_path / "outside")
    src = _build(wkpy, tmp_path / "src", files)
    other = wkpy.Dataset(tmp_path / "other", voxel_size=(1, 1, 1))
    linked = other.add_symlink_layer(src.get_layer("seg"), "linked")
    before = sorted(p.name for p in (src.path / "seg").iterdir())
    with pytest.raises(wkpy.ReadOnlyError):
        linked.attachments.add_attachment_as_copy(
            wkpy.MeshAttachment.from_path_and_name(files["mesh.hdf5"], "again", data_format="hdf5"))
    assert sorted(p.name for p in (src.path / "seg").iterdir()) == before
    # the linked layer lists the source's attachments by absolute path
    assert [a.path for a in linked.attachments] == [a.path for a in src.get_layer("seg").attachments]


def test_deprecated_add_methods_and_format_checks(tmp_path: Path) -> None:
    files = _outside_files(tmp_path / "outside")
    for lib, name in ((wkpy, "py"), (wk, "wk")):
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        seg = ds.add_layer("seg", "segmentation", dtype="uint32")
        with pytest.warns(DeprecationWarning):
            seg.attachments.add_mesh(files["mesh.hdf5"], name="m", data_format=lib.AttachmentDataFormat.HDF5)
        with pytest.warns(DeprecationWarning):
            seg.attachments.set_cumsum(files["cumsum.json"], name="c", data_format=lib.AttachmentDataFormat.JSON)
        with pytest.raises(ValueError):
            lib.SegmentStatisticsAttachment.from_path_and_name(files["index.hdf5"], "s",
                                                               data_format=lib.AttachmentDataFormat.HDF5)
    assert (_json(tmp_path / "py")["dataLayers"][0]["attachments"]
            == _json(tmp_path / "wk")["dataLayers"][0]["attachments"])
