"""bench/ runs end to end at its smallest size (a smoke test: no assertion about speed)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_bench_runs_at_small_size():
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), "--size", "small", "--repeats", "1",
                           "--only", "W1,R1,P1", "--systems", "wkpy,wkw"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout
    for row in ("W1 write 1 call", "R1 read all", "P1 2 threads, 2 shards", "lz4 compress (1 core)"):
        assert row in table
    assert "wkpy" in table and "MB/s" in table


def test_nd_bench_runs_at_tiny_size():
    done = subprocess.run([sys.executable, str(BENCH / "nd.py"), "--size", "tiny", "--repeats", "1",
                           "--systems", "wkpy"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("W write 1 call", "W write 2 calls (1 per t)", "R read all", "R read 1 time point", "wkpy 3-D"):
        assert row in done.stdout
