"""`Vec3Int`, an immutable triple of integers with element-wise arithmetic."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from numbers import Integral
from operator import floordiv, itemgetter, mod, sub
from typing import Any, TypeAlias, cast

import numpy as np

from wkpy.errors import InvalidRequestError, MissingAxisError

from .vec_int import VecInt

__all__ = ["Vec3Int", "Vec3IntLike", "as_vec3_int_or_none"]

XYZ_AXES: tuple[str, str, str] = ("x", "y", "z")

_tuple_new = tuple.__new__
_PARENS_TRIPLE = re.compile(r"\(\d+,\d+,\d+\)")
_PLAIN_TRIPLE = re.compile(r"\d+,\d+,\d+")


def _bad_input(value: object) -> InvalidRequestError:
    return InvalidRequestError(
        "A Vec3Int needs three integers, an iterable of three integers, "
        f"or keyword arguments x, y and z; got {value!r}."
    )


def _triple_from(cls: type[Vec3Int], value: Any) -> Vec3Int:
    """Convert a single constructor argument to a `cls` instance."""
    if isinstance(value, Vec3Int):
        return value
    if isinstance(value, str):
        return cls.from_str(value)
    if isinstance(value, np.ndarray):
        if value.shape != (3,):
            raise _bad_input(value)
        value = value.tolist()
    elif not isinstance(value, Iterable):
        raise _bad_input(value)
    items = tuple(value)
    if len(items) != 3:
        raise _bad_input(value)
    x, y, z = items
    if type(x) is int and type(y) is int and type(z) is int:
        return _tuple_new(cls, items)
    return _tuple_new(cls, (int(x), int(y), int(z)))


def _operand(other: Any) -> tuple[int, ...] | None:
    """Return `other` as three ints for an element-wise operation, or None if unsupported."""
    if type(other) is int:
        return (other, other, other)
    if isinstance(other, Vec3Int):
        return other
    if isinstance(other, (Integral, np.integer)):
        value = int(other)
        return (value, value, value)
    if isinstance(other, (Iterable, np.ndarray)) and not isinstance(other, str):
        return _triple_from(Vec3Int, other)
    return None


class Vec3Int(VecInt):
    """Immutable vector of three integers (x, y, z): the 3-D case of `VecInt`.

    A `tuple` subclass, so it hashes, compares and unpacks like ``(x, y, z)``, but
    ``+ - * // %`` act element-wise with another vector, a 3-sequence or an int.

    Parameters
    ----------
    *args
        Either three numbers, or one iterable/array of three numbers, or a string
        like ``"1,2,3"``. Non-int numbers are converted with `int` (truncated).
    **kwargs
        Alternatively ``x=``, ``y=``, ``z=``. ``axes=`` names the order of
        positional values (any permutation of ``("x", "y", "z")``).

    Examples
    --------
    >>> Vec3Int(1, 2, 3) + 1
    Vec3Int(2,3,4)
    """

    __slots__ = ()

    axes: tuple[str, str, str] = XYZ_AXES  # type: ignore[assignment]

    # Plain tuple indexing keeps the hot paths fast (a Python-level __getitem__ would
    # cost about 140 ns per index). Unlike webknossos, ``v["x"]`` is therefore not
    # supported on a Vec3Int: use ``v.x`` or ``v.get("x")``.
    __getitem__ = tuple.__getitem__  # type: ignore[assignment]

    def __new__(cls, *args: Any, **kwargs: Any) -> Vec3Int:
        if not kwargs:
            if len(args) == 3:
                x, y, z = args
                if type(x) is int and type(y) is int and type(z) is int:
                    return _tuple_new(cls, args)
                return _tuple_new(cls, (int(x), int(y), int(z)))
            if len(args) == 1:
                value = args[0]
                if type(value) is tuple and len(value) == 3:
                    x, y, z = value
                    if type(x) is int and type(y) is int and type(z) is int:
                        return _tuple_new(cls, value)
                return _triple_from(cls, value)
            raise _bad_input(args)
        return cls._from_keywords(args, kwargs)

    @classmethod
    def _from_keywords(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Vec3Int:
        axes = kwargs.pop("axes", None)
        if args:
            if kwargs:
                raise _bad_input((args, kwargs))
            values = cls(*args)
            if axes is None:
                return values
            axes = tuple(axes)
            if sorted(axes) != list(XYZ_AXES):
                raise _bad_input(axes)
            by_axis = dict(zip(axes, values, strict=True))
            return _tuple_new(cls, (by_axis["x"], by_axis["y"], by_axis["z"]))
        if axes is not None or set(kwargs) != set(XYZ_AXES):
            raise _bad_input(kwargs)
        return cls(kwargs["x"], kwargs["y"], kwargs["z"])

    x = property(itemgetter(0), doc="The x component.")
    y = property(itemgetter(1), doc="The y component.")
    z = property(itemgetter(2), doc="The z component.")

    @property
    def c(self) -> int:
        """Always raises `MissingAxisError` (a `KeyError`): a Vec3Int has no channel component."""
        raise MissingAxisError("The vector does not have a c component.")

    @property
    def xyz(self) -> Vec3Int:
        """The vector itself (for API parity with n-dimensional vectors)."""
        return self

    @classmethod
    def _make(cls, values: tuple[int, ...], axes: tuple[str, ...]) -> Vec3Int:  # type: ignore[override]
        """Used by the `VecInt` methods: the axes of a Vec3Int are always x, y, z."""
        if axes != XYZ_AXES:
            return VecInt._make.__func__(VecInt, values, axes)  # type: ignore[attr-defined,no-any-return]
        return cls(values)

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (tuple(self),)

    def __repr__(self) -> str:
        return f"Vec3Int({self[0]},{self[1]},{self[2]})"

    __str__ = __repr__

    # ---- element-wise arithmetic -------------------------------------------------

    def _map(self, other: Any, fn: Callable[[int, int], int]) -> Vec3Int:
        o = _operand(other)
        if o is None:
            raise TypeError(f"Cannot combine a Vec3Int with {type(other).__name__}.")
        return _tuple_new(type(self), (fn(self[0], o[0]), fn(self[1], o[1]), fn(self[2], o[2])))

    def _rmap(self, other: Any, fn: Callable[[int, int], int]) -> Any:
        o = _operand(other)
        if o is None:
            return NotImplemented
        return _tuple_new(type(self), (fn(o[0], self[0]), fn(o[1], self[1]), fn(o[2], self[2])))

    def __add__(self, other: Any) -> Vec3Int:
        o = other if type(other) is Vec3Int else _operand(other)
        if o is None:
            return NotImplemented
        return _tuple_new(type(self), (self[0] + o[0], self[1] + o[1], self[2] + o[2]))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Vec3Int:
        o = other if type(other) is Vec3Int else _operand(other)
        if o is None:
            return NotImplemented
        return _tuple_new(type(self), (self[0] - o[0], self[1] - o[1], self[2] - o[2]))

    def __rsub__(self, other: Any) -> Vec3Int:
        return cast(Vec3Int, self._rmap(other, sub))

    def __mul__(self, other: Any) -> Vec3Int:
        o = other if type(other) is Vec3Int else _operand(other)
        if o is None:
            return NotImplemented
        return _tuple_new(type(self), (self[0] * o[0], self[1] * o[1], self[2] * o[2]))

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> Vec3Int:
        o = other if type(other) is Vec3Int else _operand(other)
        if o is None:
            return NotImplemented
        return _tuple_new(type(self), (self[0] // o[0], self[1] // o[1], self[2] // o[2]))

    def __rfloordiv__(self, other: Any) -> Vec3Int:
        return cast(Vec3Int, self._rmap(other, floordiv))

    def __mod__(self, other: Any) -> Vec3Int:
        o = other if type(other) is Vec3Int else _operand(other)
        if o is None:
            return NotImplemented
        return _tuple_new(type(self), (self[0] % o[0], self[1] % o[1], self[2] % o[2]))

    def __rmod__(self, other: Any) -> Vec3Int:
        return cast(Vec3Int, self._rmap(other, mod))

    def __neg__(self) -> Vec3Int:
        return _tuple_new(type(self), (-self[0], -self[1], -self[2]))

    def ceildiv(self, other: int | Vec3IntLike) -> Vec3Int:
        """Element-wise ``(self + other - 1) // other`` (ceil division for positive divisors)."""
        return self._map(other, lambda a, b: (a + b - 1) // b)

    def pairmax(self, other: int | Vec3IntLike) -> Vec3Int:
        """Element-wise maximum with `other`."""
        return self._map(other, max)

    def pairmin(self, other: int | Vec3IntLike) -> Vec3Int:
        """Element-wise minimum with `other`."""
        return self._map(other, min)

    def add_or_none(self, other: Vec3IntLike | None) -> Vec3Int | None:
        """Return ``self + other``, or None if `other` is None."""
        return None if other is None else self + other

    # ---- queries -----------------------------------------------------------------

    def prod(self) -> int:
        """Product of the three components (exact Python int)."""
        return self[0] * self[1] * self[2]

    def contains(self, needle: int) -> bool:
        """Whether any component equals `needle`."""
        return needle in self

    def is_positive(self, strictly_positive: bool = False) -> bool:
        """Whether all components are ``>= 0`` (``> 0`` if `strictly_positive`)."""
        if strictly_positive:
            return self[0] > 0 and self[1] > 0 and self[2] > 0
        return self[0] >= 0 and self[1] >= 0 and self[2] >= 0

    def is_uniform(self) -> bool:
        """Whether all three components are equal."""
        return self[0] == self[1] == self[2]

    def _is_power_of_two(self) -> bool:
        """Whether every component is a power of two (1, 2, 4, ...)."""
        return all(v > 0 and v & (v - 1) == 0 for v in self)

    def get(self, axis: str, default: int | None = None) -> int:
        """Component of the named `axis`; `default` (or `MissingAxisError`, a `KeyError`)
        if there is none."""
        if axis in XYZ_AXES:
            return self[XYZ_AXES.index(axis)]
        if default is None:
            raise MissingAxisError(f"Axis {axis} not found in {XYZ_AXES}")
        return default

    # ---- derived vectors ---------------------------------------------------------

    def with_replaced(self, axis: str | int, new_element: int) -> Vec3Int:
        """Copy with the component at `axis` (name or index 0-2) replaced."""
        if isinstance(axis, str):
            if axis not in XYZ_AXES:
                raise MissingAxisError(f"Axis {axis} not found in {XYZ_AXES}")
            index = XYZ_AXES.index(axis)
        else:
            index = axis
        if not 0 <= index < 3:
            raise IndexError(f"Axis index {index} out of range for a Vec3Int.")
        values = list(self)
        values[index] = new_element
        return type(self)(*values)

    def with_x(self, new_x: int) -> Vec3Int:
        """Copy with x replaced."""
        return _tuple_new(type(self), (new_x, self[1], self[2]))

    def with_y(self, new_y: int) -> Vec3Int:
        """Copy with y replaced."""
        return _tuple_new(type(self), (self[0], new_y, self[2]))

    def with_z(self, new_z: int) -> Vec3Int:
        """Copy with z replaced."""
        return _tuple_new(type(self), (self[0], self[1], new_z))

    def with_xyz(self, new_xyz: Vec3IntLike) -> Vec3Int:
        """Return `new_xyz` as a Vec3Int (API parity with n-dimensional vectors)."""
        return Vec3Int(new_xyz)

    def moveaxis(
        self, source: int | Iterable[int], target: int | Iterable[int]
    ) -> Vec3Int:
        """Move components like `numpy.moveaxis` moves axes (not a swap)."""
        src = [source] if isinstance(source, (int, np.integer)) else list(source)
        dst = [target] if isinstance(target, (int, np.integer)) else list(target)
        if len(src) != len(dst):
            raise ValueError("source and target must have the same number of elements")
        for idx in src + dst:
            if not -3 <= idx < 3:
                raise IndexError(f"Axis {idx} is out of bounds for a Vec3Int.")
        src = [int(i) % 3 for i in src]
        dst = [int(i) % 3 for i in dst]
        if len(set(src)) != len(src) or len(set(dst)) != len(dst):
            raise ValueError("repeated axis in moveaxis")
        order = [i for i in range(3) if i not in src]
        for d, s in sorted(zip(dst, src, strict=True)):
            order.insert(d, s)
        return _tuple_new(type(self), tuple(self[i] for i in order))

    # ---- conversions -------------------------------------------------------------

    def to_np(self) -> np.ndarray:
        """The components as a 1-d numpy integer array."""
        return np.array(tuple(self))

    def to_list(self) -> list[int]:
        """The components as a list."""
        return [self[0], self[1], self[2]]

    def to_tuple(self) -> tuple[int, int, int]:
        """The components as a plain tuple."""
        return (self[0], self[1], self[2])

    # ---- alternative constructors ------------------------------------------------

    @staticmethod
    def from_xyz(x: int, y: int, z: int) -> Vec3Int:
        """Fast constructor that trusts its arguments to be ints."""
        return _tuple_new(Vec3Int, (x, y, z))

    @staticmethod
    def from_vec3_float(vec: tuple[float, float, float]) -> Vec3Int:
        """Truncate three floats toward zero."""
        return Vec3Int(int(vec[0]), int(vec[1]), int(vec[2]))

    @staticmethod
    def from_vec_or_int(vec_or_int: Vec3IntLike | int) -> Vec3Int:
        """An int `n` becomes ``(n, n, n)``; anything else goes through the constructor."""
        if isinstance(vec_or_int, (Integral, np.integer)):
            return Vec3Int.full(int(vec_or_int))
        return Vec3Int(vec_or_int)

    @staticmethod
    def from_str(string: str) -> Vec3Int:
        """Parse ``"1,2,3"``, ``"(1,2,3)"`` or a single int ``"4"`` (meaning 4,4,4)."""
        if _PARENS_TRIPLE.fullmatch(string):
            string = string[1:-1]
        if _PLAIN_TRIPLE.fullmatch(string):
            x, y, z = (int(part) for part in string.split(","))
            return _tuple_new(Vec3Int, (x, y, z))
        return Vec3Int.full(int(string))

    @classmethod
    def zeros(cls, _axes: tuple[str, ...] = XYZ_AXES) -> Vec3Int:
        """``(0, 0, 0)``."""
        return _tuple_new(cls, (0, 0, 0))

    @classmethod
    def ones(cls, _axes: tuple[str, ...] = XYZ_AXES) -> Vec3Int:
        """``(1, 1, 1)``."""
        return _tuple_new(cls, (1, 1, 1))

    @classmethod
    def full(cls, an_int: int, _axes: tuple[str, ...] = XYZ_AXES) -> Vec3Int:
        """``(an_int, an_int, an_int)``."""
        return cls(an_int, an_int, an_int)


Vec3IntLike: TypeAlias = Vec3Int | tuple[int, int, int] | list[int] | np.ndarray | Iterable[int]


def as_vec3_int_or_none(value: Vec3IntLike | None) -> Vec3Int | None:
    """`Vec3Int(value)`, or None for None (as in webknossos 4.3.3)."""
    return None if value is None else Vec3Int(value)
