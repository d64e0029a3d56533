"""`Layer.export`: the OME-Zarr zip, TIFF stack and OME-TIFF of a layer, each made by wkpy
and by webknossos 4.3.3 from the same data and compared; the zips read back with
zarr-python and tensorstore; outputs that would land in a dataset refused."""

from __future__ import annotations

import json
import os
import re
import struct
import warnings
import zipfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import tifffile
import webknossos
from cluster_tools import SequentialExecutor

import wkpy as wk
from conftest import random_volume, tree_state
from wkpy.dataset.layer import export as export_module
from wkpy.errors import CorruptFileError, InvalidRequestError, MissingLayerError

# webknossos warns that it downsamples without numba; its exports run in-process
pytestmark = pytest.mark.filterwarnings("ignore:.*numba:UserWarning")

SIZE = (70, 60, 40)


def _pair(tmp_path, *, data_format="zarr3", category="color", dtype="uint8", channels=1, size=SIZE,
          topleft=(0, 0, 0), coarser=True):
    """The same layer (mag 1 plus, with `coarser`, mag 2-2-1 as wkpy downsamples it) in
    wkpy and in webknossos 4.3.3. (webknossos' own downsample_mag is not used here: on
    these small shards it holds GBs.)"""
    data = random_volume((channels, *size), dtype, seed=3)
    if category == "segmentation":
        data = (data % 5).astype(dtype)
    kwargs = {"largest_segment_id": 4} if category == "segmentation" else {}
    layers = []
    for lib, root in ((wk, tmp_path / "ours"), (webknossos, tmp_path / "theirs")):
        ds = lib.Dataset(root, voxel_size=(11, 11, 25))
        layer = ds.add_layer("l", category, dtype=dtype, num_channels=channels, data_format=data_format,
                             bounding_box=lib.BoundingBox(topleft, size), **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer.add_mag(1, chunk_shape=16, shard_shape=32).write(data, absolute_offset=topleft, allow_unaligned=True)
            if coarser and lib is wk:
                coarse = layer.downsample_mag(1, "2-2-1").read()
            elif coarser:
                layer.add_mag("2-2-1", chunk_shape=16, shard_shape=32).write(
                    coarse, absolute_offset=layer.bounding_box.align_with_mag(lib.Mag("2-2-1")).topleft,
                    allow_unaligned=True)
        layers.append(layer)
    return layers[0], layers[1], data


def _their_ozx(layer, path, **kwargs):
    layer.export.as_ozx(output_path=path, executor=SequentialExecutor(), **kwargs)


def _local_headers_have_zip64(path) -> bool:
    """Whether every local file header carries a ZIP64 extra field (id 1)."""
    with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
        for info in archive.infolist():
            f.seek(info.header_offset)
            header = f.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            f.seek(info.header_offset + 30 + name_len)
            extra = f.read(extra_len)
            ids, at = [], 0
            while at + 4 <= len(extra):
                ident, n = struct.unpack("<HH", extra[at:at + 4])
                ids.append(ident)
                at += 4 + n
            if 1 not in ids:
                return False
    return True


def _compare_ozx(ours_path, theirs_path):
    with zipfile.ZipFile(ours_path) as ours, zipfile.ZipFile(theirs_path) as theirs:
        assert [i.filename for i in ours.infolist()] == [i.filename for i in theirs.infolist()]
        assert ours.infolist()[0].filename == "zarr.json"
        assert {i.compress_type for i in ours.infolist()} == {zipfile.ZIP_STORED}
        assert json.loads(ours.comment) == json.loads(theirs.comment) == {"ome": {"version": "0.5"}, "jsonFirst": True}
        for name in ours.namelist():
            if name.endswith("zarr.json"):
                assert json.loads(ours.read(name)) == json.loads(theirs.read(name)), name
    assert _local_headers_have_zip64(ours_path) and _local_headers_have_zip64(theirs_path)
    zarr = pytest.importorskip("zarr")
    with zarr.storage.ZipStore(ours_path, mode="r") as a, zarr.storage.ZipStore(theirs_path, mode="r") as b:
        ga, gb = zarr.open_group(a, mode="r"), zarr.open_group(b, mode="r")
        assert sorted(ga.array_keys()) == sorted(gb.array_keys())
        arrays = {k: ga[k][...] for k in ga.array_keys()}
        for k, got in arrays.items():
            np.testing.assert_array_equal(got, gb[k][...], err_msg=f"mag {k}")
    ts = pytest.importorskip("tensorstore")
    for k, got in arrays.items():
        spec = {"driver": "zarr3", "kvstore": {"driver": "zip", "base": f"file://{os.path.abspath(ours_path)}",
                                              "path": f"{k}/"}}
        np.testing.assert_array_equal(ts.open(spec).result()[...].read().result(), got)
    return arrays


@pytest.mark.parametrize("data_format,category,dtype,channels", [
    ("zarr3", "color", "uint8", 1), ("wkw", "segmentation", "uint32", 1), ("zarr3", "color", "uint8", 3)])
def test_ozx_of_the_whole_layer_equals_webknossos(tmp_path, data_format, category, dtype, channels):
    ours, theirs, data = _pair(tmp_path, data_format=data_format, category=category, dtype=dtype, channels=channels)
    ours.export.as_ozx(output_path=tmp_path / "ours.ozx")
    _their_ozx(theirs, tmp_path / "theirs.ozx")
    arrays = _compare_ozx(tmp_path / "ours.ozx", tmp_path / "theirs.ozx")
    assert os.stat(tmp_path / "ours.ozx").st_mode == os.stat(tmp_path / "theirs.ozx").st_mode
    assert list(arrays) and set(arrays) >= {"1", "2-2-1"}
    np.testing.assert_array_equal(arrays["1"][:, :70, :60, :40], data)


@pytest.mark.parametrize("crop,mag", [(((3, 5, 7), (40, 30, 21)), None), (((3, 5, 7), (40, 30, 21)), "2-2-1"),
                                      (((60, 50, 30), (100, 100, 100)), None)])
def test_ozx_of_a_crop_and_a_mag_equals_webknossos(tmp_path, crop, mag):
    ours, theirs, _ = _pair(tmp_path, topleft=(2, 0, 0))
    ours.export.as_ozx(output_path=tmp_path / "ours.ozx", bounding_box=wk.BoundingBox(*crop), mag=mag)
    _their_ozx(theirs, tmp_path / "theirs.ozx", bounding_box=webknossos.BoundingBox(*crop),
               mag=None if mag is None else webknossos.Mag(mag))
    _compare_ozx(tmp_path / "ours.ozx", tmp_path / "theirs.ozx")


def test_ozx_of_one_slice_and_without_pyramid_and_with_a_shard_shape_equal_webknossos(tmp_path):
    ours, theirs, _ = _pair(tmp_path, coarser=False)
    one = ((0, 0, 9), (70, 60, 1))
    for name, kwargs in (("flat", {"bounding_box": one}), ("single", {"downsample": False}),
                         ("sharded", {"shard_shape": (64, 32, 32)})):
        ours.export.as_ozx(output_path=tmp_path / f"ours-{name}.ozx",
                           **{k: wk.BoundingBox(*v) if k == "bounding_box" else v for k, v in kwargs.items()})
        _their_ozx(theirs, tmp_path / f"theirs-{name}.ozx",
                   **{k: webknossos.BoundingBox(*v) if k == "bounding_box" else v for k, v in kwargs.items()})
        _compare_ozx(tmp_path / f"ours-{name}.ozx", tmp_path / f"theirs-{name}.ozx")


def test_an_nd_bounding_box_counts_by_its_x_y_z(tmp_path):
    ours, _, _ = _pair(tmp_path, coarser=False)
    ours.export.as_ome_tiff(output_path=tmp_path / "box.tif", bounding_box=wk.BoundingBox((3, 5, 7), (40, 30, 4)))
    nd = wk.NDBoundingBox((0, 3, 5, 7), (1, 40, 30, 4), axes=("c", "x", "y", "z"))
    ours.export.as_ome_tiff(output_path=tmp_path / "nd.tif", bounding_box=nd)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "box.tif"), tifffile.imread(tmp_path / "nd.tif"))


def test_ozx_runs_on_a_given_executor_and_replaces_an_old_file_whole(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    ours, _, data = _pair(tmp_path, coarser=False)
    out = tmp_path / "out.ozx"
    out.write_bytes(b"old")
    with ThreadPoolExecutor(2) as pool:
        ours.export.as_ozx(output_path=out, executor=pool, downsample=False)
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist()[:2] == ["zarr.json", "1/zarr.json"]
    assert sorted(os.listdir(tmp_path)) == ["ours", "out.ozx", "theirs"]   # no staging left behind


def _tiff_tags(page) -> dict:
    skip = {"StripOffsets", "StripByteCounts", "SubIFDs", "ImageDescription", "Software"}
    return {t.name: t.value for t in page.tags.values() if t.name not in skip}


@pytest.mark.parametrize("category,dtype,channels,mag,crop,prefix", [
    ("color", "uint8", 1, None, None, ""),
    ("color", "uint8", 3, None, ((3, 5, 7), (40, 30, 5)), "sec"),
    ("segmentation", "uint32", 1, "2-2-1", ((3, 5, 7), (40, 30, 5)), ""),
])
def test_tiff_stack_equals_webknossos(tmp_path, category, dtype, channels, mag, crop, prefix):
    ours, theirs, _ = _pair(tmp_path, category=category, dtype=dtype, channels=channels)
    for layer, lib, name in ((ours, wk, "ours"), (theirs, webknossos, "theirs")):
        layer.export.as_tiff_stack(output_path=tmp_path / f"stack-{name}", bounding_box=None if crop is None else
                                   lib.BoundingBox(*crop), mag=None if mag is None else lib.Mag(mag),
                                   filename_prefix=prefix)
    ours_files = sorted(p.name for p in (tmp_path / "stack-ours").glob("*.tiff"))
    theirs_files = sorted(p.name for p in (tmp_path / "stack-theirs").glob("*.tiff"))
    assert ours_files == theirs_files and ours_files
    for name in ours_files:
        with tifffile.TiffFile(tmp_path / "stack-ours" / name) as a, \
                tifffile.TiffFile(tmp_path / "stack-theirs" / name) as b:
            np.testing.assert_array_equal(a.asarray(), b.asarray(), err_msg=name)
            assert _tiff_tags(a.pages[0]) == _tiff_tags(b.pages[0]), name


def _ome_essentials(tif) -> dict:
    """The OME-XML's Pixels attributes (minus IDs) and channel names."""
    root = ET.fromstring(tif.ome_metadata)
    ns = {"ome": root.tag.split("}")[0][1:]}
    pixels = root.find(".//ome:Pixels", ns)
    assert pixels is not None
    attrs = {k: v for k, v in pixels.attrib.items() if k != "ID"}
    channels = [c.get("Name") for c in pixels.findall("ome:Channel", ns)]
    return {"pixels": attrs, "channels": channels}


@pytest.mark.parametrize("name,category,dtype,channels,mag,crop", [
    ("x.ome.tif", "color", "uint8", 1, None, None),
    ("x.ome.tiff", "color", "uint8", 3, "2-2-1", ((3, 5, 7), (41, 37, 9))),
    ("x.ome.tif", "segmentation", "uint32", 1, None, ((3, 5, 7), (40, 30, 5))),
    ("x.tif", "color", "uint8", 1, None, ((3, 5, 7), (40, 30, 5))),
])
def test_ome_tiff_equals_webknossos(tmp_path, name, category, dtype, channels, mag, crop):
    ours, theirs, _ = _pair(tmp_path, category=category, dtype=dtype, channels=channels)
    for layer, lib, side in ((ours, wk, "ours"), (theirs, webknossos, "theirs")):
        (tmp_path / f"out-{side}").mkdir()
        layer.export.as_ome_tiff(output_path=tmp_path / f"out-{side}" / name,
                                 bounding_box=None if crop is None else lib.BoundingBox(*crop),
                                 mag=None if mag is None else lib.Mag(mag))
    with tifffile.TiffFile(tmp_path / "out-ours" / name) as a, tifffile.TiffFile(tmp_path / "out-theirs" / name) as b:
        assert a.is_ome == b.is_ome == (".ome." in name)
        assert os.stat(a.filehandle.path).st_mode == os.stat(b.filehandle.path).st_mode
        assert len(a.pages) == len(b.pages)
        assert (a.series[0].shape, a.series[0].axes) == (b.series[0].shape, b.series[0].axes)
        assert [lv.shape for lv in a.series[0].levels] == [lv.shape for lv in b.series[0].levels]
        for la, lb in zip(a.series[0].levels, b.series[0].levels):
            np.testing.assert_array_equal(la.asarray(), lb.asarray())
        assert _tiff_tags(a.pages[0]) == _tiff_tags(b.pages[0])
        if a.is_ome:
            assert _ome_essentials(a) == _ome_essentials(b)
        else:
            da, db = a.pages[0].description, b.pages[0].description
            assert json.loads(da) == json.loads(db)


def test_tiff_exports_read_in_slabs_give_the_same_files(tmp_path, monkeypatch):
    ours, _, _ = _pair(tmp_path, coarser=False)
    ours.export.as_ome_tiff(output_path=tmp_path / "whole.ome.tif")
    ours.export.as_tiff_stack(output_path=tmp_path / "whole")
    monkeypatch.setattr(export_module, "SLAB_BYTES", 3 * 70 * 60)    # slabs of 3 slices
    ours.export.as_ome_tiff(output_path=tmp_path / "slabs.ome.tif")
    ours.export.as_tiff_stack(output_path=tmp_path / "slabs")
    with tifffile.TiffFile(tmp_path / "whole.ome.tif") as a, tifffile.TiffFile(tmp_path / "slabs.ome.tif") as b:
        for la, lb in zip(a.series[0].levels, b.series[0].levels, strict=True):
            np.testing.assert_array_equal(la.asarray(), lb.asarray())
    for p in (tmp_path / "whole").iterdir():
        np.testing.assert_array_equal(tifffile.imread(p), tifffile.imread(tmp_path / "slabs" / p.name))


@pytest.mark.parametrize("axes,size,channels", [(("t", "z", "y", "x"), (2, 3, 4, 5), 1),
                                                 (("c", "t", "x", "y", "z"), (3, 3, 6, 5, 4), 3)])
def test_tiff_stack_of_nd_layers_equals_webknossos(tmp_path, monkeypatch, axes, size, channels):
    data = random_volume(size, "uint8", seed=4)
    layers = []
    for lib, name in ((wk, "ours"), (webknossos, "theirs")):
        box = lib.NDBoundingBox((0, 1, 2, 3, 0)[:len(axes)], size, axes=axes, index=tuple(range(len(axes))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1)).add_layer(
                "color", "color", dtype="uint8", num_channels=channels, data_format="zarr3", bounding_box=box)
            layer.add_mag(1, chunk_shape=8, shard_shape=8).write(data, absolute_bounding_box=box)
        layer.export.as_tiff_stack(output_path=tmp_path / f"all-{name}")
        part = box.with_bounds("t", box.get_bounds("t")[0] + 1, 1)
        layer.export.as_tiff_stack(output_path=tmp_path / f"part-{name}", bounding_box=part, filename_prefix="p")
        layers.append(layer)
    monkeypatch.setattr(export_module, "SLAB_BYTES", 1)    # ours again, a slice at a time
    layers[0].export.as_tiff_stack(output_path=tmp_path / "all-slabs")
    for ours, theirs in (("all-ours", "all-theirs"), ("part-ours", "part-theirs"), ("all-slabs", "all-theirs")):
        names = sorted(p.name for p in (tmp_path / ours).iterdir())
        assert names == sorted(p.name for p in (tmp_path / theirs).iterdir()) and names
        for name in names:
            with tifffile.TiffFile(tmp_path / ours / name) as a, tifffile.TiffFile(tmp_path / theirs / name) as b:
                np.testing.assert_array_equal(a.asarray(), b.asarray(), err_msg=name)
                assert _tiff_tags(a.pages[0]) == _tiff_tags(b.pages[0]), name
    for layer, name in zip(layers, ("ours", "theirs")):        # and one OME-TIFF of all axes, as there
        layer.export.as_ome_tiff(output_path=tmp_path / f"{name}.ome.tif")
    with tifffile.TiffFile(tmp_path / "ours.ome.tif") as a, tifffile.TiffFile(tmp_path / "theirs.ome.tif") as b:
        assert (a.series[0].shape, a.series[0].axes) == (b.series[0].shape, b.series[0].axes)
        np.testing.assert_array_equal(a.series[0].asarray(), b.series[0].asarray())


def test_exports_never_write_into_the_dataset(tmp_path):
    ours, _, _ = _pair(tmp_path, coarser=False)
    root = tmp_path / "ours"
    (tmp_path / "link").symlink_to(root / "l")
    before = tree_state(root)
    for target in (root / "x.ozx", root / "l" / "x.ozx", tmp_path / "link" / "x.ozx", root / "l" / "1" / "x"):
        for call in (ours.export.as_ozx, ours.export.as_ome_tiff, ours.export.as_tiff_stack):
            with pytest.raises(InvalidRequestError, match="inside"):
                call(output_path=target)
    assert tree_state(root) == before


def test_bad_requests_raise_typed_errors(tmp_path):
    ours, theirs, _ = _pair(tmp_path, coarser=False)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_bytes(b"")
    for call in (ours.export.as_ozx, ours.export.as_ome_tiff):
        with pytest.raises(InvalidRequestError, match="folder"):
            call(output_path=tmp_path / "folder")
    with pytest.raises(InvalidRequestError, match="file"):
        ours.export.as_tiff_stack(output_path=tmp_path / "file")
    far = wk.BoundingBox((500, 0, 0), (10, 10, 10))
    for call in (ours.export.as_ozx, ours.export.as_ome_tiff, ours.export.as_tiff_stack):
        with pytest.raises(InvalidRequestError, match="overlap") as info:
            call(output_path=tmp_path / "y", bounding_box=far)
        assert isinstance(info.value, (ValueError, AssertionError))
        with pytest.raises(ValueError, match="remote"):
            call(output_path=tmp_path / "y", access_mode="direct")
        with pytest.raises(MissingLayerError):
            call(output_path=tmp_path / "y", mag=8)
    with pytest.raises(InvalidRequestError, match="filename_prefix"):
        ours.export.as_tiff_stack(output_path=tmp_path / "z", filename_prefix="../up")
    # webknossos raises the same builtins for these
    with pytest.raises(AssertionError):
        theirs.export.as_ozx(output_path=tmp_path / "w.ozx", bounding_box=webknossos.BoundingBox((500, 0, 0), (10, 10, 10)),
                             executor=SequentialExecutor())
    with pytest.raises(ValueError, match="remote"):
        theirs.export.as_ome_tiff(output_path=tmp_path / "w.tif", access_mode="direct")
    assert not (tmp_path / "y").exists() and not (tmp_path / "w.ozx").exists()


def test_a_failed_export_leaves_the_old_output_and_nothing_else(tmp_path):
    ours, _, _ = _pair(tmp_path, coarser=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name in ("x.ozx", "x.ome.tif"):
        (out_dir / name).write_bytes(b"old")
    shard = next(p for p in (tmp_path / "ours" / "l" / "1").rglob("*") if p.is_file() and p.name != "zarr.json")
    shard.write_bytes(b"\x00" * 100)         # the export reads a broken shard and fails
    with pytest.raises(CorruptFileError):
        ours.export.as_ozx(output_path=out_dir / "x.ozx")
    with pytest.raises(CorruptFileError):
        ours.export.as_ome_tiff(output_path=out_dir / "x.ome.tif")
    assert sorted(os.listdir(out_dir)) == ["x.ome.tif", "x.ozx"]
    assert all((out_dir / n).read_bytes() == b"old" for n in os.listdir(out_dir))


def test_ome_metadata_names_give_what_webknossos_gives(tmp_path):
    from webknossos.dataset import ome_metadata as theirs_module

    from wkpy.dataset import ome_metadata as ours_module

    ours, theirs, _ = _pair(tmp_path)
    group = json.loads((tmp_path / "ours" / "l" / "zarr.json").read_text())
    assert ours_module.get_ome_0_5_multiscale_metadata(ours.dataset, ours) == group["attributes"]
    for name in ("get_ome_0_5_multiscale_metadata", "get_ome_0_4_multiscale_metadata"):
        assert getattr(ours_module, name)(ours.dataset, ours) == getattr(theirs_module, name)(theirs.dataset, theirs)
    assert re.fullmatch(r"[\d-]+", group["attributes"]["ome"]["multiscales"][0]["datasets"][1]["path"])


@pytest.mark.parametrize("fmt", ["ozx", "ome.tif"])
def test_what_a_killed_export_left_is_removed_by_the_next_one(tmp_path, fmt):
    """A SIGKILL while the staging folder (a whole copy of the export) or the temporary
    file exists leaves them beside the output; the next export to that output removes
    them, but not those of an export still running (their lock is held)."""
    import signal
    import subprocess
    import sys
    import threading

    from wkpy.locking import lock_file_for, path_lock

    ds = wk.Dataset(tmp_path / "ds", voxel_size=(11, 11, 25))
    layer = ds.add_layer("l", "color", dtype="uint8", data_format="zarr3",
                         bounding_box=wk.BoundingBox((0, 0, 0), (40, 30, 20)))
    layer.add_mag(1).write(random_volume((1, 40, 30, 20), "uint8", seed=1))
    out = tmp_path / "out" / f"x.{fmt}"
    method = "as_ozx" if fmt == "ozx" else "as_ome_tiff"
    killer = "write_ozx" if fmt == "ozx" else "ome_tiff_metadata"
    code = ("import os, signal, wkpy as wk\n"
            "from wkpy.dataset.layer import export\n"
            f"export.{killer} = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
            f"wk.Dataset.open({str(tmp_path / 'ds')!r}).get_layer('l').export.{method}(output_path={str(out)!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    left = sorted(os.listdir(out.parent))
    assert left and all(n.startswith(f".{out.name}.") for n in left)
    live = out.parent / f".{out.name}.{'a' * 12}.tmp"          # an export still writing
    live.write_bytes(b"busy")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with path_lock(lock_file_for(out.parent, live.name)):
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    try:
        getattr(layer.export, method)(output_path=out)
    finally:
        release.set()
        holder.join()
    assert sorted(os.listdir(out.parent)) == sorted([out.name, live.name])
