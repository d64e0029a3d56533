"""A new layer built whole out of sight, then listed in one step: how copies and image
conversions add layers, so that a failure or a SIGKILL never leaves a listed, half-built
layer.

The layer is built in a staging dataset inside the target dataset, by the caller's
`build(staging)`. Locally, its folder is then renamed to a hidden ``.wkpy-new-`` name
beside the final one and listed, the rename into place riding on the same properties
transaction (`Dataset._transact`, see `wkpy._trash`: `recover` deletes unlisted leftovers
after a kill). On object storage, which has no renames, the staging dataset lies under a
hidden prefix ``.wkpy-stage-<token>``; the layer's objects are copied to the layer's prefix
(server-side), the layer is listed by one conditional properties update, and the staging
prefix is deleted: a kill leaves unlisted objects only (the next layer of that name refuses
them, naming them).
"""

from __future__ import annotations

import contextlib
import copy
import os
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from wkpy._paths import ensure_inside
from wkpy.errors import ConflictError, DuplicateError

if TYPE_CHECKING:
    from wkpy.dataset.dataset import Dataset
    from wkpy.dataset.layer.layer import Layer

__all__ = ["add_staged_layer", "claim_prefix"]

CLAIM = ".wkpy-claim"
"""The hidden object a writer creates (conditionally) under a prefix it is about to fill."""


@contextlib.contextmanager
def claim_prefix(store: Any, prefix: str) -> Iterator[None]:
    """Hold the prefix `prefix` of an object store for one writer while it builds a layer
    or mag there: the marker ``<prefix>/.wkpy-claim`` is created only if there is none
    (a conditional put), and deleted afterwards. Two writers adding the same layer or mag
    therefore never fill one prefix together, and the loser never deletes what the winner
    built.

    Raises
    ------
    DuplicateError
        Another writer holds the prefix (or a killed one left its marker: delete it when
        no writer runs).
    """
    key = f"{prefix}/{CLAIM}"
    try:
        store.put(key, b"", mode="create")
    except ConflictError:
        raise DuplicateError(f"{store.name(key)}: another writer is adding {store.name(prefix)} (if none runs, "
                             "a killed one left this marker: delete it)") from None
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            store.delete(key)


def is_listed(dataset: Dataset, layer: str, mag: Any = None, *, unreadable: bool | None = True) -> bool:
    """Whether the layer `layer` (its mag `mag`) is listed in the properties as they are
    now in the dataset's store; `unreadable` when they cannot be read (True: so that
    nothing is deleted; None: the error is raised)."""
    from wkpy.properties import load_properties

    try:
        entry = load_properties(dataset._store).get_layer(layer)
    except Exception:
        if unreadable is None:
            raise
        return unreadable
    return entry is not None and (mag is None or entry.get_mag(mag) is not None)


def add_staged_layer(dataset: Dataset, name: str, build: Callable[[Dataset], Layer]) -> Layer:
    """Build the layer `name` with `build(staging_dataset)` (which adds it there and fills
    it) and list it in `dataset` (see the module docstring).

    Raises
    ------
    DuplicateError
        A folder or objects lie at the layer's place already (not a layer of `dataset`),
        or another writer listed a layer of that name meanwhile.
    """
    from wkpy.dataset.dataset import Dataset

    if dataset._remote:
        return _add_remote(dataset, name, build)
    from wkpy._trash import new_folder_for, remove
    from wkpy.locking import mag_lock_file, path_lock

    final = ensure_inside(dataset.path, dataset.path / name, "create")
    if os.path.lexists(final):
        raise DuplicateError(f"{final} exists already (not a layer of {dataset.path}); move it away first")
    with path_lock(mag_lock_file(final)):   # keeps `recover` elsewhere off the hidden folders
        staging = new_folder_for(final)
        built = new_folder_for(final)
        try:
            staged = build(Dataset(staging, voxel_size_with_unit=dataset.voxel_size_with_unit))
            props = copy.deepcopy(staged._properties)
            has_folder = os.path.lexists(staging / name)    # not for a layer of references only
            if has_folder:
                os.rename(staging / name, built)
            remove(staging)        # before listing: `recover` must find `built` the only hidden candidate
            return dataset._register_layer(props, publish=(built, final) if has_folder else None)
        except BaseException:
            for leftover in (staging, built):
                if os.path.lexists(leftover):
                    remove(leftover)
            raise


def _add_remote(dataset: Dataset, name: str, build: Callable[[Dataset], Layer]) -> Layer:
    from wkpy.dataset.dataset import Dataset

    store = dataset._store
    if next(iter(store.list(name)), None) is not None:
        raise DuplicateError(f"{dataset.path / name} holds objects already (not a layer of {dataset.path}); "
                             "delete them first")
    stage = f".wkpy-stage-{uuid.uuid4().hex[:12]}"
    copied = False
    with claim_prefix(store, name):       # another writer adding `name` now: DuplicateError
        try:
            staged = build(Dataset(dataset.path / stage, voxel_size_with_unit=dataset.voxel_size_with_unit))
            props = copy.deepcopy(staged._properties)
            if is_listed(dataset, name, unreadable=None) or next(iter(store.list(name)), None) is not None:
                raise DuplicateError(f"{dataset.path / name}: another writer added a layer {name!r} meanwhile")
            copied = True
            store.copy_prefix(f"{stage}/{name}", name)
            return dataset._register_layer(props)
        except BaseException:
            if copied and not is_listed(dataset, name):     # never what another writer listed
                store.delete_prefix(name)
            raise
        finally:
            store.delete_prefix(stage)
