"""Upsampling: each source voxel becomes a block of identical target voxels.

The names follow ``webknossos.dataset.layer._upsampling_utils`` (webknossos 4.3.3). One
difference on purpose: webknossos' `upsample_cube` fills only the first and last voxel of
each block along an axis, so factors above 2 (which its mag ladders never produce) leave
zeros inside the blocks; here every voxel of a block gets the source value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from wkpy.errors import InvalidRequestError
from wkpy.geometry import BoundingBox, Vec3IntLike
from wkpy.storage import Array

if TYPE_CHECKING:
    from wkpy.dataset.layer.view.view import View

__all__ = ["upsample_cube", "upsample_cube_job", "upsample_job"]

Box = tuple[tuple[int, int, int], tuple[int, int, int]]


def upsample_cube(cube_buffer: np.ndarray, factors: list[int]) -> np.ndarray:
    """An (x, y, z) buffer with each voxel repeated `factors` times along each axis:
    shape (x·fx, y·fy, z·fz), the buffer's dtype.

    Raises
    ------
    InvalidRequestError
        Not a 3-D buffer and 3 positive integer factors.
    """
    data = np.asarray(cube_buffer)
    f = tuple(int(v) for v in factors)
    if data.ndim != 3 or len(f) != 3 or min(f) < 1 or f != tuple(factors):
        raise InvalidRequestError(f"expected an (x, y, z) buffer and 3 positive integer factors, "
                                  f"got shape {data.shape} and {factors}")
    for axis, k in enumerate(f):
        if k != 1:
            data = np.repeat(data, k, axis=axis)
    return data


def upsample_job(job: tuple[Array, Array, Box, tuple[int, int, int]]) -> None:
    """One task: fill a target box (target-mag voxels) by repeating source voxels.

    `job` is (source, target, (offset, shape), factors) with the source `factors` times
    coarser per axis. Only the part of the box holding non-zero source voxels is written
    (the target mag is new: the rest stays absent, reading as zeros), so a shard-sized
    box with little data costs memory in proportion to that data.
    """
    source, target, (offset, shape), factors = job
    lo = [o // f for o, f in zip(offset, factors)]
    hi = [-(-(o + s) // f) for o, s, f in zip(offset, shape, factors)]
    data = source.read(tuple(lo), tuple(h - l for l, h in zip(lo, hi)))  # type: ignore[arg-type]
    if not data.any():
        return
    used = [np.flatnonzero(data.any(axis=tuple(b for b in range(4) if b != a))) for a in (1, 2, 3)]
    data = data[:, used[0][0]:used[0][-1] + 1, used[1][0]:used[1][-1] + 1, used[2][0]:used[2][-1] + 1]
    end = [min(o + s, (l + u[-1] + 1) * f) for o, s, l, u, f in zip(offset, shape, lo, used, factors)]
    offset = tuple(max(o, (l + u[0]) * f) for o, l, u, f in zip(offset, lo, used, factors))
    lo = [l + u[0] for l, u in zip(lo, used)]
    shape = tuple(e - o for e, o in zip(end, offset))
    for axis, f in enumerate(factors, start=1):
        if f != 1:
            data = np.repeat(data, f, axis=axis)
    start = [o - l * f for o, l, f in zip(offset, lo, factors)]
    target.write(offset, data[:, start[0]:start[0] + shape[0], start[1]:start[1] + shape[1],
                              start[2]:start[2] + shape[2]])


def upsample_cube_job(args: tuple[View, View, int], mag_factors: list[float],
                      buffer_shape: Vec3IntLike | None = None) -> None:
    """Upsample the source view of `args` (source, target, index) into the target view,
    which covers the same mag-1 box in a finer mag; `mag_factors` are target mag over
    source mag per axis (each 1/k), as in webknossos 4.3.3. `buffer_shape` is accepted
    for compatibility: the work is one read and one write of the target box (per
    position along the additional axes, for views of n-d layers).

    Raises
    ------
    InvalidRequestError
        A factor above 1 or not of the form 1/k, mags that do not fit the factors, or n-d
        views of other axes.
    ReadOnlyError
        The target view is read-only.
    """
    from wkpy.dataset.layer.view._nd_view import paired_faces
    from wkpy.dataset.layer.view.view import box_in_mag

    source_view, target_view, _ = args
    if len(mag_factors) != 3 or any(not 0 < f <= 1 for f in mag_factors):
        raise InvalidRequestError(f"mag_factors {mag_factors} for upsampling must lie in (0, 1]")
    inverse = tuple(int(round(1 / f)) for f in mag_factors)
    if target_view.mag.to_vec3_int() * inverse != source_view.mag.to_vec3_int():  # type: ignore[arg-type]
        raise InvalidRequestError(f"mag {target_view.mag} divided by the factors {mag_factors} is not the "
                                  f"source's mag {source_view.mag}")
    target_view._ensure_writable()
    box = box_in_mag(BoundingBox.from_ndbbox(target_view.bounding_box), target_view.mag)
    for source, target in paired_faces(source_view, target_view):
        upsample_job((source, target, (tuple(box.topleft), tuple(box.size)), inverse))  # type: ignore[arg-type]
