"""Read-modify-writes of one object, on stores with locks and on stores without.

A store with locks (`Store.has_locks`, the local store) orders the read-modify-writes of a
key with the key's lock: `update` holds it while the change reads, computes and puts.

A store without locks (an object store) cannot hold writers off. There the change reads the
object with its version, computes, and puts conditionally on that version (or on the
object's absence, ``mode="create"``); a concurrent writer makes the put fail with
`ConflictError` and nothing is written. `update` then runs the whole change again on the
new object, after a short random pause that grows with each attempt, so that two writers
that collided do not collide again. After `TRIES` attempts it gives up with a
`ConflictError` naming the object: an update is never lost silently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from wkpy.errors import ConflictError

if TYPE_CHECKING:
    from wkpy.storage.store import Store

__all__ = ["TRIES", "retry_conflicts", "update"]

T = TypeVar("T")

TRIES = 12
"""Attempts of one change on a store without locks before `ConflictError` is raised."""
_FIRST_PAUSE = 0.01      # seconds; doubled per attempt (at random up to that), at most _MAX_PAUSE
_MAX_PAUSE = 1.0


def retry_conflicts(change: Callable[[], T], name: str, tries: int = TRIES) -> T:
    """Run `change` (a read, a computation and conditional puts) until it does not raise
    `ConflictError`, at most `tries` times, pausing a random, growing time in between.

    Parameters
    ----------
    change
        Reads what it changes afresh on every call; its conditional puts raise
        `ConflictError` when another writer came first.
    name
        The object changed (its URL or file), named in the error.

    Raises
    ------
    ConflictError
        Every attempt met a concurrent writer; the last attempt wrote nothing.
    """
    for attempt in range(tries):
        try:
            return change()
        except ConflictError:
            if attempt == tries - 1:
                break
            time.sleep(random.uniform(0, min(_MAX_PAUSE, _FIRST_PAUSE * 2 ** attempt)))
    raise ConflictError(f"{name}: changed by concurrent writers during each of {tries} attempts to update it; "
                        "this update was not written (try again)")


def update(store: Store, key: str, change: Callable[[], T]) -> T:
    """Run the read-modify-write `change` of `key`: under the key's lock on a store with
    locks (once), else retried on conflicts (`retry_conflicts`).

    Raises
    ------
    ConflictError
        A store without locks, and concurrent writers won every attempt.
    """
    if store.has_locks:
        with store.lock(key):
            return change()
    return retry_conflicts(change, store.name(key))
