"""The `wkpy` command line, run as a real subprocess on generated images and ../shared/fixtures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from conftest import fixtures_or_skip, manifest

tifffile = pytest.importorskip("tifffile")
Image = pytest.importorskip("PIL.Image")

EXAMPLE_PREVIEW = Path("/tmp/wkpy-preview-example.png")
# the editable install may rebuild on import; keep its messages out of the captured output
ENV = {**os.environ, "SKBUILD_EDITABLE_VERBOSE": "0", "COLUMNS": "120"}
ENV.pop("WKPY_QUIET", None)


def cli(*args: object, code: int = 0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m wkpy.cli ARGS`` and check its exit status."""
    proc = subprocess.run([sys.executable, "-m", "wkpy.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=300)
    assert proc.returncode == code, f"exit {proc.returncode}, not {code}\n{proc.stdout}\n{proc.stderr}"
    return proc


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wkpy: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def snapshot(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def xyz(stack_zyx: np.ndarray) -> np.ndarray:
    """A (z, y, x[, c]) image stack as wkpy's (c, x, y, z)."""
    return (stack_zyx[..., np.newaxis] if stack_zyx.ndim == 3 else stack_zyx).transpose(3, 2, 1, 0)


def cells(shape_zyx: tuple[int, int, int], n: int = 24, seed: int = 0) -> np.ndarray:
    """Voronoi "cells": a uint32 label per voxel (1..n), 0 on the borders between them."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, 1, (n, 3)) * shape_zyx
    grid = np.stack(np.meshgrid(*map(np.arange, shape_zyx), indexing="ij"), axis=-1).astype(np.float32)
    dist = np.linalg.norm(grid[..., np.newaxis, :] - seeds.astype(np.float32), axis=-1)
    nearest = np.sort(dist, axis=-1)
    labels = (np.argmin(dist, axis=-1) + 1).astype(np.uint32)
    labels[nearest[..., 1] - nearest[..., 0] < 1.0] = 0
    return labels


@pytest.fixture
def stack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 3-D uint16 TIFF stack (z, y, x) = (20, 45, 70) and its data."""
    rng = np.random.default_rng(1)
    data = (cells((20, 45, 70), seed=1) * 997 + rng.integers(0, 50, (20, 45, 70))).astype(np.uint16)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, data)
    return path, data


def write_dataset(path: Path, data_zyx: np.ndarray, **mag_kwargs: object) -> Path:
    """A one-layer color dataset holding `data_zyx` at the origin (written in-process, quickly)."""
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", dtype=data_zyx.dtype)
    layer.add_mag(1, **mag_kwargs).write(xyz(data_zyx), absolute_offset=(0, 0, 0), allow_unaligned=True)
    return path


# ---- the console script --------------------------------------------------------------------
def test_console_script_is_declared_and_runs():
    (script,) = entry_points(group="console_scripts", name="wkpy")
    assert script.value == "wkpy.cli.main:main"
    exe = shutil.which("wkpy", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.returncode == 0
    assert all(c in proc.stdout for c in ("info", "convert", "copy-dataset", "compress", "downsample", "upsample",
                                          "check-equality", "export-as-tiff", "preview"))


def test_import_wkpy_stays_light():
    code = "import sys, wkpy; print(any(m.split('.')[0] in {'typer', 'rich', 'tifffile', 'PIL', 'webknossos'} " \
           "for m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


# ---- convert ---------------------------------------------------------------------------------
@pytest.mark.parametrize("data_format", ["wkw", "zarr3"])
def test_convert_tiff_stack_equals_the_stack(tmp_path, stack, data_format):
    path, data = stack
    target = tmp_path / "ds"
    proc = cli("convert", path, target, "--voxel-size", "11.2,11.2,25", "--data-format", data_format,
               "--chunk-shape", "8", "--shard-shape", "16", "--batch-size", "8")
    assert "converted 20 slices" in proc.stderr
    layer = wk.Dataset.open(target).get_layer("color")
    assert layer.bounding_box == wk.BoundingBox((0, 0, 0), (70, 45, 20))
    assert layer.data_format == data_format and layer.dtype == np.uint16
    mag = layer.get_mag(1)
    assert mag.info.chunk_shape == (8, 8, 8) and mag.info.shard_shape == (16, 16, 16) and mag.info.compression
    np.testing.assert_array_equal(mag.read(), xyz(data))


def test_convert_to_zarr2_has_one_chunk_per_shard(tmp_path, stack):
    path, data = stack
    cli("convert", path, tmp_path / "ds", "--voxel-size", "1,1,1", "--data-format", "zarr", "--chunk-shape", "16",
        "--batch-size", "16", "-q")
    mag = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    assert mag.data_format == "zarr" and mag.info.chunk_shape == mag.info.shard_shape == (16, 16, 16)
    np.testing.assert_array_equal(mag.read(), xyz(data))
    assert (tmp_path / "ds" / "color" / "1" / ".zarray").is_file()
    proc = cli("convert", path, tmp_path / "bad", "--voxel-size", "1,1,1", "--data-format", "zarr",
               "--chunk-shape", "16", "--shard-shape", "64", code=2)
    assert "no shards" in one_error_line(proc)


def test_convert_png_folder_rgb_in_natural_order_and_downsample(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (12, 30, 40, 3), dtype=np.uint8)  # z, y, x, rgb
    folder = tmp_path / "pngs"
    folder.mkdir()
    for z, image in enumerate(images):
        Image.fromarray(image).save(folder / f"slice{z + 1}.png")  # slice10 sorts after slice9
    target = tmp_path / "ds"
    cli("convert", folder, target, "--voxel-size", "1,1,1", "--layer-name", "rgb", "--no-compress",
        "--downsample", "--quiet")
    layer = wk.Dataset.open(target).get_layer("rgb")
    assert layer.num_channels == 3 and not layer.get_mag(1).info.compression
    np.testing.assert_array_equal(layer.get_mag(1).read(), xyz(images))
    assert [m.to_layer_name() for m in layer.mags] == ["1", "2", "4"]


def test_convert_segmentation_sets_largest_segment_id(tmp_path):
    labels = cells((10, 24, 32))
    path = tmp_path / "labels.tiff"
    tifffile.imwrite(path, labels)
    target = tmp_path / "seg"
    cli("convert", path, target, "--voxel-size", "4,4,4", "--category", "segmentation", "--executor", "processes",
        "--workers", "2", "--batch-size", "32")
    layer = wk.Dataset.open(target).get_layer("segmentation")
    assert layer.category == "segmentation" and layer.largest_segment_id == int(labels.max())
    np.testing.assert_array_equal(layer.get_mag(1).read(), xyz(labels))


# ---- info ------------------------------------------------------------------------------------
def test_info_json_matches_the_fixture():
    fixtures = fixtures_or_skip()
    before = snapshot(fixtures / "wkw_lz4")
    facts = json.loads(cli("info", fixtures / "wkw_lz4", "--json").stdout)
    expected = manifest()["datasets"]["wkw_lz4"]
    assert facts["voxel_size"] == expected["voxel_size"]
    assert {layer["name"] for layer in facts["layers"]} == set(expected["layers"])
    for layer in facts["layers"]:
        want = expected["layers"][layer["name"]]
        assert (layer["category"], layer["dtype"], layer["num_channels"]) == \
            (want["category"], want["dtype"], want["num_channels"])
        assert layer["bounding_box"] == {"topleft": want["bbox_topleft"], "size": want["bbox_size"]}
        assert [m["mag"] for m in layer["mags"]] == list(want["mags"])
        for mag in layer["mags"]:
            info = want["mags"][mag["mag"]]
            assert (mag["chunk_shape"], mag["shard_shape"], mag["compressed"]) == \
                (info["chunk_shape"], info["shard_shape"], info["compressed"])
            assert mag["size_on_disk"] > 0
    assert facts["size_on_disk"] == sum(layer["size_on_disk"] for layer in facts["layers"])
    table = cli("info", fixtures / "wkw_lz4").stdout
    assert "segmentation" in table and "2-2-1" in table and "64³" in table
    assert snapshot(fixtures / "wkw_lz4") == before


# ---- preview ---------------------------------------------------------------------------------
def test_preview_color_slice_matches_the_fixture(tmp_path):
    fixtures = fixtures_or_skip()
    info = manifest()["datasets"]["wkw_lz4"]["layers"]["color"]["mags"]["1"]
    expected = np.load(fixtures / info["expected"])  # (3, x, y, z) uint8
    z0 = info["region_topleft_in_mag"][2]
    out = tmp_path / "slice.png"
    cli("preview", fixtures / "wkw_lz4", out, "--layer", "color", "--mag", "1", "--z", z0 + 10)
    picture = np.asarray(Image.open(out))
    assert picture.shape == (50, 70, 3)  # height y, width x, RGB
    np.testing.assert_array_equal(picture, expected[:, :, :, 10].transpose(2, 1, 0))


def test_preview_scales_uint16_along_every_axis_and_projects(tmp_path, stack):
    _, data = stack
    target = write_dataset(tmp_path / "ds", data, chunk_shape=8, shard_shape=16)

    def scaled(image: np.ndarray) -> np.ndarray:
        lo, hi = float(image.min()), float(image.max())
        return np.rint((image - lo) * (255.0 / (hi - lo))).astype(np.uint8)

    cases = {  # args → expected picture (rows, columns) from the (z, y, x) stack
        ("--z", 7): data[7],
        ("--axis", "y", "--index", 30): data[:, 30, :],
        ("--axis", "x", "--index", 5): data[:, :, 5].T,
        ("--axis", "z", "--mip"): data.max(axis=0),
    }
    for i, (args, want) in enumerate(cases.items()):
        out = tmp_path / f"p{i}.png"
        cli("preview", target, out, *args)
        picture = np.asarray(Image.open(out))
        assert picture.dtype == np.uint8 and picture.shape == want.shape, args
        assert np.abs(picture.astype(int) - scaled(want)).max() <= 1, args


def test_preview_segmentation_in_label_colors(tmp_path):
    from wkpy.cli.images import label_colors

    labels = cells((16, 96, 128))
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, labels)
    target = tmp_path / "seg"
    cli("convert", path, target, "--voxel-size", "1,1,1", "--category", "segmentation", "-q")
    out = tmp_path / "seg.png"
    cli("preview", target, out, "--z", 8)
    picture = np.asarray(Image.open(out))
    assert picture.shape == (96, 128, 3)
    np.testing.assert_array_equal(picture, label_colors(labels[8]))
    assert (picture[labels[8] == 0] == 0).all() and (picture[labels[8] != 0].max(axis=-1) > 0).all()
    assert len({tuple(c) for c in picture.reshape(-1, 3)}) > 10  # distinct colours per cell
    shutil.copyfile(out, EXAMPLE_PREVIEW)


# ---- check-equality, copy-dataset ------------------------------------------------------------
def test_check_equality_detects_one_changed_voxel(tmp_path):
    fixtures = fixtures_or_skip()
    source = fixtures / "wkw_lz4"
    before = snapshot(source)
    copy = tmp_path / "copy"
    cli("copy-dataset", source, copy, "--data-format", "zarr3", "--shard-shape", "32", "-q")
    assert wk.Dataset.open(copy).get_layer("color").get_mag(1).info.shard_shape == (32, 32, 32)
    assert cli("check-equality", source, copy).stdout.startswith("equal:")
    mag = wk.Dataset.open(copy).get_layer("segmentation").get_mag(1)
    voxel = mag.read(absolute_offset=(40, 30, 20), size=(1, 1, 1))
    mag.write(voxel + 1, absolute_offset=(40, 30, 20), allow_unaligned=True)
    proc = cli("check-equality", source, copy, code=1)
    assert "layer 'segmentation' mag 1, box 5,6,7,59,50,40" in proc.stdout  # the first 64³ shard, clipped
    assert "1 voxel(s) differ, the first at (40, 30, 20)" in proc.stdout
    assert snapshot(source) == before


@pytest.mark.parametrize("axes", [("t", "x", "y", "z"), ("c", "t", "x", "y", "z")])
def test_check_equality_of_n_d_layers_names_the_first_differing_voxel(tmp_path, axes):
    size = (1,) * (axes[0] == "c") + (3, 20, 20, 10)
    box = wk.NDBoundingBox(topleft=(0,) * len(axes), size=size, axes=axes, index=tuple(range(len(axes))))
    layer = wk.Dataset(tmp_path / "a", voxel_size=(1, 1, 1)).add_layer(
        "color", "color", dtype="uint8", data_format="zarr3", bounding_box=box)
    layer.add_mag(1, chunk_shape=8, shard_shape=16).write(
        (np.arange(np.prod(size)) % 251).astype(np.uint8).reshape(size), absolute_bounding_box=layer.bounding_box)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert cli("check-equality", tmp_path / "a", tmp_path / "b").stdout.startswith("equal:")
    voxel = layer.bounding_box.with_bounds("t", 2, 1).with_bounds("x", 17, 1).with_bounds("y", 3, 1).with_bounds("z", 4, 1)
    wk.Dataset.open(tmp_path / "b").get_layer("color").get_mag(1).write(
        np.full((1,) * len(axes), 255, np.uint8), absolute_bounding_box=voxel, allow_unaligned=True)
    proc = cli("check-equality", tmp_path / "a", tmp_path / "b", code=1)
    first = (0,) * (axes[0] == "c") + (2, 17, 3, 4)
    assert f"1 voxel(s) differ, the first at {first}" in proc.stdout, proc.stdout


def test_compress_downsample_upsample(tmp_path):
    fixtures = fixtures_or_skip()
    target = tmp_path / "raw"
    cli("copy-dataset", fixtures / "wkw_raw", target, "-q")
    assert not wk.Dataset.open(target).get_layer("color").get_mag(1).info.compression
    cli("compress", target)
    source = wk.Dataset.open(fixtures / "wkw_raw", read_only=True).get_layer("color")
    layer = wk.Dataset.open(target).get_layer("color")
    assert all(view.info.compression for view in layer.mags.values())
    assert all(layer.get_mag(m).content_is_equal(v) for m, v in source.mags.items())

    layer.delete_mag("2-2-1")
    cli("downsample", target, "--coarsest-mag", "4", "--sampling-mode", "isotropic")
    layer = wk.Dataset.open(target).get_layer("color")
    assert [m.to_layer_name() for m in layer.mags] == ["1", "2", "4"]
    layer.delete_mag(2)
    cli("upsample", target, "--from-mag", "4", "--finest-mag", "2", "--sampling-mode", "isotropic")
    layer = wk.Dataset.open(target).get_layer("color")
    mag2, mag4 = layer.get_mag(2), layer.get_mag(4)
    repeated = mag4.read().repeat(2, 1).repeat(2, 2).repeat(2, 3)  # mag 4's box in mag-2 voxels
    (x, y, z), (w, h, d) = (mag2.bounding_box.topleft - mag4.bounding_box.topleft) // 2, mag2.bounding_box.size // 2
    np.testing.assert_array_equal(mag2.read(), repeated[:, x : x + w, y : y + h, z : z + d])


# ---- export-as-tiff --------------------------------------------------------------------------
def test_export_as_tiff_slices_and_stack(tmp_path, stack):
    _, data = stack
    target = write_dataset(tmp_path / "ds", data)
    cli("export-as-tiff", target, tmp_path / "slices", "--bbox", "10,5,2,40,30,6", "--name", "cut")
    files = sorted((tmp_path / "slices").iterdir())
    assert [f.name for f in files] == [f"cut_{z:06d}.tif" for z in range(2, 8)]
    np.testing.assert_array_equal(np.stack([tifffile.imread(f) for f in files]), data[2:8, 5:35, 10:50])
    cli("export-as-tiff", target, tmp_path / "all.tif", "--single-file", "--layer-name", "color", "--mag", "1")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "all.tif"), data)


# ---- errors ------------------------------------------------------------------------------------
def test_bad_inputs_exit_nonzero_with_one_line(tmp_path, stack):
    path, data = stack
    good = write_dataset(tmp_path / "good", data)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(good, corrupt)
    (corrupt / "datasource-properties.json").write_text("{not json")
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    (broken / "color" / "1" / "header.wkw").write_bytes(b"WKW\x01")
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    fake_tiff = tmp_path / "fake.tif"
    fake_tiff.write_text("hello")
    cases = [
        (2, ["info", tmp_path / "missing"], "does not exist"),
        (2, ["info", tmp_path], "is not a dataset"),
        (2, ["info", good, "--frob"], "No such option"),
        (2, ["convert", path, tmp_path / "x", "--voxel-size", "1,1"], "--voxel-size"),
        (2, ["preview", good, tmp_path / "p.png", "--layer", "nope"], "no layer 'nope'"),
        (1, ["convert", path, good, "--voxel-size", "1,1,1"], "exists"),
        (1, ["convert", not_an_image, tmp_path / "x", "--voxel-size", "1,1,1"], "no reader supports the .txt format"),
        (1, ["convert", fake_tiff, tmp_path / "x", "--voxel-size", "1,1,1"], "likely damaged"),
        (1, ["info", corrupt], "not valid JSON"),
        (1, ["info", broken], "header.wkw"),
    ]
    for code, args, words in cases:
        line = one_error_line(cli(*args, code=code))
        assert words in line, (args, line)
    assert not (tmp_path / "x").exists()  # a failed convert leaves nothing behind
    assert "Traceback" in cli("info", broken, "-v", code=1).stderr  # global flags may follow the command


def test_dask_executor_runs_a_local_cluster(tmp_path, stack):
    pytest.importorskip("distributed")
    path, data = stack
    target = tmp_path / "ds"
    cli("convert", path, target, "--voxel-size", "1,1,1", "--chunk-shape", "8", "--shard-shape", "16",
        "--executor", "dask", "--workers", "1", "-q")
    np.testing.assert_array_equal(wk.Dataset.open(target).get_layer("color").get_mag(1).read(), xyz(data))
