"""Locks that make concurrent writers safe, in one process and across processes.

A shard is guarded by an OS lock (`flock`) on a lock file in the folder ``.wkpy-locks``
beside the data. Every acquisition opens the lock file anew, and flock treats separate
opens independently, so the same lock orders threads of one process as well as
processes (and, on file systems that support it, machines). Readers of files that are
patched in place (raw WKW) take the same lock shared. The properties JSON is guarded
by one such lock per dataset. Lock files are empty and stay in place.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOCK_DIR", "path_lock", "lock_file_for"]

LOCK_DIR = ".wkpy-locks"

def lock_file_for(root: Path, relative: str) -> Path:
    """The lock file of `relative` (a shard path inside `root`)."""
    return Path(root) / LOCK_DIR / (relative.replace(os.sep, "_").replace("/", "_") + ".lock")


def _open(lock: Path, exclusive: bool) -> int | None:
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except FileNotFoundError:
        if not exclusive:
            return None  # nothing was ever written here under a lock
        lock.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        # A reader on read-only media: no writer can be at work there either.
        if not exclusive and exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
            return None
        raise


@contextmanager
def path_lock(lock: Path, exclusive: bool = True) -> Iterator[None]:
    """Hold the lock file `lock` (exclusive for writers, shared for readers)."""
    fd = _open(lock, exclusive)
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)  # waits without the GIL
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the flock
