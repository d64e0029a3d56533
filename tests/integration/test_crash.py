"""Multi-step operations are crash-atomic, and deletions fail loudly (issue 12, items 3 and 5).

Each operation runs in a fresh interpreter and is killed with SIGKILL at a seeded-random
instant inside it; the dataset must then open, hold wholly the old or wholly the new
state, and the next call of the same operation must succeed with the right data and
leave nothing behind. The cases live in ``tests/crash_cases.py``, shared with the longer
soak ``bench/soak_crash.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

import wkpy as wk
from crash_cases import CASES, CHUNK, make_dataset, read_all, run_case, volume
from wkpy.errors import WkError

KILLS = 4  # per operation: enough to hit the common windows; bench/soak_crash.py does more


@pytest.mark.parametrize("name", list(CASES))
def test_sigkill_leaves_old_or_new_and_the_next_call_succeeds(tmp_path, name):
    outcome = run_case(CASES[name], tmp_path, kills=KILLS, seed=12)
    assert outcome.survived == outcome.kills


# ---- deletions fail loudly ----------------------------------------------------------------
def _make_undeletable(path):
    """Make the folder `path` impossible to delete or move, also for root; return an undo."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        os.chmod(path, 0o555)  # its entries cannot be removed
        return lambda: os.chmod(path, mode)
    if shutil.which("chattr") is None:
        pytest.skip("running as root (modes do not stop root) and chattr is missing")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"running as root and chattr +i is not supported here: {done.stderr.strip()}")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def test_delete_layer_that_cannot_be_removed_raises_and_keeps_the_json(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"color": 1, "keep": 2}, shard=CHUNK)
    undo = _make_undeletable(tmp_path / "ds" / "color")
    try:
        with pytest.raises((WkError, OSError)):
            ds.delete_layer("color")
    finally:
        undo()
    reopened = wk.Dataset.open(tmp_path / "ds")
    assert "color" in reopened.layers, "delete_layer failed on disk but dropped the layer from the JSON"
    np.testing.assert_array_equal(read_all(reopened.get_layer("color").get_mag(1)), volume(1))
    reopened.delete_layer("color")  # once the folder is deletable, the deletion works
    assert not (tmp_path / "ds" / "color").exists()
    assert "color" not in wk.Dataset.open(tmp_path / "ds").layers


def test_delete_mag_that_cannot_be_removed_raises_and_keeps_the_json(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"color": 1}, shard=CHUNK, extra_mags=(2,))
    undo = _make_undeletable(tmp_path / "ds" / "color" / "1")
    try:
        with pytest.raises((WkError, OSError)):
            ds.get_layer("color").delete_mag(1)
    finally:
        undo()
    layer = wk.Dataset.open(tmp_path / "ds").get_layer("color")
    assert wk.Mag(1) in layer.mags, "delete_mag failed on disk but dropped the mag from the JSON"
    np.testing.assert_array_equal(read_all(layer.get_mag(1)), volume(1))
    layer.delete_mag(1)
    assert not (tmp_path / "ds" / "color" / "1").exists()
    assert wk.Mag(1) not in wk.Dataset.open(tmp_path / "ds").get_layer("color").mags

