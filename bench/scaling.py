"""W1/R1 with one and two I/O threads, judged by CPU time (usable on a busy machine).

    python bench/scaling.py [--side 512] [--depth 256] [--repeats 5] [--formats wkw,zarr3,blosc]

Writes an EM-like volume (`bench/data.py`) into one new 1024³ shard (W1) and reads it back
whole (R1), through `wkpy.Dataset`, alternating ``WKPY_IO_THREADS`` 1 and 2 in one process.
For each row: median wall time and MB/s per thread count and their ratio (meaningful on a
quiet machine only), the process CPU time of each, and from the two-thread runs the
*serial* CPU -- what the calling thread spends before the first kernel call (encode or
decode) of the pool starts and after the last one ends, while no other thread can help.
Amdahl's bound for two threads is then ``cpu2 / (serial + (cpu2 - serial) / 2)``: the
speed-up a quiet 2-core machine would show if the parallel part were evenly shared and
took no more CPU than the two-thread run did; "predicted" puts the one-thread CPU time
over that denominator, so it also counts what running on two threads costs in CPU
(``cpu2 / cpu1``: contention for memory, page faults, hand-offs). Other processes on the
cores stretch wall times, not CPU times, so these are the figures to compare between
builds while others run (medians over the repeats; each repeat runs one thread count
after the other, alternating which goes first).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import em_like  # noqa: E402

BLOSC = [{"name": "transpose", "configuration": {"order": [3, 2, 1, 0]}},
         {"name": "bytes", "configuration": {"endian": "little"}},
         {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 1,
                                             "blocksize": 0}}]


class Probe:
    """Wraps the kernels' parallel calls: the main thread's CPU clock at the first start and
    last end of any of them within one operation."""

    def __init__(self) -> None:
        self.main = time.pthread_getcpuclockid(threading.main_thread().ident)
        self.lock = threading.Lock()
        self.first: float | None = None
        self.last = 0.0
        self.kernel_cpu = 0.0

    def clock(self) -> float:
        return time.clock_gettime(self.main)

    def wrap(self, module, name: str) -> None:
        f = getattr(module, name)

        def g(*a, **k):
            t0, c0 = self.clock(), time.thread_time()
            with self.lock:
                if self.first is None:
                    self.first = t0
            try:
                return f(*a, **k)
            finally:
                c1, t1 = time.thread_time(), self.clock()
                with self.lock:
                    self.last = max(self.last, t1)
                    self.kernel_cpu += c1 - c0
        setattr(module, name, g)

    def reset(self) -> None:
        self.first, self.last, self.kernel_cpu = None, 0.0, 0.0


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--depth", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--formats", default="wkw,zarr3,blosc", help="wkw (LZ4), zarr3 (zstd-5), blosc (Zarr3, lz4)")
    ap.add_argument("--tensorstore", action="store_true",
                    help="also W1 zarr3 (zstd-5) by tensorstore (its own threads), alternated with wkpy's two")
    args = ap.parse_args()

    import wkpy
    from wkcore import _shard, _wkw
    from wkpy import executor
    from wkpy.storage.zarr3 import Zarr3Config

    probe = Probe()
    for name in ("encode", "decode"):
        probe.wrap(_shard, name)
    for name in ("encode_range", "decode"):
        probe.wrap(_wkw, name)
    shape = (args.side, args.side, args.depth)
    data = em_like(shape)[np.newaxis]
    root = Path(tempfile.mkdtemp(prefix="wkpy-scaling-"))
    print(f"volume {shape} uint8 ({data.nbytes / 1e6:.0f} MB) into one 1024³ shard, {args.repeats} repeats, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'row':14} {'T=1 MB/s':>9} {'T=2 MB/s':>9} {'wall 2/1':>8} {'cpu1 ms':>8} {'cpu2 ms':>8} "
          f"{'serial ms':>9} {'kernels ms':>10} {'Amdahl 2/1':>10} {'predicted':>9}")
    try:
        for fmt in args.formats.split(","):
            comp = Zarr3Config(codecs=BLOSC) if fmt == "blosc" else True
            got: dict = {}
            for rep in range(args.repeats):
                for threads in (1, 2) if rep % 2 == 0 else (2, 1):
                    os.environ["WKPY_IO_THREADS"] = str(threads)
                    executor._reset_after_fork()          # a pool of the new width
                    path = root / f"{fmt}-{threads}"
                    shutil.rmtree(path, ignore_errors=True)
                    ds = wkpy.Dataset(path, voxel_size=(1, 1, 1))
                    mag = ds.add_layer("color", "color", data_format="wkw" if fmt == "wkw" else "zarr3") \
                        .add_mag(1, chunk_shape=32, shard_shape=1024, compress=comp)
                    for what in ("W1", "R1"):
                        probe.reset()
                        c0, m0, w0 = cpu(), probe.clock(), time.perf_counter()
                        if what == "W1":
                            mag.write(data, absolute_offset=(0, 0, 0), allow_unaligned=True)
                        else:
                            mag.read(absolute_offset=(0, 0, 0), size=shape)
                        wall, c, m1 = time.perf_counter() - w0, cpu() - c0, probe.clock()
                        serial = (probe.first - m0) + (m1 - probe.last) if probe.first is not None else m1 - m0
                        got.setdefault((what, threads), []).append((wall, c, serial, probe.kernel_cpu))
            for what in ("W1", "R1"):
                one = [statistics.median(x) for x in zip(*got[(what, 1)])]
                two = [statistics.median(x) for x in zip(*got[(what, 2)])]
                bound = two[1] / (two[2] + (two[1] - two[2]) / 2)
                predicted = one[1] / (two[2] + (two[1] - two[2]) / 2)
                print(f"{what + ' ' + fmt:14} {data.nbytes / one[0] / 1e6:9.0f} {data.nbytes / two[0] / 1e6:9.0f} "
                      f"{one[0] / two[0]:7.2f}× {one[1] * 1e3:8.0f} {two[1] * 1e3:8.0f} {two[2] * 1e3:9.1f} "
                      f"{two[3] * 1e3:10.0f} {bound:9.2f}× {predicted:8.2f}×")
        if args.tensorstore:
            peer(root, data, args.repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load at the end {os.getloadavg()[0]:.1f}")


def peer(root: Path, data: np.ndarray, repeats: int) -> None:
    """W1 zarr3 by wkpy (two threads) and tensorstore alternated: wall and process CPU."""
    import wkpy
    from run import TensorStore
    from wkpy import executor

    os.environ["WKPY_IO_THREADS"] = "2"
    executor._reset_after_fork()
    ts = TensorStore()

    def ours(path: Path) -> None:
        ds = wkpy.Dataset(path, voxel_size=(1, 1, 1))
        ds.add_layer("color", "color", data_format="zarr3").add_mag(1, chunk_shape=32, shard_shape=1024) \
            .write(data, absolute_offset=(0, 0, 0), allow_unaligned=True)

    got: dict = {"wkpy": [], "tensorstore": []}
    for rep in range(repeats + 1):                 # the first round warms both up, uncounted
        for name, fn in (("wkpy", ours), ("tensorstore", lambda p: ts.write(p, data, "zarr3")))[::1 - 2 * (rep % 2)]:
            path = root / f"peer-{name}"
            shutil.rmtree(path, ignore_errors=True)
            c0, w0 = cpu(), time.perf_counter()
            fn(path)
            if rep:
                got[name].append((time.perf_counter() - w0, cpu() - c0))
    (w_us, c_us), (w_ts, c_ts) = ([statistics.median(x) for x in zip(*got[k])] for k in ("wkpy", "tensorstore"))
    print(f"W1 zarr3 wkpy {data.nbytes / w_us / 1e6:.0f} MB/s ({c_us * 1e3:.0f} ms CPU), tensorstore "
          f"{data.nbytes / w_ts / 1e6:.0f} MB/s ({c_ts * 1e3:.0f} ms CPU): wall {w_ts / w_us:.2f}×, "
          f"CPU {c_ts / c_us:.2f}× (tensorstore / wkpy)")


if __name__ == "__main__":
    main()
