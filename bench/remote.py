"""Reading a dataset from S3: wkpy against tensorstore and webknossos, on the same server, in one run.

    python bench/remote.py [--size tiny|small|medium] [--repeats N] [--cutouts N] [--systems ...]
                           [--endpoint URL --bucket NAME [--key K --secret S]]

Without `--endpoint`, a local S3 server (moto's, `moto[server]`) is started on 127.0.0.1
in a process of its own and stopped at the end. The script writes one Zarr3 mag (uint8
EM-like data from `bench/data.py`, 32³ chunks in 128³ shards, zstd, as webknossos
writes it) locally with wkpy, uploads it, then times

- **O open mag**: open the mag (properties, array metadata, the first connection);
- **R1 read all**: read the whole mag after the open (MB/s of uncompressed voxels);
- **R2 64³ cutouts**: `--cutouts` reads of 64³ voxels at random unaligned offsets after
  one open (median and p95 latency per read);

for tensorstore's S3 driver, webknossos 4.3.3 (`Dataset.open(UPath(...))`), wkpy (the
same call; skipped with its error while wkpy cannot open S3 datasets), wkpy's storage
layer alone (`wkpy.storage.open_array(UPath(...))`, what `MagView` reads through), and
the bare cost the server allows: s3fs fetching the same compressed chunk bytes with the
shard indexes already known (`cat_ranges`, one request per chunk, and neighbours joined
across gaps up to `--max-gap`; R1 also as whole-shard GETs), without decoding.

Each repeat runs in a fresh forked process (`bench/measure.py`); every peer is imported
before timing. Prints a markdown table; the wkpy/peer column is the speed ratio (R1) or
the latency ratio peer/wkpy (O, R2), against the wkpy row (else wkpy's storage row):
above 1 means wkpy is faster.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import em_like  # noqa: E402
from measure import Result, cpu_count, run  # noqa: E402

warnings.filterwarnings("ignore")
SIZES = {"tiny": (128, 128, 128), "small": (256, 256, 256), "medium": (512, 512, 512)}
CHUNK, SHARD, CUTOUT = 32, 128, 64
MB = 1e6
REGION = "us-east-1"

# moto's S3 server, run by `python -c` in its own process: prints its port, serves until stdin closes
SERVER = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class Server:
    """Where the data lives: a local moto server of our own, or `--endpoint`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.proc: subprocess.Popen | None = None
        if args.endpoint:
            self.endpoint = args.endpoint.rstrip("/")
            self.key = args.key or os.environ.get("AWS_ACCESS_KEY_ID", "")
            self.secret = args.secret or os.environ.get("AWS_SECRET_ACCESS_KEY", "")
            self.bucket = args.bucket
            self.make_bucket = False
        else:
            self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
            port = int(self.proc.stdout.readline())
            self.endpoint = f"http://127.0.0.1:{port}"
            self.key = self.secret = "testing"
            self.bucket = f"wkpy-bench-{uuid.uuid4().hex[:8]}"
            self.make_bucket = True
        self.prefix = f"remote-bench-{uuid.uuid4().hex[:8]}"
        # tensorstore reads credentials from profile files (or the environment): files of our own
        self.aws_dir = Path(tempfile.mkdtemp(prefix="wkpy-bench-aws-"))
        (self.aws_dir / "credentials").write_text(
            f"[default]\naws_access_key_id = {self.key}\naws_secret_access_key = {self.secret}\n")
        (self.aws_dir / "config").write_text(f"[default]\nregion = {REGION}\n")

    @property
    def storage_options(self) -> dict:
        return {"endpoint_url": self.endpoint, "key": self.key, "secret": self.secret,
                "client_kwargs": {"region_name": REGION}}

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{key}"

    def upath(self, key: str):
        from upath import UPath

        return UPath(self.url(key), **self.storage_options)

    def ts_kvstore(self, key: str) -> dict:
        return {"driver": "s3", "bucket": self.bucket, "path": f"{self.prefix}/{key.strip('/')}/",
                "endpoint": self.endpoint, "aws_region": REGION,
                "aws_credentials": {"type": "profile", "profile": "default",
                                    "credentials_file": str(self.aws_dir / "credentials"),
                                    "config_file": str(self.aws_dir / "config")}}

    def close(self) -> None:
        try:
            fs = self.fs()
            if self.make_bucket:
                fs.rm(self.bucket, recursive=True)
            else:
                fs.rm(f"{self.bucket}/{self.prefix}", recursive=True)
        finally:
            shutil.rmtree(self.aws_dir, ignore_errors=True)
            if self.proc is not None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()


# ---- the dataset and its chunk byte ranges --------------------------------------------------

def prepare(server: Server, shape: tuple[int, int, int], local: Path) -> dict[str, Any]:
    """Write the mag locally with wkpy, upload it, and return its layout (runs in a child)."""
    import wkpy

    data = em_like(shape)[np.newaxis]
    ds = wkpy.Dataset(local / "ds", voxel_size=(11.2, 11.2, 25))
    layer = ds.add_layer("color", "color", dtype="uint8", data_format="zarr3")
    layer.add_mag(1, chunk_shape=CHUNK, shard_shape=SHARD, compress=True).write(
        data, absolute_offset=(0, 0, 0), allow_unaligned=True)
    fs = server.fs()
    if server.make_bucket:
        fs.call_s3("create_bucket", Bucket=server.bucket)
    fs.put(str(local / "ds"), f"{server.bucket}/{server.prefix}/ds", recursive=True)
    return {"ranges": chunk_ranges(local / "ds" / "color" / "1", shape), "checksum": int(data.sum())}


def chunk_ranges(mag: Path, shape: tuple[int, int, int]) -> dict[tuple[int, int, int], tuple[str, int, int]]:
    """(global chunk x, y, z) -> (key of its shard under the mag, start, stop) of its bytes."""
    per = SHARD // CHUNK
    n = per ** 3
    out = {}
    for sx, sy, sz in np.ndindex(*(-(-d // SHARD) for d in shape)):
        key = f"c/0/{sx}/{sy}/{sz}"
        raw = (mag / key).read_bytes()
        index = np.frombuffer(raw[-(n * 16 + 4):-4], dtype="<u8").reshape(n, 2)  # (offset, nbytes), crc32c
        for i, (offset, nbytes) in enumerate(index):
            if offset == 2**64 - 1:
                continue
            cx, cy, cz = np.unravel_index(i, (per, per, per))  # C order over the shard's chunk grid
            out[(sx * per + int(cx), sy * per + int(cy), sz * per + int(cz))] = (key, int(offset), int(offset + nbytes))
    return out


def cutouts(shape: tuple[int, int, int], n: int, seed: int = 2) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    return [tuple(int(rng.integers(0, d - CUTOUT + 1)) for d in shape) for _ in range(n)]


def ranges_of(box: tuple[int, int, int], ranges: dict) -> list[tuple[str, int, int]]:
    lo = [o // CHUNK for o in box]
    hi = [(o + CUTOUT - 1) // CHUNK for o in box]
    chunks = (tuple(a + d for a, d in zip(lo, delta)) for delta in np.ndindex(*(b - a + 1 for a, b in zip(lo, hi))))
    return [ranges[c] for c in chunks if c in ranges]


# ---- systems ----------------------------------------------------------------------------------

class WkApi:
    """wkpy or webknossos: `Dataset.open(UPath(...))`, then `MagView.read`."""

    def __init__(self, module: str) -> None:
        self.name = module

    def open(self, server: Server):
        wk = importlib.import_module(self.name)
        return wk.Dataset.open(server.upath("ds")).get_layer("color").get_mag(1)

    def read(self, mag, offset, size) -> np.ndarray:
        return mag.read(absolute_offset=offset, size=size)


class WkpyArray:
    """wkpy's storage layer alone (the mag's array on its store, as `MagView` uses it):
    measurable before `Dataset.open` takes remote paths."""

    name = "wkpy storage.open_array"

    def open(self, server: Server):
        from wkpy.storage import open_array

        return open_array(server.upath("ds/color/1"), "zarr3")

    def read(self, arr, offset, size) -> np.ndarray:
        return arr.read(tuple(offset), tuple(size))


class TensorStore:
    name = "tensorstore"

    def open(self, server: Server):
        import tensorstore as ts

        return ts.open({"driver": "zarr3", "kvstore": server.ts_kvstore("ds/color/1")}, read=True).result()

    def read(self, arr, offset, size) -> np.ndarray:
        (x, y, z), (a, b, c) = offset, size
        return arr[:, x:x + a, y:y + b, z:z + c].read().result()


def probe(system, server: Server, shape) -> str | None:
    """None if `system` opens and reads the mag correctly, else why not (in a child)."""
    def go() -> str | None:
        try:
            got = system.read(system.open(server), (0, 0, 0), (CHUNK, CHUNK, CHUNK))
            want = em_like(shape)[np.newaxis, :CHUNK, :CHUNK, :CHUNK]
            return None if np.array_equal(got, want) else "read wrong voxels"
        except Exception as exc:  # noqa: BLE001 - reported, the system is skipped
            return f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    return run(go, 1).extra


# ---- workloads --------------------------------------------------------------------------------

def bench(args: argparse.Namespace, server: Server, shape, layout: dict, systems: list) -> list[tuple]:
    """The rows (workload, system, Result, nbytes or None for latencies) of every workload."""
    rows: list[tuple] = []
    nbytes = int(np.prod(shape))
    ranges = layout["ranges"]
    offsets = cutouts(shape, args.cutouts)
    fs_args = server.storage_options
    mag_prefix = f"{server.bucket}/{server.prefix}/ds/color/1/"
    first_key = mag_prefix + next(iter(ranges.values()))[0]

    def bare_open():
        """An s3fs client that has made its connection (the bare fetches' "open")."""
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True, **fs_args)
        fs.cat_file(first_key, start=0, end=1)
        return fs

    def fetch(fs, keys: list[tuple[str, int, int]], max_gap: int | None = None) -> None:
        paths, starts, ends = [mag_prefix + k for k, _, _ in keys], [a for _, a, _ in keys], [b for _, _, b in keys]
        if max_gap is not None:
            from fsspec.utils import merge_offset_ranges

            paths, starts, ends = merge_offset_ranges(paths, starts, ends, max_gap=max_gap, sort=True)
        fs.cat_ranges(paths, starts, ends, on_error="raise")

    class Bare:
        """The compressed bytes a reader must fetch, by s3fs (no decoding, indexes known)."""

        name = "s3fs cat_ranges (chunk bytes)"

        def open(self, server: Server):
            return bare_open()

        def read(self, fs, offset, size) -> None:
            fetch(fs, list(ranges.values()) if tuple(size) == tuple(shape) else ranges_of(offset, ranges))

    class BareCoalesced(Bare):
        name = f"s3fs cat_ranges (chunk bytes, gaps ≤ {args.max_gap // 1024} KiB joined)"

        def read(self, fs, offset, size) -> None:
            fetch(fs, list(ranges.values()) if tuple(size) == tuple(shape) else ranges_of(offset, ranges),
                  args.max_gap)

    class BareShards(Bare):
        name = "s3fs cat (whole shards)"

        def read(self, fs, offset, size) -> None:
            fs.cat([mag_prefix + k for k in sorted({k for k, _, _ in ranges.values()})])

    def repeated(fn) -> tuple[dict[str, list[float]], int]:
        """Each repeat of `fn` in a fresh fork; its named durations, gathered, and the peak RSS."""
        out: dict[str, list[float]] = {}
        peak = 0
        for _ in range(args.repeats):
            r = run(fn, 1)
            peak = max(peak, r.peak_bytes)
            for name, values in r.extra.items():
                out.setdefault(name, []).extend(values)
        return out, peak

    for s in [*systems, Bare(), BareCoalesced(), BareShards()]:
        def read_all(s=s) -> dict[str, list[float]]:
            t0 = time.perf_counter()
            handle = s.open(server)
            t1 = time.perf_counter()
            got = s.read(handle, (0, 0, 0), shape)
            t2 = time.perf_counter()
            if got is not None:
                assert got.shape[-3:] == tuple(shape) and int(got.sum()) == layout["checksum"]
            return {"open": [t1 - t0], "read": [t2 - t1]}

        times, peak = repeated(read_all)
        rows.append(("R1 read all (after open)", s.name, Result(times["read"], peak), nbytes))
        if type(s) is not BareShards and type(s) is not BareCoalesced:
            rows.append(("O open mag", s.name, Result(times["open"], peak), None))

    for s in [*systems, Bare(), BareCoalesced()]:
        def cut(s=s) -> dict[str, list[float]]:
            handle = s.open(server)
            lat = []
            for off in offsets:
                t0 = time.perf_counter()
                s.read(handle, off, (CUTOUT,) * 3)
                lat.append(time.perf_counter() - t0)
            return {"lat": lat}

        times, peak = repeated(cut)
        rows.append((f"R2 {args.cutouts}×64³ cutouts", s.name, Result(times["lat"], peak), None))
    order = {w: i for i, w in enumerate(dict.fromkeys(["O open mag"] + [r[0] for r in rows]))}
    return sorted(rows, key=lambda r: order[r[0]])


def report(rows: list[tuple]) -> None:
    """A markdown table; ratios against the `wkpy` row (Dataset.open), else wkpy's array row."""
    wkpy: dict[str, Result] = {}
    for workload, system, res, _ in rows:
        if system == "wkpy" or (system == WkpyArray.name and workload not in wkpy):
            wkpy[workload] = res
    print("\n| workload | system | median | min–max / p95 | peak RSS | wkpy/peer |")
    print("|---|---|---:|---:|---:|---:|")
    for workload, system, res, nbytes in rows:
        ratio = ""
        if nbytes is not None:
            speeds = [nbytes / s / MB for s in res.seconds]
            med = nbytes / res.median / MB
            text = f"{med:.1f} MB/s", f"{min(speeds):.1f}–{max(speeds):.1f}"
            if not system.startswith("wkpy") and workload in wkpy:
                ratio = f"{res.median / wkpy[workload].median:.2f}×"
        else:
            lat = sorted(res.seconds)
            text = f"{statistics.median(lat) * 1e3:.1f} ms", f"p95 {np.percentile(lat, 95) * 1e3:.1f} ms"
            if not system.startswith("wkpy") and workload in wkpy:
                ratio = f"{statistics.median(lat) / statistics.median(wkpy[workload].seconds):.2f}×"
        print(f"| {workload} | {system} | {text[0]} | {text[1]} | {res.peak_bytes / 2**20:.0f} MiB | {ratio} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=SIZES, default="small")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cutouts", type=int, default=50, help="64³ reads per repeat (R2)")
    ap.add_argument("--max-gap", type=int, default=1 << 16,
                    help="bytes between chunk ranges that a coalesced bare fetch reads through (default 64 KiB)")
    ap.add_argument("--systems", default="wkpy,wkpy-array,webknossos,tensorstore",
                    help="comma-separated subset of wkpy (Dataset.open), wkpy-array (storage.open_array), "
                         "webknossos, tensorstore")
    ap.add_argument("--endpoint", help="an S3 endpoint URL to use instead of a local moto server")
    ap.add_argument("--bucket", help="an existing bucket at --endpoint (a prefix of our own is used and removed)")
    ap.add_argument("--key", help="access key for --endpoint (default: $AWS_ACCESS_KEY_ID)")
    ap.add_argument("--secret", help="secret key for --endpoint (default: $AWS_SECRET_ACCESS_KEY)")
    args = ap.parse_args()
    if args.endpoint and not args.bucket:
        ap.error("--endpoint needs --bucket")
    for need in ("s3fs", "upath") + (() if args.endpoint else ("moto",)):
        if not have(need):
            sys.exit(f"{need} is missing: pip install '.[s3]' 'moto[server]'")
    wanted = [x.strip() for x in args.systems.split(",") if x.strip()]
    systems = []
    for name in wanted:
        module = "wkpy" if name == "wkpy-array" else name
        if not have(module):
            print(f"note: {module} is not installed; its rows are skipped (pip install '.[bench]')")
            continue
        importlib.import_module(module)  # before any timing: every timed run is a fork of this process
        systems.append(TensorStore() if name == "tensorstore" else WkpyArray() if name == "wkpy-array"
                       else WkApi(name))
    if any(isinstance(s, WkpyArray) for s in systems):
        importlib.import_module("wkpy.storage")
    importlib.import_module("s3fs")
    importlib.import_module("upath")

    shape = SIZES[args.size]
    server = Server(args)
    local = Path(tempfile.mkdtemp(prefix="wkpy-remote-bench-"))
    try:
        layout = run(lambda: prepare(server, shape, local), 1).extra
        compressed = sum(b - a for _, a, b in layout["ranges"].values())
        shards = len({k for k, _, _ in layout["ranges"].values()})
        for s in list(systems):
            why = probe(s, server, shape)
            if why is not None:
                print(f"note: {s.name} skipped: it cannot read the dataset on S3 ({why})")
                systems.remove(s)
        load = os.getloadavg()
        print(f"volume {shape} uint8 ({np.prod(shape) / MB:.0f} MB; {compressed / MB:.1f} MB compressed in "
              f"{len(layout['ranges'])} chunks of {CHUNK}³, {shards} shards of {SHARD}³), "
              f"{'local moto server (own process)' if server.proc else server.endpoint}, {cpu_count()} cores, "
              f"{args.repeats} repeats, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        rows = bench(args, server, shape, layout, systems)
        report(rows)
        load = os.getloadavg()
        print(f"\nload at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    finally:
        shutil.rmtree(local, ignore_errors=True)
        server.close()


if __name__ == "__main__":
    main()
