"""Timing and memory of one workload, each repeat in a forked child (clean peak RSS)."""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _rss_kib(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name):
                return int(line.split()[1])
    return 0


def _child(fn: Callable[[], Any], conn: Any) -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak RSS to the current RSS
            f.write("5")
    except OSError:
        pass
    base = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    extra = fn()
    elapsed = time.perf_counter() - t0
    conn.send((elapsed, (_rss_kib("VmHWM") - base) * 1024, extra))
    conn.close()


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)
    peak_bytes: int = 0
    extra: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run(fn: Callable[[], Any], repeats: int, setup: Callable[[], None] | None = None) -> Result:
    """Run `fn` `repeats` times, each in a fresh fork; `setup` runs in the parent before each."""
    ctx = mp.get_context("fork")
    result = Result()
    for _ in range(repeats):
        if setup is not None:
            setup()
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(fn, child))
        proc.start()
        child.close()
        try:
            elapsed, peak, extra = parent.recv()
        except EOFError:
            proc.join()
            raise RuntimeError(f"benchmark child failed (exit code {proc.exitcode})") from None
        proc.join()
        result.seconds.append(elapsed)
        result.peak_bytes = max(result.peak_bytes, peak)
        result.extra = extra
    return result


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
