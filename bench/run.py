"""wkpy against its peers on the same data, in the same run.

    python bench/run.py [--size small|full] [--only W1,R1,...] [--repeats N]

Prints one table: workload, system, format, median throughput (MB/s of uncompressed
voxels) or latency, min–max over the repeats, peak extra RSS, and the ratio wkpy/peer;
then the machine's limits (memcpy, single-core LZ4/zstd, file write/read) and wkpy's
figures as fractions of them. Peers that are not installed are skipped with a note.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import em_like, labels  # noqa: E402
from measure import Result, cpu_count, run  # noqa: E402

warnings.filterwarnings("ignore")
SIZES = {"small": (128, 128, 64), "medium": (512, 512, 512), "full": (1024, 1024, 512)}
MB = 1e6


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ---- systems: each offers write(path, data, fmt) / read(path, offset, shape, fmt) ---------------

class WkApi:
    """wkpy or webknossos through the full dataset façade."""

    def __init__(self, module: str) -> None:
        self.name = module
        self.module = module

    def wk(self):  # already imported by main(), so that no timed run pays for the import
        return importlib.import_module(self.module)

    def create(self, path: Path, fmt: str, dtype: str, compress: bool = True, shard: int = 1024):
        wk = self.wk()
        ds = wk.Dataset(path, voxel_size=(1, 1, 1))
        layer = ds.add_layer("color", "color" if dtype == "uint8" else "segmentation",
                             dtype=dtype, data_format=fmt,
                             **({} if dtype == "uint8" else {"largest_segment_id": 0}))
        return layer.add_mag(1, chunk_shape=32, shard_shape=shard, compress=compress)

    def write(self, path: Path, data: np.ndarray, fmt: str, compress: bool = True, shard: int = 1024) -> None:
        mag = self.create(path, fmt, data.dtype.name, compress, shard)
        kwargs = {"allow_resize": True} if self.module == "webknossos" else {}
        mag.write(data, absolute_offset=(0, 0, 0), allow_unaligned=True, **kwargs)

    def write_slabs(self, path: Path, data: np.ndarray, fmt: str, depth: int = 8) -> None:
        mag = self.create(path, fmt, data.dtype.name)
        kwargs = {"allow_resize": True} if self.module == "webknossos" else {}
        for z in range(0, data.shape[2], depth):
            mag.write(data[:, :, z:z + depth], absolute_offset=(0, 0, z), allow_unaligned=True, **kwargs)

    def open(self, path: Path):
        return self.wk().Dataset.open(path).get_layer("color").get_mag(1)

    def write_at(self, mag, data: np.ndarray, offset) -> None:
        mag.write(data, absolute_offset=offset, allow_unaligned=True)

    def read(self, mag, offset, shape) -> np.ndarray:
        return mag.read(absolute_offset=offset, size=shape)

    def copy(self, src: Path, dst: Path) -> None:
        self.wk().Dataset.open(src).copy_dataset(dst, compress=True, chunk_shape=32, shard_shape=1024)


class WkwLib:
    """The `wkw` library directly (WKW only)."""

    name = "wkw"
    # wkw writes compressed files only whole: its files here are cubes that tile the volume
    # (512³ for the full size), and it cannot take the 8-slice slabs of W2.

    def write(self, path: Path, data: np.ndarray, fmt: str, compress: bool = True) -> None:
        import wkw

        side = min(512, *data.shape[1:])
        bt = wkw.Header.BLOCK_TYPE_LZ4 if compress else wkw.Header.BLOCK_TYPE_RAW
        with wkw.Dataset.create(str(path), wkw.Header(data.dtype, block_len=32, file_len=side // 32,
                                                      block_type=bt)) as ds:
            ds.write((0, 0, 0), data)

    def open(self, path: Path):
        import wkw

        return wkw.Dataset.open(str(path))

    def read(self, ds, offset, shape) -> np.ndarray:
        return ds.read(offset, shape)


class TensorStore:
    """tensorstore on the Zarr3 array webknossos would write (Zarr3 only)."""

    name = "tensorstore"

    def spec(self, path: Path, shape, dtype: str, compress: bool = True, shard: int = 1024) -> dict:
        codecs = [{"name": "transpose", "configuration": {"order": [3, 2, 1, 0]}},
                  {"name": "bytes", "configuration": {"endian": "little"}}]
        if compress:
            codecs.append({"name": "zstd", "configuration": {"level": 5, "checksum": True}})
        return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "color" / "1")},
                "metadata": {"shape": [1, *shape], "data_type": dtype,
                             "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, shard, shard, shard]}},
                             "codecs": [{"name": "sharding_indexed", "configuration": {
                                 "chunk_shape": [1, 32, 32, 32], "codecs": codecs,
                                 "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                                  {"name": "crc32c"}], "index_location": "end"}}]},
                "create": True, "delete_existing": True}

    def write(self, path: Path, data: np.ndarray, fmt: str, compress: bool = True, shard: int = 1024) -> None:
        import tensorstore as ts

        arr = ts.open(self.spec(path, data.shape[1:], data.dtype.name, compress, shard)).result()
        arr.write(data).result()

    def write_at(self, arr, data: np.ndarray, offset) -> None:
        x, y, z = offset
        arr[:, x:x + 32, y:y + 32, z:z + 32].write(data).result()

    def write_slabs(self, path: Path, data: np.ndarray, fmt: str, depth: int = 8) -> None:
        import tensorstore as ts

        arr = ts.open(self.spec(path, data.shape[1:], data.dtype.name)).result()
        for z in range(0, data.shape[3], depth):
            arr[:, :, :, z:z + depth].write(data[:, :, :, z:z + depth]).result()

    def open(self, path: Path):
        import tensorstore as ts

        return ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "color" / "1")}}).result()

    def read(self, arr, offset, shape) -> np.ndarray:
        x, y, z = offset
        return arr[:, x:x + shape[0], y:y + shape[1], z:z + shape[2]].read().result()


def systems(fmt: str, bench: "Bench | None" = None, workload: str = "") -> list:
    out = [WkApi("wkpy")]
    if have("webknossos"):
        out.append(WkApi("webknossos"))
    if fmt == "wkw" and have("wkw"):
        out.append(WkwLib())
    if fmt == "zarr3" and have("tensorstore"):
        out.append(TensorStore())
    return [s for s in out if bench is None or bench.wanted(workload, s)]


def formats() -> list[str]:
    import wkpy.storage

    return [f for f in ("wkw", "zarr3") if f in wkpy.storage.FORMATS]


# ---- workloads ------------------------------------------------------------------------------

class Bench:
    def __init__(self, size: str, repeats: int, root: Path, slow_repeats: int, skip: set[str]) -> None:
        self.shape = SIZES[size]
        self._repeats = repeats
        self._slow_repeats = slow_repeats
        self.skip = skip
        self.systems: set[str] = set()
        self.root = root
        self.data = em_like(self.shape)[np.newaxis]
        self.labels = labels(self.shape)[np.newaxis]
        self.rows: list[tuple] = []

    def repeats_for(self, system) -> int:
        """webknossos is slow enough at the full size to get fewer repeats (--slow-repeats)."""
        return self._slow_repeats if system.name == "webknossos" else self._repeats

    def wanted(self, workload: str, system) -> bool:
        return f"{workload}:{system.name}" not in self.skip and (not self.systems or system.name in self.systems)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def fresh(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def add(self, workload: str, system: str, fmt: str, result: Result, nbytes: int | None, unit: str = "MB/s") -> None:
        self.rows.append((workload, system, fmt, result, nbytes, unit))

    def prepared(self, system, fmt: str, name: str = "ref") -> Path:
        """A dataset written by `system` to read from."""
        path = self.path(f"{system.name}-{fmt}-{name}")
        if not path.exists():
            run(lambda: system.write(path, self.data, fmt), 1)
        return path

    def w1(self, fmt: str) -> None:
        for s in systems(fmt, self, "W1"):
            p = self.path(f"w1-{s.name}-{fmt}")
            self.add("W1 write 1 call", s.name, fmt, run(lambda: s.write(p, self.data, fmt), self.repeats_for(s),
                                                          lambda: self.fresh(p)), self.data.nbytes)

    def w1_labels(self, fmt: str) -> None:
        for s in systems(fmt, self, "W1L"):
            p = self.path(f"w1l-{s.name}-{fmt}")
            self.add("W1 labels uint32", s.name, fmt, run(lambda: s.write(p, self.labels, fmt), self.repeats_for(s),
                                                           lambda: self.fresh(p)), self.labels.nbytes)

    def w2(self, fmt: str) -> None:
        for s in systems(fmt, self, "W2"):
            if not hasattr(s, "write_slabs"):
                continue
            p = self.path(f"w2-{s.name}-{fmt}")
            self.add("W2 write 8-slice slabs", s.name, fmt,
                     run(lambda: s.write_slabs(p, self.data, fmt), self.repeats_for(s), lambda: self.fresh(p)),
                     self.data.nbytes)

    def w3(self, fmt: str) -> None:
        """32³ chunk-aligned writes into a full shard (issue 16: ≤ 5 ms into a 1024³ Zarr3
        shard): each a fresh random chunk of noise over the bench data, median and p95 latency."""
        side = self.shape[0]
        cube = np.concatenate([self.data] * -(-side // self.shape[2]), axis=3)[..., :side]
        rng = np.random.default_rng(4)
        offsets = [tuple(int(v) * 32 for v in rng.integers(0, side // 32, 3)) for _ in range(100)]
        pieces = [rng.integers(0, 256, (1, 32, 32, 32), dtype=np.uint8) for _ in offsets]
        for s in systems(fmt, self, "W3"):
            if not hasattr(s, "write_at"):
                continue
            ref = self.path(f"w3ref-{s.name}-{fmt}")
            if not ref.exists():
                run(lambda: s.write(ref, cube, fmt, shard=side), 1)
            work = self.path(f"w3-{s.name}-{fmt}")
            count = 100 if s.name == "wkpy" else 5

            def setup() -> None:
                self.fresh(work)
                shutil.copytree(ref, work, symlinks=True)

            def writes() -> tuple[float, float]:
                handle = s.open(work)
                lat = []
                for off, piece in zip(offsets[:count], pieces):
                    t0 = time.perf_counter()
                    s.write_at(handle, piece, off)
                    lat.append(time.perf_counter() - t0)
                return float(np.median(lat)), float(np.percentile(lat, 95))

            self.add(f"W3 32³ into a {side}³ shard", s.name, fmt, run(writes, self.repeats_for(s), setup), None, "ms")

    def r1(self, fmt: str) -> None:
        for s in systems(fmt, self, "R1"):
            p = self.prepared(s, fmt)

            def read_all() -> None:
                got = s.read(s.open(p), (0, 0, 0), self.shape)
                assert got.shape[-3:] == self.shape

            self.add("R1 read all", s.name, fmt, run(read_all, self.repeats_for(s)), self.data.nbytes)

    def r1_labels(self, fmt: str) -> None:
        for s in systems(fmt, self, "R1L"):
            p = self.path(f"{s.name}-{fmt}-labels")
            if not p.exists():
                run(lambda: s.write(p, self.labels, fmt), 1)
            self.add("R1 labels uint32", s.name, fmt,
                     run(lambda: s.read(s.open(p), (0, 0, 0), self.shape), self.repeats_for(s)), self.labels.nbytes)

    def _random_reads(self, n: int, size: int, aligned: bool, seed: int) -> list:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(n):
            hi = [max(1, d - size) for d in self.shape]
            off = [int(rng.integers(0, h)) for h in hi]
            if aligned:
                off = [o // size * size for o in off]
            out.append(tuple(off))
        return out

    def r2(self, fmt: str) -> None:
        offsets = self._random_reads(200, 64, False, 2)
        for s in systems(fmt, self, "R2"):
            p = self.prepared(s, fmt)

            def reads() -> tuple[float, float]:
                handle = s.open(p)
                lat = []
                for off in offsets:
                    t0 = time.perf_counter()
                    s.read(handle, off, (64, 64, 64))
                    lat.append(time.perf_counter() - t0)
                return float(np.median(lat)), float(np.percentile(lat, 95))

            self.add("R2 200×64³ unaligned", s.name, fmt, run(reads, self.repeats_for(s)), None, "ms")
            if s.name == "wkpy":
                def one_thread() -> tuple[float, float]:
                    os.environ["WKPY_IO_THREADS"] = "1"          # (a forked child: its own pool)
                    return reads()

                self.add("R2 1 I/O thread", s.name, fmt, run(one_thread, self.repeats_for(s)), None, "ms")
                self.add("R2 decode only (wkcore)", "wkcore", fmt,
                         run(lambda: decode_times(p / "color" / "1", fmt, offsets, 64), self.repeats_for(s)),
                         None, "ms")

    def r3(self, fmt: str) -> None:
        offsets = self._random_reads(2000, 32, True, 3)
        for s in systems(fmt, self, "R3"):
            p = self.prepared(s, fmt)

            def reads() -> None:
                handle = s.open(p)
                for off in offsets:
                    s.read(handle, off, (32, 32, 32))

            self.add("R3 2000×32³ aligned", s.name, fmt, run(reads, self.repeats_for(s)), 2000 * 32**3)

    def c1(self, fmt: str) -> None:
        for s in systems(fmt, self, "C1"):
            if not hasattr(s, "copy"):
                continue
            src = self.path(f"c1src-{s.name}-{fmt}")
            if not src.exists():
                run(lambda: s.write(src, self.data, fmt, compress=False), 1)
            dst = self.path(f"c1dst-{s.name}-{fmt}")
            self.add("C1 copy raw→compressed", s.name, fmt, run(lambda: s.copy(src, dst), self.repeats_for(s),
                                                                 lambda: self.fresh(dst)), self.data.nbytes)

    def d1(self, fmt: str) -> None:
        """Downsample mag 1 → 2-2-2 (color: webknossos' default median; labels: mode)."""
        for s in systems(fmt, self, "D1"):
            if not isinstance(s, WkApi):
                continue
            for what, name in (("color", "ref"), ("labels", "labels")):
                src = self.path(f"{s.name}-{fmt}-{name}")
                if not src.exists():
                    run(lambda: s.write(src, self.data if what == "color" else self.labels, fmt), 1)
                dst = self.path(f"d1-{s.name}-{fmt}")

                def setup() -> None:
                    self.fresh(dst)
                    shutil.copytree(src, dst, symlinks=True)

                def go() -> None:
                    wk = s.wk()
                    layer = wk.Dataset.open(dst).get_layer("color")
                    layer.downsample_mag(wk.Mag(1), wk.Mag(2))

                nbytes = (self.data if what == "color" else self.labels).nbytes
                self.add(f"D1 downsample {what}", s.name, fmt, run(go, self.repeats_for(s), setup), nbytes)

    def p1(self, fmt: str) -> None:
        """Two threads writing two distinct shards vs one thread writing one.

        wkpy splits the work of one big shard over the cores by itself; P1 turns that off
        (WKPY_IO_THREADS=1) to measure how two Python threads scale on GIL-free kernels.
        """
        import wkpy

        shard = min(256, self.shape[0])
        block = np.ascontiguousarray(self.data[:, :shard, :shard, :min(shard, self.shape[2])])

        def writer(threads: int):
            def go() -> None:
                from concurrent.futures import ThreadPoolExecutor

                os.environ["WKPY_IO_THREADS"] = "1"
                p = self.path(f"p1-{threads}-{fmt}")
                shutil.rmtree(p, ignore_errors=True)
                ds = wkpy.Dataset(p, voxel_size=(1, 1, 1))
                mag = ds.add_layer("c", "color", data_format=fmt).add_mag(1, shard_shape=shard)
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(lambda i: mag.write(block, absolute_offset=(i * shard, 0, 0),
                                                      json_update_allowed=False), range(threads)))
            return go

        one = run(writer(1), self._repeats)
        two = run(writer(2), self._repeats)
        self.add("P1 1 thread, 1 shard", "wkpy", fmt, one, block.nbytes)
        self.add("P1 2 threads, 2 shards", "wkpy", fmt, two, 2 * block.nbytes)


    def p2(self, fmt: str) -> None:
        """W1 and R1 of the volume with one and with two I/O threads (``WKPY_IO_THREADS``),
        within one shard (the volume in one 1024³ shard, split over the threads by wkpy)
        and across several (cubic shards half the volume wide, each one task)."""
        import wkpy

        half = max(32, 1 << (self.shape[0] // 2 - 1).bit_length())       # a power of two ≥ half the width
        many = int(np.prod([-(-n // half) for n in self.shape]))
        for shard, where in ((1024, "1 shard"), (half, f"{many} shards")):
            p = self.path(f"p2-{fmt}-{shard}")

            def create() -> object:
                self.fresh(p)
                ds = wkpy.Dataset(p, voxel_size=(1, 1, 1))
                return ds.add_layer("color", "color", data_format=fmt).add_mag(1, chunk_shape=32, shard_shape=shard)

            for threads in (1, 2):
                def write(threads: int = threads) -> None:
                    os.environ["WKPY_IO_THREADS"] = str(threads)    # the child's pool starts with it
                    create().write(self.data, absolute_offset=(0, 0, 0), allow_unaligned=True)

                def read(threads: int = threads) -> None:
                    os.environ["WKPY_IO_THREADS"] = str(threads)
                    wkpy.Dataset.open(p).get_layer("color").get_mag(1).read(absolute_offset=(0, 0, 0),
                                                                              size=self.shape)

                self.add(f"P2 W1 {threads} thr, {where}", "wkpy", fmt, run(write, self._repeats), self.data.nbytes)
                if not p.exists():
                    run(lambda: os.environ.__setitem__("WKPY_IO_THREADS", "2") or create().write(
                        self.data, absolute_offset=(0, 0, 0), allow_unaligned=True), 1)
                self.add(f"P2 R1 {threads} thr, {where}", "wkpy", fmt, run(read, self._repeats), self.data.nbytes)


def decode_times(mag: Path, fmt: str, offsets: list, side: int) -> tuple[float, float]:
    """(median, p95) seconds of decoding the chunks each `side`³ cutout at `offsets` touches
    by the `wkcore` kernel alone, one thread: the same box of the same chunks as R2, from
    their bytes already in memory (read before timing, all of them, so that they are no
    warmer in the CPU caches than R2's freshly read bytes), the shard index or jump table
    already parsed and the plan made -- the floor R2 is measured against."""
    import wkpy.storage
    from wkcore import _shard, _wkw
    from wkpy.storage import _zarr_file
    from wkpy.storage.array import split_by_shard

    array = wkpy.storage.open_array(mag, fmt)
    store = array.store
    jobs = []
    for off in offsets:
        size = (side,) * 3
        out = np.zeros((array.info.num_channels, *size), array.info.dtype, order="F")
        if fmt == "wkw":
            layout = array._read_layout
            for part in split_by_shard(off, size, (array._side,) * 3):
                with store.open(array._key(part.shard)) as r:
                    head = bytes(r.read(0, 16))
                    t_off, t_len = _wkw.table_range(layout, head, r.size, part.box, r.name)
                    rows = _wkw.plan(layout, head, r.size, part.box, r.read(t_off, t_len) if t_len else b"")
                    spans = [(o, bytes(b)) for o, b in r.read_spans(rows)]
                jobs.append(functools.partial(_wkw.decode, layout, head, part.box, out, part.start, rows, spans))
        else:
            meta, spec = array._meta, array._spec
            for part in split_by_shard(meta.place(off, 0), meta.place(size, 1), meta.shard):
                with store.open(array._key(part.shard)) as r:
                    rows = _shard.plan(spec, _zarr_file.read_index(r, spec), part.box)
                    spans = [(o, bytes(b)) for o, b in r.read_spans(rows)]
                view = out if meta.canonical == tuple(range(4)) else None
                if view is None:
                    raise NotImplementedError("decode_times: arrays in another axis order")
                jobs.append(functools.partial(_shard.decode, spec, part.box, view, part.start, rows, spans))
        jobs.append(None)                                    # the end of one cutout
    lat, t = [], 0.0
    for job in jobs:
        if job is None:
            lat.append(t)
            t = 0.0
            continue
        t0 = time.perf_counter()
        job()
        t += time.perf_counter() - t0
    return float(np.median(lat)), float(np.percentile(lat, 95))


WORKLOADS = {"W1": ["w1", "w1_labels"], "W2": ["w2"], "W3": ["w3"], "R1": ["r1", "r1_labels"], "R2": ["r2"], "R3": ["r3"],
             "C1": ["c1"], "D1": ["d1"], "P1": ["p1"], "P2": ["p2"]}


# ---- limits -----------------------------------------------------------------------------------

def limits(data: np.ndarray, root: Path) -> dict[str, float]:
    """Single-core throughput (MB/s) of what bounds the workloads, on the same data."""
    from wkcore import _codecs

    buf = data.tobytes()
    block = 32 * 32 * 32
    chunks = [buf[i:i + block] for i in range(0, min(len(buf), 64 * 2**20), block)]
    total = sum(len(c) for c in chunks)

    def best(fn, n=3) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    out = {}
    dst = np.empty_like(data)
    out["memcpy"] = data.nbytes / best(lambda: np.copyto(dst, data)) / MB
    lz4 = [_codecs.lz4_compress_block(c) for c in chunks]
    out["lz4 compress (1 core)"] = total / best(lambda: [_codecs.lz4_compress_block(c) for c in chunks]) / MB
    out["lz4 decompress (1 core)"] = total / best(lambda: [_codecs.lz4_decompress_block(c, block) for c in lz4]) / MB
    out["lz4 ratio"] = total / sum(len(c) for c in lz4)
    zs = [_codecs.zstd_compress_frame(c, 5, True) for c in chunks]
    out["zstd-5 compress (1 core)"] = total / best(lambda: [_codecs.zstd_compress_frame(c, 5, True) for c in chunks]) / MB
    out["zstd-5 decompress (1 core)"] = total / best(lambda: [_codecs.zstd_decompress_frame(c, block) for c in zs]) / MB
    out["zstd-5 ratio"] = total / sum(len(c) for c in zs)
    f = root / "limit.bin"

    def write_file() -> None:
        with open(f, "wb") as h:
            h.write(buf)
            h.flush()
            os.fsync(h.fileno())

    out["file write+fsync"] = len(buf) / best(write_file) / MB
    out["file read (cached)"] = len(buf) / best(lambda: f.read_bytes()) / MB
    f.unlink()
    return out


# ---- report -----------------------------------------------------------------------------------

def report(bench: Bench, lim: dict[str, float]) -> None:
    print(f"\n{'workload':26} {'system':12} {'fmt':6} {'median':>12} {'min–max':>19} {'peak RSS':>10} {'wkpy/peer':>9}")
    medians = {}
    for workload, system, fmt, res, nbytes, unit in bench.rows:
        medians[(workload, system, fmt)] = (res, nbytes, unit)
    for workload, system, fmt, res, nbytes, unit in bench.rows:
        if unit == "MB/s":
            speed = [nbytes / s / MB for s in res.seconds]
            med, lo, hi = nbytes / res.median / MB, min(speed), max(speed)
            text = f"{med:9.1f} MB/s", f"{lo:8.1f}–{hi:.1f}"
        else:
            med_lat, p95 = res.extra
            med = med_lat
            text = f"{med_lat * 1e3:7.2f} ms", f"p95 {p95 * 1e3:.2f} ms"
        ratio = ""
        ours = medians.get((workload, "wkpy", fmt))
        if system != "wkpy" and ours is not None:
            if unit == "MB/s":
                ratio = f"{res.median / ours[0].median:8.2f}×"
            else:
                ratio = f"{res.extra[0] / ours[0].extra[0]:8.2f}×"
        print(f"{workload:26} {system:12} {fmt:6} {text[0]:>12} {text[1]:>19} {res.peak_bytes / 2**20:7.0f} MiB {ratio:>9}")
    print("\nlimits on this machine (same data):")
    for k, v in lim.items():
        print(f"  {k:28} {v:10.1f}" + ("" if "ratio" in k else " MB/s"))
    cores = cpu_count()
    for (workload, system, fmt), (res, nbytes, unit) in medians.items():
        if system != "wkpy" or unit != "MB/s" or fmt != "wkw":
            continue
        speed = nbytes / res.median / MB
        if workload.startswith("W1 write"):
            print(f"  wkpy {workload} = {speed / (cores * lim['lz4 compress (1 core)']):.0%} of cores × LZ4 compress")
        if workload == "R1 read all":
            print(f"  wkpy {workload} = {speed / (cores * lim['lz4 decompress (1 core)']):.0%} of cores × LZ4 decompress")
    for fmt in ("wkw", "zarr3"):
        floor = medians.get(("R2 decode only (wkcore)", "wkcore", fmt))
        if floor:
            got = [f"{name} {medians[(w, 'wkpy', fmt)][0].extra[0] / floor[0].extra[0]:.2f}×"
                   for w, name in (("R2 200×64³ unaligned", "default threads"), ("R2 1 I/O thread", "1 thread"))
                   if (w, "wkpy", fmt) in medians]
            print(f"  wkpy R2 {fmt} / decode of the chunks it touches (median latencies): {', '.join(got)}")
    for (workload, system, fmt), (res, nbytes, unit) in medians.items():
        if workload.startswith("P2") and " 2 thr" in workload:
            one = medians.get((workload.replace(" 2 thr", " 1 thr"), system, fmt))
            if one:
                print(f"  {fmt} {workload[3:5]} {workload.split(', ')[1]}: two threads "
                      f"{one[0].median / res.median:.2f}× one (ideal {min(2, cores)}×)")
    one = medians.get(("P1 1 thread, 1 shard", "wkpy", "wkw"))
    two = medians.get(("P1 2 threads, 2 shards", "wkpy", "wkw"))
    if one and two:
        print(f"  P1 two-thread scaling: {(two[1] / two[0].median) / (one[1] / one[0].median):.2f}× (ideal {min(2, cores)}×)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=SIZES, default="small")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated: " + ",".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--formats", default=None, help="comma-separated subset of wkw,zarr3")
    ap.add_argument("--slow-repeats", type=int, default=None, help="repeats for webknossos (default: --repeats)")
    ap.add_argument("--systems", default="", help="comma-separated subset of wkpy,webknossos,wkw,tensorstore")
    ap.add_argument("--skip", default="", help="comma-separated WORKLOAD:system pairs to leave out, "
                                               "e.g. W2:webknossos (W1L/R1L: the uint32 label rows)")
    args = ap.parse_args()
    for peer in ("webknossos", "wkw", "tensorstore", "zarr"):
        if not have(peer):
            print(f"note: {peer} is not installed; its rows are skipped (pip install '.[bench]')")
        else:  # imported here, before any timing: every timed run is a fork of this process
            importlib.import_module(peer)
    root = Path(tempfile.mkdtemp(prefix="wkpy-bench-"))
    try:
        bench = Bench(args.size, args.repeats, root, args.slow_repeats or args.repeats,
                      {x.strip() for x in args.skip.split(",") if x.strip()})
        bench.systems = {x.strip() for x in args.systems.split(",") if x.strip()}
        print(f"volume {bench.shape} uint8 ({bench.data.nbytes / MB:.0f} MB), {cpu_count()} cores, "
              f"{args.repeats} repeats, numpy {np.__version__}")
        fmts = args.formats.split(",") if args.formats else formats()
        for key in args.only.split(","):
            for fmt in fmts:
                for method in WORKLOADS[key.strip()]:
                    getattr(bench, method)(fmt)
        report(bench, limits(bench.data, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
