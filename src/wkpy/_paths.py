"""Where wkpy may create, change or delete files: inside the dataset it was asked to change.

Names and paths that come from a file (layer names, mag paths in
``datasource-properties.json``) are data, not trust. They are checked where they enter
(`check_name`), and every path about to be created, replaced or deleted is checked
against the dataset's resolved root (`ensure_inside`) as a second line of defence.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from wkpy.errors import ForeignPathError, InvalidRequestError, WkError

__all__ = ["check_name", "ensure_inside", "is_inside", "TRASH_PREFIX"]

# Folders wkpy renames data into before deleting it; layer names cannot start with "."
TRASH_PREFIX = ".wkpy-trash-"


def check_name(name: object, what: str = "layer name", error: type[WkError] = InvalidRequestError) -> str:
    """Return `name` if it is one safe folder name, else raise `error`.

    A safe name is a non-empty string without ``/``, ``\\`` or NUL that does not start
    with ``.`` (so never ``.`` or ``..``, and never one of wkpy's hidden work folders).
    webknossos 4.3.3 is stricter still for new layers (letters, digits, ``_$@-.``).
    """
    if not isinstance(name, str) or not name or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise error(f"{name!r} is not a valid {what}: it must be one folder name, not empty, "
                    "without '/', '\\' or NUL, and not starting with '.'")
    return name


def is_inside(root: str | os.PathLike[str] | Any, path: str | os.PathLike[str] | Any) -> bool:
    """Whether `path`, with every symlink resolved, lies inside `root` (resolved).

    Remote paths (``upath.UPath`` objects of a remote protocol, see `wkpy._urls`) have no
    links: one lies inside another if both name the same service (protocol and storage
    options) and its key, with ``..`` resolved, lies under the other's. A local path never
    lies inside a remote one, nor the reverse.
    """
    if not isinstance(root, (str, os.PathLike)) or not isinstance(path, (str, os.PathLike)):
        return _url_inside(root, path)
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))


def _url_inside(root: Any, path: Any) -> bool:
    if isinstance(root, (str, os.PathLike)) or isinstance(path, (str, os.PathLike)):
        return False
    if root.protocol != path.protocol or dict(root.storage_options) != dict(path.storage_options):
        return False
    base = posixpath.normpath("/" + str(root.path).strip("/"))
    key = posixpath.normpath("/" + str(path.path).strip("/"))
    return key == base or key.startswith(base.rstrip("/") + "/")


def ensure_inside(root: str | os.PathLike[str] | Any, path: str | os.PathLike[str] | Any,
                  action: str = "write") -> Any:
    """Return `path` if it lies inside `root` once links are resolved (see `is_inside`);
    else raise.

    Raises
    ------
    ForeignPathError
        `path` (or a link on the way to it) leads outside `root`: wkpy never creates,
        changes or deletes files there (a `ReadOnlyError`).
    """
    if not is_inside(root, path):
        if not isinstance(path, (str, os.PathLike)):
            raise ForeignPathError(f"refusing to {action} {path}: it lies outside the dataset {root}")
        raise ForeignPathError(f"refusing to {action} {path}: it lies outside the dataset {root} "
                               f"(resolves to {os.path.realpath(path)})")
    return path if not isinstance(path, (str, os.PathLike)) else Path(path)


def open_regular_file(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of `path`, opened without blocking, if it is a regular file.

    A FIFO or device planted at the name can therefore neither hang nor flood the caller.

    Raises
    ------
    FileNotFoundError
        There is no such file (callers turn it into their typed error).
    CorruptFileError
        It is not a regular file.
    """
    import stat

    from wkpy.errors import CorruptFileError

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CorruptFileError(f"{path}: not a regular file")
    return fd


def read_small_file(path: str | os.PathLike[str], limit: int = 64 << 20) -> bytes:
    """The bytes of a metadata file (properties, header, zarr.json), at most `limit`.

    Raises
    ------
    FileNotFoundError
        There is no such file.
    CorruptFileError
        It is not a regular file (see `open_regular_file`), or larger than `limit`.
    """
    from wkpy.errors import CorruptFileError

    with os.fdopen(open_regular_file(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise CorruptFileError(f"{path}: {size:,} bytes, more than the {limit:,} a metadata file may have")
        return f.read(limit)


def write_file_atomic(file: str | os.PathLike[str], data: bytes, *, sync: bool = False,
                      mode: int = 0o644, keep_mode: bool = False) -> None:
    """Write `data` to a fresh temporary sibling and rename it over `file`.

    Readers see the old or the new file, never a part. The temporary file gets an
    unpredictable name and is created with ``O_EXCL | O_NOFOLLOW``, so a link planted in
    the folder is never written through; the rename replaces a link at `file` itself,
    not its target. `sync` flushes it to disk first; `keep_mode` keeps the old file's
    permissions. On failure the temporary file is removed and `file` is unchanged.
    """
    import secrets

    file = os.fspath(file)
    folder, name = os.path.split(file)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        if keep_mode:
            try:
                os.chmod(tmp, os.stat(file).st_mode & 0o7777)
            except FileNotFoundError:
                pass
        os.replace(tmp, file)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
