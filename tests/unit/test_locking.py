"""Locks live outside datasets, survive forks, and refuse a hijacked lock folder."""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest

from wkpy import locking
from wkpy.errors import OperationError


@pytest.fixture
def private_lock_dir(tmp_path, monkeypatch):
    folder = tmp_path / "locks"
    monkeypatch.setenv("WKPY_LOCK_DIR", str(folder))
    return folder


def test_lock_files_are_created_in_the_lock_folder_not_beside_the_data(tmp_path, private_lock_dir):
    data = tmp_path / "data"
    data.mkdir()
    lock = locking.lock_file_for(data, "z0/y0/x0.wkw")
    with locking.path_lock(lock):
        pass
    assert lock.parent == private_lock_dir
    assert list(data.iterdir()) == []
    assert (private_lock_dir.stat().st_mode & 0o777) == 0o700


def test_a_link_shares_the_lock_of_the_folder_it_points_to(tmp_path, private_lock_dir):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert locking.lock_file_for(tmp_path / "link", "a") == locking.lock_file_for(real, "a")
    assert locking.lock_file_for(real, "a") != locking.lock_file_for(real, "b")
    assert locking.mag_lock_file(tmp_path / "link") == locking.mag_lock_file(real)


def test_the_mag_lock_is_kept_when_the_mag_folder_is_replaced(tmp_path, private_lock_dir):
    mag = tmp_path / "layer" / "1"
    mag.mkdir(parents=True)
    before = locking.mag_lock_file(mag)
    os.rename(mag, tmp_path / "layer" / "old")
    mag.mkdir()
    assert locking.mag_lock_file(mag) == before


def test_a_shared_lock_excludes_an_exclusive_one(tmp_path, private_lock_dir):
    lock = locking.lock_file_for(tmp_path, "x")
    with locking.path_lock(lock, exclusive=False):
        with locking.try_path_lock(lock) as free:
            assert not free
    with locking.try_path_lock(lock) as free:
        assert free


def test_a_default_lock_folder_open_to_all_or_a_link_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("WKPY_LOCK_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "elsewhere"))   # the environment does not matter
    monkeypatch.setattr(locking, "DEFAULT_LOCK_DIR", str(tmp_path / "wkpy-locks-{uid}"))
    planted = tmp_path / f"wkpy-locks-{os.geteuid()}"
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)
    with pytest.raises(OperationError, match="writable by others"):
        locking.lock_dir()
    os.rmdir(planted)
    planted.symlink_to(tmp_path)
    with pytest.raises(OperationError, match="not a folder"):
        locking.lock_dir()
    planted.unlink()
    assert locking.lock_dir() == planted and (planted.stat().st_mode & 0o777) == 0o700


def _child_takes(lock: str, queue) -> None:  # type: ignore[no-untyped-def]
    with locking.path_lock(locking.Path(lock)):
        queue.put("child has the lock")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_a_thread_holds_a_lock_waits_for_the_parent_instead_of_deadlocking(
        tmp_path, private_lock_dir):
    lock = locking.lock_file_for(tmp_path, "shard")
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with locking.path_lock(lock):
            inside.set()
            leave.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_takes, args=(str(lock), queue))
    child.start()
    # the parent's thread still holds the lock, so the child must be waiting for it
    with pytest.raises(Exception):
        queue.get(timeout=1)
    leave.set()
    holder.join()
    assert queue.get(timeout=60) == "child has the lock"   # a hang guard, not a speed bound
    child.join(60)
    assert child.exitcode == 0
    # and the child's exit left the parent free to lock again
    with locking.try_path_lock(lock) as free:
        assert free


def test_a_released_shard_lock_leaves_no_file_behind_but_a_held_one_stays(tmp_path, private_lock_dir):
    locks = [locking.lock_file_for(tmp_path, f"z0/y0/x{i}.wkw") for i in range(50)]
    for lock in locks:
        with locking.path_lock(lock):
            assert lock.exists()
    assert sorted(private_lock_dir.iterdir()) == []
    with locking.path_lock(locks[0], exclusive=False):
        with locking.path_lock(locks[0], exclusive=False):
            pass
        assert locks[0].exists()                 # the first reader still holds it
    assert locks[0].exists()                     # readers leave the file (cheap repeated reads)
    with locking.path_lock(locks[0]):
        pass
    assert sorted(private_lock_dir.iterdir()) == []   # the next writer removes it


def _count_under_lock(lock_dir: str, data: str, times: int) -> None:
    os.environ["WKPY_LOCK_DIR"] = lock_dir
    lock = locking.lock_file_for(os.path.dirname(data), "counter")
    for _ in range(times):
        with locking.path_lock(lock):            # an unprotected read-modify-write
            with open(data) as f:
                value = int(f.read())
            with open(data, "w") as f:
                f.write(str(value + 1))


def test_lock_files_coming_and_going_never_let_two_holders_in(tmp_path, private_lock_dir):
    data = tmp_path / "counter.txt"
    data.write_text("0")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_count_under_lock, args=(str(private_lock_dir), str(data), 300)) for _ in range(3)]
    threads = [threading.Thread(target=_count_under_lock, args=(str(private_lock_dir), str(data), 300))
               for _ in range(2)]
    for worker in (*procs, *threads):
        worker.start()
    for worker in (*procs, *threads):
        worker.join()
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert int(data.read_text()) == 5 * 300      # every increment kept: no two holders at once
    assert [p.name for p in private_lock_dir.iterdir() if p.suffix == locking.TRANSIENT_SUFFIX] == []


def test_writing_many_shards_leaves_only_the_mag_locks(tmp_path, private_lock_dir):
    import numpy as np

    import wkpy as wk

    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    for fmt in ("wkw", "zarr3"):
        layer = ds.add_layer(f"l_{fmt}", "color", dtype="uint8", data_format=fmt)
        mag = layer.add_mag(1, chunk_shape=8, shard_shape=16 if fmt == "zarr3" else 32, compress=fmt == "zarr3")
        mag.write(np.ones((1, 128, 64, 64), np.uint8), absolute_offset=(0, 0, 0), allow_resize=True)
    left = sorted(p.suffix for p in private_lock_dir.iterdir())
    assert left and set(left) <= {".lock", ".gen"}   # one lock and one token per mag, nothing per shard
    assert len(left) <= 4


def test_a_thread_asking_again_for_a_lock_it_holds_does_not_wait_for_itself(tmp_path, private_lock_dir):
    lock = locking.lock_file_for(tmp_path, "x")
    done = []

    def nested() -> None:
        with locking.path_lock(lock), locking.path_lock(lock), locking.path_lock(lock, exclusive=False):
            done.append("inner")
        with locking.path_lock(lock, exclusive=False):
            with pytest.raises(OperationError, match="shared and asks for it exclusively"):
                with locking.path_lock(lock):
                    pass
        done.append("outer")

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(60)                               # a hang guard, not a speed bound
    assert done == ["inner", "outer"]
    with locking.try_path_lock(lock) as free:     # every hold was let go
        assert free
    assert sorted(private_lock_dir.iterdir()) == []


def test_deleting_a_layer_whose_two_mags_name_one_folder_does_not_hang(tmp_path, private_lock_dir):
    import json

    import numpy as np

    import wkpy as wk

    ds = wk.Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    ds.add_layer("color", "color", dtype="uint8").add_mag(1).write(np.ones((1, 32, 32, 32), np.uint8),
                                                                   absolute_offset=(0, 0, 0))
    props_file = tmp_path / "ds" / "datasource-properties.json"
    props = json.loads(props_file.read_text())
    mags = props["dataLayers"][0]["mags"]
    mags.append(dict(mags[0], mag=[2, 2, 2]))   # the same folder as mag 1: one mag lock for both
    props_file.write_text(json.dumps(props))
    opened = wk.Dataset.open(tmp_path / "ds")
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            opened.delete_layer("color")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    worker = threading.Thread(target=delete, daemon=True)
    worker.start()
    worker.join(60)                               # a hang guard, not a speed bound
    assert not worker.is_alive(), "delete_layer waited for a mag lock its own thread holds"
    assert errors == []
    assert "color" not in wk.Dataset.open(tmp_path / "ds").layers


def test_a_child_forked_by_a_thread_holding_a_lock_waits_for_it_and_leaves_its_own_files_open(
        tmp_path, private_lock_dir):
    import select

    lock = locking.lock_file_for(tmp_path, "x")
    r, w = os.pipe()
    other = -1
    with locking.path_lock(lock):
        pid = os.fork()
        if pid == 0:
            try:
                with locking.path_lock(lock):      # the parent holds it, not this process: wait
                    os.write(w, b"got")
                other = os.open(os.devnull, os.O_RDONLY)   # likely the inherited lock's old number
            except BaseException:
                os._exit(2)
        else:
            try:
                assert select.select([r], [], [], 1)[0] == []   # the child is waiting for the parent
            except BaseException:
                os.kill(pid, 9)
                raise
    if pid == 0:   # the child left the lock it inherited: its own descriptor must still be open
        try:
            os.fstat(other)
        except OSError:
            os._exit(3)
        os._exit(0)
    assert os.read(r, 3) == b"got"
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
