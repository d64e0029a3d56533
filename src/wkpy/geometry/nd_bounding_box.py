"""`NDBoundingBox`, an immutable axis-aligned integer box over named axes.

`BoundingBox` is its x, y, z case with fast paths of its own, and
`NormalizedBoundingBox` the form with a channel axis that layer properties use.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import product
from numbers import Integral
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from wkpy.errors import InvalidRequestError, MissingAxisError

from .constants import C_AXIS, XYZ_AXES
from .mag import Mag, MagLike
from .vec3_int import Vec3Int, Vec3IntLike
from .vec_int import VecInt, VecIntLike

if TYPE_CHECKING:
    from .normalized_bounding_box import NormalizedBoundingBox

__all__ = ["NDBoundingBox", "derive_nd_bounding_box_from_shape"]

_DEFAULT_BBOX_NAME = "Unnamed Bounding Box"

_T = TypeVar("_T", bound="NDBoundingBox")
_Color = tuple[float, float, float, float]
# (name, is_visible, color), or None for the defaults: most boxes carry none of them
_Meta = tuple[str | None, bool, _Color | None] | None
_DEFAULT_META: tuple[str | None, bool, _Color | None] = (_DEFAULT_BBOX_NAME, True, None)
_tuple_new = tuple.__new__


def _make_meta(name: str | None, is_visible: bool, color: Any) -> _Meta:
    if name == _DEFAULT_BBOX_NAME and is_visible is True and color is None:
        return None
    if color is not None:
        color = tuple(color)
    return (name, bool(is_visible), color)


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    """`value` (a vector, sequence or 1-d array of whole numbers) as a tuple of ints."""
    if type(value) is tuple or isinstance(value, VecInt):
        if all(type(v) is int for v in value):
            return tuple(value)
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise InvalidRequestError(f"{what} must be one-dimensional, got an array of shape {value.shape}.")
        value = value.tolist()
    elif isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidRequestError(f"{what} must be a sequence of integers, got {value!r}.")
    out = []
    for v in value:
        if isinstance(v, (Integral, np.integer)) and not isinstance(v, bool):
            out.append(int(v))
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(int(v))
        else:
            raise InvalidRequestError(f"{what} must be a sequence of integers, got {value!r}.")
    return tuple(out)


def _axes_tuple(axes: Iterable[str]) -> tuple[str, ...]:
    """Axis names as a tuple; a string names one axis per character, as in webknossos."""
    if isinstance(axes, np.ndarray):
        axes = axes.tolist()
    if not isinstance(axes, Iterable):
        raise InvalidRequestError(f"axes must be a sequence of names, got {axes!r}.")
    names = tuple(str(a) if isinstance(a, np.str_) else a for a in axes)
    if not all(isinstance(a, str) and a for a in names):
        raise InvalidRequestError(f"axes must be non-empty strings, got {axes!r}.")
    if len(set(names)) != len(names):
        raise InvalidRequestError(f"axes must be distinct, got {names}.")
    return names


@lru_cache(maxsize=256)
def _xyz_positions(axes: tuple[str, ...]) -> tuple[int | None, int | None, int | None]:
    """Where x, y and z sit in `axes` (None for an absent one)."""
    return tuple(axes.index(a) if a in axes else None for a in XYZ_AXES)  # type: ignore[return-value]


def _mag_factors(mag: MagLike | Vec3IntLike | int) -> Vec3Int:
    """Factors of `mag`; a plain vector is taken as is (it need not be a power of two)."""
    if isinstance(mag, Mag):
        return mag.to_vec3_int()
    if isinstance(mag, str):
        return Mag(mag).to_vec3_int()
    return Vec3Int.from_vec_or_int(mag)


class NDBoundingBox:
    """Immutable axis-aligned box over named axes, as in webknossos 4.3.3.

    `topleft` is inclusive, `bottomright` exclusive; both and `size` are `VecInt` with
    the box's axis names. The axes are kept in the order of `index`.

    Parameters
    ----------
    topleft, size : VecIntLike
        One integer per axis. A negative size is flipped: the box then spans
        ``[topleft + size, topleft)`` on that axis.
    axes : iterable of str
        The axis names, e.g. ``("x", "y", "z", "t")``; a string gives one name per
        character (``"cxyz"``).
    index : VecIntLike, optional
        The order of the axes (default ``0, 1, ...``). When it is not increasing, axes,
        `topleft` and `size` are sorted by it.
    name : str or None, optional
        A label (annotations use it); not part of equality.
    is_visible : bool, optional
        Not part of equality.
    color : tuple of 4 floats, optional
        RGBA; not part of equality.

    Raises
    ------
    InvalidRequestError
        `topleft`, `size`, `axes` and `index` differ in length, or hold something other
        than integers (names). Also an `AssertionError` and a `ValueError`.

    Examples
    --------
    >>> box = NDBoundingBox((0, 0, 0, 2), (10, 10, 10, 5), ("x", "y", "z", "t"))
    >>> box.get_bounds("t")
    (2, 7)
    """

    __slots__ = ("topleft", "size", "bottomright", "axes", "index", "_meta")
    topleft: VecInt
    size: VecInt
    bottomright: VecInt
    axes: tuple[str, ...]
    index: VecInt
    _meta: _Meta

    def __init__(
        self,
        topleft: VecIntLike,
        size: VecIntLike,
        axes: Iterable[str],
        index: VecIntLike | None = None,
        name: str | None = _DEFAULT_BBOX_NAME,
        is_visible: bool = True,
        color: _Color | None = None,
    ) -> None:
        names = _axes_tuple(axes)
        tl, sz = _int_tuple(topleft, "topleft"), _int_tuple(size, "size")
        idx = None if index is None else _int_tuple(index, "index")
        if len(tl) != len(names) or len(sz) != len(names) or (idx is not None and len(idx) != len(names)):
            raise InvalidRequestError(
                f"The dimensions of topleft, size, axes and index ({len(tl)}, {len(sz)}, {len(names)}"
                f"{'' if idx is None else f', {len(idx)}'}) do not match."
            )
        self._fill(tl, sz, names, idx, _make_meta(name, is_visible, color))

    def _fill(
        self, tl: tuple[int, ...], sz: tuple[int, ...], names: tuple[str, ...],
        idx: tuple[int, ...] | None, meta: _Meta,
    ) -> None:
        """Set the slots from checked parts: sort by `idx`, flip negative sizes."""
        n = len(names)
        if idx is None:
            idx = tuple(range(n))
        elif any(idx[i - 1] >= idx[i] for i in range(1, n)):
            order = sorted(range(n), key=idx.__getitem__)
            names = tuple(names[i] for i in order)
            tl, sz, idx = (tuple(t[i] for i in order) for t in (tl, sz, idx))
        if any(s < 0 for s in sz):
            tl = tuple(t + s if s < 0 else t for t, s in zip(tl, sz))
            sz = tuple(abs(s) for s in sz)
        trusted = VecInt._trusted
        _set = object.__setattr__
        _set(self, "topleft", trusted(tl, names))
        _set(self, "size", trusted(sz, names))
        _set(self, "bottomright", trusted(tuple(t + s for t, s in zip(tl, sz)), names))
        _set(self, "axes", names)
        _set(self, "index", trusted(idx, names))
        _set(self, "_meta", meta)

    def _rebuild(
        self: _T, tl: tuple[int, ...], sz: tuple[int, ...], names: tuple[str, ...] | None = None,
        idx: tuple[int, ...] | None = None, meta: Any = False,
    ) -> _T:
        """A box of this class from checked parts; axes, index and meta default to ours."""
        new = object.__new__(type(self))
        new._fill(tl, sz, self.axes if names is None else names,
                  tuple(self.index) if idx is None else idx,
                  self._meta if meta is False else meta)  # fmt: skip
        return new

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        name, is_visible, color = self._meta or _DEFAULT_META
        return (type(self), (tuple(self.topleft), tuple(self.size), self.axes, tuple(self.index),
                             name, is_visible, color))  # fmt: skip

    def __copy__(self: _T) -> _T:
        return self

    def __deepcopy__(self: _T, memo: dict[int, Any]) -> _T:
        return self

    # ---- labels ------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The label (default ``"Unnamed Bounding Box"``)."""
        return (self._meta or _DEFAULT_META)[0]

    @property
    def is_visible(self) -> bool:
        """Whether the box is shown (annotations); default True."""
        return (self._meta or _DEFAULT_META)[1]

    @property
    def color(self) -> _Color | None:
        """RGBA color or None."""
        return (self._meta or _DEFAULT_META)[2]

    def with_name(self: _T, name: str | None) -> _T:
        """Copy with `name` replaced."""
        _, is_visible, color = self._meta or _DEFAULT_META
        return self._rebuild(tuple(self.topleft), tuple(self.size), meta=_make_meta(name, is_visible, color))

    def with_is_visible(self: _T, is_visible: bool) -> _T:
        """Copy with `is_visible` replaced."""
        name, _, color = self._meta or _DEFAULT_META
        return self._rebuild(tuple(self.topleft), tuple(self.size), meta=_make_meta(name, is_visible, color))

    def with_color(self: _T, color: _Color | None) -> _T:
        """Copy with `color` replaced."""
        name, is_visible, _ = self._meta or _DEFAULT_META
        return self._rebuild(tuple(self.topleft), tuple(self.size), meta=_make_meta(name, is_visible, color))

    # ---- dunder protocol ---------------------------------------------------------

    def _check_compatibility(self, other: NDBoundingBox) -> None:
        """Raise unless `other` has the same axes in the same order."""
        if self.axes != other.axes:
            raise InvalidRequestError(
                "Operation with two bboxes is only possible if they have the same axes and axes order. "
                f"{self.axes} != {other.axes}"
            )

    def __eq__(self, other: object) -> bool:
        """Same `topleft` and `size`; boxes over other axes cannot be compared (raises)."""
        if isinstance(other, NDBoundingBox):
            self._check_compatibility(other)
            return self.topleft == other.topleft and self.size == other.size
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.topleft, self.size, hash(self.axes)))

    def __len__(self) -> int:
        return len(self.axes)

    def __repr__(self) -> str:
        axes = dict(zip(self.axes, self.index))
        return f"{type(self).__name__}(topleft={tuple(self.topleft)}, size={tuple(self.size)}, axes={axes})"

    __str__ = __repr__

    # ---- alternative constructors ------------------------------------------------

    @classmethod
    def from_axes(cls: type[_T], axes: Iterable[str], sizes: Iterable[int]) -> _T:
        """A box at the origin with the given per-axis `sizes`."""
        names = _axes_tuple(axes)
        return cls((0,) * len(names), _int_tuple(sizes, "sizes"), names)

    @classmethod
    def group_boxes_with_aligned_mag(
        cls, bounding_boxes: Iterable[NDBoundingBox], aligning_mag: MagLike
    ) -> dict[NDBoundingBox, list[NDBoundingBox]]:
        """Group boxes by their outward alignment to `aligning_mag` (e.g. the shard
        each 256³ box belongs to, with ``Mag(1024)``)."""
        groups: dict[NDBoundingBox, list[NDBoundingBox]] = defaultdict(list)
        for bbox in bounding_boxes:
            groups[bbox.align_with_mag(aligning_mag, ceil=True)].append(bbox)
        return groups

    # ---- serialisation -----------------------------------------------------------

    def to_config_dict(self) -> dict[str, Any]:
        """As ``{"topleft": [...], "size": [...], "axes": (...)}``."""
        return {"topleft": list(self.topleft), "size": list(self.size), "axes": self.axes}

    def to_checkpoint_name(self) -> str:
        """The toplefts, then the sizes, joined by ``_``."""
        return "_".join(str(v) for v in (*self.topleft, *self.size))

    def to_slices(self) -> tuple[slice, ...]:
        """Slices selecting this box from an array indexed in absolute coordinates, in axis order."""
        return tuple(slice(t, b) for t, b in zip(self.topleft, self.bottomright))

    def to_slices_xyz(self) -> tuple[slice, ...]:
        """Slices in axis order: absolute along x, y and z, ``0:1`` along the other axes.

        Raises
        ------
        InvalidRequestError
            The box is thicker than one along an axis other than x, y and z.
        """
        self._check_flat_outside_xyz()
        return tuple(
            slice(t, t + s) if a in XYZ_AXES else slice(0, s)
            for a, t, s in zip(self.axes, self.topleft, self.size)
        )

    def slice_array(self, array: np.ndarray) -> np.ndarray:
        """``array[self.to_slices()]``."""
        return array[self.to_slices()]

    def xyz_array_to_bbox_shape(self, data: np.ndarray) -> np.ndarray:
        """An x, y, z array reshaped to this box's axes (length 1 along the others).

        Raises
        ------
        InvalidRequestError
            The box is thicker than one along an axis other than x, y and z.
        """
        self._check_flat_outside_xyz()
        data = np.expand_dims(data, axis=tuple(range(3, len(self.axes))))
        return np.moveaxis(data, [0, 1, 2], [self.axes.index(a) for a in XYZ_AXES])

    def _check_flat_outside_xyz(self) -> None:
        if any(s != 1 for a, s in zip(self.axes, self.size) if a not in XYZ_AXES):
            raise InvalidRequestError(
                f"The bounding box {self} must be flat in all dimensions except x, y and z."
            )

    # ---- queries -----------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.axes)

    def _xyz_of(self, values: Iterable[int]) -> Vec3Int:
        vals = tuple(values)
        return Vec3Int.from_xyz(*(0 if p is None else vals[p] for p in _xyz_positions(self.axes)))

    def _with_xyz(self, values: Iterable[int], new_xyz: Vec3IntLike) -> tuple[int, ...]:
        out = list(values)
        for p, v in zip(_xyz_positions(self.axes), Vec3Int(new_xyz)):
            if p is not None:
                out[p] = v
        return tuple(out)

    @property
    def topleft_xyz(self) -> Vec3Int:
        """x, y and z of `topleft` (0 for an absent axis)."""
        return self._xyz_of(self.topleft)

    @property
    def size_xyz(self) -> Vec3Int:
        """x, y and z of `size` (0 for an absent axis)."""
        return self._xyz_of(self.size)

    @property
    def bottomright_xyz(self) -> Vec3Int:
        """x, y and z of `bottomright` (0 for an absent axis)."""
        return self._xyz_of(self.bottomright)

    @property
    def index_xyz(self) -> Vec3Int:
        """The index of the x, y and z axes (0 for an absent axis)."""
        return self._xyz_of(self.index)

    def _position(self, axis: str) -> int:
        try:
            return self.axes.index(axis)
        except ValueError:
            raise MissingAxisError(f"The axis {axis!r} does not exist in {self.axes}.") from None

    def get_shape(self, axis_name: str) -> int:
        """Size along the named axis (`MissingAxisError`, a `KeyError`, if absent)."""
        return self.size[self._position(axis_name)]

    def get_bounds(self, axis: str) -> tuple[int, int]:
        """``(start, end)`` along the named axis (`MissingAxisError`, a `KeyError`, if absent)."""
        i = self._position(axis)
        return (self.topleft[i], self.bottomright[i])

    def is_empty(self) -> bool:
        """Whether any size component is zero."""
        return not all(s > 0 for s in self.size)

    def volume(self) -> int:
        """Number of voxels inside (exact)."""
        return math.prod(self.size)

    def contains(self, coord: VecIntLike | np.ndarray) -> bool:
        """Whether a point (one value per axis, in axis order) lies inside.

        A numpy point may have float coordinates.

        Raises
        ------
        InvalidRequestError
            The point has another number of coordinates than the box has axes.
        """
        n = len(self.axes)
        if isinstance(coord, np.ndarray):
            if coord.shape != (n,):
                raise InvalidRequestError(f"A numpy point for contains() must have shape ({n},), got {coord.shape}.")
            return bool(np.all(coord >= self.topleft) and np.all(coord < self.bottomright))
        c = _int_tuple(coord, "point")
        if len(c) != n:
            raise InvalidRequestError(f"A point for contains() must have {n} coordinates, got {coord!r}.")
        return all(t <= v < b for t, v, b in zip(self.topleft, c, self.bottomright))

    def contains_bbox(self, inner_bbox: NDBoundingBox) -> bool:
        """Whether ``inner_bbox.intersected_with(self, dont_assert=True) == inner_bbox``
        (an empty box counts as contained wherever it sits)."""
        self._check_compatibility(inner_bbox)
        return inner_bbox.intersected_with(self, dont_assert=True) == inner_bbox

    # ---- derived boxes -----------------------------------------------------------

    def with_topleft(self: _T, new_topleft: VecIntLike) -> _T:
        """Copy moved to `new_topleft` (one value per axis), same size."""
        return self._rebuild(self._full(new_topleft, "topleft"), tuple(self.size))

    def with_size(self: _T, new_size: VecIntLike) -> _T:
        """Copy with `new_size` (one value per axis), same topleft."""
        return self._rebuild(tuple(self.topleft), self._full(new_size, "size"))

    def with_bottomright(self: _T, new_bottomright: VecIntLike) -> _T:
        """Copy with `new_bottomright`, same topleft (a smaller bottomright flips)."""
        br = self._full(new_bottomright, "bottomright")
        return self._rebuild(tuple(self.topleft), tuple(b - t for b, t in zip(br, self.topleft)))

    def with_index(self: _T, new_index: VecIntLike) -> _T:
        """Copy with a new axis order: `new_index` gives each current axis its index."""
        return self._rebuild(tuple(self.topleft), tuple(self.size), idx=self._full(new_index, "index"))

    def with_topleft_xyz(self: _T, new_xyz: Vec3IntLike) -> _T:
        """Copy with x, y and z of `topleft` replaced."""
        return self._rebuild(self._with_xyz(self.topleft, new_xyz), tuple(self.size))

    def with_size_xyz(self: _T, new_xyz: Vec3IntLike) -> _T:
        """Copy with x, y and z of `size` replaced."""
        return self._rebuild(tuple(self.topleft), self._with_xyz(self.size, new_xyz))

    def with_bottomright_xyz(self: _T, new_xyz: Vec3IntLike) -> _T:
        """Copy with x, y and z of `bottomright` replaced."""
        br = self._with_xyz(self.bottomright, new_xyz)
        return self._rebuild(tuple(self.topleft), tuple(b - t for b, t in zip(br, self.topleft)))

    def with_index_xyz(self: _T, new_xyz: Vec3IntLike) -> _T:
        """Copy with the index of x, y and z replaced (the axes are re-sorted)."""
        return self._rebuild(tuple(self.topleft), tuple(self.size), idx=self._with_xyz(self.index, new_xyz))

    def _full(self, value: VecIntLike, what: str) -> tuple[int, ...]:
        values = _int_tuple(value, what)
        if len(values) != len(self.axes):
            raise InvalidRequestError(f"{what} needs {len(self.axes)} values for the axes {self.axes}, got {value!r}.")
        return values

    def with_bounds(self: _T, axis: str, new_topleft: int | None = None, new_size: int | None = None) -> _T:
        """Copy with the start and/or size along the named axis replaced (a negative size flips).

        Raises
        ------
        MissingAxisError
            No axis of that name (a `KeyError`).
        """
        i = self._position(axis)
        tl, sz = list(self.topleft), list(self.size)
        if new_topleft is not None:
            tl[i] = int(new_topleft)
        if new_size is not None:
            sz[i] = int(new_size)
        return self._rebuild(tuple(tl), tuple(sz))

    def offset(self: _T, vector: VecIntLike) -> _T:
        """Copy translated by `vector`: three values move x, y and z, one per axis moves every axis."""
        values = _int_tuple(vector, "vector")
        if len(values) == 3:
            return self._rebuild(self._with_xyz(self.topleft, self.topleft_xyz + values), tuple(self.size))
        move = self._full(values, "vector")
        return self._rebuild(tuple(t + v for t, v in zip(self.topleft, move)), tuple(self.size))

    def padded_with_margins(self: _T, margins_left: Vec3IntLike, margins_right: Vec3IntLike | None = None) -> _T:
        """Grow along x, y and z by `margins_left` before and `margins_right` (default: the same) after."""
        left = Vec3Int(margins_left)
        right = left if margins_right is None else Vec3Int(margins_right)
        tl = self._with_xyz(self.topleft, self.topleft_xyz - left)
        return self._rebuild(tl, self._with_xyz(self.size, self.size_xyz + left + right))

    def intersected_with(self: _T, other: _T, dont_assert: bool = False) -> _T:
        """Overlap of both boxes (same axes).

        Raises
        ------
        InvalidRequestError
            The boxes have other axes, or (unless `dont_assert`; then an empty box with
            sizes clamped to 0 is returned) they do not overlap. Also an `AssertionError`.
        """
        self._check_compatibility(other)
        tl = tuple(max(a, b) for a, b in zip(self.topleft, other.topleft))
        sz = tuple(max(min(a, b) - t, 0) for a, b, t in zip(self.bottomright, other.bottomright, tl))
        if not dont_assert and not all(sz):
            raise InvalidRequestError(f"No intersection between bounding boxes {self} and {other}.")
        return self._rebuild(tl, sz)

    def extended_by(self: _T, other: _T) -> _T:
        """Smallest box containing both (same axes); an empty box on either side is ignored."""
        self._check_compatibility(other)
        if self.is_empty():
            return other
        if other.is_empty():
            return self
        tl = tuple(min(a, b) for a, b in zip(self.topleft, other.topleft))
        br = tuple(max(a, b) for a, b in zip(self.bottomright, other.bottomright))
        return self._rebuild(tl, tuple(b - t for b, t in zip(br, tl)))

    # ---- magnifications ----------------------------------------------------------

    def in_mag(self: _T, mag: MagLike) -> _T:
        """Convert mag-1 coordinates to `mag` coordinates along x, y and z.

        Raises
        ------
        InvalidRequestError
            A corner is not aligned with `mag` (also an `AssertionError`).
        """
        m = Mag(mag).to_vec3_int()
        for name, corner in (("topleft", self.topleft_xyz), ("bottomright", self.bottomright_xyz)):
            if corner % m != (0, 0, 0):
                raise InvalidRequestError(
                    f"{name} {corner} is not aligned with the mag {Mag(m)}. Use BoundingBox.align_with_mag()."
                )
        tl = self._with_xyz(self.topleft, self.topleft_xyz // m)
        return self._rebuild(tl, self._with_xyz(self.size, self.size_xyz // m))

    def from_mag_to_mag1(self: _T, from_mag: MagLike) -> _T:
        """Convert x, y and z coordinates in `from_mag` to mag-1 coordinates."""
        m = Mag(from_mag).to_vec3_int()
        tl = self._with_xyz(self.topleft, self.topleft_xyz * m)
        return self._rebuild(tl, self._with_xyz(self.size, self.size_xyz * m))

    def align_with_mag(self: _T, mag: MagLike | Vec3IntLike | int, ceil: bool = False) -> _T:
        """Snap both corners to multiples of `mag` along x, y and z.

        With `ceil` the box grows (topleft down, bottomright up); otherwise it shrinks.
        As in webknossos, a box that shrinks past itself gets a negative size, which is
        then flipped like in the constructor.
        """
        m = _mag_factors(mag)
        tl, br = self.topleft_xyz, self.bottomright_xyz
        if ceil:
            new_tl, new_br = tl - tl % m, br + (m - br % m) % m
        else:
            new_tl, new_br = tl + (m - tl % m) % m, br - br % m
        return self._rebuild(self._with_xyz(self.topleft, new_tl), self._with_xyz(self.size, new_br - new_tl))

    def _align_with_mag_slow(self: _T, mag: MagLike, ceil: bool = False) -> _T:
        """`align_with_mag` computed through float division and rounding: the readable
        twin the fast version is checked against. Exact below 2**53 only; raises
        `OverflowError` where a coordinate does not fit a float."""
        m = Mag(mag).to_vec3_int()

        def align(point: Vec3Int, rounding: Callable[[float], int]) -> Vec3Int:
            return Vec3Int.from_xyz(*(rounding(p / f) * f for p, f in zip(point, m)))

        if ceil:
            tl, br = align(self.topleft_xyz, math.floor), align(self.bottomright_xyz, math.ceil)
        else:
            tl, br = align(self.topleft_xyz, math.ceil), align(self.bottomright_xyz, math.floor)
        return self._rebuild(self._with_xyz(self.topleft, tl), self._with_xyz(self.size, br - tl))

    # ---- chunking ----------------------------------------------------------------

    def _per_axis_step(self, value: VecIntLike, what: str) -> tuple[int, ...]:
        """A chunk step per axis: three values are x, y, z (1 along other axes, the
        whole size along ``c``), otherwise one value per axis."""
        values = _int_tuple(value, what)
        if len(values) == 3:
            step = self._with_xyz((1,) * len(self.axes), values)
            if C_AXIS in self.axes:
                c = self.axes.index(C_AXIS)
                step = (*step[:c], self.size[c], *step[c + 1:])
            values = step
        elif len(values) != len(self.axes):
            raise InvalidRequestError(f"{what} needs 3 or {len(self.axes)} values, got {value!r}.")
        if not all(v > 0 for v in values):
            raise InvalidRequestError(f"{what} must be positive, got {values}.")
        return values

    def chunk(self: _T, chunk_shape: VecIntLike, chunk_border_alignments: VecIntLike | None = None) -> Iterator[_T]:
        """Split into boxes of at most `chunk_shape`, clipped to this box, first axis slowest.

        A 3-value `chunk_shape` chunks along x, y and z (one step along the other axes,
        the whole channel axis at once); otherwise it has one value per axis. With
        `chunk_border_alignments` (same forms) every border between two chunks is a
        multiple of it. Arguments are checked eagerly; an empty box has no chunks.

        Raises
        ------
        InvalidRequestError
            A shape of the wrong length or not positive, or `chunk_shape` not divisible
            by `chunk_border_alignments`.
        """
        step = self._per_axis_step(chunk_shape, "chunk_shape")
        starts = tuple(self.topleft)
        if chunk_border_alignments is not None:
            align = self._per_axis_step(chunk_border_alignments, "chunk_border_alignments")
            if any(s % a for s, a in zip(step, align)):
                raise InvalidRequestError(f"{step} not divisible by {align}")
            starts = tuple(t - t % a for t, a in zip(starts, align))
        if self.is_empty():
            return iter(())
        ranges = [range(s, b, st) for s, b, st in zip(starts, self.bottomright, step)]
        return self._clipped_nd_chunks(ranges, step)

    def _clipped_nd_chunks(self: _T, ranges: list[range], step: tuple[int, ...]) -> Iterator[_T]:
        lo, hi = tuple(self.topleft), tuple(self.bottomright)
        for corner in product(*ranges):
            tl = tuple(max(c, a) for c, a in zip(corner, lo))
            yield self._rebuild(tl, tuple(min(c + s, b) - t for c, s, b, t in zip(corner, step, hi, tl)))

    # ---- channel axis --------------------------------------------------------------

    def normalize_axes(self, num_channels: int) -> NormalizedBoundingBox:
        """This box as a `NormalizedBoundingBox` whose ``c`` size is `num_channels`.

        Raises
        ------
        InvalidRequestError
            The box has no ``c`` axis and `num_channels` is not 1.
        """
        from .normalized_bounding_box import NormalizedBoundingBox

        sz = tuple(self.size)
        if C_AXIS in self.axes:
            c = self.axes.index(C_AXIS)
            sz = (*sz[:c], int(num_channels), *sz[c + 1:])
        elif num_channels != 1:
            raise InvalidRequestError(f"{self} has no c axis for {num_channels} channels.")
        new = object.__new__(NormalizedBoundingBox)
        new._fill(tuple(self.topleft), sz, self.axes, tuple(self.index), self._meta)
        return new

    def denormalize(self) -> NDBoundingBox:
        """The box itself (the inverse of `normalize_axes` for a normalized box)."""
        return self


def derive_nd_bounding_box_from_shape(
    data_shape: tuple[int, ...],
    *,
    axes: Iterable[str] | None = None,
    absolute_offset: Vec3IntLike | VecIntLike | None = None,
) -> tuple[NDBoundingBox, int]:
    """The box an array of `data_shape` covers, and its channel count, as in webknossos 4.3.3.

    Without `axes`: up to three dimensions are x, y, z (missing ones 1), four are
    c, x, y, z; more need `axes`. `absolute_offset` is the topleft (zeros by default).

    Raises
    ------
    InvalidRequestError
        A scalar shape, more than four dimensions without `axes`, or `axes` of another length.
    """
    from .bounding_box import BoundingBox

    shape = _int_tuple(data_shape, "data_shape")
    if axes is not None:
        names = _axes_tuple(axes)
        if len(names) != len(shape):
            raise InvalidRequestError(f"axes {names} do not match the data shape {shape}.")
        offset = (0,) * len(names) if absolute_offset is None else absolute_offset
        box = NDBoundingBox(offset, shape, names, tuple(range(len(names))))
        return box, (shape[names.index(C_AXIS)] if C_AXIS in names else 1)
    offset3 = (0, 0, 0) if absolute_offset is None else absolute_offset
    if len(shape) == 0:
        raise InvalidRequestError("Scalar values are not supported.")
    if len(shape) <= 3:
        return BoundingBox(offset3, shape + (1,) * (3 - len(shape))), 1
    if len(shape) == 4:
        return BoundingBox(offset3, shape[1:]), shape[0]
    raise InvalidRequestError("axes must be provided for arrays with more than 4 dimensions.")

