"""Rewriting a mag of a dataset on object storage (compress, rechunk) without folders to
rename.

On a local disk the new mag is built beside the old one and the two folders are swapped
by one rename. Object stores have no renames, so the swap goes through
``datasource-properties.json``, whose updates are atomic (conditional puts):

1. the new mag is built under a work prefix beside the old one,
   ``<layer>/<mag>.wkpy-new-<token>``, and the old mag is checked unchanged meanwhile
   (every object's ETag, from one listing before and one after);
2. the mag's entry is pointed at the work prefix: readers now read the new mag;
3. the old mag's objects are deleted and the new ones copied into its prefix (server-side
   copies);
4. the entry is pointed back at ``<layer>/<mag>``, and the work prefix is deleted.

At every instant the listed mag is complete, the old one (before 2) or the new one (after
2): a crash leaves either the old mag and an unlisted work prefix, or the new mag listed
at its work prefix (it reads as the new mag; the next rewrite starts from it). Object
stores have no locks: a write to the mag seen between the two listings of step 1 aborts
the rewrite with `ConflictError` before anything is listed, but writers of the mag must
not run while steps 2-4 do (as webknossos requires of every writer during a rewrite).
"""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from wkpy.errors import ConflictError, UnsupportedError
from wkpy.storage import ArrayInfo, create_array

if TYPE_CHECKING:
    from wkpy.dataset.layer.layer import Layer
    from wkpy.dataset.layer.view.mag_view import MagView
    from wkpy.properties import LayerProperties

__all__ = ["WORK_SUFFIX", "rechunk_remote_mag"]

WORK_SUFFIX = ".wkpy-new-"
"""A work prefix is the mag's prefix, this, and a random token."""


def _point_at(layer: Layer, view: MagView, key: str) -> None:
    """List the mag of `view` at the prefix `key` (relative to the dataset) and follow it."""
    mag = view.mag

    def change(p: LayerProperties) -> None:
        entry = p.get_mag(mag)
        if entry is not None:
            entry.path = f"./{key}"

    layer.dataset._update_layer(layer.name, change)
    view._relocate(layer.dataset.path / key)


def rechunk_remote_mag(layer: Layer, view: MagView, info: ArrayInfo, executor: Executor | None) -> None:
    """Rewrite the mag `view` of `layer` (a dataset on object storage) with the layout
    `info`, copying its data on `executor` (see the module docstring for the steps and
    what holds after a crash).

    Raises
    ------
    ConflictError
        The mag changed while its copy was built (a concurrent writer); nothing changed
        but the removed work prefix.
    UnsupportedError
        The mag does not lie at its layer's prefix (``<layer>/<mag>``).
    """
    from wkpy.copy import copy_mag_data

    ds = layer.dataset
    store = ds._store
    mag_key = f"{layer.name}/{view.mag.to_layer_name()}"
    here = str(view.path).rstrip("/")
    mine = str(ds.path / mag_key).rstrip("/")
    if here != mine and not here.startswith(mine + WORK_SUFFIX):   # (a work prefix a crash left listed)
        raise UnsupportedError(f"{view.path}: only a mag at its layer's prefix ({ds.path / mag_key}) can be "
                               "rewritten on object storage")
    current = here[len(str(ds.path).rstrip("/")) + 1:]        # the listed prefix (maybe a work prefix)
    work = f"{mag_key}{WORK_SUFFIX}{uuid.uuid4().hex[:12]}"
    before = store.snapshot(current)
    try:
        array = create_array(ds.path / work, info)
        layer._fit_new_array(array, view.mag)
        copy_mag_data(view, array, executor)
        if store.snapshot(current) != before:
            raise ConflictError(f"{view.path}: the mag changed while it was rewritten (a concurrent writer); "
                                "nothing changed")
        _point_at(layer, view, work)                          # 2: readers read the new mag
    except BaseException:
        with contextlib.suppress(Exception):
            store.delete_prefix(work)
        raise
    if current != mag_key:
        store.delete_prefix(current)                          # a work prefix a crash left listed
    store.delete_prefix(mag_key)                              # 3
    store.copy_prefix(work, mag_key)
    _point_at(layer, view, mag_key)                           # 4
    store.delete_prefix(work)
