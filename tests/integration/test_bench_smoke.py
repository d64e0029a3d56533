"""bench/ runs end to end at its smallest size (a smoke test: no assertion about speed)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_bench_runs_at_small_size():
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--size", "small", "--repeats", "1",
                           "--only", "W1,R1,P1,P2", "--systems", "wkpy,wkw"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout
    for row in ("W1 write 1 call", "R1 read all", "P1 2 threads, 2 shards", "P2 W1 2 thr, 1 shard",
                "P2 R1 1 thr, 4 shards", "lz4 compress (1 core)", "wkw R1 1 shard: two threads"):
        assert row in table
    assert "wkpy" in table and "MB/s" in table


def test_scaling_bench_runs_at_a_small_size():
    done = subprocess.run([sys.executable, str(BENCH / "scaling.py"), "--side", "64", "--depth", "64",
                           "--repeats", "1"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("W1 wkw", "R1 wkw", "W1 zarr3", "R1 blosc", "Amdahl 2/1"):
        assert row in done.stdout


def test_nd_bench_runs_at_tiny_size():
    done = subprocess.run([sys.executable, str(BENCH / "nd.py"), "--size", "tiny", "--repeats", "1",
                           "--systems", "wkpy"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("W write 1 call", "W write 2 calls (1 per t)", "R read all", "R read 1 time point", "wkpy 3-D"):
        assert row in done.stdout


@pytest.mark.slow
def test_remote_bench_runs_at_tiny_size():
    """bench/remote.py starts its own S3 server, uploads, reads and cleans up (~30 s)."""
    for module in ("moto.server", "s3fs", "upath", "tensorstore"):
        pytest.importorskip(module)
    done = subprocess.run([sys.executable, str(BENCH / "remote.py"), "--size", "tiny", "--repeats", "1",
                           "--cutouts", "2", "--systems", "wkpy,tensorstore"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("| O open mag | tensorstore", "| R1 read all (after open) | s3fs cat (whole shards)",
                "| R2 2×64³ cutouts | s3fs cat_ranges (chunk bytes) |"):
        assert row in done.stdout, done.stdout
    assert "| wkpy |" in done.stdout or "note: wkpy skipped" in done.stdout
