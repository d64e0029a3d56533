"""Slice-by-slice import and export: buffered writers and readers along x, y or z.

On views of n-d layers (with additional axes, e.g. t) both follow webknossos 4.3.3: the
writer needs a bounding box over the view's axes and writes each 2-D slice at every
position of that box along the additional axes; the reader yields the slices of each
position in turn (the last additional axis fastest, then along the slice axis), each
in the box's axis order without the slice axis, e.g. (t=1, x, y).
"""

from __future__ import annotations

from collections.abc import Iterator
import warnings
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from wkpy.errors import AlignmentError, DataMismatchError, InvalidRequestError
from wkpy.geometry import BoundingBox, NDBoundingBox, Vec3Int, Vec3IntLike
from wkpy.dataset.layer.view._nd_view import check_position_count, cxyz_to_box_order, nd_box_in_mag, positions, resolve_nd_box
from wkpy.dataset.layer.view.view import box_in_mag, resolve_box

if TYPE_CHECKING:
    from wkpy.dataset.layer.view.view import View

__all__ = ["BufferedSliceWriter", "BufferedSliceReader"]

_AXES = {"x": 0, "y": 1, "z": 2}
_XYZ = ("x", "y", "z")


def _axis(dimension: str | int) -> int:
    """0, 1 or 2 for ``"x"``, ``"y"``, ``"z"``; integers are deprecated (as in webknossos 4.3.3)."""
    if isinstance(dimension, int) and not isinstance(dimension, bool):
        warnings.warn(f"[DEPRECATION] dimension={dimension}: an integer dimension is deprecated, name the axis "
                      "instead, e.g. dimension='z'", DeprecationWarning, stacklevel=4)
        axis: object = dimension
    else:
        axis = _AXES.get(dimension) if isinstance(dimension, str) else None
    if axis not in (0, 1, 2):
        raise InvalidRequestError(f"dimension must be 'x', 'y' or 'z', got {dimension!r}")
    return int(axis)  # type: ignore[call-overload]


def _buffer_size(buffer_size: int | None, view: View, axis: int) -> int:
    """`buffer_size` slices, checked; default the shard depth along `axis`."""
    if buffer_size is None or buffer_size == 0:
        return view.info.shard_shape[axis]
    if not isinstance(buffer_size, (int, np.integer)) or isinstance(buffer_size, bool) or buffer_size < 0:
        raise InvalidRequestError(f"buffer_size must be a positive number of slices, got {buffer_size!r}")
    return int(buffer_size)


def _nd_box(view: View, relative_bounding_box: NDBoundingBox | None,
            absolute_bounding_box: NDBoundingBox | None, what: str) -> NDBoundingBox:
    """The box (in the mag's voxels) of a slice writer or reader of the n-d view `view`.

    Raises
    ------
    InvalidRequestError
        No bounding box (a writer's offsets give x, y, z only: webknossos 4.3.3 raises a
        `ValueError` there too), or a box that is not aligned with the mag.
    """
    if relative_bounding_box is None and absolute_bounding_box is None:
        extra = [a for a in view.bounding_box.axes if a not in ("c", *_XYZ)]
        raise InvalidRequestError(f"a buffered slice {what} of {view} (a view of an n-d layer) needs "
                                  f"relative_bounding_box or absolute_bounding_box: an NDBoundingBox naming the "
                                  f"positions along {extra} (offsets give x, y and z only)")
    box = resolve_nd_box(view.bounding_box, view.mag, relative_bounding_box=relative_bounding_box,  # type: ignore[arg-type]
                         absolute_bounding_box=absolute_bounding_box)
    return nd_box_in_mag(box, view.mag, allow_empty=True)


class BufferedSliceWriter:
    """Collects 2-D slices ((w, h) or (c, w, h)) and writes them `buffer_size` at a time.

    Use as a context manager; leaving it writes what is still buffered. `buffer_size`
    defaults to the shard depth along `dimension`.

    On a view of an n-d layer a bounding box over the view's axes is required (e.g. an
    `NDBoundingBox` with ``t`` of size 1 to write one time point): its top-left gives the
    start along x, y and z (its x, y, z sizes are not used), and every slice is written at
    each position of the box along the additional axes, as in webknossos 4.3.3. Slices
    with a channel axis, (c, w, h), need a layer whose axes have ``c``.

    Raises
    ------
    InvalidRequestError
        An n-d view without a bounding box (a `ValueError`, as in webknossos), or a box
        of more than `MAX_CHUNKS` positions along the additional axes.
    AlignmentError
        Without `allow_unaligned`: the start along `dimension` is not a multiple of the
        chunk depth, or `buffer_size` is not a multiple of it (a `ValueError`, as in
        webknossos; with `allow_unaligned` a `UserWarning` instead).
    """

    def __init__(
        self,
        view: View,
        buffer_size: int | None = None,
        dimension: str | int = "z",
        *,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        use_logging: bool = False,
        allow_unaligned: bool = False,
        json_update_allowed: bool = True,
    ) -> None:
        self._view = view
        self._axis = _axis(dimension)
        self._buffer_size = _buffer_size(buffer_size, view, self._axis)
        self._allow_unaligned = allow_unaligned
        self._json_update_allowed = json_update_allowed
        self._slices: list[np.ndarray] = []
        self._written = 0
        self._topleft = Vec3Int(0, 0, 0)
        self._nd_box: NDBoundingBox | None = None     # n-d views: the box in the mag's voxels
        self.reset_offset(relative_offset, absolute_offset, relative_bounding_box, absolute_bounding_box)
        depth = view.info.chunk_shape[self._axis]
        if self._buffer_size >= depth and self._buffer_size % depth:
            self._misaligned("Using a buffer size", f"buffer_size {self._buffer_size} is not a multiple of the "
                             f"chunk depth {depth} along the slice axis, so buffers straddle chunks")

    def _misaligned(self, opening: str, what: str) -> None:
        # The opening words are webknossos 4.3.3's (its typo included), so that code matching
        # its message keeps working.
        message = (f"{opening} that doesn't align with the datataset's shard shape: {what}; "
                   "each chunk there is written twice, which is slow")
        if not self._allow_unaligned:
            raise AlignmentError(f"{message}; pass allow_unaligned=True to accept that")
        warnings.warn(f"[WARNING] {message}", UserWarning, stacklevel=4)

    def reset_offset(
        self,
        relative_offset: Vec3IntLike | None = None,
        absolute_offset: Vec3IntLike | None = None,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
    ) -> None:
        """Write what is buffered, then continue at a new position (mag 1; default: the
        view's top-left), as in webknossos."""
        self._flush()
        if self._view._nd:
            self._nd_box = _nd_box(self._view, relative_bounding_box, absolute_bounding_box, "writer")
            self._topleft = self._nd_box.topleft_xyz
            check_position_count(self._nd_box, tuple(a for a in self._nd_box.axes if a not in ("c", *_XYZ)),
                                 "a buffered slice writer")
        else:
            if all(v is None for v in (relative_offset, absolute_offset, relative_bounding_box, absolute_bounding_box)):
                relative_offset = (0, 0, 0)
            box = resolve_box(self._view.bounding_box, self._view.mag, relative_offset=relative_offset,
                              absolute_offset=absolute_offset, relative_bounding_box=relative_bounding_box,
                              absolute_bounding_box=absolute_bounding_box, size_in_mag=(0, 0, 0))
            self._topleft = box_in_mag(box, self._view.mag, allow_empty=True).topleft  # in the mag's voxels
        self._written = 0
        depth = self._view.info.chunk_shape[self._axis]
        if self._topleft[self._axis] % depth:
            self._misaligned("Using an offset", f"the start {self._topleft[self._axis]} (in mag {self._view.mag}) along the slice axis "
                             f"does not align with the chunk depth {depth}")

    def send(self, section: np.ndarray) -> None:
        """Add the next slice; full buffers are written at once."""
        section = np.asarray(section)
        if section.ndim == 3 and self._nd_box is not None and "c" not in self._nd_box.axes:
            raise InvalidRequestError(f"a slice of shape {section.shape} has a channel axis, which the layer's axes "
                                      f"{self._nd_box.axes} do not have; send (w, h) slices")
        if section.ndim == 2:
            section = section[np.newaxis]
        if section.ndim != 3 or section.shape[0] != self._view.num_channels:
            raise DataMismatchError(f"a slice must be (w, h) or ({self._view.num_channels}, w, h), got {section.shape}")
        if section.dtype != self._view.get_dtype():
            raise DataMismatchError(f"slice of dtype {section.dtype}, the layer has {self._view.get_dtype()}")
        self._slices.append(section)
        if len(self._slices) == self._buffer_size:
            self._flush()

    def _flush(self) -> None:
        if not self._slices:
            return
        width = max(s.shape[1] for s in self._slices)
        height = max(s.shape[2] for s in self._slices)
        slab = np.zeros((self._slices[0].shape[0], width, height, len(self._slices)), self._view.get_dtype(), order="F")
        for i, s in enumerate(self._slices):
            slab[:, : s.shape[1], : s.shape[2], i] = s
        # move the stacking axis (last) to the slice dimension
        slab = np.moveaxis(slab, 3, 1 + self._axis) if self._axis != 2 else slab
        offset = list(self._topleft)
        offset[self._axis] += self._written
        self._slices = []
        self._written += slab.shape[1 + self._axis]
        mag = self._view.mag.to_vec3_int()
        if self._nd_box is None:
            self._view.write(slab, absolute_offset=Vec3Int(offset) * mag,
                             allow_unaligned=self._allow_unaligned, json_update_allowed=self._json_update_allowed)
            return
        box = self._nd_box.with_topleft_xyz(offset).with_size_xyz(slab.shape[1:])
        extra = tuple(a for a in box.axes if a not in ("c", *_XYZ))
        data = cxyz_to_box_order(slab, box.axes)
        for position in positions(box, extra):          # the slab at each position, as webknossos writes it
            at = box
            for name, index in zip(extra, position):
                at = at.with_bounds(name, index, 1)
            self._view.write(data, absolute_bounding_box=at.from_mag_to_mag1(self._view.mag),  # type: ignore[arg-type]
                             allow_unaligned=self._allow_unaligned, json_update_allowed=self._json_update_allowed)

    def __enter__(self) -> BufferedSliceWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._flush()


class BufferedSliceReader:
    """Yields the slices ((c, w, h)) of a box along x, y or z, reading `buffer_size` at a time.

    On a view of an n-d layer the slices of each position along the additional axes come
    in turn, each in the box's axis order without the slice axis (e.g. (t=1, x, y), or
    (c, t=1, x, y) for a layer with ``c``), as in webknossos 4.3.3.
    """

    def __init__(
        self,
        view: View,
        buffer_size: int | None = None,
        dimension: str | int = "z",
        *,
        relative_bounding_box: BoundingBox | None = None,
        absolute_bounding_box: BoundingBox | None = None,
        use_logging: bool = False,
    ) -> None:
        self._view = view
        self._axis = _axis(dimension)
        self._buffer_size = _buffer_size(buffer_size, view, self._axis)
        self._nd_box: NDBoundingBox | None = None
        if view._nd:
            if relative_bounding_box is None and absolute_bounding_box is None:
                absolute_bounding_box = view.bounding_box
            self._nd_box = _nd_box(view, relative_bounding_box, absolute_bounding_box, "reader")
            extra = tuple(a for a in self._nd_box.axes if a not in ("c", *_XYZ))
            depth = self._nd_box.size_xyz[self._axis]
            check_position_count(self._nd_box, extra, "a buffered slice reader",
                                 per_position=-(-depth // self._buffer_size))
            return
        box = resolve_box(view.bounding_box, view.mag, relative_bounding_box=relative_bounding_box,
                          absolute_bounding_box=absolute_bounding_box)
        self._box = box_in_mag(box, view.mag)

    def _nd_slices(self, box: NDBoundingBox) -> Iterator[np.ndarray]:
        name = _XYZ[self._axis]
        shape = Vec3Int(box.size_xyz).with_replaced(self._axis, self._buffer_size)
        for part in box.chunk(shape):
            data = self._view.read(absolute_bounding_box=part.from_mag_to_mag1(self._view.mag))  # type: ignore[arg-type]
            yield from np.moveaxis(data, part.axes.index(name), 0)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._nd_box is not None:
            yield from self._nd_slices(self._nd_box)
            return
        axis, mag = self._axis, self._view.mag.to_vec3_int()
        start, stop = self._box.topleft[axis], self._box.bottomright[axis]
        for lo in range(start, stop, self._buffer_size):
            size = list(self._box.size)
            size[axis] = min(self._buffer_size, stop - lo)
            offset = list(self._box.topleft)
            offset[axis] = lo
            data = self._view.read(absolute_offset=Vec3Int(offset) * mag, size=Vec3Int(size) * mag)
            yield from np.moveaxis(data, 1 + axis, 0)

    def __enter__(self) -> Iterator[np.ndarray]:
        return iter(self)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None
