"""Crash-safe replacement and removal of layer and mag folders.

A folder is never removed or rebuilt under its own name. Instead:

- **removal** renames it to ``.wkpy-old-<token>-<name>`` beside itself (one atomic
  step), updates the properties, then deletes the renamed folder;
- **replacement** (`compress`) builds the new content in ``.wkpy-new-<token>-<name>``,
  then exchanges the two folders in one atomic ``renameat2(RENAME_EXCHANGE)`` (Linux; on
  other systems two renames, with `recover` undoing a crash between them), then deletes
  the old content.

A SIGKILL at any instant therefore leaves the old or the new folder under the name, plus
perhaps one hidden leftover. **Renames** (a layer folder) first leave a hidden link
``.wkpy-mv-<token>-<new name>`` pointing to the old name, then list the new name, then
rename the folder, then drop the link. **Additions** (`add_mag`, links) build under a
``.wkpy-new-`` name and are renamed into place right after the properties list them.
`recover` (run when a dataset is opened for writing, under the properties lock) resolves
the leftovers: if a name is missing while the properties list it, a ``.wkpy-old-`` folder
is renamed back (a removal or swap did not complete), else the folder a ``.wkpy-mv-`` link
names is renamed to it (a rename was listed), else a ``.wkpy-new-`` one is renamed into
place (an addition did); every other leftover is deleted (a link only unlinked). Leftovers of a
replacement still in progress are skipped (its mag lock is held).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from wkpy.errors import OperationError
from wkpy.locking import mag_lock_file, try_path_lock

__all__ = ["move_aside", "new_folder_for", "rename_marker", "swap_in", "remove", "recover"]

OLD, NEW, MOVE = ".wkpy-old-", ".wkpy-new-", ".wkpy-mv-"
_LEFTOVER = re.compile(r"^\.wkpy-(old|new|mv)-[0-9a-f]{12}-(.+)$")

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
try:
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
except (OSError, AttributeError):  # not glibc ≥ 2.28 / not Linux
    _renameat2 = None


def _sibling(path: Path, kind: str) -> Path:
    return path.with_name(f"{kind}{secrets.token_hex(6)}-{path.name}")


def move_aside(path: Path) -> Path:
    """Rename `path` (a folder, or a link) to a hidden ``.wkpy-old-`` sibling; return it.

    Raises
    ------
    OperationError
        The rename failed (e.g. no write permission on the parent); nothing changed.
    """
    aside = _sibling(path, OLD)
    try:
        os.rename(path, aside)
    except OSError as exc:
        raise OperationError(f"cannot move {path} aside to delete or replace it: {exc}") from exc
    return aside


def new_folder_for(path: Path) -> Path:
    """A fresh hidden sibling name to build the replacement of `path` in."""
    return _sibling(path, NEW)


def rename_marker(path: Path, new: Path) -> Path:
    """Record that the folder `path` is about to be renamed to its sibling `new`: a hidden
    link beside them, named for `new`, pointing to `path`'s name. Make it before the
    properties list `new`; drop it (`remove`) once the folder is renamed."""
    marker = _sibling(new, MOVE)
    os.symlink(path.name, marker)
    return marker


def _renamed_from(marker: Path) -> Path | None:
    """The existing sibling folder a ``.wkpy-mv-`` link names, if it is one."""
    try:
        name = os.readlink(marker)
    except OSError:
        return None
    source = marker.parent / name
    if "/" in name or name in (".", "..") or _LEFTOVER.match(name) or not os.path.lexists(source):
        return None
    return source


def swap_in(new: Path, path: Path) -> Path:
    """Put the folder `new` at `path` atomically; return where the old content now is."""
    if _renameat2 is not None:
        rc = _renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(path), _RENAME_EXCHANGE)
        if rc == 0:
            return new  # it holds the old content now; as a leftover it is deleted

        if ctypes.get_errno() not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), f"{new} ⇄ {path}")
    old = move_aside(path)   # a crash here leaves `path` missing: `recover` renames it back
    os.rename(new, path)
    return old


def remove(path: Path) -> None:
    """Delete a moved-aside folder or link (never following links out of it).

    Raises
    ------
    OperationError
        Part of it could not be deleted (permissions, a busy mount): the message names
        what stays behind. Entries removed meanwhile by another process are fine.
    """
    failures: list[str] = []

    def failed(func: Callable[..., object], name: str, exc_info: tuple) -> None:  # type: ignore[type-arg]
        if not isinstance(exc_info[1], FileNotFoundError):
            failures.append(f"{name}: {exc_info[1]}")

    try:
        real_folder = stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return
    if not real_folder:                  # a link, file, FIFO or device: never opened, only unlinked
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            failures.append(f"{path}: {exc}")
    else:
        shutil.rmtree(path, onerror=failed)
    if failures:
        raise OperationError(f"could not delete {path} completely ({len(failures)} failures, first: {failures[0]}); "
                             "it is no longer part of the dataset and is retried when the dataset is opened")


def recover(folders: Iterable[Path], listed: Callable[[Path], bool]) -> None:
    """Resolve leftovers of interrupted removals, replacements and additions in `folders`.

    `listed(path)` tells whether the properties list `path` (a layer or mag folder). For
    each name with leftovers: if the name is missing while listed, the crash came between
    a step and the next, so a moved-aside ``.wkpy-old-`` folder is put back (an undone
    removal or swap), else a built ``.wkpy-new-`` one is put in place (a finished
    addition); every other leftover is deleted.
    """
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        by_name: dict[str, list[tuple[str, Path]]] = {}
        for entry in entries:
            m = _LEFTOVER.match(entry.name)
            if m is not None:
                by_name.setdefault(m.group(2), []).append((m.group(1), Path(entry.path)))
        for name, leftovers in by_name.items():
            original = Path(folder) / name
            with try_path_lock(mag_lock_file(original)) as free:
                if not free:
                    continue  # a replacement or removal of that folder is at work
                leftovers = [(kind, p) for kind, p in leftovers if os.path.lexists(p)]  # others may be faster
                if leftovers and not os.path.lexists(original) and listed(original):
                    moved = [source for kind, p in leftovers
                             if kind == "mv" and (source := _renamed_from(p)) and not listed(source)]
                    if moved:
                        os.rename(moved[0], original)
                    else:
                        kept = [(kind, p) for kind, p in leftovers if kind != "mv"]
                        kept.sort(key=lambda kind_path: kind_path[0] != "old")   # old ones first
                        if kept:
                            os.rename(kept[0][1], original)
                            leftovers.remove(kept[0])
                for _, leftover in leftovers:
                    try:
                        remove(leftover)
                    except OperationError:
                        pass  # stays hidden; tried again next time
