"""Zarr3 array metadata follows the layer: shapes grow with the box, legacy codecs read."""

from __future__ import annotations

import json

import numpy as np
import pytest

import wkpy as wk


def test_setting_a_larger_box_grows_every_mags_shape_like_webknossos(tmp_path):
    webknossos = pytest.importorskip("webknossos")
    shapes = {}
    for lib, root in ((wk, tmp_path / "ours"), (webknossos, tmp_path / "wk")):
        ds = lib.Dataset(root, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3")
        mag1 = layer.add_mag(1, chunk_shape=32, shard_shape=64)
        layer.add_mag(2, chunk_shape=32, shard_shape=64)
        mag1.write(np.ones((64, 64, 64), np.uint8), absolute_offset=(0, 0, 0), allow_resize=True)
        layer.bounding_box = lib.BoundingBox((0, 0, 0), (200, 130, 64))
        shapes[lib.__name__] = [json.loads((root / "color" / m / "zarr.json").read_text())["shape"] for m in ("1", "2")]
    assert shapes["wkpy"] == shapes["webknossos"]
    assert shapes["wkpy"][0][1:] >= [200, 130, 64] and shapes["wkpy"][1][1:] >= [100, 65, 32]


def test_tensorstore_reads_the_whole_layer_box_after_it_grew(tmp_path):
    ts = pytest.importorskip("tensorstore")
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3")
    layer.add_mag(1, chunk_shape=32, shard_shape=64).write(np.full((64, 64, 64), 3, np.uint8),
                                                          absolute_offset=(0, 0, 0))
    layer.add_mag(2, chunk_shape=32, shard_shape=64)
    layer.bounding_box = wk.BoundingBox((0, 0, 0), (256, 64, 64))
    for mag, side in (("1", 256), ("2", 128)):
        arr = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "ds" / "color" / mag)}}
                      ).result()
        assert arr[:, :side, :32, :32].read().result().shape == (1, side, 32, 32)


def test_a_legacy_transpose_order_string_is_read(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype="uint16", data_format="zarr3")
    data = np.arange(64 ** 3, dtype=np.uint16).reshape(64, 64, 64)
    layer.add_mag(1, chunk_shape=32, shard_shape=64).write(data, absolute_offset=(0, 0, 0))
    meta_file = tmp_path / "ds" / "color" / "1" / "zarr.json"
    meta = json.loads(meta_file.read_text())
    inner = meta["codecs"][0]["configuration"]["codecs"]
    assert inner[0] == {"name": "transpose", "configuration": {"order": [3, 2, 1, 0]}}
    inner[0]["configuration"]["order"] = "F"          # how older webknossos versions wrote it
    meta_file.write_text(json.dumps(meta))
    mag = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    assert np.array_equal(mag.read(absolute_offset=(0, 0, 0), size=(64, 64, 64))[0], data)
    mag.write(data[::-1].copy(), absolute_offset=(0, 0, 0))
    assert np.array_equal(mag.read(absolute_offset=(0, 0, 0), size=(64, 64, 64))[0], data[::-1])
