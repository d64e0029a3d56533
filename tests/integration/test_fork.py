"""Forks and locks (issue 12, items 6 and 7).

- A process forked while another thread of the parent is inside a shard write can write
  that shard itself (no deadlock), and the parent's next writes do not wait for the child.
- Process pools of every start method ('fork', 'forkserver', 'spawn') write into shards
  the parent's threads are also writing, and nothing is lost.
- Locks live outside the dataset: a written dataset holds only the files webknossos
  writes, and a dataset that cannot be written to can still be read (raw WKW included).

Timeouts here are hang guards (a deadlock would otherwise hang the suite), not speed
assertions: each guards work that takes milliseconds.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import stat
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path

import numpy as np
import pytest

import wkpy as wk
from conftest import tree_state

HANG_GUARD = 10.0  # seconds, for work of milliseconds; only reached if something deadlocks
FORK_WARNING = "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"
FORMATS = [("wkw", False), ("wkw", True), ("zarr3", True)]
FORMAT_IDS = ["wkw-raw", "wkw-lz4", "zarr3"]


def _new_mag(path: Path, fmt: str, compress: bool, shard: int, chunk: int = 32) -> wk.MagView:
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    return ds.add_layer("color", "color", dtype="uint8", data_format=fmt).add_mag(
        1, chunk_shape=chunk, shard_shape=shard, compress=compress)


# ---- a fork in the middle of a shard write ----------------------------------------------------
SHARD = 128
CHILD_BOX = ((100, 0, 0), (56, 20, 20))  # the parent's busy shard and its neighbour along x


def _child_writes_the_busy_shard(mag, value, done, release):
    mag.write(np.full(CHILD_BOX[1], value, np.uint8), absolute_offset=CHILD_BOX[0], allow_unaligned=True)
    done.set()
    release.wait(HANG_GUARD * 2)  # stay alive (holding whatever was inherited) while the parent writes


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("fmt,compress", FORMATS, ids=FORMAT_IDS)
def test_fork_during_a_threads_shard_write(tmp_path, fmt, compress):
    mag = _new_mag(tmp_path / "ds", fmt, compress, SHARD)
    stop = threading.Event()
    writes = [0]
    errors: list[BaseException] = []

    def busy_writer():  # rewrites one whole shard (2 MiB) again and again
        try:
            while not stop.is_set():
                mag.write(np.full((SHARD,) * 3, writes[0] % 200 + 1, np.uint8), absolute_offset=(0, 0, 0))
                writes[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=busy_writer, daemon=True)
    thread.start()
    ctx = mp.get_context("fork")
    children = []
    try:
        while writes[0] == 0 and thread.is_alive():
            time.sleep(0.001)
        for round_ in range(4):  # each fork lands at some point of the busy thread's write loop
            done, release = ctx.Event(), ctx.Event()
            child = ctx.Process(target=_child_writes_the_busy_shard, args=(mag, 201 + round_, done, release))
            children.append(child)
            child.start()
            assert done.wait(HANG_GUARD), f"round {round_}: the forked child deadlocked writing the busy shard"
            # the child is alive and idle: the parent's thread keeps writing that shard
            seen = writes[0]
            deadline = time.monotonic() + HANG_GUARD
            while writes[0] < seen + 2 and time.monotonic() < deadline and thread.is_alive():
                time.sleep(0.001)
            assert writes[0] >= seen + 2, f"round {round_}: the parent's writes block while the forked child lives"
            release.set()
            child.join(HANG_GUARD)
            assert child.exitcode == 0, f"round {round_}: the child exited with {child.exitcode}"
        assert not errors, errors
    finally:
        stop.set()
        for child in children:
            if child.is_alive():
                child.kill()  # a deadlocked child of this test
            child.join()
        thread.join(HANG_GUARD)
    assert not thread.is_alive(), "the parent's writer never finished"
    got = mag.read(absolute_offset=(0, 0, 0), size=(2 * SHARD, SHARD, SHARD))[0]
    # the parent rewrote the busy shard after the last child: one whole write; the child's
    # part in the next shard holds the last child's value
    assert len(np.unique(got[:SHARD])) == 1, "the busy shard is torn"
    np.testing.assert_array_equal(got[SHARD:156, :20, :20], 204)


def _lone_child_write(mag, value):
    mag.write(np.full((64, 64, 64), value, np.uint8), absolute_offset=(0, 0, 0))


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("fmt,compress", FORMATS, ids=FORMAT_IDS)
def test_fork_after_a_threaded_write_then_parent_and_child_write(tmp_path, fmt, compress):
    """Deterministic variant: the parent's own worker threads have written (and may hold
    pooled state) before the fork; parent and child then write the same shard in turn."""
    mag = _new_mag(tmp_path / "ds", fmt, compress, 64)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: mag.write(np.full((16, 64, 64), i + 1, np.uint8), absolute_offset=(16 * i, 0, 0),
                                          allow_unaligned=True), range(4)))
    mag.write(np.full((128, 128, 128), 3, np.uint8), absolute_offset=(0, 0, 0))  # wkpy's own thread pool
    child = mp.get_context("fork").Process(target=_lone_child_write, args=(mag, 77))
    child.start()
    child.join(HANG_GUARD)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("a child forked after threaded writes deadlocked writing a shard")
    assert child.exitcode == 0
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(64, 64, 64))[0], 77)
    done = threading.Event()
    threading.Thread(target=lambda: (_lone_child_write(mag, 78), done.set()), daemon=True).start()
    assert done.wait(HANG_GUARD), "the parent's write blocks after the fork"
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(64, 64, 64))[0], 78)


# ---- pools of every start method ------------------------------------------------------------------
SIDE = 128
SLAB = 8  # slabs of 8 z-planes: unaligned to the 32³ chunks, so writers share chunks and shards


def _slab_value(i: int) -> int:
    return i * 13 % 250 + 1


def _write_slab(path: str, i: int) -> int:
    mag = wk.Dataset.open(path).get_layer("color").get_mag(1)
    mag.write(np.full((SIDE, SIDE, SLAB), _slab_value(i), np.uint8), absolute_offset=(0, 0, SLAB * i),
              allow_unaligned=True)
    return os.getpid()


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
@pytest.mark.parametrize("fmt,compress", [("wkw", False), ("zarr3", True)], ids=["wkw-raw", "zarr3"])
def test_process_pool_after_threaded_writes_loses_nothing(tmp_path, method, fmt, compress):
    path = tmp_path / "ds"
    mag = _new_mag(path, fmt, compress, 64)
    slabs = range(SIDE // SLAB)
    with ThreadPoolExecutor(4) as threads:  # threaded writes before the pool exists
        list(threads.map(lambda i: _write_slab(str(path), i), [i for i in slabs if i % 4 == 0]))
    # and a parent thread still writing while the pool starts and works
    background = ThreadPoolExecutor(1)
    busy = background.submit(lambda: [_write_slab(str(path), i) for i in slabs if i % 4 == 2])
    pool = ProcessPoolExecutor(2, mp_context=mp.get_context(method))
    try:
        pids = list(pool.map(_write_slab, [str(path)] * (len(slabs) // 2), [i for i in slabs if i % 2 == 1],
                             timeout=HANG_GUARD * 4))
        busy.result(HANG_GUARD)
    except FuturesTimeout:
        for child in mp.active_children():  # the pool's own (hung) workers
            child.kill()
        pytest.fail(f"a {method} pool (or the parent thread beside it) hung writing shared shards")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        background.shutdown(wait=True)
    assert os.getpid() not in pids
    want = np.zeros((SIDE, SIDE, SIDE), np.uint8)
    for i in slabs:
        want[:, :, SLAB * i:SLAB * (i + 1)] = _slab_value(i)
    got = wk.Dataset.open(path).get_layer("color").get_mag(1).read(absolute_offset=(0, 0, 0), size=(SIDE,) * 3)[0]
    lost = [i for i in slabs if not (got[:, :, SLAB * i:SLAB * (i + 1)] == _slab_value(i)).all()]
    assert not lost, f"slabs lost or mixed after a {method} pool: {lost}"
    np.testing.assert_array_equal(got, want)
    assert wk.Dataset.open(path).get_layer("color").bounding_box == wk.BoundingBox((0, 0, 0), (SIDE, SIDE, SIDE))


# ---- locks outside the dataset ----------------------------------------------------------------------
WEBKNOSSOS_FILES = {
    "wkw": [r"datasource-properties\.json", r"color", r"color/1", r"color/1/header\.wkw",
            r"color/1/z\d+", r"color/1/z\d+/y\d+", r"color/1/z\d+/y\d+/x\d+\.wkw"],
    "zarr3": [r"datasource-properties\.json", r"zarr\.json", r"color", r"color/zarr\.json", r"color/1",
              r"color/1/zarr\.json", r"color/1/c(/\d+)*"],
}


def _foreign_files(path: Path, fmt: str) -> list[str]:
    patterns = [re.compile(p) for p in WEBKNOSSOS_FILES[fmt]]
    return [str(p.relative_to(path)) for p in sorted(path.rglob("*"))
            if not any(r.fullmatch(str(p.relative_to(path))) for r in patterns)]


@pytest.mark.parametrize("fmt,compress", [*FORMATS, ("zarr3", False)], ids=[*FORMAT_IDS, "zarr3-raw"])
def test_a_written_dataset_holds_only_the_files_webknossos_writes(tmp_path, fmt, compress):
    path = tmp_path / "ds"
    mag = _new_mag(path, fmt, compress, 64)
    data = np.random.default_rng(0).integers(1, 255, size=(100, 90, 80), dtype=np.uint8)
    mag.write(data, absolute_offset=(3, 5, 7), allow_unaligned=True)
    with ThreadPoolExecutor(3) as pool:  # concurrent writers of shared shards take the locks
        list(pool.map(lambda i: mag.write(np.full((10, 10, 10), i + 1, np.uint8), absolute_offset=(20 * i, 0, 0),
                                          allow_unaligned=True), range(6)))
    reopened = wk.Dataset.open(path).get_layer("color").get_mag(1)
    reopened.read(absolute_offset=(0, 0, 0), size=(128, 128, 128))
    foreign = _foreign_files(path, fmt)
    assert not foreign, f"files webknossos does not write (lock files?): {foreign[:8]}"


def _read_everything(path: Path) -> dict[str, np.ndarray]:
    ds = wk.Dataset.open(path, read_only=True)
    return {name: layer.get_mag(1).read(absolute_offset=(0, 0, 0), size=(96, 96, 96))[0]
            for name, layer in ds.layers.items()}


def _dataset_of_every_format(path: Path) -> dict[str, np.ndarray]:
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    want = {}
    for i, (fmt, compress) in enumerate([("wkw", False), ("wkw", True), ("zarr3", True)]):
        name = f"{fmt}_{'c' if compress else 'raw'}"
        data = np.random.default_rng(i).integers(1, 255, size=(96, 96, 96), dtype=np.uint8)
        ds.add_layer(name, "color", dtype="uint8", data_format=fmt).add_mag(
            1, chunk_shape=32, shard_shape=64, compress=compress).write(data, absolute_offset=(0, 0, 0))
        want[name] = data
    return want


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes; see the root variant below")
def test_a_dataset_without_write_permission_can_be_read(tmp_path):
    path = tmp_path / "ds"
    want = _dataset_of_every_format(path)
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    try:
        for p in modes:
            os.chmod(p, modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        got = _read_everything(path)
    finally:
        for p, mode in modes.items():
            os.chmod(p, mode)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_reading_creates_nothing_inside_the_dataset(tmp_path, monkeypatch):
    """Runs as root too (where modes cannot make a folder read-only): reading must not
    create anything in the dataset, watched by the listing and by every os.open."""
    path = tmp_path / "ds"
    want = _dataset_of_every_format(path)
    before = tree_state(path)
    created: list[str] = []
    real_open = os.open

    def watching_open(file, flags, *args, **kwargs):
        if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR) and Path(os.fspath(file)).resolve().is_relative_to(
                path.resolve()):
            created.append(os.fspath(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watching_open)
    got = _read_everything(path)
    monkeypatch.undo()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert not created, f"reading opened files for writing inside the dataset: {created[:5]}"
    assert tree_state(path) == before, "reading changed the dataset's files or listings"
