"""Views of n-d layers: boxes over the layer's axes, data in the box's axis order.

A view of an n-d layer (one with ``additionalAxes``) holds an `NDBoundingBox` over the
layer's axes in array order -- e.g. ``(t, x, y, z)`` or ``(c, t, x, y, z)`` -- and reads
and writes arrays in that order, as webknossos 4.3.3 does: ``c`` is an axis of the data
only if the layer's arrays have one. Mags scale x, y and z only. The storage sees boxes
along (x, y, z, additional axes in array order) and arrays (c, x, y, z, additional
axes); the conversions here are transposed views, never copies.

`View` calls these functions only for n-d views, so 3-D views do no extra work.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from wkpy.errors import DataMismatchError, InvalidRequestError
from wkpy.geometry import BoundingBox, Mag, NDBoundingBox, Vec3Int, Vec3IntLike

if TYPE_CHECKING:
    from wkpy.dataset.layer.view.view import View
    from wkpy.storage import Array

__all__ = ["check_position_count", "resolve_nd_box", "nd_box_in_mag", "data_box", "read_nd", "write_nd", "to_cxyz", "cxyz_to_box_order",
           "positions", "paired_faces"]

_CXYZ = ("c", "x", "y", "z")


def _onto(view_box: NDBoundingBox, box: NDBoundingBox, relative: bool) -> NDBoundingBox:
    """`box` given by a caller as a box over the view's axes (in the view's order).

    A `BoundingBox` sets x, y and z (relative: from the view's top-left) and keeps the
    view's extent along the other axes, as webknossos' ``read_cxyz`` does; an
    `NDBoundingBox` names every axis of the view, ``c`` optional (then the view's).
    """
    if isinstance(box, BoundingBox):
        tl = Vec3Int(box.topleft) + (view_box.topleft_xyz if relative else Vec3Int(0, 0, 0))
        return view_box.with_topleft_xyz(tl).with_size_xyz(box.size)
    if not isinstance(box, NDBoundingBox):
        raise InvalidRequestError(f"a bounding box must be a BoundingBox or an NDBoundingBox, got {box!r}")
    given = set(box.axes)
    if given != set(view_box.axes) and given | {"c"} != set(view_box.axes):
        raise InvalidRequestError(f"the box {box} does not have the axes of the view's box {view_box} "
                                  f"({view_box.axes}; c may be left out)")
    tl = dict(zip(box.axes, box.topleft))
    size = dict(zip(box.axes, box.size))
    c = dict(zip(view_box.axes, zip(view_box.topleft, view_box.size))).get("c", (0, 1))
    if relative:
        origin = dict(zip(view_box.axes, view_box.topleft))
        tl = {a: t + origin[a] for a, t in tl.items()}
    return NDBoundingBox(tuple(tl.get(a, c[0]) for a in view_box.axes),
                         tuple(size.get(a, c[1]) for a in view_box.axes), view_box.axes, view_box.index)


def resolve_nd_box(
    view_box: NDBoundingBox,
    mag: Mag,
    *,
    size: Vec3IntLike | None = None,
    relative_offset: Vec3IntLike | None = None,
    absolute_offset: Vec3IntLike | None = None,
    relative_bounding_box: NDBoundingBox | None = None,
    absolute_bounding_box: NDBoundingBox | None = None,
    size_in_mag: Vec3IntLike | None = None,
) -> NDBoundingBox:
    """`wkpy.dataset.layer.view.view.resolve_box` for n-d views: the mag-1 box over the
    view's axes. Offsets and sizes are along x, y, z; the other axes keep the view's
    extent. Bounding boxes: see `_onto`.

    Raises
    ------
    InvalidRequestError
        More than one position, a size with a bounding box, an offset without a size, a
        box over other axes.
    """
    given = [k for k, v in (("relative_offset", relative_offset), ("absolute_offset", absolute_offset),
                            ("relative_bounding_box", relative_bounding_box),
                            ("absolute_bounding_box", absolute_bounding_box)) if v is not None]
    if len(given) > 1:
        raise InvalidRequestError(f"give at most one of {', '.join(given)}")
    if absolute_bounding_box is not None or relative_bounding_box is not None:
        if size is not None:
            raise InvalidRequestError("a size cannot be given together with a bounding box")
        if absolute_bounding_box is not None:
            return _onto(view_box, absolute_bounding_box, False)
        return _onto(view_box, relative_bounding_box, True)  # type: ignore[arg-type]
    if absolute_offset is not None:
        topleft = Vec3Int(absolute_offset)
    elif relative_offset is not None:
        topleft = view_box.topleft_xyz + Vec3Int(relative_offset)
    else:
        topleft = view_box.topleft_xyz
        if size is None and size_in_mag is None:
            return view_box
    if size is not None:
        extent = Vec3Int(size)
    elif size_in_mag is not None:
        extent = Vec3Int(size_in_mag) * mag.to_vec3_int()
    else:
        raise InvalidRequestError("an offset needs a size")
    return view_box.with_topleft_xyz(topleft).with_size_xyz(extent)


def nd_box_in_mag(box: NDBoundingBox, mag: Mag, *, allow_empty: bool = False) -> NDBoundingBox:
    """Mag-1 box → box in the mag's voxels (x, y, z divided by the mag), checking sign,
    emptiness and alignment, as `box_in_mag` does for 3-D boxes.

    Raises
    ------
    InvalidRequestError
        A negative top-left, an empty box (unless `allow_empty`), x, y, z not aligned with `mag`.
    """
    if any(t < 0 for t in box.topleft):
        raise InvalidRequestError(f"offset {tuple(box.topleft)} (in mag 1, axes {box.axes}) must not be negative")
    if not allow_empty and box.is_empty():
        raise InvalidRequestError(f"size {tuple(box.size)} (in mag 1, axes {box.axes}) must be positive along every axis")
    return box.in_mag(mag)


def _storage_box(view: View, box: NDBoundingBox) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
    """(offset, size) of a box in the mag's voxels along the storage's (x, y, z, additional
    axes), and the storage's data axes (c, x, y, z, additional axes)."""
    names = ("x", "y", "z", *view._array.info.extra_axes)
    tl, size = dict(zip(box.axes, box.topleft)), dict(zip(box.axes, box.size))
    return tuple(tl[a] for a in names), tuple(size[a] for a in names), ("c", *names)


def read_nd(view: View, box: NDBoundingBox) -> np.ndarray:
    """The voxels of `box` (in the mag's voxels, over the view's axes) as an array in the
    box's axis order (channels only if the box has ``c``)."""
    offset, size, names = _storage_box(view, box)
    data = view._read_storage(offset, size)
    if "c" in box.axes:
        c0, cn = box.get_bounds("c")
        if (c0, cn) != (0, data.shape[0]):
            data = data[c0:cn]
    else:
        data, names = data[0], names[1:]
    return data.transpose([names.index(a) for a in box.axes])


def data_box(view_box: NDBoundingBox, mag: Mag, shape: tuple[int, ...], whole: bool) -> NDBoundingBox:
    """The mag-1 box that data of `shape` (in the view's axis order, the channel axis
    optional) covers from the view's top-left: along every axis (`whole`, a write
    without a position, as webknossos 4.3.3 does) or along x, y, z only (the other axes:
    the view's extent; `topleft_xyz` is then set by the caller).

    Raises
    ------
    DataMismatchError
        `shape` does not have one length per axis of the view (but c).
    """
    axes = view_box.axes
    if len(shape) == len(axes) - 1 and "c" in axes:
        axes = tuple(a for a in axes if a != "c")
    if len(shape) != len(axes):
        raise DataMismatchError(f"data of shape {shape} does not have the view's axes {view_box.axes}")
    at = dict(zip(axes, shape))
    xyz = Vec3Int(at["x"], at["y"], at["z"]) * mag.to_vec3_int()
    if whole:
        view_box = view_box.with_size(tuple(at.get(a, s) for a, s in zip(view_box.axes, view_box.size)))
    return view_box.with_size_xyz(xyz)


def write_nd(view: View, data: Any, box: NDBoundingBox, num_channels: int) -> tuple[tuple[int, ...], np.ndarray]:
    """(storage offset, storage (c, x, y, z, additional axes) view of `data`) for writing
    `data` -- in `box`'s axis order, ``c`` optional for one channel -- to `box` (in the
    mag's voxels).

    Raises
    ------
    DataMismatchError
        `data`'s shape does not match `box`, or has another channel count.
    InvalidRequestError
        `box` covers only some of the channels.
    """
    data = np.asarray(data)
    given = data.shape
    axes = box.axes
    if "c" not in axes or data.ndim == len(axes) - 1:
        if num_channels != 1 and "c" in axes:
            raise DataMismatchError(f"data of shape {data.shape} has no channel axis; the layer has "
                                    f"{num_channels} channels (axes {axes})")
        data, axes = data[np.newaxis], ("c", *(a for a in axes if a != "c"))
    expected = {a: s for a, s in zip(box.axes, box.size)}
    expected["c"] = num_channels
    if "c" in box.axes and box.get_bounds("c") != (0, num_channels):
        raise InvalidRequestError(f"the box {box} writes channels {box.get_bounds('c')}; writes take all "
                                  f"{num_channels} channels")
    if data.ndim != len(axes) or any(n != expected[a] for a, n in zip(axes, data.shape)):
        want = tuple(expected[a] for a in box.axes)
        raise DataMismatchError(f"data of shape {given} does not fit the box {box}: expected {want} "
                                f"(axes {box.axes}, in the mag's voxels)")
    offset, _, names = _storage_box(view, box)
    return offset, data.transpose([axes.index(a) for a in names])


def to_cxyz(data: np.ndarray, axes: tuple[str, ...]) -> np.ndarray:
    """`data` with `axes` as a (c, x, y, z) array (a channel axis of 1 added if absent).

    Raises
    ------
    InvalidRequestError
        An additional axis longer than 1 (also a `ValueError`, as webknossos raises).
    """
    if "c" not in axes:
        data, axes = data[np.newaxis], ("c", *axes)
    extra = [a for a in axes if a not in _CXYZ]
    for a in extra:
        if data.shape[axes.index(a)] != 1:
            raise InvalidRequestError(f"cannot read into (c, x, y, z): the additional axis {a!r} has size "
                                      f"{data.shape[axes.index(a)]}, not 1; use read() for such boxes")
    data = data.transpose([axes.index(a) for a in (*_CXYZ, *extra)])
    return data.reshape(data.shape[:4])


def cxyz_to_box_order(data: np.ndarray, axes: tuple[str, ...]) -> np.ndarray:
    """A (c, x, y, z) array as an array over `axes` (size 1 along the additional axes,
    no channel axis if `axes` have none).

    Raises
    ------
    DataMismatchError
        Several channels for `axes` without ``c``.
    """
    extra = tuple(a for a in axes if a not in _CXYZ)
    data = data.reshape(data.shape + (1,) * len(extra))
    names = (*_CXYZ, *extra)
    if "c" not in axes:
        if data.shape[0] != 1:
            raise DataMismatchError(f"data of shape {data.shape[:4]} has {data.shape[0]} channels; the layer's "
                                    f"axes {axes} have no channel axis")
        data, names = data[0], names[1:]
    return data.transpose([names.index(a) for a in axes])


def check_position_count(box: NDBoundingBox, names: tuple[str, ...], what: str, per_position: int = 1) -> None:
    """Refuse work of `per_position` steps at each position of `box` along the axes
    `names` when that is more than `MAX_CHUNKS` steps in all (a box larger than any data,
    e.g. from ``additionalAxes`` bounds of 10**12).

    Raises
    ------
    InvalidRequestError
        Naming `what`, the box and the count.
    """
    from wkpy.dataset.layer.view.view import MAX_CHUNKS

    count = per_position * math.prod(box.get_bounds(a)[1] - box.get_bounds(a)[0] for a in names)
    if count > MAX_CHUNKS:
        raise InvalidRequestError(f"{what} over {box} would take {count} steps along {names}, more than "
                                  f"{MAX_CHUNKS}; its box is larger than any data (check additionalAxes in "
                                  "datasource-properties.json), or pass a smaller bounding box")


def positions(box: NDBoundingBox, names: tuple[str, ...]) -> list[tuple[int, ...]]:
    """Every position of `box` along the axes `names`, as a tuple of one index per axis in
    the order of `names` (the last varying fastest); ``[()]`` for no axes.

    Raises
    ------
    InvalidRequestError
        More than `MAX_CHUNKS` positions (see `check_position_count`).
    """
    check_position_count(box, names, "visiting each position")
    return list(itertools.product(*(range(*box.get_bounds(a)) for a in names)))


def paired_faces(source: View, target: View) -> list[tuple[Array, Array]]:
    """The storage of two views for 3-D work: ``[(source array, target array)]`` for 3-D
    views; for n-d views the (x, y, z) faces (`wkpy.storage._positions.ArrayAt`) of both
    at each position of the target's box along the additional axes, as webknossos 4.3.3
    resamples n-d data one position at a time.

    Raises
    ------
    InvalidRequestError
        The views do not have the same additional axes, or the source's box misses a
        position of the target's.
    """
    from wkpy.storage._positions import ArrayAt

    names = target._array.info.extra_axes
    if source._array.info.extra_axes != names:
        raise InvalidRequestError(f"the source view {source} and the target view {target} do not have the same "
                                  f"additional axes ({source._array.info.extra_axes} and {names})")
    if not names:
        return [(source._array, target._array)]
    wanted = positions(target.bounding_box, names)  # type: ignore[arg-type]
    have = set(positions(source.bounding_box, names))  # type: ignore[arg-type]
    missing = [p for p in wanted if p not in have]
    if missing:
        raise InvalidRequestError(f"the source view {source} does not cover the position {missing[0]} along "
                                  f"{names} of the target view {target}")
    return [(ArrayAt(source._array, p), ArrayAt(target._array, p)) for p in wanted]
