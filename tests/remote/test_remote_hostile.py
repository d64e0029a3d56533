"""Hostile buckets and servers against remote datasets (issue 15): what a remote
``datasource-properties.json`` names is data, not trust -- writes stay inside the
dataset's prefix."""

from __future__ import annotations

import json
import logging
import uuid

import numpy as np
import pytest

upath = pytest.importorskip("upath")
pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

import wkpy as wk  # noqa: E402
from wkpy.errors import ForeignPathError  # noqa: E402

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
