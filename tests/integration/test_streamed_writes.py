"""Whole-file writes that write while they encode (issue 16, scaling): a Zarr chunk file
without old chunks and a compressed WKW file are put part by part as their pieces finish
on the I/O pool (`wkpy.executor.stream_tasks`, `At` parts for a header written last).

The bytes must be those of the one-piece write, whatever the cut, order, dtype or
channels; a failure part-way leaves the old file (or none) and no temporary file."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import random_volume
from one_file import shard_read, shard_write, store_of
from wkcore import _shard, _wkw
from wkpy import executor
from wkpy.storage import _wkw_file
from wkpy.storage.array import ShardPart, split_for_threads
from wkpy.storage.store import At, Hole, LocalStore

DTYPES = [("uint8", 1), ("uint16", 3), ("float32", 1), ("uint64", 2)]


def spec_for(itemsize: int, nc: int, shard: int = 64, chunk: int = 16, at_start: bool = False,
             steps=(("zstd", 3, True),)) -> _shard.ShardSpec:
    return _shard.ShardSpec(itemsize, (nc, shard, shard, shard), (nc, chunk, chunk, chunk), (3, 2, 1, 0), False,
                            list(steps), True, at_start)


def pieces(box: tuple, n: int, chunk: tuple, axes) -> list[tuple[tuple, tuple]]:
    """`box` (c, x, y, z) cut into about `n` chunk-aligned (box, at) pieces along the first of `axes` that can."""
    nd = len(box) // 2
    part = ShardPart((0,) * nd, tuple(box[:nd]), (0,) * nd, tuple(h - l for l, h in zip(box[:nd], box[nd:])))
    return [(p.box, p.start) for p in split_for_threads([part], chunk, n, axes)]


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("at_start", [False, True])
@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("order", "CF")
@pytest.mark.parametrize("axes", [(0, 1, 2, 3), (0, 2, 3, 1)], ids=["in-file-order", "across"])
def test_a_streamed_zarr_file_is_the_one_piece_file(tmp_path, monkeypatch, at_start, kind, order, axes):
    """Cut along the axis on which chunks lie together in the file (streamed as they come)
    or across it (the layout is not the groups in order: made again from the layout)."""
    dtype, nc = kind
    spec = spec_for(np.dtype(dtype).itemsize, nc, at_start=at_start)
    data = np.asarray(random_volume((nc, 64, 64, 64), dtype), order=order)
    data[:, 16:32] = 0                                            # all-fill chunks are left out
    box = (0, 0, 0, 0, nc, 64, 64, 64)
    one, many = tmp_path / "one", tmp_path / "many"
    assert shard_write(one, spec, box, data, (0, 0, 0, 0)) == 0
    subs = pieces(box, 8, (nc, 16, 16, 16), axes)
    assert len(subs) == 4
    puts = []
    real = LocalStore.put
    monkeypatch.setattr(LocalStore, "put", lambda self, *a, **k: puts.append(1) or real(self, *a, **k))
    assert shard_write(many, spec, box, data, (0, 0, 0, 0), subs) == 0
    assert len(puts) == (1 if axes[1] == 1 else 2)                 # streamed, or abandoned and made again
    assert many.read_bytes() == one.read_bytes()
    out = np.zeros_like(data)
    assert shard_read(many, spec, box, out, (0, 0, 0, 0))
    np.testing.assert_array_equal(out, data)
    assert files(tmp_path) == ["many", "one"]


def test_a_new_file_from_a_box_not_covering_it_is_streamed_too(tmp_path):
    spec = spec_for(1, 1)
    data = random_volume((1, 40, 50, 30), "uint8")
    box = (0, 8, 0, 16, 1, 48, 50, 46)                           # odd, not chunk-aligned
    subs = pieces(box, 6, (1, 16, 16, 16), range(4))
    assert shard_write(tmp_path / "f", spec, box, data, (0, 0, 0, 0), subs) == 0
    out = np.full((1, 64, 64, 64), 7, np.uint8)
    assert shard_read(tmp_path / "f", spec, (0, 0, 0, 0, 1, 64, 64, 64), out, (0, 0, 0, 0))
    want = np.full((1, 64, 64, 64), 7, np.uint8)
    want[:, 8:48, 0:50, 16:46] = data
    np.testing.assert_array_equal(out[:, 8:48, 0:50, 16:46], data)
    assert files(tmp_path) == ["f"]


def test_all_fill_data_removes_a_whole_file_and_leaves_a_new_one_absent(tmp_path):
    spec = spec_for(2, 1)
    box = (0, 0, 0, 0, 1, 64, 64, 64)
    path = tmp_path / "f"
    subs = pieces(box, 4, (1, 16, 16, 16), range(4))
    assert shard_write(path, spec, box, random_volume((1, 64, 64, 64), "uint16"), (0, 0, 0, 0), subs) == 0
    assert shard_write(path, spec, box, np.zeros((1, 64, 64, 64), np.uint16), (0, 0, 0, 0), subs) == 1  # REMOVED
    assert shard_write(path, spec, box, np.zeros((1, 64, 64, 64), np.uint16), (0, 0, 0, 0), subs) == 2  # ABSENT
    assert shard_write(path, spec, (0, 0, 0, 0, 1, 32, 64, 64), np.zeros((1, 32, 64, 64), np.uint16),
                       (0, 0, 0, 0), pieces((0, 0, 0, 0, 1, 32, 64, 64), 2, (1, 16, 16, 16), range(4))) == 2
    assert files(tmp_path) == []


class Boom(Exception):
    pass


def failing_after(module, name: str, calls: int, monkeypatch) -> list[int]:
    """Make `module.name` raise `Boom` from its `calls`-th call on; the calls made."""
    real, seen = getattr(module, name), []
    lock = threading.Lock()

    def fake(*args, **kwargs):
        with lock:
            seen.append(1)
            n = len(seen)
        if n >= calls:
            raise Boom
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, fake)
    return seen


def test_a_failing_zarr_group_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    spec = spec_for(1, 1)
    box = (0, 0, 0, 0, 1, 64, 64, 64)
    path = tmp_path / "f"
    shard_write(path, spec, box, random_volume((1, 64, 64, 64), "uint8"), (0, 0, 0, 0))
    before = path.read_bytes()
    failing_after(_shard, "encode", 3, monkeypatch)
    with pytest.raises(Boom):
        shard_write(path, spec, box, random_volume((1, 64, 64, 64), "uint8", seed=5), (0, 0, 0, 0),
                    pieces(box, 4, (1, 16, 16, 16), range(4)))
    assert path.read_bytes() == before
    assert files(tmp_path) == ["f"]


WKW_SIDE = 64    # blocks of 8, 8 per side: 512 blocks


def wkw_layout(dtype: str, nc: int, block_type: int = 2) -> tuple:
    voxel_type = {"uint8": 1, "uint16": 2, "uint32": 3, "uint64": 4, "float32": 5, "float64": 6}[dtype]
    return (3, 3, block_type, voxel_type, nc * np.dtype(dtype).itemsize)


@pytest.mark.parametrize("kind", DTYPES)
@pytest.mark.parametrize("order", "CF")
@pytest.mark.parametrize("box", [(0, 0, 0, 64, 64, 64), (3, 9, 17, 45, 64, 50)], ids=["whole", "odd"])
def test_a_streamed_wkw_file_is_the_one_range_file(tmp_path, kind, order, box):
    dtype, nc = kind
    lay = wkw_layout(dtype, nc)
    shape = tuple(h - l for l, h in zip(box[:3], box[3:]))
    data = np.asarray(random_volume((nc, *shape), dtype), order=order)
    old = np.asarray(random_volume((nc, 64, 64, 64), dtype, seed=3), order=order)
    for name in ("one", "many"):
        store, key = store_of(tmp_path / name)
        _wkw_file.write_compressed(store, key, lay, (0, 0, 0, 64, 64, 64), old, (0, 0, 0), 1)
        _wkw_file.write_compressed(store, key, lay, box, data, (0, 0, 0), 1 if name == "one" else 9)
    assert (tmp_path / "many").read_bytes() == (tmp_path / "one").read_bytes()
    store, key = store_of(tmp_path / "many")
    out = np.zeros((nc, 64, 64, 64), dtype)
    with store.open(key) as reader:
        _wkw_file.read_box(reader, (lay[0], lay[1], lay[3], lay[4]), (0, 0, 0, 64, 64, 64), out, (0, 0, 0))
    old[:, box[0]:box[3], box[1]:box[4], box[2]:box[5]] = data
    np.testing.assert_array_equal(out, old)
    assert files(tmp_path) == ["many", "one"]


def test_a_failing_wkw_range_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    lay = wkw_layout("uint8", 1)
    store, key = store_of(tmp_path / "f.wkw")
    _wkw_file.write_compressed(store, key, lay, (0, 0, 0, 64, 64, 64), random_volume((1, 64, 64, 64), "uint8"),
                               (0, 0, 0), 4)
    before = (tmp_path / "f.wkw").read_bytes()
    failing_after(_wkw, "encode_range", 3, monkeypatch)
    with pytest.raises(Boom):
        _wkw_file.write_compressed(store, key, lay, (0, 0, 0, 64, 64, 64),
                                   random_volume((1, 64, 64, 64), "uint8", seed=9), (0, 0, 0), 6)
    assert (tmp_path / "f.wkw").read_bytes() == before
    assert files(tmp_path) == ["f.wkw"]


# ---- the pieces: ordered results from the pool, puts with a header written last ----------

def test_stream_tasks_yields_in_order_while_later_tasks_run(monkeypatch):
    """The first task waits for the last one: it can finish only if later tasks run while
    the consumer waits for the first result."""
    monkeypatch.setenv("WKPY_IO_THREADS", "2")
    monkeypatch.setattr(executor, "_io_pool", None)
    gate = threading.Event()

    def task(i):
        def run():
            if i == 0:
                assert gate.wait(10)
            if i == 5:
                gate.set()
            return i
        return run

    assert list(executor.stream_tasks([task(i) for i in range(6)])) == list(range(6))


def test_stream_tasks_runs_inline_with_one_thread(monkeypatch):
    monkeypatch.setenv("WKPY_IO_THREADS", "1")
    me = threading.get_ident()
    assert list(executor.stream_tasks([lambda i=i: (i, threading.get_ident()) for i in range(4)])) == \
        [(i, me) for i in range(4)]
    assert executor.run_tasks([threading.get_ident] * 3) == [me] * 3


def test_stream_tasks_reraises_the_first_failure_met_and_cancels_the_rest():
    ran = []

    def ok(i):
        return lambda: ran.append(i) or i

    def bad():
        raise Boom

    got = []
    with pytest.raises(Boom):
        for x in executor.stream_tasks([ok(0), bad, *(ok(i) for i in range(2, 40))]):
            got.append(x)
    assert got == [0]
    assert len(ran) <= 39


def test_stream_tasks_never_waits_for_pool_threads_blocked_on_the_callers_lock():
    lock = threading.Lock()
    lock.acquire()
    blockers = [executor._pool().submit(lambda: (lock.acquire(), lock.release()))
                for _ in range(executor.io_threads())]
    try:
        while not all(b.running() for b in blockers):
            threading.Event().wait(0.001)
        assert list(executor.stream_tasks([lambda: 1, lambda: 2, lambda: 3])) == [1, 2, 3]
    finally:
        lock.release()
        for b in blockers:
            b.result()


def test_a_put_writes_a_header_over_the_room_left_for_it(tmp_path):
    store, key = store_of(tmp_path / "f")

    def parts():
        yield Hole(4)
        yield b"body"
        yield At(0, b"head")
        yield b"!"

    store.put(key, parts())
    assert (tmp_path / "f").read_bytes() == b"headbody!"
    with pytest.raises(ValueError, match="beyond"):
        store.put(key, [b"ab", At(1, b"xy"), b"c"])
    assert (tmp_path / "f").read_bytes() == b"headbody!"
    assert files(tmp_path) == ["f"]
