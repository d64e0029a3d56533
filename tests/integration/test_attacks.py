"""Regression tests for what attacking wkpy found: recovery racing additions, stale
handles of re-created mags, environment-dependent lock folders, FIFOs and devices planted
at metadata and shard names, and headers claiming absurd layouts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import wkpy as wk
from wkpy import errors


def _dataset(path, data_format="wkw"):
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    mag = ds.add_layer("color", "color", dtype="uint8", data_format=data_format).add_mag(
        1, chunk_shape=8, shard_shape=32)
    mag.write(np.full((32, 32, 32), 7, np.uint8), absolute_offset=(0, 0, 0))
    return ds


OPENER = textwrap.dedent("""
    import sys, wkpy as wk
    print("ready", flush=True)
    while True:
        wk.Dataset.open(sys.argv[1])
""")


def test_recovery_in_another_process_never_breaks_add_mag_or_delete_mag(tmp_path):
    ds = _dataset(tmp_path / "ds")
    layer = ds.get_layer("color")
    opener = subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path / "ds")], stdout=subprocess.PIPE, text=True)
    try:
        assert opener.stdout is not None
        while opener.stdout.readline() not in ("ready\n", ""):
            pass
        for _ in range(60):
            layer.add_mag(2, chunk_shape=8, shard_shape=32)
            layer.delete_mag(2)
            layer.add_mag(2, chunk_shape=8, shard_shape=32).write(np.ones((16, 16, 16), np.uint8),
                                                                  absolute_offset=(0, 0, 0))
            layer.delete_mag(2)
    finally:
        opener.kill()
        opener.communicate()
    reopened = wk.Dataset.open(tmp_path / "ds").get_layer("color")
    assert list(reopened.mags) == [wk.Mag(1)]
    assert sorted(p.name for p in (tmp_path / "ds" / "color").iterdir()) == ["1"]


def test_a_view_of_a_re_created_layer_refuses_to_write_and_does_not_grow_its_box(tmp_path):
    _dataset(tmp_path / "ds")
    stale = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    stale.read(absolute_offset=(0, 0, 0), size=(8, 8, 8))          # opened
    other = wk.Dataset.open(tmp_path / "ds")
    other.delete_layer("color")
    fresh = other.add_layer("color", "color", dtype="uint8").add_mag(1, chunk_shape=8, shard_shape=32)
    with pytest.raises(errors.OperationError, match="re-created"):
        stale.write(np.full((32, 32, 32), 99, np.uint8), absolute_offset=(64, 64, 64), allow_unaligned=True)
    again = wk.Dataset.open(tmp_path / "ds").get_layer("color")
    assert again.bounding_box.is_empty()
    assert (fresh.read(absolute_offset=(64, 64, 64), size=(32, 32, 32)) == 0).all()


def test_a_compressed_mag_keeps_working_for_views_opened_before(tmp_path):
    _dataset(tmp_path / "ds")
    before = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    before.read(absolute_offset=(0, 0, 0), size=(8, 8, 8))
    wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1).compress()
    before.write(np.full((8, 8, 8), 3, np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)
    assert before.info.compression
    assert (wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1).read(
        absolute_offset=(0, 0, 0), size=(8, 8, 8)) == 3).all()


def test_the_lock_folder_does_not_depend_on_the_environment(tmp_path):
    code = "from wkpy import locking; print(locking.lock_dir())"
    env = {k: v for k, v in os.environ.items() if k not in ("WKPY_LOCK_DIR", "XDG_RUNTIME_DIR", "TMPDIR")}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    (tmp_path / "run").mkdir()
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**env, "XDG_RUNTIME_DIR": str(tmp_path / "run"), "TMPDIR": str(tmp_path)}).stdout
    assert plain == other


PLANT_FIFO = textwrap.dedent("""
    import os, sys, wkpy as wk
    target, action = sys.argv[1], sys.argv[2]
    os.unlink(target) if os.path.lexists(target) else None
    os.mkfifo(target)
    try:
        ds = wk.Dataset.open(sys.argv[3])
        if action == "read":
            ds.get_layer("color").get_mag(1).read(absolute_offset=(0, 0, 0), size=(32, 32, 32))
        elif action == "write":
            import numpy as np
            ds.get_layer("color").get_mag(1).write(np.ones((32, 32, 32), np.uint8), absolute_offset=(0, 0, 0))
        print("no error")
    except wk.WkError as e:
        print("typed", type(e).__name__)
""")


@pytest.mark.parametrize("data_format,name,action", [
    ("wkw", "datasource-properties.json", "open"),
    ("wkw", "color/1/header.wkw", "read"),
    ("wkw", "color/1/z0/y0/x0.wkw", "read"),
    ("wkw", "color/1/z0/y0/x0.wkw", "write"),
    ("zarr3", "color/1/zarr.json", "read"),
    ("zarr3", "color/1/c/0/0/0/0", "read"),
    ("wkw", ".wkpy-old-0123456789ab-junk", "open"),
    ("wkw", "color/.wkpy-new-0123456789ab-2", "open"),
])
def test_a_fifo_planted_at_a_file_name_gives_a_typed_error_not_a_hang(tmp_path, data_format, name, action):
    _dataset(tmp_path / "ds", data_format)
    done = subprocess.run([sys.executable, "-c", PLANT_FIFO, str(tmp_path / "ds" / name), action,
                           str(tmp_path / "ds")], capture_output=True, text=True, timeout=120)  # a hang guard
    assert done.returncode == 0, done.stderr
    outcome = done.stdout.strip().splitlines()[-1]
    assert outcome in ("typed CorruptFileError", "typed PropertiesError", "no error")
    if name.startswith((".wkpy", "color/.wkpy")):
        assert outcome == "no error" and not os.path.lexists(tmp_path / "ds" / name)
    else:
        assert outcome != "no error"


@pytest.mark.parametrize("block_log2,file_log2", [(0, 15), (10, 11), (9, 5)])
def test_a_header_claiming_an_absurd_layout_is_refused_when_opened(tmp_path, block_log2, file_log2):
    _dataset(tmp_path / "ds")
    header = tmp_path / "ds" / "color" / "1" / "header.wkw"
    raw = bytearray(header.read_bytes())
    raw[4] = 1                                         # version
    raw[5] = (file_log2 << 4) | block_log2             # wkw packs both log2 sizes in one byte
    header.write_bytes(bytes(raw))
    mag = wk.Dataset.open(tmp_path / "ds").get_layer("color").get_mag(1)
    with pytest.raises(errors.CorruptFileError, match="header.wkw"):
        mag.write(np.ones((1, 1, 1), np.uint8), absolute_offset=(0, 0, 0), allow_unaligned=True)
