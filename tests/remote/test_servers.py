"""The test servers are real: the peers (webknossos 4.3.3, tensorstore, zarr-python, fsspec)
read and write datasets through them, and they answer what an object-store client relies on
(byte ranges, ETags, conditional writes)."""

from __future__ import annotations

import http.client
import json

import numpy as np
import pytest

tensorstore = pytest.importorskip("tensorstore")
zarr = pytest.importorskip("zarr")
webknossos = pytest.importorskip("webknossos")
UPath = pytest.importorskip("upath").UPath
from zarr.storage import FsspecStore  # noqa: E402

DATA = (np.arange(40 * 36 * 20) % 251).astype("uint8").reshape(40, 36, 20)  # x, y, z


def write_with_webknossos(path) -> None:
    """A one-layer Zarr3 dataset of DATA, in 64³ shards (small, for the peer)."""
    ds = webknossos.Dataset(path, voxel_size=(11.2, 11.2, 25))
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3")
    layer.add_mag(1, chunk_shape=32, shard_shape=64).write(DATA, absolute_offset=(0, 0, 0), allow_resize=True)


def assert_peers_read(mag_url: str, storage_options: dict, ts_kvstore: dict) -> None:
    """tensorstore and zarr-python read DATA from the mag at `mag_url` (x, y, z in c, x, y, z)."""
    arr = tensorstore.open({"driver": "zarr3", "kvstore": ts_kvstore}, read=True).result()
    np.testing.assert_array_equal(arr[0, :40, :36, :20].read().result(), DATA)
    z = zarr.open_array(FsspecStore.from_url(mag_url, storage_options=storage_options, read_only=True), mode="r")
    np.testing.assert_array_equal(z[0, :40, :36, :20], DATA)


def test_webknossos_writes_to_s3_and_the_peers_read_it(s3_bucket, s3_path):
    assert s3_bucket.fs.ls(s3_bucket.bucket) == [] and not s3_path.exists()  # a fresh bucket
    write_with_webknossos(s3_path)
    assert s3_bucket.fs.isfile(f"{s3_bucket.bucket}/ds/color/1/c/0/0/0/0")

    ds = webknossos.Dataset.open(s3_bucket.upath("ds"))
    np.testing.assert_array_equal(ds.get_layer("color").get_mag(1).read()[0], DATA)
    assert_peers_read(s3_bucket.url("ds/color/1"), s3_bucket.storage_options,
                      s3_bucket.tensorstore_kvstore("ds/color/1"))


def test_tensorstore_writes_to_s3_and_zarr_python_reads_it(s3_bucket):
    kvstore = s3_bucket.tensorstore_kvstore("arr")
    arr = tensorstore.open({"driver": "zarr3", "kvstore": kvstore, "create": True, "metadata": {
        "shape": list(DATA.shape), "data_type": "uint8",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [32, 32, 32]}},
        "codecs": [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [16, 16, 16], "codecs": [{"name": "bytes"}, {"name": "zstd", "configuration": {"level": 3}}]}}],
    }}).result()
    arr.write(DATA).result()
    assert sorted(s3_bucket.fs.ls(f"{s3_bucket.bucket}/arr")) == [f"{s3_bucket.bucket}/arr/{k}" for k in ("c", "zarr.json")]
    z = zarr.open_array(FsspecStore.from_url(s3_bucket.url("arr"), storage_options=s3_bucket.storage_options,
                                             read_only=True), mode="r")
    np.testing.assert_array_equal(z[:], DATA)


def test_the_s3_server_honours_conditional_puts(s3_bucket):
    """What wkpy's object store builds on: If-None-Match: * and If-Match on the ETag."""
    fs, key = s3_bucket.fs, f"{s3_bucket.bucket}/datasource-properties.json"
    fs.pipe_file(key, b"{}", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(key, b'{"b": 1}', mode="create")
    etag = fs.info(key)["ETag"]
    with pytest.raises(OSError, match="pre-conditions"):
        fs.call_s3("put_object", Bucket=s3_bucket.bucket, Key="datasource-properties.json", Body=b"x",
                   IfMatch='"0123456789abcdef0123456789abcdef"')
    fs.call_s3("put_object", Bucket=s3_bucket.bucket, Key="datasource-properties.json", Body=b'{"a": 1}',
               IfMatch=etag)
    assert fs.cat_file(key) == b'{"a": 1}' and fs.info(key)["ETag"] != etag


def test_the_peers_read_a_dataset_from_the_http_server(http_server):
    write_with_webknossos(http_server.root / "ds")
    url = http_server.url_of("ds")

    ds = webknossos.Dataset.open(UPath(url))
    np.testing.assert_array_equal(ds.get_layer("color").get_mag(1).read()[0], DATA)
    assert_peers_read(f"{url}/color/1", {}, {"driver": "http", "base_url": f"{url}/color/1/"})
    ranged = [r for r in http_server.requests if r.status == 206]
    assert any(r.path.endswith("/c/0/0/0/0") for r in ranged), http_server.requests  # shard reads use ranges
    assert all(r.method in ("GET", "HEAD") for r in http_server.requests)


def request(server, method: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_the_http_server_answers_like_a_static_file_server(http_server):
    body = bytes(range(256)) * 4  # 1024 bytes
    (http_server.root / "d").mkdir()
    (http_server.root / "d" / "f.bin").write_bytes(body)
    (http_server.root.parent / "secret").write_bytes(b"outside")
    (http_server.root / "d" / "link").symlink_to(http_server.root.parent / "secret")

    status, head, got = request(http_server, "HEAD", "/d/f.bin")
    assert (status, head["Content-Length"], head["Accept-Ranges"], got) == (200, "1024", "bytes", b"")
    etag = head["ETag"]
    cases = [  # (method, path, headers, status, body, Content-Range)
        ("GET", "/d/f.bin", {}, 200, body, None),
        ("GET", "/d/f.bin", {"Range": "bytes=10-19"}, 206, body[10:20], "bytes 10-19/1024"),
        ("GET", "/d/f.bin", {"Range": "bytes=1000-"}, 206, body[1000:], "bytes 1000-1023/1024"),
        ("GET", "/d/f.bin", {"Range": "bytes=-24"}, 206, body[-24:], "bytes 1000-1023/1024"),
        ("GET", "/d/f.bin", {"Range": "bytes=1020-5000"}, 206, body[1020:], "bytes 1020-1023/1024"),
        ("GET", "/d/f.bin", {"Range": "bytes=1024-1030"}, 416, b"", "bytes */1024"),
        ("GET", "/d/f.bin", {"Range": "bytes=20-10"}, 200, body, None),       # invalid: ignored
        ("GET", "/d/f.bin", {"Range": "bytes=0-1", "If-Match": etag}, 206, body[:2], "bytes 0-1/1024"),
        ("GET", "/d/f.bin", {"Range": "bytes=0-1", "If-Match": '"other"'}, 412, b"", None),
        ("GET", "/d/f.bin", {"If-None-Match": etag}, 304, b"", None),
        ("GET", "/d", {}, 404, b"", None),                 # no listings
        ("GET", "/d/missing", {}, 404, b"", None),
        ("GET", "/d/../../secret", {}, 404, b"", None),     # nothing outside the folder
        ("GET", "/d/link", {}, 404, b"", None),
        ("PUT", "/d/f.bin", {}, 405, b"", None),            # read-only
        ("DELETE", "/d/f.bin", {}, 405, b"", None),
    ]
    for method, path, headers, want_status, want_body, want_range in cases:
        status, head, got = request(http_server, method, path, **headers)
        assert (status, got, head.get("Content-Range")) == (want_status, want_body, want_range), (method, path, headers)
    assert (http_server.root / "d" / "f.bin").read_bytes() == body


def test_fsspec_reads_byte_ranges_from_the_http_server(http_server):
    import fsspec

    body = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    (http_server.root / "blob").write_bytes(body)
    (http_server.root / "meta.json").write_text(json.dumps({"a": 1}))
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    url = http_server.url_of("blob")

    info = fs.info(url)
    assert info["size"] == 5000 and info["ETag"].startswith('"')
    assert fs.cat_file(url, start=100, end=200) == body[100:200]
    assert fs.cat_ranges([url] * 3, [0, 4000, 4990], [10, 4100, 5000]) == [body[:10], body[4000:4100], body[4990:]]
    assert json.loads(fs.cat_file(http_server.url_of("meta.json"))) == {"a": 1}
    ranges = [(r.range, r.status) for r in http_server.requests if r.method == "GET" and r.path == "/blob"]
    assert ranges == [("bytes=100-199", 206), ("bytes=0-9", 206), ("bytes=4000-4099", 206), ("bytes=4990-4999", 206)] \
        or sorted(ranges) == sorted([("bytes=100-199", 206), ("bytes=0-9", 206), ("bytes=4000-4099", 206),
                                     ("bytes=4990-4999", 206)])
