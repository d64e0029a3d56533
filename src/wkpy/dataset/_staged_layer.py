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

import copy
import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from wkpy._paths import ensure_inside
from wkpy.errors import DuplicateError

if TYPE_CHECKING:
    from wkpy.dataset.dataset import Dataset
    from wkpy.dataset.layer.layer import Layer

__all__ = ["add_staged_layer"]


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
    try:
        staged = build(Dataset(dataset.path / stage, voxel_size_with_unit=dataset.voxel_size_with_unit))
        props = copy.deepcopy(staged._properties)
        copied = True
        store.copy_prefix(f"{stage}/{name}", name)
        return dataset._register_layer(props)
    except BaseException:
        if copied and name not in dataset.layers:
            store.delete_prefix(name)
        raise
    finally:
        store.delete_prefix(stage)
