"""Locks that make concurrent writers safe, in one process and across processes.

Every lock is an OS lock (`flock`) on an empty file in a per-user folder **outside** the
datasets: ``/tmp/wkpy-locks-<uid>``, or ``$WKPY_LOCK_DIR`` if set (then every process
working on the same data must set the same value). So a written dataset holds exactly the files webknossos
writes, and a read-only dataset (a read-only mount, another user's files) can be read.
A lock file is named by a hash of what it guards: the device and inode of a folder plus a
name inside it (`lock_file_for`). Links and bind mounts therefore share locks with the
real folder.

- The **mag lock** (`mag_lock`) guards a mag folder as a whole and is keyed by the layer
  folder and the mag's name, so it survives the mag folder being replaced. Writers hold it
  shared; maintenance that replaces or removes the folder (`compress`, `delete_mag`,
  `delete_layer`) holds it exclusively.
- **Shard locks** order the read-modify-write of one shard file; readers of files patched
  in place (raw WKW) take them shared.
- The **properties lock** orders read-merge-write updates of ``datasource-properties.json``.

Every acquisition opens the lock file anew and flock treats separate opens independently,
so the same lock orders threads of one process as well as processes. Shard and properties
locks are *transient*: a writer removes the lock file when it lets go of its exclusive
hold, so the lock folder holds about as many files as there are locks in use (plus the mag
locks and their tokens, one pair per mag ever created, and the shard locks of raw WKW
files read since their last write), however many shards or chunk files are written. An
acquirer whose file was removed while it waited sees that (the path no longer names the
file it locked) and starts over with a fresh file. Readers leave the file: creating and
removing one costs ~50 µs on a disk, 30 times the lock itself, on every small read. A
thread that asks again for a lock it holds (two mags of a layer naming one folder share
one mag lock) holds it once more instead of waiting for itself; asking for it
exclusively while holding it shared raises `OperationError` (that wait would never end). Lock files are
opened without following links. After a `fork`, the child closes the lock descriptors it
inherited from threads of the parent that were holding locks: the parent keeps its locks,
and the child waits for them like any other process instead of deadlocking on itself.

The locks are local to one machine (and to one user unless ``WKPY_LOCK_DIR`` names a
shared folder): writers on several machines must write disjoint shards.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wkpy._paths import write_file_atomic
from wkpy.errors import OperationError

__all__ = ["lock_dir", "lock_file_for", "mag_lock_file", "mag_generation", "new_mag_generation", "path_lock",
           "try_path_lock"]

_held: dict[int, object] = {}    # lock descriptors this process holds -> a token of that acquisition
_held_guard = threading.Lock()
_mine = threading.local()        # per thread: {lock path: [exclusive, depth]} of the locks it holds
_dir_cache: dict[str, Path] = {}
DEFAULT_LOCK_DIR = "/tmp/wkpy-locks-{uid}"
TRANSIENT_SUFFIX = ".tlock"  # lock files removed by their last holder


def _forget_inherited_locks() -> None:
    """In a forked child: close the parent's lock descriptors (the parent keeps its locks).
    The forking thread holds none of them in the child: a lock it held when it forked is
    released by nobody there (`_release` skips it) and taken anew if asked for again."""
    global _held_guard, _mine
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()
    _held_guard = threading.Lock()
    _mine = threading.local()


if hasattr(os, "register_at_fork"):
    # The guard is held across fork, so a descriptor is never half-registered in the child.
    os.register_at_fork(before=lambda: _held_guard.acquire(), after_in_parent=lambda: _held_guard.release(),
                        after_in_child=_forget_inherited_locks)


def lock_dir() -> Path:
    """The folder holding this user's lock files, created private (0700) on first use.

    Raises
    ------
    OperationError
        The folder is a link, not a folder, or (when not set by ``WKPY_LOCK_DIR``)
        belongs to another user or is writable by others.
    """
    chosen = os.environ.get("WKPY_LOCK_DIR")
    # Not from TMPDIR or XDG_RUNTIME_DIR: processes of one user started from different
    # environments (a shell, cron, ssh) must find the same locks.
    folder = chosen or DEFAULT_LOCK_DIR.format(uid=os.geteuid())
    if folder in _dir_cache:
        return _dir_cache[folder]
    try:
        os.makedirs(folder, 0o700, exist_ok=True) if chosen else os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise OperationError(f"lock folder {folder} is not a folder (a link or a file); set WKPY_LOCK_DIR")
    if not chosen and (st.st_uid != os.geteuid() or st.st_mode & 0o022):
        raise OperationError(f"lock folder {folder} belongs to another user or is writable by others; "
                             "remove it or set WKPY_LOCK_DIR")
    _dir_cache[folder] = Path(folder)
    return _dir_cache[folder]


def _identity(folder: str | os.PathLike[str]) -> str:
    real = os.path.realpath(folder)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return f"path:{real}"
    return f"{st.st_dev}:{st.st_ino}"


def lock_file_for(folder: str | os.PathLike[str], name: str) -> Path:
    """The transient lock file guarding `name` (a file or key) inside the existing folder
    `folder`: removed on release when nobody else holds it (see the module docstring)."""
    digest = hashlib.sha256(f"{_identity(folder)}\0{name}".encode()).hexdigest()[:40]
    return lock_dir() / f"{digest}{TRANSIENT_SUFFIX}"


def mag_lock_file(mag_path: str | os.PathLike[str]) -> Path:
    """The mag lock of the mag folder `mag_path` (stable while the folder is replaced)."""
    path = Path(os.path.realpath(mag_path))
    return lock_file_for(path.parent, f"mag:{path.name}").with_suffix(".lock")


def mag_generation(mag_lock: Path) -> str | None:
    """The token of the current life of the mag whose `mag_lock_file` is `mag_lock` (None
    if never set): a new one is drawn whenever a mag is created or deleted at that place,
    so an array opened earlier can tell a mag replaced by `compress` (same token) from a
    deleted or re-created one."""
    try:
        return mag_lock.with_suffix(".gen").read_text()
    except FileNotFoundError:
        return None


def new_mag_generation(mag_lock: Path) -> None:
    """Start a new life of the mag whose `mag_lock_file` is `mag_lock` (held exclusively)."""
    write_file_atomic(mag_lock.with_suffix(".gen"), secrets.token_hex(16).encode(), mode=0o600)


def _open(lock: Path) -> tuple[int, object]:
    """Open `lock`: its descriptor, and the token `_release` needs."""
    with _held_guard:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        _held[fd] = token = object()
    return fd, token


def _release(opened: tuple[int, object], lock: Path, remove: bool = False) -> None:
    """Let go of `opened` (from `_open`); with `remove` (an exclusive hold of a transient
    lock, which nobody else can hold meanwhile) its file is removed first. A descriptor
    this process no longer holds (closed in a forked child, its number maybe reused
    since) is left alone."""
    fd, token = opened
    with _held_guard:
        if _held.get(fd) is not token:
            return
        del _held[fd]
        try:
            if remove and lock.suffix == TRANSIENT_SUFFIX and _still_named(fd, lock):
                os.unlink(lock)
        finally:
            os.close(fd)  # closing releases the flock


def _still_named(fd: int, lock: Path) -> bool:
    """Whether `lock` still names the file open as `fd` (a released transient lock file
    is removed, and a later acquirer creates a new one)."""
    try:
        st = os.lstat(lock)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _held_by_this_thread() -> dict[str, list]:
    held = getattr(_mine, "held", None)
    if held is None:
        held = _mine.held = {}
    return held


@contextmanager
def path_lock(lock: Path, exclusive: bool = True) -> Iterator[None]:
    """Hold the lock file `lock` (exclusive for writers, shared for readers).

    Re-entrant within a thread: a thread already holding `lock` (exclusively, or shared
    when it asks for shared) holds it once more.

    Raises
    ------
    OperationError
        This thread holds `lock` shared and asks for it exclusively (it would wait for
        itself forever).
    """
    key, held = os.fspath(lock), _held_by_this_thread()
    if key in held:
        if exclusive and not held[key][0]:
            raise OperationError(f"lock file {lock}: this thread holds it shared and asks for it exclusively, "
                                 "which would wait for itself forever")
        held[key][1] += 1
        try:
            yield
        finally:
            held[key][1] -= 1
        return
    while True:
        opened = _open(lock)
        fd = opened[0]
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)  # waits without the GIL
        except BaseException:
            _release(opened, lock)
            raise
        if _still_named(fd, lock):
            break
        _release(opened, lock)  # removed by its last holder while we waited: start over
    held[key] = [exclusive, 1]
    try:
        yield
    finally:
        del held[key]
        _release(opened, lock, remove=exclusive)


@contextmanager
def try_path_lock(lock: Path) -> Iterator[bool]:
    """Take `lock` exclusively if nobody holds it; yields whether it was taken."""
    while True:
        opened = _open(lock)
        fd = opened[0]
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            taken = False
            break
        except BaseException:
            _release(opened, lock)
            raise
        if _still_named(fd, lock):
            taken = True
            break
        _release(opened, lock)
    try:
        yield taken
    finally:
        _release(opened, lock, remove=taken)
