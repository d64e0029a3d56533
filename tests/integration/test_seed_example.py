"""The seed example runs, and webknossos 4.3.3 reads what it wrote identically."""

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import webknossos

import wkpy as wk
from conftest import SHARED

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed_example.py"


def test_seed_example_runs_and_webknossos_agrees(tmp_path):
    # add_symlink_layer is deprecated in webknossos 4.3.3 (which warns the same): that one is expected
    done = subprocess.run([sys.executable, "-W", "error", "-W", "ignore:Using symlinks is deprecated:DeprecationWarning",
                           str(EXAMPLE), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "seed example done" in done.stdout
    for name in ("my_new_dataset", "copy_of_dataset"):
        ours, theirs = wk.Dataset.open(tmp_path / name), webknossos.Dataset.open(tmp_path / name)
        assert sorted(ours.layers) == sorted(theirs.layers) == ["color", "segmentation"]
        for mag in ("1", "2"):
            a = ours.get_layer("color").get_mag(mag).read()
            b = theirs.get_layer("color").get_mag(mag).read()
            np.testing.assert_array_equal(a, b)
            assert a.any()
    copy_info = wk.Dataset.open(tmp_path / "copy_of_dataset").get_layer("color").get_mag(1).info
    assert (copy_info.chunk_shape, copy_info.shard_shape, copy_info.compression) == ((32,) * 3, (64,) * 3, True)
    link = tmp_path / "copy_of_dataset" / "segmentation"
    assert link.is_symlink() and link.resolve() == (tmp_path / "my_new_dataset" / "segmentation").resolve()


def test_shared_seed_runs_unchanged(tmp_path, monkeypatch):
    seed = SHARED / "spec" / "seed_example.py"
    if not seed.is_file():
        pytest.skip("../shared is missing")
    monkeypatch.chdir(tmp_path)
    with pytest.warns(DeprecationWarning) as seen:   # dtype_per_channel and symlinks, as webknossos 4.3.3 warns
        runpy.run_path(str(seed), run_name="__main__")
    assert {str(w.message).split()[0] for w in seen} <= {"[DEPRECATION]", "Using"}
    assert (tmp_path / "testoutput" / "copy_of_dataset" / "datasource-properties.json").is_file()
