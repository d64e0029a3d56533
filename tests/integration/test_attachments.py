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


# ---- references by URL (strings or upath.UPath objects), never opened ------------------------
def _url_references(lib):
    from upath import UPath  # a dependency of webknossos, not of wkpy

    fmt = lib.AttachmentDataFormat
    return [
        lib.AgglomerateAttachment.from_path_and_name(
            UPath("s3://bucket/agglomerate.zarr", endpoint_url="https://s3.eu-central-1.amazonaws.com"),
            name="identity", data_format=fmt.Zarr3),
        lib.ConnectomeAttachment.from_path_and_name(UPath("http://example.com/connectome.zarr"), name="connectome",
                                                    data_format=fmt.Zarr3),
        lib.MeshAttachment.from_path_and_name(UPath("https://example.com/a/meshes/m.hdf5"), name="m",
                                              data_format=fmt.HDF5),
        lib.SegmentIndexAttachment.from_path_and_name(UPath.home() / "segment_index.hdf5", name="main",
                                                      data_format=fmt.HDF5),
    ]


def test_url_references_are_recorded_like_webknossos(tmp_path: Path) -> None:
    from upath import UPath

    for lib, name in ((wk, "wk"), (wkpy, "py")):
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        seg = ds.add_layer("seg", "segmentation", dtype="uint32").as_segmentation_layer()
        for attachment in _url_references(lib):
            seg.attachments.add_attachment_as_ref(attachment)
        copy = lib.Dataset(tmp_path / f"{name}-copy", voxel_size=(1, 1, 1))
        copy.add_layer_as_ref(seg, "referenced")
        if lib is wkpy:   # webknossos downloads remote attachments here; wkpy lists them by reference
            copy.add_layer_as_copy(seg, "copied")
    a, b = _json(tmp_path / "py"), _json(tmp_path / "wk")
    assert a["dataLayers"][0]["attachments"] == b["dataLayers"][0]["attachments"]
    assert a["dataLayers"][0]["attachments"]["agglomerates"][0]["path"] == \
        "s3://s3.eu-central-1.amazonaws.com/bucket/agglomerate.zarr"
    ca, cb = _json(tmp_path / "py-copy"), _json(tmp_path / "wk-copy")
    assert ca["dataLayers"][0]["attachments"] == cb["dataLayers"][0]["attachments"]
    assert ca["dataLayers"][1]["attachments"] == ca["dataLayers"][0]["attachments"]
    # the listed attachments equal the UPath objects they came from, as in webknossos
    seg = wkpy.Dataset.open(tmp_path / "py-copy").get_layer("referenced")
    s3 = UPath("s3://bucket/agglomerate.zarr", endpoint_url="https://s3.eu-central-1.amazonaws.com")
    listed = seg.attachments.agglomerates[0].path
    assert listed == s3 and s3 == listed and not (listed != s3)
    assert listed == "s3://s3.eu-central-1.amazonaws.com/bucket/agglomerate.zarr"
    assert listed != UPath("s3://bucket/agglomerate.zarr", endpoint_url="https://other.example.com")
    assert seg.attachments.connectomes[0].path == UPath("http://example.com/connectome.zarr")
    assert {listed: 1}["s3://s3.eu-central-1.amazonaws.com/bucket/agglomerate.zarr"] == 1
    with pytest.raises(wkpy.UnsupportedError):
        wkpy.Dataset(tmp_path / "py-3", voxel_size=(1, 1, 1)).add_layer(
            "s", "segmentation", dtype="uint32").attachments.add_attachment_as_copy(
            seg.attachments.agglomerates[0])


def test_url_reference_checks(tmp_path: Path) -> None:
    from upath import UPath

    with pytest.raises(wkpy.InvalidRequestError, match="endpoint_url"):   # webknossos: KeyError
        wkpy.AgglomerateAttachment.from_path_and_name(UPath("s3://bucket/x"), "x", data_format="zarr3")
    ds = wkpy.Dataset(tmp_path / "py", voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype="uint32")
    mesh = wkpy.MeshAttachment.from_path_and_name(UPath("http://example.com/meshfile.zarr"), name="meshfile",
                                                  data_format="zarr3")
    seg.attachments.add_attachment_as_ref(mesh)
    with pytest.raises(ValueError):                 # webknossos' error for a listed name
        seg.attachments.add_attachment_as_ref(mesh)
    with pytest.raises(ValueError):
        wkpy.MeshAttachment.from_path_and_name(UPath("http://example.com/x.zarr"), name="mesh/x", data_format="zarr3")


def test_wkpy_records_upath_references_without_importing_upath(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = f"""
import sys, wkpy
ds = wkpy.Dataset({str(tmp_path / "ds")!r}, voxel_size=(1, 1, 1))
seg = ds.add_layer("seg", "segmentation", dtype="uint32")
seg.attachments.add_attachment_as_ref(wkpy.MeshAttachment.from_path_and_name(
    "s3://host/bucket/m.zarr", "m", data_format="zarr3"))
list(wkpy.Dataset.open({str(tmp_path / "ds")!r}).get_layer("seg").attachments)
assert "upath" not in sys.modules and "fsspec" not in sys.modules and "networkx" not in sys.modules, sys.modules
"""
    subprocess.run([sys.executable, "-c", script], check=True)


# ---- deprecated symlinks ---------------------------------------------------------------------------
def test_add_symlink_attachments_like_webknossos(tmp_path: Path) -> None:
    files = _outside_files(tmp_path / "outside")
    for lib, name in ((wk, "wk"), (wkpy, "py")):
        ds = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1))
        seg = ds.add_layer("seg", "segmentation", dtype="uint32").as_segmentation_layer()
        fmt = lib.AttachmentDataFormat
        with pytest.warns(DeprecationWarning):
            seg.attachments.add_symlink_attachments(
                lib.MeshAttachment.from_path_and_name(files["zmesh"], "zmesh", data_format=fmt.Zarr3),
                lib.SegmentIndexAttachment.from_path_and_name(files["index.hdf5"], "main", data_format=fmt.HDF5))
        with pytest.warns(DeprecationWarning):
            seg.attachments.add_symlink_attachments(
                lib.ConnectomeAttachment.from_path_and_name(files["conn.hdf5"], "conn", data_format=fmt.HDF5),
                make_relative=True)
    assert _json(tmp_path / "py")["dataLayers"][0]["attachments"] == _json(tmp_path / "wk")["dataLayers"][0]["attachments"]
    for name in ("wk", "py"):
        seg = tmp_path / name / "seg"
        assert os.readlink(seg / "meshes" / "zmesh") == str(files["zmesh"])
        assert os.readlink(seg / "segmentIndex" / "main.hdf5") == str(files["index.hdf5"])
        assert os.readlink(seg / "connectomes" / "conn.hdf5") == os.path.relpath(files["conn.hdf5"], seg / "connectomes")
    assert not [p for p in (tmp_path / "py").rglob(".*")]
    # into a linked layer: refused, nothing created in the source dataset
    other = wkpy.Dataset(tmp_path / "other", voxel_size=(1, 1, 1))
    linked = other.add_symlink_layer(wkpy.Dataset.open(tmp_path / "py").get_layer("seg"), "linked")
    with pytest.warns(DeprecationWarning), pytest.raises(wkpy.ForeignPathError):
        linked.attachments.add_symlink_attachments(
            wkpy.MeshAttachment.from_path_and_name(files["mesh.hdf5"], "again", data_format="hdf5"))
    assert not (tmp_path / "py" / "seg" / "meshes" / "again.hdf5").exists()


def test_copies_into_a_dataset_opened_by_a_relative_path(tmp_path: Path, monkeypatch) -> None:
    files = _outside_files(tmp_path / "outside")
    wkpy.Dataset(tmp_path / "py", voxel_size=(1, 1, 1)).add_layer("seg", "segmentation", dtype="uint32")
    monkeypatch.chdir(tmp_path)
    seg = wkpy.Dataset.open("py").get_layer("seg")
    made = seg.attachments.add_attachment_as_copy(
        wkpy.MeshAttachment.from_path_and_name(files["mesh.hdf5"], "mesh", data_format="hdf5"))
    assert made.path == (tmp_path / "py" / "seg" / "meshes" / "mesh.hdf5").resolve()
    assert made.path.read_bytes() == b"mesh"
    assert _json(tmp_path / "py")["dataLayers"][0]["attachments"]["meshes"][0]["path"] == "./seg/meshes/mesh.hdf5"


def test_copying_an_attachment_refuses_fifos_and_folder_cycles(tmp_path: Path) -> None:
    # a FIFO (or device) in a foreign attachment would hang the copy or fill the disk
    (tmp_path / "zmesh").mkdir()
    (tmp_path / "zmesh" / "zarr.json").write_text('{"zarr_format": 3}')
    os.mkfifo(tmp_path / "zmesh" / "pipe")
    os.mkfifo(tmp_path / "agglo.hdf5")
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "zarr.json").write_text('{"zarr_format": 3}')
    os.symlink("..", tmp_path / "loop" / "up")
    ds = wkpy.Dataset(tmp_path / "py", voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype="uint32", largest_segment_id=7)
    for path, name, kind, fmt in ((tmp_path / "zmesh", "zmesh", wkpy.MeshAttachment, "zarr3"),
                                  (tmp_path / "agglo.hdf5", "agglo", wkpy.AgglomerateAttachment, "hdf5"),
                                  (tmp_path / "loop", "loop", wkpy.MeshAttachment, "zarr3")):
        with pytest.raises(wkpy.errors.CorruptFileError, match=name):
            seg.attachments.add_attachment_as_copy(kind.from_path_and_name(path, name, data_format=fmt))
    assert list(seg.attachments) == []
    assert not (tmp_path / "py" / "seg" / "meshes").exists() or \
        [p for p in os.listdir(tmp_path / "py" / "seg" / "meshes")] == []
