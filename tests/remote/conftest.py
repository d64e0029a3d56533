"""Fixtures of the remote-storage tests: a local S3 server (moto) and a read-only HTTP server.

- `s3_server`: one moto S3 server per test process (per pytest-xdist worker), on
  127.0.0.1 and a free port, stopped at the end of the session.
- `s3_bucket`: a fresh, empty bucket for one test, removed afterwards; an `S3Bucket`
  (endpoint URL, bucket name, storage options, an s3fs filesystem and a `url(key)` helper).
- `s3_path`: ``upath.UPath("s3://<bucket>/ds", endpoint_url=..., key=..., secret=...)`` in
  that bucket: where a test puts its dataset.
- `http_server`: a `RangeHTTPServer` serving an empty folder of the test's own
  (`http_server.root`) at `http_server.url`, read-only, with byte ranges.

No network beyond loopback; dummy credentials go to the clients of these servers only
(nothing in the environment or in ``~/.aws``). A test using the S3 fixtures is skipped
when moto, s3fs or universal-pathlib is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .servers import RangeHTTPServer, S3Server


def need(*modules: str) -> None:
    """Skip the test unless the remote test dependencies are installed (``.[test]``)."""
    for module in modules:
        pytest.importorskip(module, reason=f"the remote tests need {module} (pip install '.[test]')")


@dataclass
class S3Bucket:
    """A bucket on the test S3 server, with what a client needs to reach it."""

    endpoint_url: str
    bucket: str
    storage_options: dict[str, Any]
    fs: Any = field(repr=False)  # s3fs.S3FileSystem
    server: S3Server = field(repr=False)

    def url(self, key: str = "") -> str:
        """``s3://<bucket>/<key>``."""
        return f"s3://{self.bucket}/{key.lstrip('/')}" if key else f"s3://{self.bucket}"

    def upath(self, key: str = ""):
        """A `upath.UPath` of `key` in this bucket, carrying the storage options."""
        from upath import UPath

        return UPath(self.url(key), **self.storage_options)

    def tensorstore_kvstore(self, key: str = "") -> dict:
        """A tensorstore ``s3`` kvstore spec of the folder `key` in this bucket."""
        return self.server.tensorstore_kvstore(self.bucket, key.strip("/") + "/" if key else "")

    def __iter__(self):  # (endpoint_url, bucket, storage_options), for unpacking
        return iter((self.endpoint_url, self.bucket, self.storage_options))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server for this test process (each xdist worker gets its own)."""
    need("moto.server", "s3fs", "upath")
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[S3Bucket]:
    """A fresh, empty bucket on `s3_server`; it and what the test put in it are removed after."""
    fs = s3_server.filesystem()
    name = f"wkpy-{uuid.uuid4().hex[:16]}"
    fs.call_s3("create_bucket", Bucket=name)  # (fs.mkdir would send us-east-1 as a location: refused)
    try:
        yield S3Bucket(s3_server.endpoint_url, name, s3_server.storage_options, fs, s3_server)
    finally:
        fs.rm(name, recursive=True)


@pytest.fixture
def s3_path(s3_bucket: S3Bucket):
    """``UPath("s3://<fresh bucket>/ds", **storage_options)``: nothing exists there yet."""
    return s3_bucket.upath("ds")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[RangeHTTPServer]:
    """A read-only HTTP server (byte ranges, ETags, no listings) of ``tmp_path / "www"``.

    Put files under ``http_server.root``; they are at ``http_server.url_of(relative)``.
    ``http_server.requests`` records what was asked (method, path, Range, status).
    """
    root = tmp_path / "www"
    root.mkdir()
    server = RangeHTTPServer(root).start()
    try:
        yield server
    finally:
        server.stop()
