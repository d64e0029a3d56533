"""The kernels release the GIL, and threads sharing files lose no update.

GIL release is shown without any clock: with the switch interval raised to 1000 s the
interpreter never takes the GIL from a running thread, so the main thread gets to run while
a worker thread is inside a call only if that call releases the GIL itself. The worker
signals that it is about to call, calls, then sets `done`; the main thread looks at `done`
the moment it runs. `done` still False means the main thread ran *during* the call. The
kernels' Python parts (argument checks, buffer requests) never release the GIL; their
`with nogil:` block, which does all the file I/O and (de)compression, is the only place
that does. Negative controls (calls known to hold the GIL) must show `done` True, so the
probe cannot pass by construction.
"""

import hashlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import wkpy as wk
from one_file import shard_write
from wkcore import _codecs, _downsample, _shard, _wkw

LAYOUT = (5, 3, 2, 1, 1)  # 32³ blocks, 8³ blocks per file (256³ voxels), LZ4, uint8
READ_LAYOUT = (5, 3, 1, 1)  # block_log2, file_log2, voxel type, voxel bytes
N = 256
ATTEMPTS = 5
WHOLE = (0, 0, 0, N, N, N)


def _main_thread_ran_inside(call) -> bool:
    """True if the main thread ran while `call()` was running on another thread."""
    started = threading.Event()
    done = [False]
    failure = []

    def worker():
        started.set()
        try:
            call()
        except BaseException as exc:  # reported below, in the main thread
            failure.append(exc)
        done[0] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(1000)
    try:
        thread = threading.Thread(target=worker)
        thread.start()  # blocks: the worker runs until it blocks or releases the GIL
        started.wait()
        inside = not done[0]
        thread.join()
    finally:
        sys.setswitchinterval(old)
    if failure:
        raise failure[0]
    return inside


def releases_gil(call) -> bool:
    """The main thread ran inside `call` at least once in a few tries. A call that holds the
    GIL can never pass; one that releases it fails a try only if the OS does not schedule
    the main thread at all during the call, so a few tries make a loaded machine harmless."""
    return any(_main_thread_ran_inside(call) for _ in range(ATTEMPTS))


def holds_gil(call) -> bool:
    return not any(_main_thread_ran_inside(call) for _ in range(2))


@pytest.fixture(scope="module")
def volume():
    # 16 symbols: compressible, so decoding is real work too
    return np.random.default_rng(0).integers(0, 16, size=(1, N, N, N), dtype=np.uint8)


S = 128  # shard side
SHARD = _shard.ShardSpec(1, (1, S, S, S), (1, 32, 32, 32), (3, 2, 1, 0), False, [("gzip", 5)], True,
                         False, False, True, b"\0")
BOX = (0, 0, 0, 0, 1, S, S, S)


# ---- the probe itself ----------------------------------------------------------------------

def _python_loop():
    total = 0
    for i in range(400_000):
        total += i * i
    return total


def _hash_small_pieces():
    piece = bytes(range(256)) * 4  # below hashlib's 2048-byte threshold: the GIL stays held
    for _ in range(20_000):
        hashlib.sha256(piece).digest()


OBJECTS = np.arange(300_000).astype(object)


def _numpy_object_sum():
    OBJECTS.sum()  # one C call; arithmetic on Python objects needs the GIL


LONG = bytes(range(256)) * (1 << 15)  # 8 MiB


def _portable_crc32c():
    _codecs.crc32c_portable(LONG)  # a wkcore kernel without a nogil block


@pytest.mark.parametrize("call", [_python_loop, _hash_small_pieces, _numpy_object_sum, _portable_crc32c],
                         ids=["python-loop", "hashlib-small", "numpy-object-sum", "wkcore-portable-crc32c"])
def test_the_probe_sees_a_call_that_holds_the_gil(call):
    assert holds_gil(call)


def test_the_probe_sees_a_call_that_releases_the_gil():
    big = bytes(64 << 20)  # hashlib releases the GIL for large buffers
    assert releases_gil(lambda: hashlib.sha256(big).digest())


def test_the_probe_restores_the_switch_interval():
    before = sys.getswitchinterval()
    _main_thread_ran_inside(lambda: None)
    assert sys.getswitchinterval() == before


def test_the_probe_reports_the_calls_exception():
    def boom():
        raise KeyError("from the worker")
    with pytest.raises(KeyError, match="from the worker"):
        _main_thread_ran_inside(boom)


# ---- every kernel entry point with a nogil block ---------------------------------------------

def test_wkw_encode_and_decode_release_the_gil(volume):
    n = 1 << (3 * LAYOUT[1])
    parts = []
    assert releases_gil(lambda: parts.append(_wkw.encode_range(None, LAYOUT, WHOLE, volume, (0, 0, 0), 0, n)))
    raw = _wkw.assemble(LAYOUT, parts[-1:]) + parts[-1][0]       # the file, in memory
    rows = _wkw.plan(READ_LAYOUT, raw[:16], len(raw), WHOLE, raw[16:16 + 8 * n])
    out = np.zeros_like(volume)
    assert releases_gil(lambda: _wkw.decode(READ_LAYOUT, raw[:16], WHOLE, out, (0, 0, 0), rows, [(0, raw)]))
    np.testing.assert_array_equal(out, volume)


def test_wkw_raw_patch_and_decode_release_the_gil(volume):
    layout = (5, 3, 1, 1, 1)
    head, size = _wkw.new_raw_header(layout)
    rows = _wkw.plan(READ_LAYOUT, head, size, WHOLE)
    blocks = []
    assert releases_gil(lambda: blocks.append(_wkw.patch_raw(layout, head, size, WHOLE, volume, (0, 0, 0), rows,
                                                             [], False)))
    out = np.zeros_like(volume)
    assert releases_gil(lambda: _wkw.decode(READ_LAYOUT, head, WHOLE, out, (0, 0, 0), rows, [(16, blocks[0])]))
    np.testing.assert_array_equal(out, volume)


def test_wkw_journal_records_release_the_gil(volume):
    layout = (5, 3, 1, 1, 1)
    head, size = _wkw.new_raw_header(layout)
    rows = _wkw.plan(READ_LAYOUT, head, size, WHOLE)
    blocks = _wkw.patch_raw(layout, head, size, WHOLE, volume, (0, 0, 0), rows, [], False)
    assert releases_gil(lambda: _wkw.journal_records(layout, head, size, rows, [(16, blocks)], 0))


def test_shard_index_parsing_and_assembly_release_the_gil():
    # 2**18 chunks of one element: a 4 MiB index to check, and as many chunks to lay out
    spec = _shard.ShardSpec(1, (1, 64, 64, 64), (1, 1, 1, 1), (0, 1, 2, 3), False, [], True)
    index = _shard.assemble(spec, None, [_shard.encode(spec, (0, 0, 0, 0, 1, 1, 1, 1), np.ones((1, 1, 1, 1), np.uint8),
                                                       (0, 0, 0, 0))])[1]
    assert releases_gil(lambda: _shard.parse_index(spec, index, 1 + len(index)))
    parsed = _shard.parse_index(spec, index, 1 + len(index))
    assert releases_gil(lambda: _shard.assemble(spec, parsed, []))


def _decode_all(spec, path, box, out, at):
    raw = path.read_bytes()
    offset, length = _shard.index_range(spec, len(raw))
    index = _shard.parse_index(spec, raw[offset:offset + length], len(raw))
    rows = _shard.plan(spec, index, box)
    return lambda: _shard.decode(spec, box, out, at, rows, [(0, raw)])


def test_shard_encode_and_decode_release_the_gil(tmp_path, volume):
    data = np.ascontiguousarray(volume[:, :S, :S, :S])
    assert releases_gil(lambda: _shard.encode(SHARD, BOX, data, (0, 0, 0, 0)))
    path = tmp_path / "0"
    shard_write(path, SHARD, BOX, data, (0, 0, 0, 0))
    out = np.zeros_like(data)
    assert releases_gil(_decode_all(SHARD, path, BOX, out, (0, 0, 0, 0)))
    np.testing.assert_array_equal(out, data)


ND_SHARD = _shard.ShardSpec(1, (2, 4, S, S, S // 4), (2, 1, 32, 32, 32), (4, 3, 2, 1, 0), False, [("gzip", 5)],
                            True, False, False, True, b"\0")
ND_BOX = (0, 0, 0, 0, 0, 2, 4, S, S, S // 4)


def test_nd_shard_encode_and_decode_release_the_gil(tmp_path, volume):
    # a (c, t, x, y, z) shard, as webknossos 4.3.3 stores n-d layers with channels
    data = np.ascontiguousarray(volume[0, :S, :S, :S // 4].reshape(1, 1, S, S, S // 4).repeat(2, 0).repeat(4, 1))
    assert releases_gil(lambda: _shard.encode(ND_SHARD, ND_BOX, data, (0,) * 5))
    path = tmp_path / "nd"
    shard_write(path, ND_SHARD, ND_BOX, data, (0,) * 5)
    out = np.zeros_like(data)
    assert releases_gil(_decode_all(ND_SHARD, path, ND_BOX, out, (0,) * 5))
    np.testing.assert_array_equal(out, data)


def test_codecs_release_the_gil(volume):
    data = volume[:, :64].tobytes()  # 4 MiB
    packed = _codecs.gzip_compress_member(data, 1)
    assert releases_gil(lambda: _codecs.gzip_compress_member(data, 1))
    assert releases_gil(lambda: _codecs.gzip_decompress_member(packed, len(data)))
    assert releases_gil(lambda: _codecs.zlib_compress_stream(data, 1))
    assert releases_gil(lambda: _codecs.zstd_compress_frame(data, 3))
    assert releases_gil(lambda: _codecs.lz4_compress_block(volume.tobytes()))  # fast: all 16 MiB
    assert releases_gil(lambda: _codecs.blosc_compress_chunk(data, "zstd", 3, 1, 1))



@pytest.mark.parametrize("mode", ["median", "mode", "average"])
def test_downsample_releases_the_gil(volume, mode):
    src = volume[0]
    out = np.empty((N // 2, N // 2, N // 2), np.uint8)
    assert releases_gil(lambda: _downsample.downsample(src, out, (2, 2, 2), mode))


def test_threads_writing_disjoint_boxes_of_one_shard_lose_nothing(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", dtype="uint16").add_mag(1, chunk_shape=16, shard_shape=64)
    model = np.zeros((1, 64, 64, 64), np.uint16)
    boxes = [((x, y, z), (16, 16, 16)) for x in (0, 16, 32, 48) for y in (0, 32) for z in (0, 32)]

    def write(i):
        (x, y, z), size = boxes[i]
        data = np.full((1, *size), i + 1, np.uint16)
        model[:, x:x + 16, y:y + 16, z:z + 16] = data
        mag.write(data, absolute_offset=(x, y, z), allow_unaligned=True, json_update_allowed=False)

    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(len(boxes))))
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(64, 64, 64)), model)


@pytest.mark.slow
@pytest.mark.parametrize("fmt,compress", [("wkw", True), ("wkw", False), ("zarr3", True)])
def test_many_threads_overlapping_shards_lose_nothing_stress(tmp_path, fmt, compress):
    """The lose-nothing test above, long: 8 threads, 150 rounds, boxes spanning shard borders."""
    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color", dtype="uint16", data_format=fmt).add_mag(
        1, chunk_shape=16, shard_shape=64, compress=compress)
    side = 128
    model = np.zeros((1, side, side, side), np.uint16)
    rng = np.random.default_rng(3)
    # per round, 8 disjoint slabs along x (each 16 wide) with random y/z extents crossing shard borders
    for r in range(150):
        jobs = []
        for i in range(8):
            y0, z0 = (int(v) for v in rng.integers(0, side - 80, 2))
            box = ((16 * i, y0, z0), (16, 80, 80))
            jobs.append((box, np.full((1, 16, 80, 80), r * 8 + i + 1, np.uint16)))
        for ((x, y, z), (w, h, d)), data in jobs:
            model[:, x:x + w, y:y + h, z:z + d] = data

        def write(job):
            (offset, _), data = job
            mag.write(data, absolute_offset=offset, allow_unaligned=True, json_update_allowed=False)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, jobs))
    got = mag.read(absolute_offset=(0, 0, 0), size=(side, side, side))
    np.testing.assert_array_equal(got, model)


def test_a_caller_holding_a_lock_never_waits_for_pool_threads_blocked_on_it():
    """A writer holding a shard lock fans its encoding out to the I/O pool while every pool
    thread runs another writer's per-shard task waiting for that lock: the caller runs its
    own tasks that have not started instead of waiting for them (this hung the suite)."""
    from wkpy import executor

    lock = threading.Lock()
    lock.acquire()                                   # "the shard lock", held by this caller
    blockers = [executor._pool().submit(lambda: (lock.acquire(), lock.release()))
                for _ in range(executor.io_threads())]
    try:
        while not all(b.running() for b in blockers):   # every pool thread is now waiting for it
            threading.Event().wait(0.001)
        assert executor.run_tasks([lambda: 1, lambda: 2, lambda: 3]) == [1, 2, 3]
    finally:
        lock.release()
        for b in blockers:
            b.result()
