"""`BoundingBox`, an immutable axis-aligned integer box in x, y, z: the 3-D `NDBoundingBox`.

Views and mags build and intersect many of these, so the class keeps 3-D fast paths
of its own (tuple arithmetic on `Vec3Int`, no per-axis loops) and only falls back to
the n-dimensional code for operations with boxes of other classes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from itertools import product
from typing import Any, cast

import numpy as np

from wkpy.errors import InvalidRequestError, MissingAxisError

from .constants import C_AXIS, CXYZ_AXES
from .mag import Mag, MagLike
from .nd_bounding_box import _DEFAULT_BBOX_NAME, NDBoundingBox, _Color, _mag_factors, _make_meta, _Meta
from .normalized_bounding_box import NormalizedBoundingBox
from .vec3_int import XYZ_AXES, Vec3Int, Vec3IntLike

__all__ = ["BoundingBox"]

_tuple_new = tuple.__new__
_XYZ_HASH = hash(XYZ_AXES)


def _vec3(value: Any) -> Vec3Int:
    """`Vec3Int(value)`, with the plain tuple of three ints taken without a call."""
    if type(value) is tuple and len(value) == 3:
        x, y, z = value
        if type(x) is int and type(y) is int and type(z) is int:
            return _tuple_new(Vec3Int, value)
    return Vec3Int(value)
_vec = Vec3Int.from_xyz
_CHECKPOINT = re.compile(r"([0-9]+_){5}[0-9]+")


def _axis_index(axis: str) -> int:
    try:
        return XYZ_AXES.index(axis)
    except ValueError:
        raise MissingAxisError(f"The axis {axis!r} does not exist; use 'x', 'y' or 'z'.") from None


class BoundingBox(NDBoundingBox):
    """Immutable axis-aligned box in x, y, z: `topleft` is inclusive, `bottomright` exclusive.

    The 3-D case of `NDBoundingBox` (axes ``x, y, z``, index ``1, 2, 3``, corners and
    size as `Vec3Int`), as in webknossos 4.3.3.

    Parameters
    ----------
    topleft : Vec3IntLike
        Smallest contained coordinate.
    size : Vec3IntLike
        Extent per axis. Zero components give an empty box. As in webknossos, a
        negative component is flipped: the box then spans ``[topleft + size, topleft)``
        on that axis.
    axes : iterable of str, optional
        Only ``("x", "y", "z")`` (for signature parity with `NDBoundingBox`).
    index : optional
        Ignored: a BoundingBox keeps the index ``1, 2, 3``.
    name, is_visible, color : optional
        Labels as on `NDBoundingBox`; not part of equality.

    Raises
    ------
    InvalidRequestError
        `topleft` or `size` is not three integers, or `axes` is not x, y, z.

    Examples
    --------
    >>> BoundingBox((0, 0, 0), (100, 100, 100)).intersected_with(
    ...     BoundingBox((75, 75, 75), (100, 100, 100))).size
    Vec3Int(25,25,25)
    """

    __slots__ = ()
    topleft: Vec3Int
    size: Vec3Int
    bottomright: Vec3Int

    # Class attributes shadow NDBoundingBox's slots of the same names: every
    # BoundingBox has these, so no instance stores them. The same holds for the labels
    # (`_meta`): a box with a name, color or visibility other than the defaults is a
    # `_LabelledBoundingBox`, which exposes the slot again. So the common box costs
    # nothing for labels it does not have.
    axes: tuple[str, str, str] = XYZ_AXES  # type: ignore[assignment]
    index: Vec3Int = Vec3Int(1, 2, 3)  # type: ignore[assignment]
    ndim: int = 3  # type: ignore[assignment]
    _meta: _Meta = None

    def __init__(
        self,
        topleft: Vec3IntLike,
        size: Vec3IntLike,
        axes: Iterable[str] | None = None,
        index: Any = None,
        name: str | None = _DEFAULT_BBOX_NAME,
        is_visible: bool = True,
        color: _Color | None = None,
    ) -> None:
        tl = topleft if type(topleft) is Vec3Int else _vec3(topleft)
        sz = size if type(size) is Vec3Int else _vec3(size)
        w, h, d = sz
        if w < 0 or h < 0 or d < 0:
            tl = _tuple_new(Vec3Int, (tl[0] + min(w, 0), tl[1] + min(h, 0), tl[2] + min(d, 0)))
            w, h, d = abs(w), abs(h), abs(d)
            sz = _tuple_new(Vec3Int, (w, h, d))
        x, y, z = tl
        _set_topleft(self, tl)
        _set_size(self, sz)
        _set_bottomright(self, _tuple_new(Vec3Int, (x + w, y + h, z + d)))
        if name is not _DEFAULT_BBOX_NAME or is_visible is not True or color is not None:
            _label(self, _make_meta(name, is_visible, color))
        if axes is not None and tuple(axes) != XYZ_AXES:
            raise InvalidRequestError(f"A BoundingBox has the axes x, y, z, not {tuple(axes)}; use NDBoundingBox.")

    @classmethod
    def _make(cls, topleft: Vec3Int, size: Vec3Int, meta: _Meta = None) -> BoundingBox:
        """Build without conversion or sign checks (`size` must be non-negative)."""
        if meta is None:
            self = _object_new(BoundingBox if cls is _LabelledBoundingBox else cls)
        else:
            self = _object_new(_LabelledBoundingBox)
        _set_topleft(self, topleft)
        _set_size(self, size)
        _set_bottomright(
            self,
            _tuple_new(Vec3Int, (topleft[0] + size[0], topleft[1] + size[1], topleft[2] + size[2])),
        )
        if meta is not None:
            _set_meta(self, meta)
        return self

    def _flipped(self, topleft: Vec3Int, size: Vec3Int) -> BoundingBox:
        """A box like the constructor builds it (negative sizes flipped), with our labels."""
        w, h, d = size
        if w >= 0 and h >= 0 and d >= 0:
            x, y, z = topleft
            box = _object_new(type(self))
            _set_topleft(box, topleft)
            _set_size(box, size)
            _set_bottomright(box, _tuple_new(Vec3Int, (x + w, y + h, z + d)))
            if self._meta is not None:
                _set_meta(box, self._meta)
            return box
        return _label(_plain(type(self))(topleft, size), self._meta)

    def _rebuild(  # type: ignore[override]
        self, tl: tuple[int, ...], sz: tuple[int, ...], names: tuple[str, ...] | None = None,
        idx: tuple[int, ...] | None = None, meta: Any = False,
    ) -> BoundingBox:
        """Used by the `NDBoundingBox` methods: the axes stay x, y, z."""
        if (names is not None and names != XYZ_AXES) or (idx is not None and not idx[0] < idx[1] < idx[2]):
            raise InvalidRequestError(
                "A BoundingBox keeps the axes x, y, z in this order; use NDBoundingBox to reorder axes."
            )
        return _label(_plain(type(self))(tl, sz), self._meta if meta is False else meta)

    def __reduce__(self) -> tuple[Any, ...]:
        if self._meta is None:
            return (type(self), (self.topleft.to_tuple(), self.size.to_tuple()))
        return (_plain(type(self)), (self.topleft.to_tuple(), self.size.to_tuple(), None, None, *self._meta))

    # ---- dunder protocol ---------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Same `topleft` and `size`. A `NormalizedBoundingBox` is compared along x, y and
        z; another `NDBoundingBox` must have the axes x, y, z (else this raises)."""
        if type(other) is BoundingBox or isinstance(other, BoundingBox):
            return self.topleft == other.topleft and self.size == other.size
        if isinstance(other, NormalizedBoundingBox):
            return other.__eq__(self)
        if isinstance(other, NDBoundingBox):
            self._check_compatibility(other)
            return self.topleft == other.topleft and self.size == other.size
        return NotImplemented

    def __hash__(self) -> int:
        # the same as an equal NDBoundingBox over x, y, z
        return hash((self.topleft, self.size, _XYZ_HASH))

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
    def from_ndbbox(cls, bbox: NDBoundingBox) -> BoundingBox:
        """The x, y, z part of any box (0 for an absent axis)."""
        return cls(bbox.topleft_xyz, bbox.size_xyz)

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
            raise InvalidRequestError("from_points needs at least one point.")
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
        try:
            values = tuple(int(value) for value in csv_bbox.split(","))
        except ValueError:
            values = ()
        if len(values) != 6:
            raise InvalidRequestError(f"Expected six comma-separated integers, got {csv_bbox!r}.")
        return cls.from_tuple6(values)  # type: ignore[arg-type]

    @classmethod
    def from_auto(
        cls, obj: BoundingBox | str | dict[str, Any] | list[Any] | tuple[Any, ...]
    ) -> BoundingBox:
        """Accept a box, a csv or json string, a config or wkw dict, or a 2-/6-sequence.

        A wkw dict goes through `NormalizedBoundingBox.from_wkw_dict`, so (as in
        webknossos) one with extra axes gives an `NDBoundingBox`.

        Raises
        ------
        InvalidRequestError
            Anything else (also a `ValueError`).
        """
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            if ":" not in obj:
                return cls.from_csv(obj)
            try:
                decoded = json.loads(obj)
            except ValueError:
                raise InvalidRequestError(f"Unknown bounding box format: {obj!r}.") from None
            return cls.from_auto(decoded)
        if isinstance(obj, dict):
            if "size" in obj:
                return cls.from_config_dict(obj)
            return NormalizedBoundingBox.from_wkw_dict(obj).denormalize()  # type: ignore[return-value]
        if isinstance(obj, (list, tuple)):
            if len(obj) == 2:
                return cls.from_tuple2(obj)  # type: ignore[arg-type]
            if len(obj) == 6:
                return cls.from_tuple6(obj)  # type: ignore[arg-type]
            raise InvalidRequestError(f"Unknown bounding box format: a sequence of length {len(obj)}.")
        raise InvalidRequestError(f"Unknown bounding box format: {type(obj).__name__}.")

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

    def contains_bbox(self, inner_bbox: NDBoundingBox) -> bool:
        """Whether ``inner_bbox.intersected_with(self, dont_assert=True) == inner_bbox``,
        as in webknossos: every topleft component at least ours, and every bottomright
        component at most ours where the size is not zero. A `NormalizedBoundingBox` is
        judged along x, y and z.
        """
        if type(inner_bbox) is not BoundingBox and not isinstance(inner_bbox, BoundingBox):
            inner_bbox = self._as_3d_operand(inner_bbox)[0]
        (a0, a1, a2), (b0, b1, b2) = inner_bbox.topleft, self.topleft
        if a0 < b0 or a1 < b1 or a2 < b2:
            return False
        (c0, c1, c2), (d0, d1, d2) = inner_bbox.bottomright, self.bottomright
        s0, s1, s2 = inner_bbox.size
        return (c0 <= d0 or not s0) and (c1 <= d1 or not s1) and (c2 <= d2 or not s2)

    def _as_3d_operand(self, other: Any) -> tuple[BoundingBox, int | None]:
        """Another box as a BoundingBox, with the channel count of a normalized one.

        Raises
        ------
        InvalidRequestError
            `other` is no box, or one over axes other than (c,) x, y, z.
        """
        if isinstance(other, NormalizedBoundingBox) and other.axes == CXYZ_AXES:
            return BoundingBox._make(other.topleft_xyz, other.size_xyz, other._meta), other.size.c
        if not isinstance(other, NDBoundingBox):
            raise InvalidRequestError(f"Expected a bounding box, got {type(other).__name__}.")
        self._check_compatibility(other)
        return BoundingBox._make(Vec3Int(other.topleft), Vec3Int(other.size), other._meta), None

    # ---- derived boxes -----------------------------------------------------------

    def with_topleft(self, new_topleft: Vec3IntLike) -> BoundingBox:
        """Copy moved to `new_topleft`, same size."""
        return self._make(Vec3Int(new_topleft), self.size, self._meta)

    def with_size(self, new_size: Vec3IntLike) -> BoundingBox:
        """Copy with `new_size`, same topleft."""
        return self._flipped(self.topleft, Vec3Int(new_size))

    def with_bottomright(self, new_bottomright: Vec3IntLike) -> BoundingBox:
        """Copy with `new_bottomright`, same topleft (a smaller bottomright flips)."""
        return self._flipped(self.topleft, Vec3Int(new_bottomright) - self.topleft)

    def with_topleft_xyz(self, new_xyz: Vec3IntLike) -> BoundingBox:
        """Same as `with_topleft` (API parity with n-dimensional boxes)."""
        return self.with_topleft(new_xyz)

    def with_size_xyz(self, new_xyz: Vec3IntLike) -> BoundingBox:
        """Same as `with_size`."""
        return self.with_size(new_xyz)

    def with_bottomright_xyz(self, new_xyz: Vec3IntLike) -> BoundingBox:
        """Same as `with_bottomright`."""
        return self.with_bottomright(new_xyz)

    def with_bounds(
        self, axis: str, new_topleft: int | None = None, new_size: int | None = None
    ) -> BoundingBox:
        """Copy with the start and/or size along one named axis replaced."""
        i = _axis_index(axis)
        tl = self.topleft if new_topleft is None else self.topleft.with_replaced(i, new_topleft)
        size = self.size if new_size is None else self.size.with_replaced(i, new_size)
        return self._flipped(tl, size)

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
        return self._make(self.topleft + Vec3Int(vector), self.size, self._meta)

    def padded_with_margins(
        self, margins_left: Vec3IntLike, margins_right: Vec3IntLike | None = None
    ) -> BoundingBox:
        """Grow by `margins_left` before and `margins_right` (default: the same) after."""
        left = Vec3Int(margins_left)
        right = left if margins_right is None else Vec3Int(margins_right)
        return self._flipped(self.topleft - left, self.size + left + right)

    def intersected_with(self, other: NDBoundingBox, dont_assert: bool = False) -> Any:
        """Overlap of both boxes.

        With a `NormalizedBoundingBox` the overlap is taken along x, y and z and
        returned normalized with that box's channel count, as in webknossos.

        Raises
        ------
        InvalidRequestError
            The overlap is empty (unless `dont_assert`; then an empty box with sizes
            clamped to 0 is returned), or `other` has axes other than (c,) x, y, z.
            Also an `AssertionError` and a `ValueError`.
        """
        if type(other) is not BoundingBox and not isinstance(other, BoundingBox):
            flat, channels = self._as_3d_operand(other)
            result = self.intersected_with(flat, dont_assert)
            return result if channels is None else result.normalize_axes(channels)
        # conditional expressions instead of min()/max(): this runs for every chunk
        (a0, a1, a2), (b0, b1, b2) = self.topleft, other.topleft
        (c0, c1, c2), (d0, d1, d2) = self.bottomright, other.bottomright
        t0 = a0 if a0 > b0 else b0
        t1 = a1 if a1 > b1 else b1
        t2 = a2 if a2 > b2 else b2
        e0 = c0 if c0 < d0 else d0
        e1 = c1 if c1 < d1 else d1
        e2 = c2 if c2 < d2 else d2
        if e0 > t0 and e1 > t1 and e2 > t2:
            return _box(type(self), (t0, t1, t2), (e0 - t0, e1 - t1, e2 - t2), (e0, e1, e2), self._meta)
        if not dont_assert:
            raise InvalidRequestError(f"No intersection between bounding boxes {self} and {other}.")
        s0, s1, s2 = (e0 - t0 if e0 > t0 else 0), (e1 - t1 if e1 > t1 else 0), (e2 - t2 if e2 > t2 else 0)
        return _box(type(self), (t0, t1, t2), (s0, s1, s2), (t0 + s0, t1 + s1, t2 + s2), self._meta)

    def extended_by(self, other: NDBoundingBox) -> Any:
        """Smallest box containing both; an empty box on either side is ignored.

        With a `NormalizedBoundingBox` the hull is taken along x, y and z and returned
        normalized with that box's channel count, as in webknossos.
        """
        if type(other) is not BoundingBox and not isinstance(other, BoundingBox):
            flat, channels = self._as_3d_operand(other)
            result = self.extended_by(flat)
            return result if channels is None else result.normalize_axes(channels)
        (a0, a1, a2), (b0, b1, b2) = self.size, other.size
        if not (a0 > 0 and a1 > 0 and a2 > 0):
            return other
        if not (b0 > 0 and b1 > 0 and b2 > 0):
            return self
        (a0, a1, a2), (b0, b1, b2) = self.topleft, other.topleft
        (c0, c1, c2), (d0, d1, d2) = self.bottomright, other.bottomright
        t0 = a0 if a0 < b0 else b0
        t1 = a1 if a1 < b1 else b1
        t2 = a2 if a2 < b2 else b2
        e0 = c0 if c0 > d0 else d0
        e1 = c1 if c1 > d1 else d1
        e2 = c2 if c2 > d2 else d2
        return _box(type(self), (t0, t1, t2), (e0 - t0, e1 - t1, e2 - t2), (e0, e1, e2), self._meta)

    def normalize_axes(self, num_channels: int) -> NormalizedBoundingBox:
        """This box with a leading channel axis: axes ``c, x, y, z``, topleft c 0, size c `num_channels`."""
        new = object.__new__(NormalizedBoundingBox)
        new._fill((0, *self.topleft), (int(num_channels), *self.size), (C_AXIS, *XYZ_AXES), (0, 1, 2, 3),
                  self._meta)  # fmt: skip
        return new

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
        return self._make(self.topleft // m, self.size // m, self._meta)

    def from_mag_to_mag1(self, from_mag: MagLike) -> BoundingBox:
        """Convert coordinates in `from_mag` to mag-1 coordinates."""
        m = from_mag.to_vec3_int() if isinstance(from_mag, Mag) else Mag(from_mag).to_vec3_int()
        return self._make(self.topleft * m, self.size * m, self._meta)

    def align_with_mag(
        self, mag: MagLike | Vec3IntLike | int, ceil: bool = False
    ) -> BoundingBox:
        """Snap both corners to multiples of `mag`.

        With `ceil` the box grows (topleft down, bottomright up); otherwise it shrinks
        (topleft up, bottomright down). As in webknossos, a box that shrinks past
        itself gets a negative size, which is then flipped like in the constructor.
        """
        m = _mag_factors(mag)
        tl, br = self.topleft, self.bottomright
        if ceil:
            new_tl = tl - tl % m
            new_br = br + (m - br % m) % m
        else:
            new_tl = tl + (m - tl % m) % m
            new_br = br - br % m
        return self._flipped(new_tl, new_br - new_tl)

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
        cls = _plain(type(self))  # chunks carry no labels, as in webknossos
        for x, y, z in toplefts:
            t0 = x if x > a0 else a0
            t1 = y if y > a1 else a1
            t2 = z if z > a2 else a2
            e0, e1, e2 = x + s0, y + s1, z + s2
            e0 = e0 if e0 < b0 else b0
            e1 = e1 if e1 < b1 else b1
            e2 = e2 if e2 < b2 else b2
            yield _box(cls, (t0, t1, t2), (e0 - t0, e1 - t1, e2 - t2), (e0, e1, e2), None)


_set_topleft = vars(NDBoundingBox)["topleft"].__set__
_set_size = vars(NDBoundingBox)["size"].__set__
_set_bottomright = vars(NDBoundingBox)["bottomright"].__set__
_meta_slot = vars(NDBoundingBox)["_meta"]
_set_meta = _meta_slot.__set__
_object_new = object.__new__


class _LabelledBoundingBox(BoundingBox):
    """A `BoundingBox` with a name, visibility or color other than the defaults."""

    __slots__ = ()
    _meta = _meta_slot  # type: ignore[assignment]  # the slot again, not BoundingBox's None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        BoundingBox.__init__(self, *args, **kwargs)
        try:
            self._meta
        except AttributeError:  # built with the default labels
            object.__setattr__(self, "__class__", BoundingBox)


def _plain(cls: type[BoundingBox]) -> type[BoundingBox]:
    """The class for a box without labels: `BoundingBox` for a labelled one."""
    return BoundingBox if cls is _LabelledBoundingBox else cls


def _label(box: BoundingBox, meta: _Meta) -> BoundingBox:
    """`box` (unlabelled, just built) carrying the labels `meta` (None: the defaults).

    A labelled box is a `_LabelledBoundingBox` (labels on a user subclass of
    BoundingBox are kept, but the box becomes a plain labelled BoundingBox).
    """
    if meta is not None:
        object.__setattr__(box, "__class__", _LabelledBoundingBox)
        _set_meta(box, meta)
    return box


def _box(
    cls: type[BoundingBox], tl: tuple[int, int, int], sz: tuple[int, int, int], br: tuple[int, int, int],
    meta: _Meta,
) -> BoundingBox:
    """A box from plain int triples that satisfy ``tl + sz == br`` and ``sz >= 0``
    (unchecked). `cls` and `meta` come from one box (``type(self), self._meta``), so
    `cls` is `_LabelledBoundingBox` exactly when there are labels."""
    box = _object_new(cls)
    _set_topleft(box, _tuple_new(Vec3Int, tl))
    _set_size(box, _tuple_new(Vec3Int, sz))
    _set_bottomright(box, _tuple_new(Vec3Int, br))
    if meta is not None:
        _set_meta(box, meta)
    return box
