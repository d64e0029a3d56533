"""webknossos 4.3.3 names outside wkpy's scope (server, annotations) import, and any use
raises `UnsupportedError`; the array-layout names of ``layer.view._array`` match webknossos."""

import importlib
from unittest.mock import MagicMock

import numpy as np
import pytest
import webknossos

import wkpy as wk
from wkpy._not_supported import ANNOTATION_NAMES, SERVER_NAMES
from wkpy.errors import DatasetNotFoundError, RemoteStorageError, UnsupportedError

DATASET_NAMES = ("RemoteDataset", "RemoteFolder", "RemoteLayer", "RemoteSegmentationLayer")


def test_placeholders_import_where_webknossos_has_them_and_refuse_any_use():
    for module, names in (("", SERVER_NAMES + ANNOTATION_NAMES), (".dataset", DATASET_NAMES)):
        ours, theirs = importlib.import_module(f"wkpy{module}"), importlib.import_module(f"webknossos{module}")
        for name in names:
            assert hasattr(theirs, name), name
            assert name in ours.__all__ and getattr(ours, name) is getattr(wk, name)
    with pytest.raises(UnsupportedError, match="RemoteDataset.open: wkpy does not support WEBKNOSSOS server"):
        wk.RemoteDataset.open("l4_sample", organization_id="Organization_X")
    with pytest.raises(UnsupportedError, match="Annotation: wkpy does not support annotations"):
        wk.Annotation(name="a", dataset_name="d", voxel_size=(1, 1, 1))
    with pytest.raises(UnsupportedError, match="Skeleton.load"):
        wk.Skeleton.load("x.nml")
    with pytest.raises(UnsupportedError, match="login"):
        wk.login("token")
    with pytest.raises(UnsupportedError):
        with wk.webknossos_context(url="http://localhost:9000"):
            pass
    # plain classes to introspection: isinstance, mocks with a spec, private look-ups
    assert not isinstance(wk.Dataset, wk.RemoteDataset) and not hasattr(wk.RemoteLayer, "__attrs_attrs__")
    assert isinstance(MagicMock(spec=wk.RemoteDataset), wk.RemoteDataset)


def test_zarr3_array_info_matches_webknossos(tmp_path):
    from webknossos.dataset.layer.view import _array as theirs_array

    from wkpy.dataset.layer.view import _array as ours_array

    config = dict(codecs=({"name": "bytes"}, {"name": "gzip", "configuration": {"level": 3}}),
                  chunk_key_encoding={"name": "default", "configuration": {"separator": "."}})
    infos = []
    for lib, module, name in ((wk, ours_array, "ours"), (webknossos, theirs_array, "theirs")):
        layer = lib.Dataset(tmp_path / name, voxel_size=(1, 1, 1)).add_layer(
            "color", lib.COLOR_CATEGORY, num_channels=3, data_format="zarr3")
        mag = layer.add_mag(1, chunk_shape=32, shard_shape=64, compress=module.Zarr3Config(**config))
        mag.write(np.ones((3, 4, 4, 4), "uint8"), absolute_offset=(0, 0, 0), allow_resize=True)
        assert isinstance(mag.info, module.Zarr3ArrayInfo) and isinstance(mag.info, module.ArrayInfo)
        infos.append((mag.info.codecs, mag.info.chunk_key_encoding, mag.info.compression_mode,
                      tuple(mag.info.chunk_shape), tuple(mag.info.shard_shape)))
        assert (mag.path / "c.0.0.0.0").exists()
    assert infos[0] == infos[1]
    wkw_mag = wk.Dataset(tmp_path / "w", voxel_size=(1, 1, 1)).add_layer(
        "color", wk.COLOR_CATEGORY, data_format="wkw").add_mag(1)
    assert not isinstance(wkw_mag.info, ours_array.Zarr3ArrayInfo)


def test_datasets_at_urls_are_remote_not_created_locally(tmp_path, monkeypatch):
    # a URL was once taken for a local path ("s3://b/x" became the folder ./s3:/b/x); now it
    # names remote storage (tests/remote has the S3 and HTTP round trips)
    import uuid

    from upath import UPath

    from wkpy.errors import ReadOnlyError

    monkeypatch.chdir(tmp_path)
    where = f"memory://wkpy-{uuid.uuid4().hex}/ds"
    for path in (where, UPath(where)):
        ds = wk.Dataset(path, voxel_size=(1, 1, 1), exist_ok=True)
        assert isinstance(ds.path, UPath) and str(ds.path) == where
        assert wk.Dataset.open(path).voxel_size == (1, 1, 1)
    with pytest.raises(ReadOnlyError, match="HTTP"):
        wk.Dataset("https://127.0.0.1:1/ds", voxel_size=(1, 1, 1))
    assert list(tmp_path.iterdir()) == []   # no local folder named "memory:" or "https:"
    assert wk.Dataset(f"file://{tmp_path}/local", voxel_size=(1, 1, 1)).path == tmp_path / "local"
    UPath(where).fs.rm(UPath(where).parent.path, recursive=True)


def test_exports_images_and_foreign_layers_at_urls_are_refused_not_written_locally(tmp_path, monkeypatch):
    # exports and image imports took a URL for a local path: "s3://b/x" became the folder ./s3:/b/x
    from upath import UPath

    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint8")
    layer.add_mag(1).write(np.ones((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    calls = [lambda u: layer.export.as_ozx(output_path=u), lambda u: layer.export.as_tiff_stack(output_path=u),
             lambda u: layer.export.as_ome_tiff(output_path=u), lambda u: ds.add_layer_from_images(u, "images"),
             lambda u: wk.Dataset.from_images(u, tmp_path / "new", voxel_size=(1, 1, 1))]
    for url in ("s3://bucket/x", UPath("memory://x")):
        for call in calls:
            with pytest.raises(UnsupportedError, match="remote storage is not supported"):
                call(url)
        # foreign layers may lie on remote storage (issue 15); here there is none to find
        for call in (lambda u: ds.add_layer_as_ref(u), lambda u: ds.add_layer_as_copy(u)):
            with pytest.raises((RemoteStorageError, DatasetNotFoundError)):
                call(url)
    assert list(work.iterdir()) == []
    assert not (tmp_path / "new").exists()
