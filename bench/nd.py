"""A 4-D (t, x, y, z) layer against the same voxels as a 3-D layer, and against webknossos
4.3.3 and tensorstore on the same 4-D array.

    python bench/nd.py [--size small|full] [--repeats N] [--slow-repeats N] [--systems wkpy,...]

The 4-D layer is what an image import of a t, z, y, x TIFF makes (axes t, c, x, y, z,
``additionalAxes`` t): Zarr3, 32³ chunks in 128³ shards (one voxel deep along t), zstd-5,
as webknossos writes it. "wkpy 3-D" holds the same voxels in one x, y, z layer with the
time points one after another along z (the same chunks and shards). Workloads: the whole
array in one call, one call per time point, and reads of everything and of one time
point. Prints one table in `run.py`'s format: median throughput (MB/s of uncompressed
voxels), min–max over the repeats, peak extra RSS, and wkpy 4-D's speed over each other
row's (above 1: the 4-D layer in wkpy is faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import em_like  # noqa: E402
from measure import Result, cpu_count, run  # noqa: E402

warnings.filterwarnings("ignore")
SIZES = {"tiny": (2, 32), "small": (4, 128), "full": (8, 256)}   # (time points, side of each cube)
CHUNK, SHARD = 32, 128
MB = 1e6


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class NdApi:
    """wkpy or webknossos: a t, c, x, y, z layer written and read with `NDBoundingBox`es."""

    def __init__(self, module: str) -> None:
        self.name = module
        self.module = module

    def wk(self):
        return __import__(self.module)

    def box(self, t0: int, nt: int, side: int):
        return self.wk().NDBoundingBox(topleft=(t0, 0, 0, 0, 0), size=(nt, 1, side, side, side),
                                       axes=("t", "c", "x", "y", "z"), index=(0, 1, 2, 3, 4))

    def create(self, path: Path, nt: int, side: int):
        wk = self.wk()
        ds = wk.Dataset(path, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3", bounding_box=self.box(0, nt, side))
        return layer.add_mag(1, chunk_shape=CHUNK, shard_shape=SHARD)

    def write(self, path: Path, data: np.ndarray, per_t: bool) -> None:
        nt, side = data.shape[0], data.shape[2]
        mag = self.create(path, nt, side)
        steps = [(t, 1) for t in range(nt)] if per_t else [(0, nt)]
        for t0, n in steps:
            mag.write(data[t0:t0 + n], absolute_bounding_box=self.box(t0, n, side), allow_unaligned=True)

    def read(self, path: Path, t0: int, nt: int, side: int) -> np.ndarray:
        mag = self.wk().Dataset.open(path).get_layer("color").get_mag(1)
        return mag.read(absolute_bounding_box=self.box(t0, nt, side))


class Wkpy3d:
    """wkpy, the same voxels in an x, y, z layer: time point t at z = t * side."""

    name = "wkpy 3-D"

    def write(self, path: Path, data: np.ndarray, per_t: bool) -> None:
        import wkpy

        nt, side = data.shape[0], data.shape[2]
        ds = wkpy.Dataset(path, voxel_size=(1, 1, 1))
        mag = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3").add_mag(
            1, chunk_shape=CHUNK, shard_shape=SHARD)
        if per_t:
            for t in range(nt):
                mag.write(data[t], absolute_offset=(0, 0, t * side), allow_unaligned=True)
        else:   # (t, c, x, y, z) -> (c, x, y, t·z): the one copy is part of what this layout costs
            mag.write(np.concatenate(list(data), axis=3), absolute_offset=(0, 0, 0), allow_unaligned=True)

    def read(self, path: Path, t0: int, nt: int, side: int) -> np.ndarray:
        import wkpy

        mag = wkpy.Dataset.open(path).get_layer("color").get_mag(1)
        return mag.read(absolute_offset=(0, 0, t0 * side), size=(side, side, nt * side))


class TensorStore:
    """tensorstore on the Zarr3 array webknossos writes for the 4-D layer."""

    name = "tensorstore"

    def spec(self, path: Path, shape: tuple[int, ...], create: bool) -> dict:
        spec: dict = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "color" / "1")}}
        if create:
            inner = [{"name": "transpose", "configuration": {"order": [4, 3, 2, 1, 0]}},
                     {"name": "bytes", "configuration": {"endian": "little"}},
                     {"name": "zstd", "configuration": {"level": 5, "checksum": True}}]
            spec.update(create=True, delete_existing=True, metadata={
                "shape": list(shape), "data_type": "uint8", "dimension_names": ["t", "c", "x", "y", "z"],
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, 1, SHARD, SHARD, SHARD]}},
                "codecs": [{"name": "sharding_indexed", "configuration": {
                    "chunk_shape": [1, 1, CHUNK, CHUNK, CHUNK], "codecs": inner,
                    "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                    "index_location": "end"}}]})
        return spec

    def write(self, path: Path, data: np.ndarray, per_t: bool) -> None:
        import tensorstore as ts

        arr = ts.open(self.spec(path, data.shape, True)).result()
        if per_t:
            for t in range(data.shape[0]):
                arr[t:t + 1].write(data[t:t + 1]).result()
        else:
            arr.write(data).result()

    def read(self, path: Path, t0: int, nt: int, side: int) -> np.ndarray:
        import tensorstore as ts

        return ts.open(self.spec(path, (), False)).result()[t0:t0 + nt].read().result()


def systems(wanted: set[str]) -> list:
    out: list = [NdApi("wkpy"), Wkpy3d()]
    if have("webknossos"):
        out.append(NdApi("webknossos"))
    if have("tensorstore"):
        out.append(TensorStore())
    return [s for s in out if not wanted or s.name in wanted or s.name.split()[0] in wanted]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=SIZES, default="full")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slow-repeats", type=int, default=None, help="repeats for webknossos (default: --repeats)")
    ap.add_argument("--systems", default="", help="comma-separated subset of wkpy,wkpy 3-D,webknossos,tensorstore")
    args = ap.parse_args()
    for peer in ("webknossos", "tensorstore"):
        if not have(peer):
            print(f"note: {peer} is not installed; its rows are skipped (pip install '.[bench]')")
    nt, side = SIZES[args.size]
    data = np.stack([em_like((side, side, side), seed=t)[np.newaxis] for t in range(nt)])   # (t, c, x, y, z)
    one_t = data[3 % nt].nbytes
    root = Path(tempfile.mkdtemp(prefix="wkpy-bench-nd-"))
    rows: list[tuple[str, str, Result, int]] = []
    chosen = systems({x.strip() for x in args.systems.split(",") if x.strip()})
    for system in chosen:   # imported once here, so that no repeat (a forked child) times an import
        __import__(getattr(system, "module", system.name.split()[0]))
    try:
        print(f"t={nt} × {side}³ uint8 ({data.nbytes / MB:.0f} MB), Zarr3 {CHUNK}³ chunks in {SHARD}³ shards, "
              f"{cpu_count()} cores, {args.repeats} repeats, numpy {np.__version__}")
        for system in chosen:
            repeats = args.slow_repeats or args.repeats if system.name == "webknossos" else args.repeats
            path = root / system.name.replace(" ", "-")

            def fresh(p: Path = path) -> None:
                shutil.rmtree(p, ignore_errors=True)

            for label, per_t in (("W write 1 call", False), (f"W write {nt} calls (1 per t)", True)):
                rows.append((label, system.name, run(lambda: system.write(path, data, per_t), repeats, fresh),
                             data.nbytes))
            run(lambda: system.write(path, data, False), 1, fresh)

            def read_all() -> None:
                got = system.read(path, 0, nt, side)
                assert got.size == data.size

            def read_one() -> None:
                got = system.read(path, 3 % nt, 1, side)
                assert got.size == one_t

            rows.append(("R read all", system.name, run(read_all, repeats), data.nbytes))
            rows.append(("R read 1 time point", system.name, run(read_one, repeats), one_t))
            fresh()
        report(rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(rows: list[tuple[str, str, Result, int]]) -> None:
    print(f"\n{'workload':26} {'system':12} {'median':>12} {'min–max':>19} {'peak RSS':>10} {'wkpy/peer':>9}")
    ours = {workload: res for workload, system, res, _ in rows if system == "wkpy"}
    for workload, system, res, nbytes in sorted(rows, key=lambda r: [w for w, *_ in rows].index(r[0])):
        speed = [nbytes / s / MB for s in res.seconds]
        ratio = f"{res.median / ours[workload].median:8.2f}×" if system != "wkpy" and workload in ours else ""
        print(f"{workload:26} {system:12} {nbytes / res.median / MB:7.1f} MB/s {min(speed):8.1f}–{max(speed):.1f} "
              f"{res.peak_bytes / 2**20:7.0f} MiB {ratio:>9}")


if __name__ == "__main__":
    main()
