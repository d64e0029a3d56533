"""Hostile buckets and servers against remote datasets (issue 15): what a remote
``datasource-properties.json`` names is data, not trust -- writes stay inside the
dataset's prefix."""

from __future__ import annotations

import functools
import http.server
import json
import logging
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

upath = pytest.importorskip("upath")
pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

import wkpy as wk  # noqa: E402
from wkpy.errors import ForeignPathError, RemoteStorageError  # noqa: E402

PROPS = "datasource-properties.json"


@pytest.fixture(scope="module")
def _moto() -> str:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(_moto: str):
    """A fresh bucket's ``s3://<bucket>`` with the server's endpoint and credentials."""
    import s3fs

    options = {"endpoint_url": _moto, "key": "testing", "secret": "testing"}
    name = f"b{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**options).mkdir(name)
    return upath.UPath(f"s3://{name}", **options)


def _keys(path) -> list[str]:
    base = path.path.rstrip("/")
    return sorted(p[len(base) + 1:] for p in path.fs.find(base))


def test_a_mag_url_with_dot_segments_is_foreign(bucket) -> None:
    """S3 keys are literal: ``<bucket>/ds2/../ds/color/1`` is a key under ``ds2/``, not the
    dataset ``ds``; a mag recorded there is read-only, so no write lands outside ``ds/``."""
    fs, root = bucket.fs, bucket.path.rstrip("/")
    ds = wk.Dataset(bucket / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(np.ones((8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))
    fs.pipe_file(f"{root}/ds2/../ds/color/1/zarr.json", fs.cat_file(f"{root}/ds/color/1/zarr.json"))
    props = json.loads(fs.cat_file(f"{root}/ds/{PROPS}"))
    host = bucket.storage_options["endpoint_url"].split("//")[1]
    props["dataLayers"][0]["mags"][0]["path"] = f"s3://{host}/{root}/ds2/../ds/color/1"
    fs.pipe_file(f"{root}/ds/{PROPS}", json.dumps(props).encode())
    before = _keys(bucket)
    layer = wk.Dataset.open(bucket / "ds").get_layer("color")
    view = layer.get_mag(1)
    assert layer.is_mag_view_foreign(view)
    with pytest.raises(ForeignPathError, match="outside the dataset"):
        view.write(np.full((8, 8, 8), 9, np.uint8), absolute_offset=(0, 0, 0))
    assert _keys(bucket) == before


class _FailingShards(http.server.SimpleHTTPRequestHandler):
    """Serves a folder, but answers requests for shard objects with the status in
    ``self.server.status`` (metadata is served)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        if "/c/" in self.path or (self.path.endswith(".wkw") and not self.path.endswith("header.wkw")):
            self.send_error(self.server.status)  # type: ignore[attr-defined]
            return None
        return super().send_head()


@pytest.mark.parametrize("status", [500, 403])
@pytest.mark.parametrize("data_format", ["zarr3", "wkw"])
def test_http_errors_on_shards_are_not_missing_chunks(tmp_path: Path, status: int, data_format: str) -> None:
    """fsspec's HTTP client turns every failed request into FileNotFoundError; a shard the
    server refuses (403) or fails on (500) must raise, not read as fill value (zeros)."""
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", wk.COLOR_CATEGORY, data_format=data_format).add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(np.full((16, 16, 16), 7, np.uint8), absolute_offset=(0, 0, 0))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_FailingShards,
                                                                                 directory=str(tmp_path)))
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        view = wk.Dataset.open(f"http://127.0.0.1:{server.server_address[1]}/ds").get_layer("color").get_mag(1)
        with pytest.raises(RemoteStorageError, match=f"http://127.0.0.1:.*{status}"):
            view.read(absolute_offset=(0, 0, 0), size=(16, 16, 16))
    finally:
        server.shutdown()
        server.server_close()


def test_two_writers_adding_one_layer_by_copy(bucket, monkeypatch) -> None:
    """Writer A builds layer ``x`` out of sight; writer B adds a layer ``x`` by copy just
    before A copies its objects into place. One of them wins whole: before the claim, A
    copied over B's listed objects, then (refused by the properties) deleted them, leaving
    B's listed layer without data."""
    from wkpy.errors import DuplicateError
    from wkpy.storage.object_store import ObjectStore

    ds = wk.Dataset(bucket / "ds", voxel_size=(1, 1, 1))
    for name, value in (("color", 3), ("other", 4)):
        ds.add_layer(name, wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16) \
            .write(np.full((16, 16, 16), value, np.uint8), absolute_offset=(0, 0, 0))
    copy_prefix = ObjectStore.copy_prefix
    raced: list[BaseException | None] = []
    started: list[bool] = []

    def racing(self, source: str, target: str) -> int:
        if target == "x" and not started:
            started.append(True)
            other = wk.Dataset.open(bucket / "ds")
            try:
                other.add_layer_as_copy(other.get_layer("other"), "x")
                raced.append(None)
            except DuplicateError as e:
                raced.append(e)
        return copy_prefix(self, source, target)

    monkeypatch.setattr(ObjectStore, "copy_prefix", racing)
    try:
        ds.add_layer_as_copy(ds.get_layer("color"), "x")
    except DuplicateError:
        assert raced == [None]                 # B won: A refused, B's layer whole
        expected = 4
    else:
        assert isinstance(raced[0], DuplicateError)
        expected = 3
    view = wk.Dataset.open(bucket / "ds").get_layer("x").get_mag(1)
    assert (view.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)) == expected).all()
    assert not any(k.endswith(".wkpy-claim") for k in _keys(bucket))


def test_remote_zarr_metadata_errors_name_the_url() -> None:
    """Errors about a remote mag's ``zarr.json`` name its URL (``memory://...``, not the
    ``memory:/...`` that a local path makes of it)."""
    from wkpy.errors import PropertiesError

    path = upath.UPath(f"memory://wkpy-{uuid.uuid4().hex}/ds")
    try:
        ds = wk.Dataset(path, voxel_size=(1, 1, 1))
        ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16)
        path.fs.pipe_file(f"{path.path}/color/1/zarr.json", b"{not json")
        with pytest.raises(PropertiesError, match=f"{path}/color/1/zarr.json: not valid JSON"):
            wk.Dataset.open(path).get_layer("color").get_mag(1).info
    finally:
        path.fs.rm(path.parent.path, recursive=True)


class _ReplacedAfterIndex(http.server.BaseHTTPRequestHandler):
    """Serves one shard object (``self.server.versions``: [(etag, bytes), ...], the current
    first) with Range and If-Match (412); after answering the first ranged GET of the
    shard (its index), the next version replaces it."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        server = self.server
        files = server.files  # type: ignore[attr-defined]
        key = self.path.lstrip("/")
        shard = key == server.shard  # type: ignore[attr-defined]
        if shard:
            etag, data = server.versions[0]  # type: ignore[attr-defined]
        elif key in files:
            etag, data = '"meta"', files[key]
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        wanted = self.headers.get("If-Match")
        if wanted is not None and wanted != etag:
            self.send_response(412)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ranged = self.headers.get("Range", "").removeprefix("bytes=")
        start, stop = 0, len(data)
        if ranged:
            a, _, b = ranged.partition("-")
            start, stop = (len(data) - int(b), len(data)) if a == "" else (int(a), min(len(data), int(b) + 1))
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(stop - start))
        self.send_header("ETag", etag)
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
        self.end_headers()
        if body:
            self.wfile.write(data[start:stop])
            if shard and ranged and len(server.versions) > 1:  # type: ignore[attr-defined]
                server.versions.pop(0)  # type: ignore[attr-defined]


def _swap_two_chunks(shard: bytes) -> bytes:
    """The same shard (two equally long uncompressed chunks, index with CRC32C at the end)
    with the chunks' places in the object swapped and the index following them."""
    from wkcore import _codecs

    index = np.frombuffer(shard[-36:-4], "<u8").reshape(2, 2).copy()
    (o0, n0), (o1, n1) = index.tolist()
    assert n0 == n1 and o1 == o0 + n0
    body = bytearray(shard)
    body[o0:o0 + n0], body[o1:o1 + n1] = shard[o1:o1 + n1], shard[o0:o0 + n0]
    index[0, 0], index[1, 0] = o1, o0
    raw = index.astype("<u8").tobytes()
    crc = _codecs.crc32c_of(np.frombuffer(raw, np.uint8))
    return bytes(body[:-36]) + raw + int(crc).to_bytes(4, "little")


def test_http_reads_are_pinned_to_the_version_opened(tmp_path: Path) -> None:
    """An object replaced by another of the same size between the read of its shard index
    and of its chunks: the chunk requests carry ``If-Match`` with the ETag opened, the
    server refuses them (412) and the read starts again on the new version; unpinned, the
    old index picked the new object's bytes (the two chunks swapped, silently)."""
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    view = ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3") \
        .add_mag(1, chunk_shape=8, shard_shape=(16, 8, 8), compress=False)
    old = np.concatenate([np.full((8, 8, 8), 1, np.uint8), np.full((8, 8, 8), 2, np.uint8)])
    view.write(old, absolute_offset=(0, 0, 0))
    files = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    shard = next(k for k in files if "/c/" in k)
    view.write(np.concatenate([np.full((8, 8, 8), 3, np.uint8), np.full((8, 8, 8), 4, np.uint8)]),
               absolute_offset=(0, 0, 0))
    new = _swap_two_chunks((tmp_path / shard).read_bytes())
    assert len(new) == len(files[shard])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ReplacedAfterIndex)
    server.files, server.shard = files, shard  # type: ignore[attr-defined]
    server.versions = [('"old"', files[shard]), ('"new"', new)]  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        got = wk.Dataset.open(f"http://127.0.0.1:{server.server_address[1]}/ds").get_layer("color").get_mag(1) \
            .read(absolute_offset=(0, 0, 0), size=(16, 8, 8))[0]
    finally:
        server.shutdown()
        server.server_close()
    assert (got[:8] == 3).all() and (got[8:] == 4).all()     # the new version, whole


def test_a_view_opened_before_a_remote_compress_writes_the_new_layout(bucket) -> None:
    """A mag view opened (its layout read) before another object compressed the mag on S3
    writes in the compressed layout afterwards; before, it uploaded raw shards into the
    compressed mag, which then failed to decode."""
    ds = wk.Dataset(bucket / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3") \
        .add_mag(1, chunk_shape=8, shard_shape=16, compress=False) \
        .write(np.full((32, 32, 32), 1, np.uint8), absolute_offset=(0, 0, 0))
    stale = wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1)
    assert (stale.read(absolute_offset=(0, 0, 0), size=(8, 8, 8)) == 1).all()      # layout read
    wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1).compress()
    stale.write(np.full((16, 16, 16), 7, np.uint8), absolute_offset=(16, 16, 16))
    fresh = wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1)
    assert fresh.info.compression
    got = fresh.read(absolute_offset=(0, 0, 0), size=(32, 32, 32))[0]
    assert (got[16:, 16:, 16:] == 7).all() and (got[:16] == 1).all()


def test_a_view_of_a_deleted_remote_mag_refuses_writes(bucket) -> None:
    """A mag deleted on S3 by another object: a view opened before refuses to write (it
    left objects under the unlisted prefix before)."""
    from wkpy.errors import OperationError

    ds = wk.Dataset(bucket / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", wk.COLOR_CATEGORY, data_format="zarr3").add_mag(1, chunk_shape=8, shard_shape=16) \
        .write(np.full((16, 16, 16), 1, np.uint8), absolute_offset=(0, 0, 0))
    stale = wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1)
    stale.read(absolute_offset=(0, 0, 0), size=(8, 8, 8))
    wk.Dataset.open(bucket / "ds").get_layer("color").delete_mag(1)
    with pytest.raises(OperationError, match="deleted"):
        stale.write(np.full((16, 16, 16), 7, np.uint8), absolute_offset=(0, 0, 0))
    assert not [k for k in _keys(bucket) if k.startswith("ds/color/1/")]
