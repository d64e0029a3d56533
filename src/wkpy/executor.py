"""Executors: the default thread pool, and running a batch of per-shard tasks."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait, FIRST_EXCEPTION
from typing import Any, TypeVar

from wkpy.progress import progress

__all__ = ["default_executor", "map_on_executor", "run_tasks", "stream_tasks", "io_threads", "io_pieces", "SLAB_BYTES",
           "slab_depth"]

T = TypeVar("T")

SLAB_BYTES = 1 << 30
"""Memory the slabs of one parallel operation may hold at a time (1 GiB)."""

_lock = threading.Lock()
_io_pool: ThreadPoolExecutor | None = None
_wide_pool: ThreadPoolExecutor | None = None
_io_local = threading.local()

REMOTE_THREADS = 16
"""Threads for per-shard tasks on object stores and web servers, whose time goes mostly to
waiting for requests (at least `io_threads`)."""


def io_threads() -> int:
    """Threads of the internal I/O pool: one per core (the kernels release the GIL), or
    the number in the environment variable ``WKPY_IO_THREADS``."""
    if os.environ.get("WKPY_IO_THREADS", "").isdigit():
        return max(1, int(os.environ["WKPY_IO_THREADS"]))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


PIECES_PER_THREAD = 4
"""Pieces the work of a large request is cut into per I/O thread at most (see `io_pieces`)."""
PIECE_BYTES = 4 << 20
"""Bytes of voxels a piece beyond one per thread holds at least (see `io_pieces`)."""


def io_pieces(nbytes: int) -> int:
    """How many pieces a read or write of `nbytes` bytes of voxels within few shards is cut
    into: one per I/O thread, and for large requests up to `PIECES_PER_THREAD` per thread
    (of at least `PIECE_BYTES` each), so that a thread slowed down (by another process on
    its core) takes fewer and a writer writes finished pieces while later ones encode; 1
    with one thread."""
    n = io_threads()
    return 1 if n == 1 else max(n, min(PIECES_PER_THREAD * n, nbytes // PIECE_BYTES))


def slab_depth(shard: int, chunk: int, slice_bytes: int) -> int:
    """Slices per slab: a whole shard's depth if slabs of `slice_bytes` per slice fit in
    `SLAB_BYTES`, else the most whole chunks that do (at least one chunk)."""
    fit = SLAB_BYTES // max(1, slice_bytes)
    return shard if fit >= shard else max(chunk, fit // chunk * chunk)


def _mark_io_thread() -> None:
    _io_local.inside = True


def _pool(remote: bool = False) -> ThreadPoolExecutor:
    global _io_pool, _wide_pool
    with _lock:
        if remote:
            if _wide_pool is None:
                _wide_pool = ThreadPoolExecutor(_width(True), thread_name_prefix="wkpy-remote",
                                                initializer=_mark_io_thread)
            return _wide_pool
        if _io_pool is None:
            _io_pool = ThreadPoolExecutor(io_threads(), thread_name_prefix="wkpy-io", initializer=_mark_io_thread)
        return _io_pool


def _width(remote: bool) -> int:
    return max(REMOTE_THREADS, io_threads()) if remote else io_threads()


def _reset_after_fork() -> None:
    global _io_pool, _wide_pool, _lock
    _io_pool = _wide_pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def default_executor() -> Executor:
    """A new thread pool sized to the cores, for user-level parallel operations."""
    return ThreadPoolExecutor(io_threads(), thread_name_prefix="wkpy")


_BATCHES_PER_THREAD = 4


def _run_all(tasks: list[Callable[[], T]]) -> list[T]:
    return [t() for t in tasks]


def run_tasks(tasks: Iterable[Callable[[], T]], *, remote: bool = False) -> list[T]:
    """Run per-shard kernel calls on the internal pool and return their results in order
    (`remote`: tasks that mostly wait for an object store, on a wider pool of
    `REMOTE_THREADS`).

    A single task, a call made from inside the pool (so nested calls cannot deadlock), and
    every call when `io_threads` is 1 (one thread means one: ``WKPY_IO_THREADS=1`` measures a
    single core) run inline. Many small tasks (the chunk files of an unsharded array) are run
    in a few batches per thread, so that handing them to the pool does not cost more than
    running them. The caller never waits for a task that has not started: it takes such
    tasks back (last first) and runs them itself. So a caller holding a shard lock cannot
    wait forever on pool threads that are themselves waiting for that lock (another
    writer's per-shard tasks), and it does a share of the work. The first failure cancels
    what has not started and is re-raised.
    """
    tasks = list(tasks)
    if _inline(tasks, remote):
        return [t() for t in tasks]
    most = _BATCHES_PER_THREAD * _width(remote)
    if len(tasks) > most:
        size = -(-len(tasks) // most)
        batches = [functools.partial(_run_all, tasks[i:i + size]) for i in range(0, len(tasks), size)]
        return [result for batch in run_tasks(batches, remote=remote) for result in batch]
    pool = _pool(remote)
    futures: list[Future[Any]] = [pool.submit(t) for t in tasks]
    results: dict[int, Any] = {}
    try:
        for i in range(len(tasks) - 1, -1, -1):
            if futures[i].cancel():          # not started: run it here
                results[i] = tasks[i]()
        done, pending = wait([f for f in futures if not f.cancelled()], return_when=FIRST_EXCEPTION)
    except BaseException:
        for f in futures:
            f.cancel()
        wait([f for f in futures if not f.cancelled()])
        raise
    for f in pending:
        f.cancel()
    wait([f for f in pending if not f.cancelled()])
    return [results[i] if i in results else f.result() for i, f in enumerate(futures)]


def _inline(tasks: list[Any], remote: bool) -> bool:
    return len(tasks) <= 1 or getattr(_io_local, "inside", False) or _width(remote) == 1


def stream_tasks(tasks: Iterable[Callable[[], T]]) -> Iterator[T]:
    """Run tasks on the internal pool and yield their results in order, each as soon as it
    and those before it are done: the caller consumes result i (writes it to a file)
    while the pool computes the later ones.

    It runs inline when `run_tasks` would. The caller's own work is consuming, so it
    waits for a task the pool has not started yet as long as the pool finishes others;
    only when the pool finished none for `STALL` seconds (its threads may be waiting for a
    lock the caller holds: another writer's tasks) does the caller take the task back and
    run it itself. The first failure met cancels what has not started, waits for what
    runs, and is re-raised; closing the generator early does the same without raising.
    """
    tasks = list(tasks)
    if _inline(tasks, False):
        for t in tasks:
            yield t()
        return
    pool = _pool()
    futures: list[Future[Any] | None] = [pool.submit(t) for t in tasks]
    try:
        for i, t in enumerate(tasks):
            f = futures[i]
            assert f is not None
            futures[i] = None                 # no reference kept: a result lives as long as its consumer keeps it
            yield t() if _take_back(f, futures) else f.result()
    finally:                                  # a failure, or the consumer stopped early
        left = [f for f in futures if f is not None and not f.cancel()]
        wait(left)


STALL = 0.05
"""Seconds without a finished task after which `stream_tasks` runs a waiting task itself."""


def _take_back(f: Future[Any], futures: list[Future[Any] | None]) -> bool:
    """Whether the caller runs the task of `f` itself: the pool has not started it and
    finished none of `futures` (None: consumed) for `STALL` seconds."""
    while True:
        finished = sum(g is None or g.done() for g in futures)
        wait([f], timeout=STALL)
        if f.done() or f.running():
            return False
        if sum(g is None or g.done() for g in futures) == finished:
            return f.cancel()


def map_on_executor(
    func: Callable[[Any], T], items: list[Any], executor: Executor | None, progress_desc: str | None = None
) -> list[T]:
    """`func(item)` for every item on `executor` (a fresh default pool if None), in order.

    Uses only `submit`, so any `concurrent.futures.Executor` works (thread and process
    pools, Dask's `Client.get_executor()`, cluster_tools). The first failure cancels the
    tasks not yet started and is re-raised with the worker's traceback.
    """
    own = executor is None
    ex = default_executor() if own else executor
    try:
        futures = [ex.submit(func, item) for item in items]  # type: ignore[union-attr]
        results = []
        with progress(progress_desc, len(futures)) as advance:
            for f in futures:
                try:
                    results.append(f.result())
                except BaseException:
                    for g in futures:
                        g.cancel()
                    raise
                advance()
        return results
    finally:
        if own:
            ex.shutdown(wait=True)  # type: ignore[union-attr]
