"""Dataset operations on a 512³ uint8 layer: copy (raw WKW → compressed WKW, → Zarr3) and
downsample (mag 1 → 2), with 1 and 2 workers, wkpy next to webknossos on the same data.

    python bench/ops.py [--size N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import em_like  # noqa: E402
from measure import run  # noqa: E402

warnings.filterwarnings("ignore")


def make_source(module: str, path: Path, data: np.ndarray) -> None:
    wk = __import__(module)
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format="wkw")
    kwargs = {"allow_resize": True} if module == "webknossos" else {}
    layer.add_mag(1, compress=False).write(data, absolute_offset=(0, 0, 0), allow_unaligned=True, **kwargs)


def op(module: str, name: str, src: Path, dst: Path, workers: int):
    def go() -> None:
        os.environ["WKPY_IO_THREADS"] = str(workers)
        wk = __import__(module)
        if module == "webknossos":  # webknossos wants a cluster_tools executor (its own default kind)
            import cluster_tools

            executor = cluster_tools.get_executor("multiprocessing", max_workers=workers)
        else:
            executor = ThreadPoolExecutor(workers)
        with executor as pool:
            if name == "copy → wkw lz4":
                wk.Dataset.open(src).copy_dataset(dst, compress=True, data_format="wkw", executor=pool)
            elif name == "copy → zarr3":
                wk.Dataset.open(src).copy_dataset(dst, compress=True, data_format="zarr3", executor=pool)
            else:
                layer = wk.Dataset.open(dst).get_layer("color")
                layer.downsample_mag(wk.Mag(1), wk.Mag(2), executor=pool)
    return go


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    data = em_like((args.size,) * 3)[np.newaxis]
    root = Path(tempfile.mkdtemp(prefix="wkpy-ops-"))
    print(f"{args.size}³ uint8 ({data.nbytes / 1e6:.0f} MB), median of {args.repeats}")
    print(f"{'operation':18} {'workers':>7} {'wkpy MB/s':>10} {'webknossos MB/s':>16} {'ratio':>7}")
    try:
        for module in ("wkpy", "webknossos"):
            make_source(module, root / f"src-{module}", data)
        for name in ("copy → wkw lz4", "copy → zarr3", "downsample 1→2"):
            for workers in (1, 2):
                speeds = {}
                for module in ("wkpy", "webknossos"):
                    src = root / f"src-{module}"
                    dst = root / f"dst-{module}"

                    def setup() -> None:
                        shutil.rmtree(dst, ignore_errors=True)
                        if name.startswith("downsample"):
                            shutil.copytree(src, dst, symlinks=True)

                    res = run(op(module, name, src, dst, workers), args.repeats if module == "wkpy" else 1, setup)
                    speeds[module] = data.nbytes / res.median / 1e6
                print(f"{name:18} {workers:7d} {speeds['wkpy']:10.1f} {speeds['webknossos']:16.1f} "
                      f"{speeds['wkpy'] / speeds['webknossos']:6.1f}×")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
