"""The kernel-level benchmark: each `wkcore` kernel alone on in-memory buffers, one thread,
next to the bare codec compressing and decompressing the same 32³ chunks.

    python bench/kernels.py [--side 256] [--repeats 7] [--only zarr3-zstd,wkw-lz4]
    python bench/kernels.py --against /path/to/other/venv/bin/python   # before/after

Rows: Zarr3 shard encode/decode (zstd-5 with checksum as webknossos writes it, blosc lz4
with byte shuffle, no compression) and WKW file encode/decode (LZ4, raw) of one file of
`side`³ uint8 voxels in 32³ chunks, from and into C-ordered and F-ordered (c, x, y, z)
arrays; the Morton/plan walk of a large WKW file and a Zarr3 shard index. The "bare" column
is the codec alone (python-lz4, numcodecs) looping over the same chunks as contiguous bytes
in the file's order (memcpy of them for the uncompressed rows); share = kernel / bare. The
"own" column is the same loop over wkcore's own codec build (`wkcore._codecs`, the LZ4,
zstd and Blosc bundled in C-Blosc2's library, which the kernels link): kernel / own is the
kernel's overhead around its codec, kernel / bare adds the difference between codec builds.

Times are the CPU time of the calling thread (`time.thread_time`, every kernel runs in it),
which other processes on a shared machine disturb much less than wall time; each figure is
the median of `--repeats` runs. `--against PYTHON` runs the same rows under another
interpreter (e.g. a worktree with the old kernels) in alternating child processes and
prints both, so "before" and "after" share the moments of load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import em_like, texture  # noqa: E402

CHUNK = 32
MB = 1e6


def _timed(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds of the calling thread over `repeats` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return statistics.median(times)


def _chunks_f(vol: np.ndarray) -> list[bytes]:
    """The 32³ chunks of `vol` (x, y, z) as Fortran-ordered bytes: what the file stores."""
    n = vol.shape[0] // CHUNK
    return [np.asfortranarray(vol[x * CHUNK:(x + 1) * CHUNK, y * CHUNK:(y + 1) * CHUNK,
                                  z * CHUNK:(z + 1) * CHUNK]).tobytes(order="F")
            for z in range(n) for y in range(n) for x in range(n)]


# ---- bare codecs ------------------------------------------------------------------------------

def _bare(kind: str, chunks: list[bytes], repeats: int) -> tuple[float, float]:
    """(encode, decode) seconds of the bare codec over the chunks."""
    size = len(chunks[0])
    if kind == "lz4":
        import lz4.block
        enc = [lz4.block.compress(c, store_size=False) for c in chunks]
        return (_timed(lambda: [lz4.block.compress(c, store_size=False) for c in chunks], repeats),
                _timed(lambda: [lz4.block.decompress(c, uncompressed_size=size) for c in enc], repeats))
    if kind in ("zstd", "blosc"):
        import numcodecs
        if kind == "zstd":
            codec = numcodecs.Zstd(level=5, checksum=True)
        else:
            numcodecs.blosc.use_threads = False
            codec = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        enc = [codec.encode(c) for c in chunks]
        return (_timed(lambda: [codec.encode(c) for c in chunks], repeats),
                _timed(lambda: [codec.decode(c) for c in enc], repeats))
    # uncompressed: copying the chunk bytes is the floor
    return _copies(chunks, repeats)


def _own(kind: str, chunks: list[bytes], repeats: int) -> tuple[float, float]:
    """(encode, decode) seconds of wkcore's own codec build alone over the chunks (the LZ4,
    zstd and Blosc that C-Blosc2's static library bundles), one call per chunk."""
    from wkcore import _codecs
    size = len(chunks[0])
    if kind == "lz4":
        enc_fn, dec_fn = _codecs.lz4_compress_block, _codecs.lz4_decompress_block
    elif kind == "zstd":
        def enc_fn(c: bytes) -> bytes:
            return _codecs.zstd_compress_frame(c, 5, True)
        dec_fn = _codecs.zstd_decompress_frame
    elif kind == "blosc":
        def enc_fn(c: bytes) -> bytes:
            return _codecs.blosc_compress_chunk(c, "lz4", 5, 1, 1)
        dec_fn = _codecs.blosc_decompress_chunk
    else:
        return _copies(chunks, repeats)
    enc = [enc_fn(c) for c in chunks]
    return (_timed(lambda: [enc_fn(c) for c in chunks], repeats),
            _timed(lambda: [dec_fn(c, size) for c in enc], repeats))


def _copies(chunks: list[bytes], repeats: int) -> tuple[float, float]:
    bufs = [bytearray(c) for c in chunks]
    views = [np.frombuffer(c, np.uint8) for c in chunks]
    outs = [np.frombuffer(b, np.uint8) for b in bufs]

    def copy() -> None:
        for v, o in zip(views, outs):
            np.copyto(o, v)
    t = _timed(copy, repeats)
    return t, t


# ---- kernels ----------------------------------------------------------------------------------

STEPS = {"zstd": [("zstd", 5, True)], "blosc": [("blosc", "lz4", 5, 1, 1, 0)], "none": []}


def _zarr3(kind: str, arr: np.ndarray, order: str, repeats: int) -> tuple[float, float]:
    from wkcore import _shard
    side = arr.shape[1]
    spec = _shard.ShardSpec(1, (1, side, side, side), (1, CHUNK, CHUNK, CHUNK), (3, 2, 1, 0), False,
                            STEPS[kind], True)
    box = (0, 0, 0, 0, 1, side, side, side)
    at = (0, 0, 0, 0)

    def encode() -> list:
        """The shard as the parts the store writes (their join is the store's business)."""
        sets = [_shard.encode(spec, box, arr, at)]
        runs, index = _shard.assemble(spec, None, sets)
        view = memoryview(sets[0])
        return [*(view[o:o + n] for _, o, n in runs.tolist()), index]
    blob = b"".join(encode())
    out = np.empty(arr.shape, np.uint8, order=order)

    def decode() -> None:
        off, n = _shard.index_range(spec, len(blob))
        index = _shard.parse_index(spec, blob[off:off + n], len(blob))
        _shard.decode(spec, box, out, at, _shard.plan(spec, index, box), [(0, blob)])
    decode()
    if not np.array_equal(out, arr):
        raise AssertionError(f"zarr3 {kind} {order}: decode does not give the data back")
    return _timed(encode, repeats), _timed(decode, repeats)


def _wkw(kind: str, arr: np.ndarray, order: str, repeats: int) -> tuple[float, float]:
    from wkcore import _wkw
    side = arr.shape[1]
    file_log2 = (side // CHUNK).bit_length() - 1
    block_type = 2 if kind == "lz4" else 1
    layout = (5, file_log2, block_type, 1, 1)
    box = (0, 0, 0, side, side, side)
    at = (0, 0, 0)
    nblocks = 1 << (3 * file_log2)

    if block_type == 2:
        def encode() -> list:
            parts = [_wkw.encode_range(None, layout, box, arr, at, 0, nblocks)]
            return [_wkw.assemble(layout, parts), parts[0][0]]
    else:
        def encode() -> list:
            head, size = _wkw.new_raw_header(layout)
            rows = _wkw.plan((5, file_log2, 1, 1), head, size, box)
            return [head, _wkw.patch_raw(layout, head, size, box, arr, at, rows, [], False)]
    blob = b"".join(encode())
    out = np.empty(arr.shape, np.uint8, order=order)
    rlayout = (5, file_log2, 1, 1)

    def decode() -> None:
        head = blob[:16]
        off, n = _wkw.table_range(rlayout, head, len(blob), box)
        rows = _wkw.plan(rlayout, head, len(blob), box, blob[off:off + n])
        _wkw.decode(rlayout, head, box, out, at, rows, [(0, blob)])
    decode()
    if not np.array_equal(out, arr):
        raise AssertionError(f"wkw {kind} {order}: decode does not give the data back")
    return _timed(encode, repeats), _timed(decode, repeats)


def _walks(repeats: int) -> list[dict]:
    """Morton order and shard-index walks: blocks (chunks) per second."""
    from wkcore import _shard, _wkw
    rows = []
    layout = (5, 6, 2, 1, 1)                  # 64³ blocks of 32³: a 2048³ file
    n = 1 << 18
    rlayout = (5, 6, 1, 1)
    head = _wkw.header_bytes(5, 6, 2, 1, 1, 16 + 8 * n)
    size = 16 + 8 * n + n * 100
    table = (16 + 8 * n + 100 * np.arange(1, n + 1, dtype="<u8")).tobytes()
    box = (0, 0, 0, 2048, 2048, 2048)
    t = _timed(lambda: _wkw.plan(rlayout, head, size, box, table), repeats)
    rows.append({"kernel": "wkw plan (Morton walk)", "what": f"{n} blocks", "rate": n / t, "unit": "blocks/s"})
    spec = _shard.ShardSpec(1, (1, 1024, 1024, 1024), (1, 32, 32, 32), (3, 2, 1, 0), False, STEPS["zstd"], True)
    m = spec.n_chunks
    ix = np.empty((m, 2), "<u8")
    ix[:, 0] = np.arange(m) * 100
    ix[:, 1] = 100
    raw = ix.tobytes()
    from wkcore import _codecs
    raw += _codecs.crc32c_of(raw).to_bytes(4, "little")
    fsize = m * 100 + len(raw)
    t = _timed(lambda: _shard.parse_index(spec, raw, fsize), repeats)
    rows.append({"kernel": "zarr3 parse_index", "what": f"{m} chunks", "rate": m / t, "unit": "chunks/s"})
    index = _shard.parse_index(spec, raw, fsize)
    sbox = (0, 0, 0, 0, 1, 1024, 1024, 1024)
    t = _timed(lambda: _shard.plan(spec, index, sbox), repeats)
    rows.append({"kernel": "zarr3 plan", "what": f"{m} chunks", "rate": m / t, "unit": "chunks/s"})
    return rows


KERNELS = {
    "zarr3-zstd": ("zstd", _zarr3, "zstd"), "zarr3-blosc": ("blosc", _zarr3, "blosc"),
    "zarr3-none": ("none", _zarr3, "none"), "wkw-lz4": ("lz4", _wkw, "lz4"), "wkw-raw": ("raw", _wkw, "none"),
}


def measure(side: int, repeats: int, only: set[str] | None) -> list[dict]:
    rows: list[dict] = []
    for dname, gen in (("em", em_like), ("texture", texture)):
        vol = gen((side, side, side))
        nbytes = vol.nbytes
        chunks = _chunks_f(vol)
        bare: dict[str, tuple[float, float]] = {}
        own: dict[str, tuple[float, float]] = {}
        arrays = {"C": np.ascontiguousarray(vol[None]), "F": np.asfortranarray(vol[None])}
        for name, (kind, fn, codec) in KERNELS.items():
            if only and name not in only:
                continue
            if codec not in bare:
                bare[codec] = _bare(codec, chunks, repeats)
                own[codec] = _own(codec, chunks, repeats)
            for order, arr in arrays.items():
                enc, dec = fn(kind, arr, order, repeats)
                for i, (op, t) in enumerate((("encode", enc), ("decode", dec))):
                    rows.append({"kernel": f"{name} {op}", "data": dname, "order": order, "mbps": nbytes / t / MB,
                                 "bare": nbytes / bare[codec][i] / MB, "own": nbytes / own[codec][i] / MB})
    if not only or "walks" in only:
        rows.extend(_walks(repeats))
    return rows


def _key(r: dict) -> tuple:
    return (r["kernel"], r.get("data", ""), r.get("order", ""))


def _merge(runs: list[list[dict]]) -> list[dict]:
    """Median of each row over several runs."""
    out = []
    for i, row in enumerate(runs[0]):
        row = dict(row)
        for f in ("mbps", "bare", "own", "rate"):
            if f in row:
                row[f] = statistics.median(r[i][f] for r in runs)
        out.append(row)
    return out


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(rows: list[dict], base: list[dict] | None) -> None:
    head = f"{'kernel':<22} {'data':<8} {'ord':<3} {'kernel MB/s':>11} {'bare MB/s':>10} {'share':>6} " \
           f"{'own MB/s':>9} {'share':>6}"
    if base:
        head += f" {'before MB/s':>11} {'share':>6} {'after/before':>12}"
    print(head)
    old = {_key(r): r for r in base or []}
    for r in rows:
        if "rate" in r:
            line = f"{r['kernel']:<22} {r['what']:<12} {r['rate'] / 1e6:8.1f} M{r['unit']}"
            if _key(r) in old:
                line += f"   before {old[_key(r)]['rate'] / 1e6:8.1f} M{r['unit']}"
            print(line)
            continue
        line = f"{r['kernel']:<22} {r['data']:<8} {r['order']:<3} {r['mbps']:11.1f} {r['bare']:10.1f} " \
               f"{r['mbps'] / r['bare']:6.2f} {r['own']:9.1f} {r['mbps'] / r['own']:6.2f}"
        if _key(r) in old:
            o = old[_key(r)]
            line += f" {o['mbps']:11.1f} {o['mbps'] / o['bare']:6.2f} {r['mbps'] / o['mbps']:11.2f}×"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, default=256, help="file side in voxels (a power of two >= 32)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", default="", help=f"comma-separated rows: {', '.join(KERNELS)}, walks")
    ap.add_argument("--against", help="another Python whose wkcore is measured alternately (before/after)")
    ap.add_argument("--rounds", type=int, default=2, help="alternations with --against")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side < CHUNK or a.side & (a.side - 1):
        ap.error("--side must be a power of two >= 32")
    only = set(filter(None, a.only.split(","))) or None
    if a.json:
        json.dump(measure(a.side, a.repeats, only), sys.stdout)
        return
    import numcodecs
    import wkcore
    print(f"kernels alone, one thread, {a.side}³ uint8, 32³ chunks, median of {a.repeats} (CPU time); "
          f"numpy {np.__version__}, numcodecs {numcodecs.__version__}; load {_load()}")
    print(f"wkcore: {Path(wkcore.__file__).parent}")
    if not a.against:
        rows = measure(a.side, a.repeats, only)
        print(f"load at the end {_load()}")
        report(rows, None)
        return
    args = [str(Path(__file__).resolve()), "--json", "--side", str(a.side), "--repeats", str(a.repeats),
            "--only", a.only]
    env = {**os.environ, "PYTHONPATH": ""}
    new, old = [], []
    for i in range(a.rounds):
        for py, acc in ((a.against, old), (sys.executable, new)) if i % 2 == 0 else \
                ((sys.executable, new), (a.against, old)):
            res = subprocess.run([py, *args], check=True, capture_output=True, text=True, env=env)
            acc.append(json.loads(res.stdout))
        print(f"round {i + 1}: load {_load()}", flush=True)
    print(f"before: {a.against}")
    report(_merge(new), _merge(old))


if __name__ == "__main__":
    main()
