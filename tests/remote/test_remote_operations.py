"""Operations across storage kinds against a real S3 server on 127.0.0.1 (moto's server
mode): compress, downsample, copies local ↔ S3, layers referenced and copied from S3, and a
Dask distributed cluster whose worker processes share no folder with the client."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import random_volume

upath = pytest.importorskip("upath")
pytest.importorskip("s3fs")

import wkpy as wk  # noqa: E402
from wkpy.errors import ConflictError, DuplicateError, RemoteStorageError  # noqa: E402


@pytest.fixture
def _endpoint(s3_server) -> str:
    return s3_server.endpoint_url


@pytest.fixture
def bucket(s3_bucket):
    """The fresh bucket as a ``UPath`` with the server's storage options."""
    return s3_bucket.upath()


def _make(path, data_format: str = "zarr3") -> tuple[wk.Dataset, np.ndarray]:
    ds = wk.Dataset(path, voxel_size=(11, 11, 24))
    remote_wkw = data_format == "wkw" and not isinstance(path, Path)
    with pytest.warns(UserWarning, match="WKW layers in remote") if remote_wkw else contextlib.nullcontext():
        layer = ds.add_layer("color", wk.COLOR_CATEGORY, dtype="uint8", data_format=data_format)
    data = random_volume((1, 50, 40, 30), "uint8", seed=5)
    layer.add_mag(1, chunk_shape=16, shard_shape=32, compress=False).write(data, absolute_offset=(3, 4, 5),
                                                                            allow_unaligned=True)
    return ds, data


def _objects(path) -> dict[str, bytes]:
    base = str(path.path).rstrip("/") + "/"
    return {p[len(base):]: path.fs.cat_file(p) for p in path.fs.find(path.path)}


def _files(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)}


@pytest.mark.parametrize("data_format", ["zarr3", "wkw"])
def test_compress_and_downsample_equal_local(bucket, tmp_path: Path, data_format: str) -> None:
    """compress and downsample on S3 give the objects the same calls give as files on disk,
    byte for byte (properties included, but for the dataset's name)."""
    results = []
    for path in (tmp_path / "ds", bucket / "ds"):
        ds, data = _make(path, data_format)
        layer = ds.get_layer("color")
        layer.compress()
        layer.downsample(coarsest_mag=wk.Mag(4))
        reopened = wk.Dataset.open(path).get_layer("color")
        assert reopened.get_mag(1).info.compression
        np.testing.assert_array_equal(reopened.get_mag(1).read(absolute_offset=(3, 4, 5), size=(50, 40, 30)), data)
        results.append(reopened)
    local, remote = _files(tmp_path / "ds"), _objects(bucket / "ds")
    assert sorted(remote) == sorted(local)
    for key in local:
        if key != "datasource-properties.json":
            assert remote[key] == local[key], key
    props = [json.loads(d["datasource-properties.json"]) for d in (local, remote)]
    for p in props:
        p["id"]["name"] = "ds"
    assert props[0] == props[1]


def test_compress_refuses_a_mag_written_meanwhile(bucket, monkeypatch) -> None:
    """A write to the mag while its compressed copy is built (no locks on S3) aborts the
    rewrite with ConflictError before anything is listed; the data stays as written."""
    ds, data = _make(bucket / "ds")
    layer = ds.get_layer("color")
    other = wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1)
    import wkpy.copy as copy_module

    real = copy_module.copy_mag_data

    def copy_then_write(*args, **kwargs):
        real(*args, **kwargs)
        other.write(np.full((1, 16, 16, 16), 7, np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)

    monkeypatch.setattr(copy_module, "copy_mag_data", copy_then_write)
    with pytest.raises(ConflictError, match="changed while it was rewritten"):
        layer.compress()
    monkeypatch.undo()
    again = wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1)
    assert not again.info.compression
    assert (again.read(absolute_offset=(0, 0, 0), size=(16, 16, 16)) == 7).all()
    assert not any(".wkpy-" in key for key in _objects(bucket / "ds"))     # the work prefix was removed


def test_copies_between_local_and_s3(bucket, tmp_path: Path) -> None:
    src, data = _make(tmp_path / "src")
    src.get_layer("color").downsample(coarsest_mag=wk.Mag(2))
    up = src.copy_dataset(bucket / "up", compress=True)
    down = up.copy_dataset(tmp_path / "down")
    for ds in (up, wk.Dataset.open(bucket / "up"), down):
        layer = ds.get_layer("color")
        assert sorted(layer.mags) == sorted(src.get_layer("color").mags)
        for mag, view in src.get_layer("color").mags.items():
            np.testing.assert_array_equal(layer.get_mag(mag).read(), view.read())
    assert not any(".wkpy-" in key for key in _objects(bucket / "up"))     # the staging prefix is gone
    # a layer copied from S3 into a local dataset, and one copied into S3 under a taken name
    local = wk.Dataset(tmp_path / "mixed", voxel_size=(11, 11, 24))
    local.add_layer_as_copy(bucket / "up" / "color", "copied")
    np.testing.assert_array_equal(local.get_layer("copied").get_mag(1).read(absolute_offset=(3, 4, 5),
                                                                            size=(50, 40, 30)), data)
    with pytest.raises(DuplicateError):
        up.add_layer_as_copy(src.get_layer("color"))


def test_layer_referenced_on_s3_is_read_only_and_recorded_as_webknossos_does(bucket, tmp_path: Path) -> None:
    _make(bucket / "ds")
    local = wk.Dataset(tmp_path / "refs", voxel_size=(11, 11, 24))
    layer = local.add_layer_as_ref(bucket / "ds" / "color")
    data = layer.get_mag(1).read(absolute_offset=(3, 4, 5), size=(50, 40, 30))
    np.testing.assert_array_equal(data, wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1)
                                  .read(absolute_offset=(3, 4, 5), size=(50, 40, 30)))
    endpoint = bucket.storage_options["endpoint_url"].split("://", 1)[1]
    recorded = json.loads((tmp_path / "refs" / "datasource-properties.json").read_text())
    assert recorded["dataLayers"][0]["mags"][0]["path"] == f"s3://{endpoint}/{bucket.path.strip('/')}/ds/color/1"
    with pytest.raises(wk.errors.ReadOnlyError):
        layer.get_mag(1).write(np.zeros((1, 8, 8, 8), np.uint8), absolute_offset=(0, 0, 0))


def test_missing_credentials_are_a_typed_error(_endpoint: str, monkeypatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    path = upath.UPath("s3://nosuchbucket/ds", endpoint_url=_endpoint, skip_instance_cache=True)
    with pytest.raises(RemoteStorageError, match="nosuchbucket/ds/datasource-properties.json.*[Cc]redentials"):
        wk.Dataset.open(path)


def test_dask_cluster_copies_and_downsamples_on_s3(bucket) -> None:
    """Worker processes get the dataset's UPath with its storage options in each task; they
    share no folder with the client."""
    distributed = pytest.importorskip("distributed")
    src, data = _make(bucket / "src")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        executor = client.get_executor()
        copy = src.copy_dataset(bucket / "copy", compress=True, executor=executor)
        copy.get_layer("color").downsample(coarsest_mag=wk.Mag(4), executor=executor)
    reference = wk.Dataset.open(bucket / "src").get_layer("color")
    reference.downsample(coarsest_mag=wk.Mag(4))
    copied = wk.Dataset.open(bucket / "copy").get_layer("color")
    assert sorted(copied.mags) == sorted(reference.mags)
    for mag, view in reference.mags.items():
        np.testing.assert_array_equal(copied.get_mag(mag).read(), view.read())


def test_recorded_s3_urls_resolve_as_in_webknossos(monkeypatch) -> None:
    """A dataset's ``s3://<endpoint host>/<bucket>/<key>`` becomes the same endpoint and
    keys as webknossos 4.3.3 gives it (``AWS_ACCESS_KEY_ID__<HOST>__<BUCKET>...``)."""
    from webknossos.utils import enrich_path

    from wkpy._urls import resolve_url

    monkeypatch.setenv("AWS_ACCESS_KEY_ID__S3_EXAMPLE_ORG__LAB", "id-lab")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY__S3_EXAMPLE_ORG__LAB", "secret-lab")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID__S3_EXAMPLE_ORG__LAB__DS_1", "id-ds")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY__S3_EXAMPLE_ORG__LAB__DS_1", "secret-ds")
    for url in ("s3://s3.example.org/lab/ds-1/color/1", "s3://s3.example.org/lab/other/1",
                "s3://s3.example.org/elsewhere/x", "s3://other.example.org:9000/lab/x"):
        ours, theirs = resolve_url(url), enrich_path(url)
        assert str(ours) == str(theirs)
        assert dict(ours.storage_options) == dict(theirs.storage_options), url


def test_readme_s3_example_runs(_endpoint: str, tmp_path: Path, monkeypatch) -> None:
    """The README's S3 example, run against the test server (only its endpoint replaced)."""
    import re

    import s3fs

    readme = Path(__file__).resolve().parents[2] / "README.md"
    if not readme.is_file():
        pytest.skip("no README.md next to the tests")
    section = readme.read_text().split("### Datasets on object storage", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n### ", 1)[0], re.S)
    assert 'endpoint_url="http://127.0.0.1:9000"' in code
    code = code.replace('endpoint_url="http://127.0.0.1:9000"', f'endpoint_url="{_endpoint}"')
    s3fs.S3FileSystem(endpoint_url=_endpoint, key="my-access-key", secret="my-secret-key").mkdir("my-lab-bucket")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["cutout"].shape == (1, 64, 64, 32) and (scope["cutout"] == 1).all()
    local = wk.Dataset.open(tmp_path / "my_dataset").get_layer("color")
    local.downsample()
    remote = wk.Dataset.open(scope["bucket"] / "my_dataset").get_layer("color")
    assert sorted(remote.mags) == sorted(local.mags) and len(local.mags) > 1
    for mag, view in local.mags.items():
        np.testing.assert_array_equal(remote.get_mag(mag).read(), view.read())


def _ts_spec(bucket, key: str, endpoint: str) -> dict:
    return {"driver": "zarr3", "kvstore": {"driver": "s3", "bucket": bucket.path.strip("/"), "path": key + "/",
                                          "endpoint": endpoint, "aws_credentials": {"type": "environment"}}}


def test_tensorstore_reads_what_wkpy_wrote_on_s3_and_the_reverse(bucket, _endpoint: str, monkeypatch) -> None:
    """tensorstore's S3 driver reads a compressed Zarr3 mag wkpy wrote to the server, and
    wkpy reads the mag tensorstore then rewrote there (same zarr.json, other voxels)."""
    ts = pytest.importorskip("tensorstore")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ds, data = _make(bucket / "ds")
    ds.get_layer("color").compress()
    t = ts.open(_ts_spec(bucket, "ds/color/1", _endpoint)).result()
    np.testing.assert_array_equal(t[:, 3:53, 4:44, 5:35].read().result(), data)
    other = random_volume((1, 64, 64, 32), "uint8", seed=9)
    t[:, 0:64, 0:64, 0:32].write(other).result()
    view = wk.Dataset.open(bucket / "ds").get_layer("color").get_mag(1)
    np.testing.assert_array_equal(view.read(absolute_offset=(0, 0, 0), size=(64, 64, 32)), other)


def test_images_into_s3_and_exports_from_it(bucket, tmp_path: Path) -> None:
    """Image conversion writes into a dataset on S3 (built out of sight, listed in one
    step, no staging objects left) and a layer on S3 exports to local files, equal to the
    same calls on disk."""
    tifffile = pytest.importorskip("tifffile")
    stack = random_volume((12, 40, 36), "uint8", seed=2)          # z, y, x
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    made = {}
    for where in (tmp_path / "local", bucket / "remote"):
        ds = wk.Dataset.from_images(tmp_path / "stack.tif", where, voxel_size=(1, 1, 1), data_format="zarr3")
        layer = next(iter(ds.layers.values()))
        layer.export.as_tiff_stack(output_path=tmp_path / f"tiff-{where.name}")
        made[where.name] = layer.get_mag(1).read()
    np.testing.assert_array_equal(made["remote"], made["local"])
    np.testing.assert_array_equal(made["remote"][0], stack.transpose(2, 1, 0))
    assert _files(tmp_path / "tiff-remote") == _files(tmp_path / "tiff-local")
    assert not any(".wkpy-" in key for key in _objects(bucket / "remote"))
