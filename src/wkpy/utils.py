"""Small helpers under the names ``webknossos.utils`` gives them, for local paths.

wkpy works on the local file system only, so the path helpers take `str`, `os.PathLike`
and `pathlib.Path` (a local ``UPath`` is a `Path` too); `is_fs_path` is False for URLs.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path, PurePath
from typing import Any, TypeVar

from wkpy.errors import InvalidRequestError

__all__ = [
    "named_partial", "time_start", "time_stop", "is_fs_path", "is_remote_path", "cheap_resolve", "dump_path",
    "safe_is_relative_to", "rmtree", "copytree", "movetree", "get_chunks", "snake_to_camel_case",
    "count_defined_values", "warn_deprecated", "wait_and_ensure_success",
]

logger = logging.getLogger(__name__)
times: dict[str, float] = {}
F = TypeVar("F", bound=Callable[..., Any])
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def named_partial(func: F, *args: Any, **kwargs: Any) -> F:
    """`functools.partial` that keeps `func`'s name and docstring (and pickles)."""
    partial = functools.partial(func, *args, **kwargs)
    functools.update_wrapper(partial, func)
    partial.__annotations__ = {}       # may hold unpicklable typing objects
    partial.__dict__.pop("__annotate__", None)
    return partial  # type: ignore[return-value]


def time_start(identifier: str) -> None:
    """Start a named timer (logged at debug level by `time_stop`)."""
    times[identifier] = time.time()
    logger.debug("%s started", identifier)


def time_stop(identifier: str) -> None:
    """Stop the named timer and log how long it ran."""
    started = times.pop(identifier)
    logger.debug("%s took %.8fs", identifier, time.time() - started)


def is_fs_path(path: object) -> bool:
    """Whether `path` names a local file (not a URL such as ``s3://`` or ``https://``)."""
    protocol = getattr(path, "protocol", "")
    if protocol not in ("", "file", "local"):
        return False
    if isinstance(path, (str, PurePath, os.PathLike)):
        return _URL.match(os.fspath(path)) is None  # type: ignore[arg-type]
    return False


def is_remote_path(path: object) -> bool:
    return not is_fs_path(path)


def cheap_resolve(path: str | os.PathLike[str]) -> Path:
    """The absolute path with every symlink followed."""
    return Path(os.path.realpath(os.path.abspath(path)))


def safe_is_relative_to(path: str | os.PathLike[str], base_path: str | os.PathLike[str]) -> bool:
    return is_fs_path(path) and is_fs_path(base_path) and Path(path).is_relative_to(base_path)


def dump_path(path: Any, dataset_path: Any) -> str:
    """`path` as written in ``datasource-properties.json``: ``./rel/path`` inside the
    dataset, else the absolute resolved path, or for a remote path its URL (S3:
    ``s3://<endpoint host>/<bucket>/<key>``, as webknossos 4.3.3 writes it).

    Raises
    ------
    InvalidRequestError
        `dataset_path` is relative, or `path` is relative and `dataset_path` is None
        (a `ValueError`, as in webknossos).
    """
    from wkpy._urls import is_remote, url_of

    if is_remote(path) or is_remote(dataset_path):
        text = str(path).rstrip("/")
        if dataset_path is not None and is_remote(path) and is_remote(dataset_path) \
                and path.protocol == dataset_path.protocol \
                and text.startswith(str(dataset_path).rstrip("/") + "/"):
            return "./" + text[len(str(dataset_path).rstrip("/")) + 1:]
        if is_remote(path):
            return url_of(path)  # type: ignore[return-value]   (s3: s3://<endpoint host>/<bucket>/<key>)
        return Path(os.path.realpath(path)).as_posix()
    if dataset_path is not None:
        if not Path(dataset_path).is_absolute():
            raise InvalidRequestError("dataset_path must be an absolute path.")
        dataset_path = cheap_resolve(dataset_path)
    target = Path(path)
    if not target.is_absolute():
        if dataset_path is None:
            raise InvalidRequestError("dataset_path must be provided when path is not absolute.")
        target = dataset_path / target
    target = cheap_resolve(target)
    if dataset_path is not None and target.is_relative_to(dataset_path):
        return "./" + target.relative_to(dataset_path).as_posix()
    return target.as_posix()


def rmtree(path: str | os.PathLike[str] | Any) -> None:
    """Delete a folder and everything in it; a missing folder is no error. A remote
    ``upath.UPath`` (or URL) loses every object under its prefix, as in webknossos 4.3.3."""
    if is_remote_path(path):
        from wkpy._urls import as_location

        remote = as_location(path)
        try:
            remote.fs.rm(remote.path, recursive=True)
        except FileNotFoundError:
            pass
        return
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass


def copytree(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    ignore: Callable[[Path, list[str]], Iterable[str]] | None = None,
    threads: int | None = 10,
    progress_desc: str | None = None,
) -> None:
    """Copy the files under `in_path` into `out_path` (created), `threads` at a time.

    `ignore(folder, names)` returns the names in `folder` to leave out. Symlinks are
    followed: their targets' contents are copied. Either side may be a remote
    ``upath.UPath`` (or URL), as in webknossos 4.3.3: its objects are read or written
    whole. `progress_desc` is accepted for compatibility.
    """
    from wkpy._urls import as_location

    src, dst = as_location(in_path), as_location(out_path)
    jobs: list[tuple[Any, Any]] = []
    stack: list[tuple[str, ...]] = [()]
    while stack:
        rel = stack.pop()
        folder = src.joinpath(*rel)
        if not folder.is_dir():
            jobs.append((folder, dst.joinpath(*rel)))
            continue
        dst.joinpath(*rel).mkdir(parents=True, exist_ok=True)
        names = sorted(p.name for p in folder.iterdir())
        skip = set(ignore(folder, names)) if ignore is not None else set()
        stack.extend((*rel, name) for name in names if name not in skip)
    with ThreadPoolExecutor(max_workers=threads or None) as pool:
        for _ in pool.map(lambda job: _copy_file(*job), jobs):
            pass


def _copy_file(src: Any, dst: Any) -> None:
    if isinstance(src, Path) and isinstance(dst, Path):
        shutil.copyfile(src, dst)
    else:
        dst.write_bytes(src.read_bytes())


def movetree(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> None:
    """Move a folder (a rename where possible)."""
    shutil.move(os.fspath(in_path), os.fspath(out_path))


def get_chunks(arr: list[Any], chunk_size: int) -> Iterator[list[Any]]:
    """Successive slices of `arr` of length `chunk_size` (the last may be shorter)."""
    for i in range(0, len(arr), chunk_size):
        yield arr[i:i + chunk_size]


def snake_to_camel_case(snake_case_name: str) -> str:
    first, *rest = snake_case_name.split("_")
    return first + "".join(part.title() for part in rest)


def count_defined_values(values: Iterable[Any]) -> int:
    """How many of `values` are not None."""
    return sum(v is not None for v in values)


def warn_deprecated(deprecated_item: str, alternative_item: str) -> None:
    warnings.warn(f"[DEPRECATION] `{deprecated_item}` is deprecated, please use `{alternative_item}` instead",
                  DeprecationWarning, stacklevel=3)


def wait_and_ensure_success(futures: list[Future], executor: Executor | None = None,
                            progress_desc: str | None = None) -> list[Any]:
    """The results of `futures` in completion order; the first failure is raised at once."""
    return [future.result() for future in concurrent.futures.as_completed(futures)]
