"""Executors: the default thread pool, and running a batch of per-shard tasks."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait, FIRST_EXCEPTION
from typing import Any, TypeVar

from wkpy.progress import progress

__all__ = ["default_executor", "map_on_executor", "run_tasks", "io_threads"]

T = TypeVar("T")

_lock = threading.Lock()
_io_pool: ThreadPoolExecutor | None = None
_io_local = threading.local()


def io_threads() -> int:
    """Threads of the internal I/O pool: one per core (the kernels release the GIL), or
    the number in the environment variable ``WKPY_IO_THREADS``."""
    if os.environ.get("WKPY_IO_THREADS", "").isdigit():
        return max(1, int(os.environ["WKPY_IO_THREADS"]))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _mark_io_thread() -> None:
    _io_local.inside = True


def _pool() -> ThreadPoolExecutor:
    global _io_pool
    with _lock:
        if _io_pool is None:
            _io_pool = ThreadPoolExecutor(io_threads(), thread_name_prefix="wkpy-io", initializer=_mark_io_thread)
        return _io_pool


def _reset_after_fork() -> None:
    global _io_pool, _lock
    _io_pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def default_executor() -> Executor:
    """A new thread pool sized to the cores, for user-level parallel operations."""
    return ThreadPoolExecutor(io_threads(), thread_name_prefix="wkpy")


_BATCHES_PER_THREAD = 4


def _run_all(tasks: list[Callable[[], T]]) -> list[T]:
    return [t() for t in tasks]


def run_tasks(tasks: Iterable[Callable[[], T]]) -> list[T]:
    """Run per-shard kernel calls on the internal pool and return their results in order.

    A single task, or a call made from inside the pool, runs inline (so nested calls
    cannot deadlock). Many small tasks (the chunk files of an unsharded array) are run
    in a few batches per thread, so that handing them to the pool does not cost more than
    running them. The first failure cancels what has not started and is re-raised.
    """
    tasks = list(tasks)
    if len(tasks) <= 1 or getattr(_io_local, "inside", False):
        return [t() for t in tasks]
    most = _BATCHES_PER_THREAD * io_threads()
    if len(tasks) > most:
        size = -(-len(tasks) // most)
        batches = [functools.partial(_run_all, tasks[i:i + size]) for i in range(0, len(tasks), size)]
        return [result for batch in run_tasks(batches) for result in batch]
    futures: list[Future[Any]] = [_pool().submit(t) for t in tasks]
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for f in pending:
        f.cancel()
    wait(pending)
    return [f.result() for f in futures]


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
