"""`BoundingBox`, an immutable axis-aligned integer box in x, y, z."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import product
from typing import Any, cast

import numpy as np

from wkpy.errors import InvalidRequestError

from .mag import Mag, MagLike
from .vec3_int import XYZ_AXES, Vec3Int, Vec3IntLike

__all__ = ["BoundingBox"]

_tuple_new = tuple.__new__
_vec = Vec3Int.from_xyz
_CHECKPOINT = re.compile(r"([0-9]+_){5}[0-9]+")


def _mag_vec(mag: MagLike | Vec3IntLike | int) -> Vec3Int:
    """Factors of `mag`; a plain vector is taken as is (it need not be a power of two)."""
    if isinstance(mag, Mag):
        return mag.to_vec3_int()
    if isinstance(mag, str):
        return Mag(mag).to_vec3_int()
    return Vec3Int.from_vec_or_int(mag)


def _axis_index(axis: str) -> int:
    try:
        return XYZ_AXES.index(axis)
    except ValueError:
        raise KeyError(f"The axis {axis!r} does not exist; use 'x', 'y' or 'z'.") from None


class BoundingBox:
    """Immutable axis-aligned box: `topleft` is inclusive, `bottomright` exclusive.

    Parameters
    ----------
    topleft : Vec3IntLike
        Smallest contained coordinate.
    size : Vec3IntLike
        Extent per axis. Zero components give an empty box. As in webknossos, a
        negative component is flipped: the box then spans ``[topleft + size, topleft)``
        on that axis.

    Examples
    --------
    >>> BoundingBox((0, 0, 0), (100, 100, 100)).intersected_with(
    ...     BoundingBox((75, 75, 75), (100, 100, 100))).size
    Vec3Int(25,25,25)
    """

    __slots__ = ("topleft", "size", "bottomright")
    topleft: Vec3Int
    size: Vec3Int
    bottomright: Vec3Int

    axes: tuple[str, str, str] = XYZ_AXES
    ndim: int = 3

    def __init__(self, topleft: Vec3IntLike, size: Vec3IntLike) -> None:
        tl = topleft if type(topleft) is Vec3Int else Vec3Int(topleft)
        sz = size if type(size) is Vec3Int else Vec3Int(size)
        w, h, d = sz
        if w < 0 or h < 0 or d < 0:
            tl = _tuple_new(Vec3Int, (tl[0] + min(w, 0), tl[1] + min(h, 0), tl[2] + min(d, 0)))
            w, h, d = abs(w), abs(h), abs(d)
            sz = _tuple_new(Vec3Int, (w, h, d))
        _set_topleft(self, tl)
        _set_size(self, sz)
        _set_bottomright(self, _tuple_new(Vec3Int, (tl[0] + w, tl[1] + h, tl[2] + d)))

    @classmethod
    def _make(cls, topleft: Vec3Int, size: Vec3Int) -> BoundingBox:
        """Build without conversion or sign checks (`size` must be non-negative)."""
        self = object.__new__(cls)
        _set_topleft(self, topleft)
        _set_size(self, size)
        _set_bottomright(
            self,
            _tuple_new(Vec3Int, (topleft[0] + size[0], topleft[1] + size[1], topleft[2] + size[2])),
        )
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[type[BoundingBox], tuple[tuple[int, ...], tuple[int, ...]]]:
        return (type(self), (self.topleft.to_tuple(), self.size.to_tuple()))

    def __copy__(self) -> BoundingBox:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> BoundingBox:
        return self

    # ---- dunder protocol ---------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BoundingBox):
            return self.topleft == other.topleft and self.size == other.size
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.topleft, self.size))

    def __len__(self) -> int:
        return 3

    def __repr__(self) -> str:
        return f"BoundingBox(topleft={self.topleft.to_tuple()}, size={self.size.to_tuple()})"

    __str__ = __repr__

    # ---- alternative constructors ------------------------------------------------

    @classmethod
    def empty(cls) -> BoundingBox:
        """The empty box at the origin."""
        return cls._make(_vec(0, 0, 0), _vec(0, 0, 0))

    @classmethod
    def from_tuple6(cls, tuple6: tuple[int, int, int, int, int, int]) -> BoundingBox:
        """From ``(x, y, z, width, height, depth)``."""
        return cls(tuple6[0:3], tuple6[3:6])

    @classmethod
    def from_tuple2(cls, tuple2: tuple[Vec3IntLike, Vec3IntLike]) -> BoundingBox:
        """From ``(topleft, size)``."""
        return cls(tuple2[0], tuple2[1])

    @classmethod
    def from_points(cls, points: Iterable[Vec3IntLike]) -> BoundingBox:
        """Smallest box containing every point (bottomright is exclusive)."""
        vecs = [Vec3Int(point) for point in points]
        if not vecs:
            raise ValueError("from_points needs at least one point.")
        lo = _vec(*(min(v[i] for v in vecs) for i in range(3)))
        hi = _vec(*(max(v[i] for v in vecs) + 1 for i in range(3)))
        return cls._make(lo, hi - lo)

    @classmethod
    def from_wkw_dict(cls, bbox: dict[str, Any]) -> BoundingBox:
        """From ``{"topLeft": [x, y, z], "width": w, "height": h, "depth": d}``."""
        return cls(bbox["topLeft"], (bbox["width"], bbox["height"], bbox["depth"]))

    @classmethod
    def from_config_dict(cls, bbox: dict[str, Any]) -> BoundingBox:
        """From ``{"topleft": [x, y, z], "size": [w, h, d]}``."""
        return cls(bbox["topleft"], bbox["size"])

    @classmethod
    def from_checkpoint_name(cls, checkpoint_name: str) -> BoundingBox:
        """Extract the first ``x_y_z_w_h_d`` group found in `checkpoint_name`."""
        match = _CHECKPOINT.search(checkpoint_name)
        if match is None:
            raise InvalidRequestError(f"Could not extract bounding box from {checkpoint_name}")
        values = tuple(int(value) for value in match.group().split("_"))
        return cls.from_tuple6(values)  # type: ignore[arg-type]

    @classmethod
    def from_csv(cls, csv_bbox: str) -> BoundingBox:
        """From ``"x,y,z,width,height,depth"``."""
        values = tuple(int(value) for value in csv_bbox.split(","))
        if len(values) != 6:
            raise ValueError(f"Expected six comma-separated integers, got {csv_bbox!r}.")
        return cls.from_tuple6(values)

    @classmethod
    def from_auto(
        cls, obj: BoundingBox | str | dict[str, Any] | list[Any] | tuple[Any, ...]
    ) -> BoundingBox:
        """Accept a box, a csv or json string, a config or wkw dict, or a 2-/6-sequence."""
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            return cls.from_auto(json.loads(obj)) if ":" in obj else cls.from_csv(obj)
        if isinstance(obj, dict):
            return cls.from_config_dict(obj) if "size" in obj else cls.from_wkw_dict(obj)
        if isinstance(obj, (list, tuple)):
            if len(obj) == 2:
                return cls.from_tuple2(obj)  # type: ignore[arg-type]
            if len(obj) == 6:
                return cls.from_tuple6(obj)  # type: ignore[arg-type]
            raise ValueError(f"Unknown bounding box format: a sequence of length {len(obj)}.")
        raise TypeError(f"Unknown bounding box format: {type(obj).__name__}.")

    @classmethod
    def group_boxes_with_aligned_mag(
        cls, bounding_boxes: Iterable[BoundingBox], aligning_mag: MagLike
    ) -> dict[BoundingBox, list[BoundingBox]]:
        """Group boxes by their outward alignment to `aligning_mag`."""
        groups: dict[BoundingBox, list[BoundingBox]] = defaultdict(list)
        for bbox in bounding_boxes:
            groups[bbox.align_with_mag(aligning_mag, ceil=True)].append(bbox)
        return groups

    # ---- serialisation -----------------------------------------------------------

    def to_wkw_dict(self) -> dict[str, Any]:
        """As ``{"topLeft": [x, y, z], "width": w, "height": h, "depth": d}``."""
        w, h, d = self.size
        return {"topLeft": self.topleft.to_list(), "width": w, "height": h, "depth": d}

    def to_config_dict(self) -> dict[str, list[int]]:
        """As ``{"topleft": [x, y, z], "size": [w, h, d]}``."""
        return {"topleft": self.topleft.to_list(), "size": self.size.to_list()}

    def to_tuple6(self) -> tuple[int, int, int, int, int, int]:
        """As ``(x, y, z, width, height, depth)``."""
        x, y, z = self.topleft
        w, h, d = self.size
        return (x, y, z, w, h, d)

    def to_csv(self) -> str:
        """As ``"x,y,z,width,height,depth"``."""
        return ",".join(map(str, self.to_tuple6()))

    def to_checkpoint_name(self) -> str:
        """As ``"x_y_z_width_height_depth"``."""
        return "_".join(map(str, self.to_tuple6()))

    def to_slices(self) -> tuple[slice, slice, slice]:
        """Slices selecting this box from an array indexed in absolute x, y, z."""
        (x, y, z), (u, v, w) = self.topleft, self.bottomright
        return (slice(x, u), slice(y, v), slice(z, w))

    to_slices_xyz = to_slices

    def slice_array(self, array: np.ndarray) -> np.ndarray:
        """``array[self.to_slices()]``."""
        return array[self.to_slices()]

    # ---- queries -----------------------------------------------------------------

    @property
    def topleft_xyz(self) -> Vec3Int:
        """Same as `topleft` (API parity with n-dimensional boxes)."""
        return self.topleft

    @property
    def size_xyz(self) -> Vec3Int:
        """Same as `size`."""
        return self.size

    @property
    def bottomright_xyz(self) -> Vec3Int:
        """Same as `bottomright`."""
        return self.bottomright

    def is_empty(self) -> bool:
        """Whether any size component is zero."""
        return not self.size.is_positive(strictly_positive=True)

    def volume(self) -> int:
        """Number of voxels inside."""
        return self.size.prod()

    def get_shape(self, axis_name: str) -> int:
        """Size along ``"x"``, ``"y"`` or ``"z"``."""
        return self.size[_axis_index(axis_name)]

    def get_bounds(self, axis: str) -> tuple[int, int]:
        """``(start, end)`` along ``"x"``, ``"y"`` or ``"z"``."""
        i = _axis_index(axis)
        return (self.topleft[i], self.bottomright[i])

    def contains(self, coord: Vec3IntLike | np.ndarray) -> bool:
        """Whether a point lies inside; numpy points may have float coordinates."""
        tl, br = self.topleft, self.bottomright
        if isinstance(coord, np.ndarray):
            if coord.shape != (3,):
                raise InvalidRequestError(
                    f"A numpy point for contains() must have shape (3,), got {coord.shape}."
                )
            return bool(np.all(coord >= tl) and np.all(coord < br))
        c = Vec3Int(coord)
        return tl[0] <= c[0] < br[0] and tl[1] <= c[1] < br[1] and tl[2] <= c[2] < br[2]

    def contains_bbox(self, inner_bbox: BoundingBox) -> bool:
        """Whether ``inner_bbox.intersected_with(self, dont_assert=True) == inner_bbox``.

        An empty box therefore counts as contained wherever it sits.
        """
        return inner_bbox.intersected_with(self, dont_assert=True) == inner_bbox

    # ---- derived boxes -----------------------------------------------------------

    def with_topleft(self, new_topleft: Vec3IntLike) -> BoundingBox:
        """Copy moved to `new_topleft`, same size."""
        return self._make(Vec3Int(new_topleft), self.size)

    def with_size(self, new_size: Vec3IntLike) -> BoundingBox:
        """Copy with `new_size`, same topleft."""
        return type(self)(self.topleft, new_size)

    def with_bottomright(self, new_bottomright: Vec3IntLike) -> BoundingBox:
        """Copy with `new_bottomright`, same topleft (a smaller bottomright flips)."""
        return type(self)(self.topleft, Vec3Int(new_bottomright) - self.topleft)

    with_topleft_xyz = with_topleft
    with_size_xyz = with_size
    with_bottomright_xyz = with_bottomright

    def with_bounds(
        self, axis: str, new_topleft: int | None = None, new_size: int | None = None
    ) -> BoundingBox:
        """Copy with the start and/or size along one named axis replaced."""
        i = _axis_index(axis)
        tl = self.topleft if new_topleft is None else self.topleft.with_replaced(i, new_topleft)
        size = self.size if new_size is None else self.size.with_replaced(i, new_size)
        return type(self)(tl, size)

    def with_bounds_x(
        self, new_topleft_x: int | None = None, new_size_x: int | None = None
    ) -> BoundingBox:
        """`with_bounds` along x."""
        return self.with_bounds("x", new_topleft_x, new_size_x)

    def with_bounds_y(
        self, new_topleft_y: int | None = None, new_size_y: int | None = None
    ) -> BoundingBox:
        """`with_bounds` along y."""
        return self.with_bounds("y", new_topleft_y, new_size_y)

    def with_bounds_z(
        self, new_topleft_z: int | None = None, new_size_z: int | None = None
    ) -> BoundingBox:
        """`with_bounds` along z."""
        return self.with_bounds("z", new_topleft_z, new_size_z)

    def offset(self, vector: Vec3IntLike) -> BoundingBox:
        """Copy translated by `vector`."""
        return self._make(self.topleft + Vec3Int(vector), self.size)

    def padded_with_margins(
        self, margins_left: Vec3IntLike, margins_right: Vec3IntLike | None = None
    ) -> BoundingBox:
        """Grow by `margins_left` before and `margins_right` (default: the same) after."""
        left = Vec3Int(margins_left)
        right = left if margins_right is None else Vec3Int(margins_right)
        return type(self)(self.topleft - left, self.size + left + right)

    def intersected_with(self, other: BoundingBox, dont_assert: bool = False) -> BoundingBox:
        """Overlap of both boxes.

        Raises `InvalidRequestError` (an `AssertionError`) if the overlap is empty,
        unless `dont_assert`; then an empty box (size clamped to 0) is returned.
        """
        (a0, a1, a2), (b0, b1, b2) = self.topleft, other.topleft
        (c0, c1, c2), (d0, d1, d2) = self.bottomright, other.bottomright
        t0, t1, t2 = max(a0, b0), max(a1, b1), max(a2, b2)
        s0, s1, s2 = max(min(c0, d0) - t0, 0), max(min(c1, d1) - t1, 0), max(min(c2, d2) - t2, 0)
        if not dont_assert and not (s0 and s1 and s2):
            raise InvalidRequestError(f"No intersection between bounding boxes {self} and {other}.")
        return self._make(_tuple_new(Vec3Int, (t0, t1, t2)), _tuple_new(Vec3Int, (s0, s1, s2)))

    def extended_by(self, other: BoundingBox) -> BoundingBox:
        """Smallest box containing both; an empty box on either side is ignored."""
        if self.is_empty():
            return other
        if other.is_empty():
            return self
        tl = self.topleft.pairmin(other.topleft)
        return self._make(tl, self.bottomright.pairmax(other.bottomright) - tl)

    # ---- magnifications ----------------------------------------------------------

    def in_mag(self, mag: MagLike) -> BoundingBox:
        """Convert mag-1 coordinates to `mag` coordinates (must be aligned to `mag`)."""
        m = mag.to_vec3_int() if isinstance(mag, Mag) else Mag(mag).to_vec3_int()
        for name, corner in (("topleft", self.topleft), ("bottomright", self.bottomright)):
            if corner % m != (0, 0, 0):
                raise InvalidRequestError(
                    f"{name} {corner} is not aligned with the mag {Mag(m)}. "
                    "Use BoundingBox.align_with_mag()."
                )
        return self._make(self.topleft // m, self.size // m)

    def from_mag_to_mag1(self, from_mag: MagLike) -> BoundingBox:
        """Convert coordinates in `from_mag` to mag-1 coordinates."""
        m = from_mag.to_vec3_int() if isinstance(from_mag, Mag) else Mag(from_mag).to_vec3_int()
        return self._make(self.topleft * m, self.size * m)

    def align_with_mag(
        self, mag: MagLike | Vec3IntLike | int, ceil: bool = False
    ) -> BoundingBox:
        """Snap both corners to multiples of `mag`.

        With `ceil` the box grows (topleft down, bottomright up); otherwise it shrinks
        (topleft up, bottomright down). As in webknossos, a box that shrinks past
        itself gets a negative size, which is then flipped like in the constructor.
        """
        m = _mag_vec(mag)
        tl, br = self.topleft, self.bottomright
        if ceil:
            new_tl = tl - tl % m
            new_br = br + (m - br % m) % m
        else:
            new_tl = tl + (m - tl % m) % m
            new_br = br - br % m
        return type(self)(new_tl, new_br - new_tl)

    # ---- chunking ----------------------------------------------------------------

    def iter_chunk_toplefts(
        self,
        chunk_shape: Vec3IntLike,
        chunk_border_alignments: Vec3IntLike | None = None,
        clip_to: BoundingBox | None = None,
    ) -> Iterator[tuple[int, int, int]]:
        """Toplefts of the (unclipped) grid cells that `chunk` yields, x slowest.

        The grid has step `chunk_shape` and starts at `topleft`, or, with
        `chunk_border_alignments`, at the multiple of the alignment at or below
        `topleft`. With `clip_to`, only cells overlapping that box too are yielded.
        """
        step = Vec3Int(chunk_shape)
        if not step.is_positive(strictly_positive=True):
            raise InvalidRequestError(f"chunk_shape must be positive, got {step}.")
        starts, ends = self.topleft, self.bottomright
        if chunk_border_alignments is None:
            grid = starts
        else:
            align = Vec3Int(chunk_border_alignments)
            if not align.is_positive(strictly_positive=True):
                raise InvalidRequestError(f"chunk_border_alignments must be positive, got {align}.")
            if step % align != (0, 0, 0):
                raise InvalidRequestError(f"{step} not divisible by {align}")
            grid = starts - starts % align
        if clip_to is not None:
            starts = starts.pairmax(clip_to.topleft)
            ends = ends.pairmin(clip_to.bottomright)
        ranges = []
        for start, end, origin, s in zip(starts, ends, grid, step, strict=True):
            if start >= end:
                return iter(())
            ranges.append(range(start - (start - origin) % s, end, s))
        return cast(Iterator[tuple[int, int, int]], product(*ranges))

    def chunk(
        self,
        chunk_shape: Vec3IntLike,
        chunk_border_alignments: Vec3IntLike | None = None,
    ) -> Iterator[BoundingBox]:
        """Split into boxes of at most `chunk_shape`, clipped to this box, x slowest.

        With `chunk_border_alignments`, every border between two chunks is a multiple
        of it (`chunk_shape` must be divisible by it). Arguments are checked eagerly.
        """
        step = Vec3Int(chunk_shape)
        toplefts = self.iter_chunk_toplefts(step, chunk_border_alignments)
        return self._clipped_chunks(toplefts, step)

    def _clipped_chunks(
        self, toplefts: Iterator[tuple[int, int, int]], step: Vec3Int
    ) -> Iterator[BoundingBox]:
        (a0, a1, a2), (b0, b1, b2) = self.topleft, self.bottomright
        s0, s1, s2 = step
        make = self._make
        for x, y, z in toplefts:
            t0, t1, t2 = max(x, a0), max(y, a1), max(z, a2)
            size = (min(x + s0, b0) - t0, min(y + s1, b1) - t1, min(z + s2, b2) - t2)
            yield make(_tuple_new(Vec3Int, (t0, t1, t2)), _tuple_new(Vec3Int, size))


_set_topleft = vars(BoundingBox)["topleft"].__set__
_set_size = vars(BoundingBox)["size"].__set__
_set_bottomright = vars(BoundingBox)["bottomright"].__set__
