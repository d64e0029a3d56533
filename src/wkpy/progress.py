"""Progress bars for long operations: shown on a terminal, silent otherwise."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress"]


def _wanted(desc: str | None) -> bool:
    return bool(desc) and sys.stderr.isatty() and not os.environ.get("WKPY_QUIET")


@contextmanager
def progress(desc: str | None, total: int) -> Iterator[Callable[[], None]]:
    """Yield an `advance()` callable; draws a rich bar when `desc` is set and stderr is a terminal."""
    if not _wanted(desc):
        yield lambda: None
        return
    try:
        from rich.progress import Progress
    except ImportError:  # rich is optional
        yield lambda: None
        return
    from rich.console import Console

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(str(desc), total=total)
        yield lambda: bar.advance(task)
