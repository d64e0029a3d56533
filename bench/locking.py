"""What the shard locks cost: writers of disjoint shards with and without them.

    python bench/locking.py [--shards N] [--side S] [--repeats R]

Locks are switched off by replacing wkpy.locking.path_lock with a no-op in the storage
modules (the mag lock in `wkpy.storage.array`, the shard locks in `wkpy.storage.store`;
only for this measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import em_like  # noqa: E402

import wkpy as wk  # noqa: E402
import wkpy.storage.array as array_storage  # noqa: E402
import wkpy.storage.store as store_storage  # noqa: E402


def measure(root: Path, fmt: str, compress: bool, side: int, shards: int, locked: bool) -> float:
    real = store_storage.path_lock
    if not locked:
        for mod in (array_storage, store_storage):
            mod.path_lock = lambda *a, **k: contextlib.nullcontext()  # type: ignore[assignment]
    try:
        shutil.rmtree(root, ignore_errors=True)
        mag = wk.Dataset(root, voxel_size=(1, 1, 1)).add_layer("c", "color", data_format=fmt).add_mag(
            1, chunk_shape=32, shard_shape=side, compress=compress)
        block = em_like((side, side, side))[np.newaxis]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda i: mag.write(block, absolute_offset=(i * side, 0, 0), json_update_allowed=False),
                          range(shards)))
        return shards * block.nbytes / (time.perf_counter() - t0) / 1e6
    finally:
        for mod in (array_storage, store_storage):
            mod.path_lock = real  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=64)
    ap.add_argument("--side", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wkpy-lock-"))
    print(f"{args.shards} disjoint {args.side}³ uint8 shards, 2 writer threads, median of {args.repeats}")
    try:
        for fmt, compress in (("wkw", True), ("wkw", False), ("zarr3", True)):
            runs = {True: [], False: []}
            for _ in range(args.repeats):
                for locked in (True, False):
                    runs[locked].append(measure(root / "ds", fmt, compress, args.side, args.shards, locked))
            on, off = statistics.median(runs[True]), statistics.median(runs[False])
            print(f"{fmt:6} {'compressed' if compress else 'raw':10} locked {on:8.1f} MB/s   unlocked {off:8.1f} MB/s"
                  f"   cost {(off - on) / off:+.1%}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
