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
