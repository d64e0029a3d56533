"""Many writers, crashes and readers during writes: nothing lost, nothing torn."""

import multiprocessing as mp
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import wkpy as wk

SIDE = 96
FORMATS = [("wkw", True), ("wkw", False), ("zarr3", True), ("zarr", True)]


def value_at(offset, shape):
    """The deterministic content every writer agrees on, so the end state is order-free."""
    x, y, z = np.ogrid[offset[0]:offset[0] + shape[0], offset[1]:offset[1] + shape[1], offset[2]:offset[2] + shape[2]]
    return ((x * 7 + y * 13 + z * 3) % 251 + 1).astype(np.uint8)


def boxes_of(seed, n=6):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        size = [rng.randint(5, 40) for _ in range(3)]
        off = [rng.randint(0, SIDE - s) for s in size]
        out.append((tuple(off), tuple(size)))
    return out


def _writer_process(path, proc, threads):
    mag = wk.Dataset.open(path).get_layer("c").get_mag(1)

    def run(t):
        for off, size in boxes_of(proc * 100 + t):
            mag.write(value_at(off, size), absolute_offset=off, allow_unaligned=True)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))


@pytest.mark.parametrize("fmt,compress", FORMATS)
def test_processes_and_threads_writing_one_layer_lose_nothing(tmp_path, fmt, compress):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("c", "color", data_format=fmt).add_mag(1, chunk_shape=32 if fmt == "zarr" else 8, shard_shape=32, compress=compress)
    procs, threads = 3, 2
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_writer_process, args=(tmp_path / "ds", p, threads)) for p in range(procs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    model = np.zeros((SIDE, SIDE, SIDE), np.uint8)
    union = wk.BoundingBox((0, 0, 0), (0, 0, 0))
    for p in range(procs):
        for t in range(threads):
            for off, size in boxes_of(p * 100 + t):
                model[off[0]:off[0] + size[0], off[1]:off[1] + size[1], off[2]:off[2] + size[2]] = value_at(off, size)
                union = union.extended_by(wk.BoundingBox(off, size))
    layer = wk.Dataset.open(tmp_path / "ds").get_layer("c")
    assert layer.bounding_box == union
    got = layer.get_mag(1).read(absolute_offset=(0, 0, 0), size=(SIDE, SIDE, SIDE))[0]
    np.testing.assert_array_equal(got, model)


CRASH_BOXES = [((0, 0, 0), (32, 32, 32)), ((40, 0, 0), (24, 20, 32)), ((0, 33, 0), (30, 30, 30)),
               ((64, 64, 64), (32, 32, 32))]  # each inside one 32³ shard... or two (the second)


def _crash_writer(path, start):
    mag = wk.Dataset.open(path).get_layer("c").get_mag(1)
    i = start
    while True:
        off, size = CRASH_BOXES[i % len(CRASH_BOXES)]
        mag.write(np.full(size, i % 250 + 1, np.uint8), absolute_offset=off, allow_unaligned=True)
        i += 1


@pytest.mark.parametrize("fmt,compress", FORMATS)
def test_sigkill_at_random_points_leaves_old_or_new_shards(tmp_path, fmt, compress):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("c", "color", data_format=fmt).add_mag(1, chunk_shape=32 if fmt == "zarr" else 8, shard_shape=32, compress=compress)
    ctx = mp.get_context("fork")
    rng = random.Random(7)
    start = 0
    for kill in range(12):
        child = ctx.Process(target=_crash_writer, args=(tmp_path / "ds", start))
        child.start()
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        start += 1000
        # the JSON parses, every shard parses, and every box is uniform per shard: old or new
        mag = wk.Dataset.open(tmp_path / "ds").get_layer("c").get_mag(1)
        for off, size in CRASH_BOXES:
            data = mag.read(absolute_offset=off, size=size)[0]
            for sx in range(off[0] // 32, (off[0] + size[0] - 1) // 32 + 1):
                part = data[max(0, sx * 32 - off[0]):sx * 32 + 32 - off[0]]
                assert len(np.unique(part)) == 1, f"torn box {off}+{size} after kill {kill}"
    leftovers = [p for p in (tmp_path / "ds" / "c" / "1").rglob("*") if p.suffix in (".tmp", ".journal")]
    mag.read(absolute_offset=(0, 0, 0), size=(96, 96, 96))  # reading cleans up journals
    assert all(p.suffix == ".tmp" for p in leftovers if p.exists())
    assert [b.topleft for b in mag.get_bounding_boxes_on_disk()]  # temp files are not shards


@pytest.mark.parametrize("fmt,compress", FORMATS)
def test_readers_during_writes_see_old_or_new(tmp_path, fmt, compress):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", data_format=fmt).add_mag(1, chunk_shape=32 if fmt == "zarr" else 8, shard_shape=32, compress=compress)
    mag.write(np.full((32, 32, 32), 1, np.uint8), absolute_offset=(0, 0, 0))
    stop = threading.Event()
    first_reads = threading.Barrier(3)  # both readers have read once before the first write
    seen = set()
    errors = []

    def reader():
        first = True
        while True:
            last = stop.is_set()  # the read after `stop` starts after the last write
            values = np.unique(mag.read(absolute_offset=(0, 0, 0), size=(32, 32, 32)))
            if len(values) != 1:
                errors.append(values)
            seen.add(int(values[0]))
            if first:
                first = False
                first_reads.wait()
            if last:
                break

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    first_reads.wait(timeout=300)  # a guard against a hang if a reader died, not a measurement
    for i in range(2, 60):
        mag.write(np.full((32, 32, 32), i, np.uint8), absolute_offset=(0, 0, 0))
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert {1, 59} <= seen  # the readers ran before and after the writes, whatever the scheduling
