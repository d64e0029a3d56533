"""Datasets, layers and mags on remote paths (issue 15): the same calls on S3 (a moto server
on 127.0.0.1), on ``memory://`` and on a local folder give the same JSON and voxels;
concurrent writers on S3 lose nothing; HTTP servers serve datasets read-only; webknossos
4.3.3 reads what wkpy writes on S3 and the reverse; hostile remote metadata gets the typed
errors of local datasets, naming the URL."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import random_volume

upath = pytest.importorskip("upath")
pytest.importorskip("s3fs")

import wkpy as wk  # noqa: E402
from wkpy.errors import (  # noqa: E402
    ConflictError,
    CorruptFileError,
    DatasetExistsError,
    DatasetNotFoundError,
    ForeignPathError,
    PropertiesError,
    ReadOnlyError,
    UnsupportedError,
)

PROPS = "datasource-properties.json"

# WKW layers on object storage work, with webknossos' warning (asserted once, below)
pytestmark = pytest.mark.filterwarnings("ignore:Creating WKW layers in remote datasets:UserWarning")


# ---- servers ---------------------------------------------------------------------------
@pytest.fixture
def memory_path():
    path = upath.UPath(f"memory://wkpy-{uuid.uuid4().hex}/ds")
    yield path
    if path.fs.exists(path.parent.path):
        path.fs.rm(path.parent.path, recursive=True)


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder read-only with ``Range: bytes=a-b`` (206), as object stores do."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        data = Path(path).read_bytes()
        start, stop = 0, len(data)
        ranged = self.headers.get("Range", "").removeprefix("bytes=")
        if ranged:
            a, _, b = ranged.partition("-")
            start, stop = int(a), min(len(data), int(b) + 1 if b else len(data))
            if start >= len(data):
                self.send_error(416)
                return None
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(stop - start))
        self.send_header("ETag", f'"{os.stat(path).st_mtime_ns}-{len(data)}"')
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
        self.end_headers()
        import io

        return io.BytesIO(data[start:stop])


@pytest.fixture
def http_root(tmp_path):
    """(local folder, its URL) served by a Range-capable HTTP server on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_RangeHandler,
                                                                                 directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ---- helpers ---------------------------------------------------------------------------
def _objects(path) -> dict[str, bytes]:
    """Every object (or file) of a dataset by key, hidden names too."""
    if isinstance(path, Path):
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    base = path.path.rstrip("/")
    return {p[len(base) + 1:]: path.fs.cat_file(p) for p in path.fs.find(base)}


def _json_files(path) -> dict[str, object]:
    return {k: json.loads(v) for k, v in _objects(path).items()
            if k.endswith((".json", ".zgroup", ".zattrs", ".zarray"))}


def _build(path, data_format: str, executor=None) -> wk.Dataset:
    """The same calls for every store: layers, mags, growing writes, a view's chunks, deletions."""
    ds = wk.Dataset(path, voxel_size=(11, 11, 24))
    color = ds.add_layer("color", wk.COLOR_CATEGORY, dtype="uint8", data_format=data_format)
    shapes = dict(chunk_shape=8, shard_shape=8 if data_format == "zarr" else 16)
    mag1 = color.add_mag(1, **shapes)
    mag1.write(random_volume((20, 30, 10), "uint8"), absolute_offset=(3, 4, 5), allow_unaligned=True)
    mag1.write(random_volume((8, 8, 8), "uint8", 1), absolute_offset=(40, 0, 0), allow_unaligned=True)  # grows
    mag1.write(np.full((4, 4, 4), 9, np.uint8), absolute_offset=(60, 60, 60), json_update_allowed=False,
               allow_unaligned=True)
    mag2 = color.add_mag(2, **shapes)
    mag2.write(random_volume((1, 10, 8, 4), "uint8", 2), absolute_offset=(0, 0, 0), allow_unaligned=True)
    seg = ds.add_layer("seg", wk.SEGMENTATION_CATEGORY, dtype="uint32", largest_segment_id=7,
                       data_format=data_format)
    seg.add_mag(1, **shapes).write(random_volume((16, 16, 16), "uint32", 3), absolute_offset=(0, 0, 0))
    ds.add_layer("gone", wk.COLOR_CATEGORY, data_format=data_format).add_mag(1, **shapes)
    ds.delete_layer("gone")
    seg.add_mag(4, **shapes)
    seg.delete_mag(4)
    color.bounding_box = wk.BoundingBox((0, 0, 0), (48, 48, 16))
    view = mag1.get_view(absolute_offset=(0, 0, 0), size=(48, 48, 16))
    view.for_each_chunk(_fill_chunk, chunk_shape=(16, 16, 16), executor=executor)
    return ds


def _fill_chunk(args) -> None:
    view, i = args
    view.write(np.full(view.bounding_box.in_mag(view.mag).size, i + 1, np.uint8))


# ---- round trips -----------------------------------------------------------------------
@pytest.mark.parametrize("where,data_format", [("s3", "wkw"), ("s3", "zarr3"), ("memory", "zarr")])
def test_remote_dataset_equals_local(request, where, tmp_path, data_format) -> None:
    """The same calls on S3 / memory:// and on disk: JSON for JSON, voxel for voxel."""
    remote = request.getfixturevalue(f"{where}_path")
    local = _build(tmp_path / "ds", data_format)
    with ThreadPoolExecutor(2) as pool:
        ds = _build(remote, data_format, pool)
    assert isinstance(ds.path, upath.UPath) and isinstance(local.path, Path)
    assert _json_files(ds.path) == _json_files(local.path)
    reopened = wk.Dataset.open(str(remote) if remote.protocol == "memory" else remote)
    assert sorted(reopened.layers) == ["color", "seg"] and sorted(reopened.get_layer("color").mags) == [1, 2]
    for name, layer in local.layers.items():
        for mag, view in layer.mags.items():
            box = layer.bounding_box.align_with_mag(mag, ceil=True)
            np.testing.assert_array_equal(reopened.get_layer(name).get_mag(mag).read(absolute_bounding_box=box),
                                          view.read(absolute_bounding_box=box))
    def visible(path) -> set[str]:   # (local folders also hold hidden lock files)
        return {k for k in _objects(path) if not any(part.startswith(".") for part in k.split("/"))}

    assert visible(ds.path) == visible(local.path)       # the same shards; deleted objects gone


def test_executor_tasks_carry_storage_options(s3_path) -> None:
    """Process-pool tasks get the dataset's UPath with endpoint and credentials pickled."""
    ds = wk.Dataset(s3_path, voxel_size=(1, 1, 1))
    mag = ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16)
    mag.write(np.zeros((32, 16, 16), np.uint8), absolute_offset=(0, 0, 0))
    with ProcessPoolExecutor(2) as pool:
        mag.get_view(absolute_offset=(0, 0, 0), size=(32, 16, 16)).for_each_chunk(
            _fill_chunk, chunk_shape=(16, 16, 16), executor=pool)
    got = wk.Dataset.open(s3_path).get_layer("color").get_mag(1).read(absolute_offset=(0, 0, 0), size=(32, 16, 16))
    assert (got[0, :16] == 1).all() and (got[0, 16:] == 2).all()


# ---- concurrent writers ----------------------------------------------------------------
def test_concurrent_writers_on_s3_lose_nothing(s3_path) -> None:
    """Threads with their own Dataset objects add layers and write one shard at once: the
    conditional writes and retries keep every layer, every voxel and every box growth."""
    ds = wk.Dataset(s3_path, voxel_size=(1, 1, 1))
    ds.add_layer("shared", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=32)
    n = 4

    def writer(i: int) -> None:
        mine = wk.Dataset.open(s3_path)
        mine.add_layer(f"own{i}", wk.COLOR_CATEGORY, data_format="wkw")
        mine.get_layer("shared").get_mag(1).write(np.full((8, 8, 8), i + 1, np.uint8), absolute_offset=(8 * i, 0, 0),
                                                    allow_unaligned=True)

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(writer, range(n)))
    final = wk.Dataset.open(s3_path)
    assert sorted(final.layers) == sorted(["shared", *(f"own{i}" for i in range(n))])
    layer = final.get_layer("shared")
    assert layer.bounding_box == wk.BoundingBox((0, 0, 0), (8 * n, 8, 8))
    got = layer.get_mag(1).read(absolute_offset=(0, 0, 0), size=(8 * n, 8, 8))[0]
    assert [int(got[8 * i, 0, 0]) for i in range(n)] == [i + 1 for i in range(n)] and (got > 0).all()


def test_a_stale_conditional_write_is_refused(s3_path) -> None:
    """The seam the retries rest on: a put conditional on a replaced version writes nothing."""
    ds = wk.Dataset(s3_path, voxel_size=(1, 1, 1))
    store = ds._store
    old = store.version(PROPS)
    ds.add_layer("color", wk.COLOR_CATEGORY)
    with pytest.raises(ConflictError, match=PROPS):
        store.put(PROPS, b"{}", mode=old)
    assert wk.Dataset.open(s3_path).layers.keys() == {"color"}


# ---- HTTP: read-only ---------------------------------------------------------------------
def test_http_dataset_is_read_only(http_root) -> None:
    folder, url = http_root
    data = random_volume((1, 20, 12, 9), "uint8")
    local = wk.Dataset(folder / "ds", voxel_size=(1, 1, 1))
    local.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(data, absolute_offset=(1, 2, 3), allow_unaligned=True)
    ds = wk.Dataset.open(f"{url}/ds")
    assert ds.read_only and isinstance(ds.path, upath.UPath)
    mag = ds.get_layer("color").get_mag(1)
    np.testing.assert_array_equal(mag.read(absolute_offset=(1, 2, 3), size=(20, 12, 9)), data)
    for call in (lambda: mag.write(data, absolute_offset=(1, 2, 3)),
                 lambda: ds.add_layer("more", wk.COLOR_CATEGORY),
                 lambda: ds.delete_layer("color"),
                 lambda: wk.Dataset(upath.UPath(f"{url}/new"), voxel_size=(1, 1, 1))):
        with pytest.raises(ReadOnlyError, match="127.0.0.1"):
            call()


# ---- webknossos 4.3.3 ------------------------------------------------------------------
def test_webknossos_reads_wkpy_and_wkpy_reads_webknossos_on_s3(s3_path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import webknossos

    data = random_volume((1, 20, 30, 10), "uint8")
    ds = wk.Dataset(s3_path, voxel_size=(11, 11, 24))
    ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(data, absolute_offset=(3, 4, 5), allow_unaligned=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = webknossos.Dataset.open(s3_path).get_layer("color")
        assert theirs.bounding_box == webknossos.BoundingBox((3, 4, 5), (20, 30, 10))
        np.testing.assert_array_equal(theirs.get_mag(1).read(), data)

        other = s3_path.parent / "wk"
        wds = webknossos.Dataset(other, voxel_size=(11, 11, 24))
        wds.add_layer("seg", "segmentation", dtype="uint32", largest_segment_id=9, data_format="zarr3") \
            .add_mag(1, chunk_shape=8, shard_shape=16) \
            .write(data.astype("uint32"), absolute_offset=(3, 4, 5), allow_resize=True, allow_unaligned=True)
    mine = wk.Dataset.open(other).get_segmentation_layer("seg")
    assert mine.largest_segment_id == 9 and mine.bounding_box == wk.BoundingBox((3, 4, 5), (20, 30, 10))
    np.testing.assert_array_equal(mine.get_mag(1).read(), data)


# ---- safety and hostile metadata ----------------------------------------------------------
def test_hostile_remote_metadata(memory_path) -> None:
    fs, root = memory_path.fs, memory_path.path.rstrip("/")
    fs.pipe_file(f"{root}/{PROPS}", b"{not json")
    with pytest.raises(PropertiesError, match=f"memory://.*{PROPS}.*not valid JSON"):
        wk.Dataset.open(memory_path)
    fs.pipe_file(f"{root}/{PROPS}", b'{"id": 5, "scale": "big", "dataLayers": {}}')
    with pytest.raises(PropertiesError, match=f"memory://.*{PROPS}"):
        wk.Dataset.open(memory_path)
    fs.pipe_file(f"{root}/{PROPS}", b" " * ((64 << 20) + 1))
    with pytest.raises(CorruptFileError, match="more than"):
        wk.Dataset.open(memory_path)
    fs.rm_file(f"{root}/{PROPS}")
    with pytest.raises(DatasetNotFoundError, match="memory://"):
        wk.Dataset.open(memory_path)
    fs.pipe_file(f"{root}/color/1/zarr.json", b"{}")             # objects, but no dataset
    with pytest.raises(DatasetExistsError, match="not an empty folder"):
        wk.Dataset(memory_path, voxel_size=(1, 1, 1))


def test_mags_outside_the_prefix_are_read_only(memory_path) -> None:
    """A mag path that leaves the dataset's prefix (``..``, another bucket) is foreign:
    read, never written or deleted."""
    other = memory_path.parent / "other"
    theirs = wk.Dataset(other, voxel_size=(1, 1, 1))
    theirs.add_layer("color", wk.COLOR_CATEGORY).add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(np.full((8, 8, 8), 5, np.uint8), absolute_offset=(0, 0, 0))
    ds = wk.Dataset(memory_path, voxel_size=(1, 1, 1))
    ds.add_layer("color", wk.COLOR_CATEGORY).add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(np.ones((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))
    props = json.loads(memory_path.fs.cat_file(f"{memory_path.path}/{PROPS}"))
    props["dataLayers"][0]["mags"][0]["path"] = "../other/color/1"
    memory_path.fs.pipe_file(f"{memory_path.path}/{PROPS}", json.dumps(props).encode())
    ds = wk.Dataset.open(memory_path)
    layer = ds.get_layer("color")
    view = layer.get_mag(1)
    assert layer.is_mag_view_foreign(view) and view.read_only
    assert (view.read(absolute_offset=(0, 0, 0), size=(8, 8, 8)) == 5).all()
    with pytest.raises(ForeignPathError, match="outside the dataset"):
        view.write(np.zeros((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))
    layer.delete_mag(1)                                   # unlisted here; its objects stay there
    assert (wk.Dataset.open(other).get_layer("color").get_mag(1).read() == 5).all()


def test_local_only_operations_are_refused_on_remote_datasets(memory_path, tmp_path) -> None:
    local = wk.Dataset(tmp_path / "local", voxel_size=(1, 1, 1))
    local.add_layer("color", wk.COLOR_CATEGORY).add_mag(1, chunk_shape=8, shard_shape=16)
    ds = wk.Dataset(memory_path, voxel_size=(1, 1, 1))
    with pytest.warns(UserWarning, match="WKW layers in remote datasets is not recommended"):
        layer = ds.add_layer("color", wk.COLOR_CATEGORY, data_format="wkw")
    with pytest.warns(DeprecationWarning), pytest.raises(UnsupportedError, match="add_symlink_layer"):
        ds.add_symlink_layer(local.get_layer("color"), "linked")
    with pytest.raises(AssertionError, match="renaming a layer"):   # webknossos asserts
        layer.name = "renamed"
    assert sorted(wk.Dataset.open(memory_path).layers) == ["color"]


def test_copytree_rmtree_and_zarr_access_on_remote(memory_path, tmp_path) -> None:
    """A dataset copied onto object storage with `wkpy.utils.copytree` (mags listed without
    a path, in webknossos' long folder names) opens and reads there, also through
    `get_zarr_array`; `rmtree` removes it."""
    from wkpy.utils import copytree, rmtree

    local = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    data = random_volume((1, 16, 16, 8), "uint8")
    local.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(data, absolute_offset=(0, 0, 0), allow_unaligned=True)
    props = json.loads((tmp_path / "ds" / PROPS).read_text())
    del props["dataLayers"][0]["mags"][0]["path"]
    (tmp_path / "ds" / PROPS).write_text(json.dumps(props))
    (tmp_path / "ds" / "color" / "1").rename(tmp_path / "ds" / "color" / "1-1-1")
    copytree(tmp_path / "ds", memory_path)
    view = wk.Dataset.open(memory_path).get_layer("color").get_mag(1)
    assert view.path == memory_path / "color" / "1-1-1"
    np.testing.assert_array_equal(view.read(), data)
    np.testing.assert_array_equal(view.get_zarr_array()[:, :16, :16, :8], data)
    rmtree(memory_path)
    with pytest.raises(DatasetNotFoundError):
        wk.Dataset.open(memory_path)


def test_url_strings_take_storage_options_from_fsspec_config(s3_path, monkeypatch) -> None:
    """``"s3://bucket/ds"`` as a string: endpoint and credentials from fsspec's configuration,
    as in webknossos 4.3.3."""
    import fsspec.config

    monkeypatch.setitem(fsspec.config.conf, "s3", dict(s3_path.storage_options))
    url = f"s3://{s3_path.path}"
    ds = wk.Dataset(url, voxel_size=(1, 1, 1))
    assert isinstance(ds.path, upath.UPath) and str(ds.path) == url
    ds.add_layer("color", wk.COLOR_CATEGORY).add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(np.full((16, 16, 16), 3, np.uint8), absolute_offset=(0, 0, 0))
    assert (wk.Dataset.open(s3_path).get_layer("color").get_mag(1).read() == 3).all()
