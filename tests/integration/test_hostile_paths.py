"""Nothing outside the dataset is created, changed or deleted (issue 12, item 1).

Every case is built inside a sandbox: ``sandbox/ds`` is the dataset and
``sandbox/outside`` (and ``sandbox/x``) the victims. Each test hashes every file and
folder listing of the victims, and the listing of the sandbox's parent, before and after,
and asserts they are equal. Operations may refuse with a `wkpy.errors` class; any other
exception (a bare builtin) fails the test as well.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from conftest import tree_state
from wkpy.errors import InvalidRequestError, PropertiesError, WkError

SIDE = 64
FORMATS = {"wkw-raw": ("wkw", False), "wkw-lz4": ("wkw", True), "zarr3": ("zarr3", True), "zarr": ("zarr", True),
           "zarr-raw": ("zarr", False)}


def data(seed: int = 1) -> np.ndarray:
    x, y, z = np.ogrid[:SIDE, :SIDE, :SIDE]
    return ((x * 3 + y * 5 + z * 7 + seed) % 250 + 1).astype(np.uint8)


class Sandbox:
    """``root/sandbox`` holding the dataset ``ds`` and the victims ``outside`` and ``x``."""

    def __init__(self, tmp_path: Path, fmt: str = "wkw-raw") -> None:
        self.parent = tmp_path
        self.root = tmp_path / "sandbox"
        self.ds = self.root / "ds"
        self.outside = self.root / "outside"
        for victim in (self.outside, self.root / "x"):
            (victim / "sub").mkdir(parents=True)
            (victim / "victim.txt").write_text("must not change\n")
            (victim / "sub" / "data.bin").write_bytes(bytes(range(256)) * 4)
        data_format, compress = FORMATS[fmt]
        ds = wk.Dataset(self.ds, voxel_size=(1, 1, 1))
        ds.add_layer("color", "color", dtype_per_channel="uint8", data_format=data_format).add_mag(
            1, chunk_shape=32, shard_shape=32, compress=compress).write(data(), absolute_offset=(0, 0, 0))
        self.before: dict | None = None

    def snapshot(self) -> None:
        self.before = self.victims()

    def victims(self) -> dict:
        state = {"parent listing": tuple(sorted(os.listdir(self.parent))),
                 "sandbox listing": tuple(sorted(os.listdir(self.root)))}
        for name in sorted(os.listdir(self.root)):
            if name != "ds":
                state.update({f"{name}/{k}": v for k, v in tree_state(self.root / name).items()})
        return state

    def assert_untouched(self) -> None:
        after = self.victims()
        changed = sorted(k for k in set(self.before) | set(after) if self.before.get(k) != after.get(k))
        assert not changed, f"files outside the dataset were created, changed or deleted: {changed[:10]}"

    def props(self) -> dict:
        return json.loads((self.ds / "datasource-properties.json").read_text())

    def write_props(self, props: dict) -> None:
        (self.ds / "datasource-properties.json").write_text(json.dumps(props, indent=4))


# ---- hostile names in the JSON -----------------------------------------------------------------
HOSTILE_NAMES = ["..", "../x", ".", "a/b", "/abs", "", ".hidden", "../outside", "ABSOLUTE_OUTSIDE"]


def _name(sandbox: Sandbox, name: str) -> str:
    return str(sandbox.outside) if name == "ABSOLUTE_OUTSIDE" else name


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_open_refuses_a_hostile_layer_name(tmp_path, name):
    sandbox = Sandbox(tmp_path)
    props = sandbox.props()
    props["dataLayers"][0]["name"] = _name(sandbox, name)
    sandbox.write_props(props)
    sandbox.snapshot()
    ds_before = tree_state(sandbox.ds)
    for read_only in (False, True):
        with pytest.raises(PropertiesError):
            wk.Dataset.open(sandbox.ds, read_only=read_only)
    sandbox.assert_untouched()
    assert tree_state(sandbox.ds) == ds_before


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_open_refuses_a_hostile_name_beside_a_good_layer(tmp_path, name):
    """The hostile layer comes second, after a valid one, and reuses its folder."""
    sandbox = Sandbox(tmp_path)
    props = sandbox.props()
    evil = json.loads(json.dumps(props["dataLayers"][0]))
    evil["name"] = _name(sandbox, name)
    props["dataLayers"].append(evil)
    sandbox.write_props(props)
    sandbox.snapshot()
    with pytest.raises(PropertiesError):
        wk.Dataset.open(sandbox.ds)
    sandbox.assert_untouched()


def test_open_refuses_a_mag_path_that_is_the_dataset_or_above(tmp_path):
    sandbox = Sandbox(tmp_path)
    for mag_path in ("color/../..", "..", "."):
        props = sandbox.props()
        props["dataLayers"][0]["mags"][0]["path"] = mag_path
        sandbox.write_props(props)
        sandbox.snapshot()
        with pytest.raises(PropertiesError):
            wk.Dataset.open(sandbox.ds)
        sandbox.assert_untouched()


@pytest.mark.parametrize("mag_path", ["../../x", "../x", "../outside", "./color/../../x"])
def test_a_relative_mag_path_leaving_the_dataset_is_a_read_only_reference(tmp_path, mag_path):
    """webknossos writes such paths for relative links (`make_relative=True`), so they open
    as references to foreign data: readable, never written, compressed or deleted."""
    sandbox = Sandbox(tmp_path)
    props = sandbox.props()
    props["dataLayers"][0]["mags"][0]["path"] = mag_path
    sandbox.write_props(props)
    sandbox.snapshot()
    layer = wk.Dataset.open(sandbox.ds).get_layer("color")
    mag = layer.get_mag(1)
    assert mag.is_foreign and mag.read_only
    attempts = [
        lambda: mag.write(np.zeros((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0)),
        lambda: mag.compress(),
        lambda: layer.downsample_mag(1, 2),
        lambda: layer.delete_mag(1),
        lambda: wk.Dataset.open(sandbox.ds).delete_layer("color"),
    ]
    for attempt in attempts:
        try:
            attempt()
        except WkError:
            pass
        sandbox.assert_untouched()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_add_layer_refuses_a_hostile_name(tmp_path, name):
    sandbox = Sandbox(tmp_path)
    sandbox.snapshot()
    ds_before = tree_state(sandbox.ds)
    ds = wk.Dataset.open(sandbox.ds)
    with pytest.raises(InvalidRequestError):
        ds.add_layer(_name(sandbox, name), "color", dtype_per_channel="uint8")
    sandbox.assert_untouched()
    assert {k: v for k, v in tree_state(sandbox.ds).items() if ".wkpy-locks" not in k} == \
        {k: v for k, v in ds_before.items() if ".wkpy-locks" not in k}
    assert list(wk.Dataset.open(sandbox.ds).layers) == ["color"]


@pytest.mark.parametrize("how", ["add_copy_layer", "add_symlink_layer", "add_layer_like"])
@pytest.mark.parametrize("name", ["..", "../x", ".", "a/b", "ABSOLUTE_OUTSIDE"])
def test_other_ways_of_naming_a_layer_refuse_hostile_names(tmp_path, name, how):
    sandbox = Sandbox(tmp_path)
    other = wk.Dataset(tmp_path / "other", voxel_size=(1, 1, 1))
    other.add_layer("o", "color", dtype_per_channel="uint8").add_mag(1, chunk_shape=32, shard_shape=32).write(
        data(2)[:32, :32, :32], absolute_offset=(0, 0, 0))
    sandbox.snapshot()
    ds = wk.Dataset.open(sandbox.ds)
    with pytest.raises(WkError):
        if how == "add_layer_like":
            ds.add_layer_like(other.get_layer("o"), _name(sandbox, name))
        else:
            getattr(ds, how)(other.get_layer("o"), _name(sandbox, name))
    sandbox.assert_untouched()


# ---- planted symlinks ----------------------------------------------------------------------------
def _first_shard_folder(mag: Path) -> str:
    return _first_shard_file(mag).relative_to(mag).parts[0]


def _first_shard_file(mag: Path) -> Path:
    return sorted(p for p in mag.rglob("*") if p.is_file() and p.name not in ("header.wkw", "zarr.json", ".zarray")
                  and ".wkpy-locks" not in p.parts)[0]


def _move_and_link(src: Path, dst: Path) -> None:
    shutil.move(src, dst)
    os.symlink(dst, src, target_is_directory=dst.is_dir())


def plant(sandbox: Sandbox, case: str) -> None:
    mag = sandbox.ds / "color" / "1"
    out = sandbox.outside
    if case == "shard_folder":  # e.g. color/1/z0 -> outside/z0
        name = _first_shard_folder(mag)
        _move_and_link(mag / name, out / name)
    elif case == "shard_file":  # color/1/z0/y0/x0.wkw -> outside/x0.wkw
        _move_and_link(mag / "z0" / "y0" / "x0.wkw", out / "x0.wkw")
    elif case == "chunk_file":  # Zarr: color/1/0/0/0/0 -> outside/0
        _move_and_link(_first_shard_file(mag), out / "0")
    elif case == "journal_dangling":  # the undo journal's name -> a file that does not exist yet
        os.symlink(out / "created-by-wkpy", mag / "z0" / "y0" / "x0.wkw.journal")
    elif case == "journal_existing":  # the undo journal's name -> a victim file
        os.symlink(out / "victim.txt", mag / "z0" / "y0" / "x0.wkw.journal")
    elif case == "journal_folder":  # the undo journal's name -> a victim folder
        os.symlink(out / "sub", mag / "z0" / "y0" / "x0.wkw.journal", target_is_directory=True)
    elif case == "temp_name_dangling":  # a fixed temp-looking name beside the shard
        os.symlink(out / "created-by-wkpy", mag / "z0" / "y0" / "x0.wkw.tmp")
    elif case == "layer_folder":  # color -> outside/color
        _move_and_link(sandbox.ds / "color", out / "color")
    elif case == "mag_folder":  # color/1 -> outside/1
        _move_and_link(mag, out / "1")
    elif case == "lock_folder":  # where lock files used to go -> outside/locks
        (out / "locks").mkdir()
        shutil.rmtree(mag / ".wkpy-locks", ignore_errors=True)
        os.symlink(out / "locks", mag / ".wkpy-locks", target_is_directory=True)
    else:
        raise ValueError(case)


def _op(ds: wk.Dataset, op: str) -> None:
    layer = ds.get_layer("color")
    if op == "write":
        layer.get_mag(1).write(np.full((40, 40, 40), 7, np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)
    elif op == "write_grow":  # also grows the box and adds shards
        layer.get_mag(1).write(np.full((40, 40, 40), 7, np.uint8), absolute_offset=(30, 30, 30), allow_unaligned=True)
    elif op == "read_then_write":
        layer.get_mag(1).read(absolute_offset=(0, 0, 0), size=(SIDE,) * 3)
        layer.get_mag(1).write(np.full((32, 32, 32), 9, np.uint8), absolute_offset=(0, 0, 0))
    elif op == "compress":
        layer.get_mag(1).compress()
    elif op == "delete_mag":
        layer.delete_mag(1)
    elif op == "delete_layer":
        ds.delete_layer("color")
    elif op == "add_mag":
        layer.add_mag(2, chunk_shape=32, shard_shape=32, compress=False)
    elif op == "downsample":
        layer.downsample_mag(1, 2)
    else:
        raise ValueError(op)


OPS = ["write", "write_grow", "read_then_write", "compress", "delete_mag", "delete_layer", "add_mag", "downsample"]
WKW_CASES = ["shard_file", "journal_dangling", "journal_existing", "journal_folder", "temp_name_dangling", "layer_folder",
             "mag_folder", "lock_folder"]


def _attack(tmp_path, fmt, case, op):
    sandbox = Sandbox(tmp_path, fmt)
    plant(sandbox, case)
    sandbox.snapshot()
    try:
        _op(wk.Dataset.open(sandbox.ds), op)
    except WkError:
        pass  # refusing is allowed; a bare builtin is not (it propagates and fails the test)
    sandbox.assert_untouched()


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_planted_shard_folder_symlink(tmp_path, fmt, op):
    _attack(tmp_path, fmt, "shard_folder", op)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", WKW_CASES)
def test_planted_symlink_in_a_raw_wkw_dataset(tmp_path, case, op):
    _attack(tmp_path, "wkw-raw", case, op)


@pytest.mark.parametrize("op", ["write", "compress", "delete_layer", "add_mag"])
@pytest.mark.parametrize("case", ["layer_folder", "mag_folder"])
def test_planted_symlink_in_a_zarr3_dataset(tmp_path, case, op):
    _attack(tmp_path, "zarr3", case, op)


@pytest.mark.parametrize("op", ["write", "read_then_write", "compress", "delete_mag", "downsample"])
@pytest.mark.parametrize("case", ["chunk_file", "layer_folder", "mag_folder"])
@pytest.mark.parametrize("fmt", ["zarr", "zarr-raw"])
def test_planted_symlink_in_a_zarr2_dataset(tmp_path, fmt, case, op):
    _attack(tmp_path, fmt, case, op)
