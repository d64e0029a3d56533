"""`Vec3Float`, an immutable triple of floats (a voxel size, a sub-voxel position)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from numbers import Real
from operator import add, mul, sub, truediv
from typing import Any, TypeAlias

import numpy as np

from wkpy.errors import InvalidRequestError

from .vec3_int import Vec3Int

__all__ = ["Vec3Float", "Vec3FloatLike", "as_vec3_float_or_none"]

_tuple_new = tuple.__new__


def _bad_input(value: object) -> InvalidRequestError:
    return InvalidRequestError(f"Vector components must be three floats, got {value!r}.")


def _floats(values: Iterable[Any]) -> tuple[float, float, float]:
    items = tuple(values)
    if len(items) != 3 or not all(isinstance(v, (Real, np.integer, np.floating)) for v in items):
        raise _bad_input(items)
    return (float(items[0]), float(items[1]), float(items[2]))


class Vec3Float(tuple[float, float, float]):
    """Immutable vector of three floats (x, y, z) with element-wise ``+ - * /``.

    Compares, orders and hashes like the plain tuple of its values.

    Examples
    --------
    >>> Vec3Float(1, 2, 3) / 2
    Vec3Float(0.5,1.0,1.5)
    """

    __slots__ = ()

    def __new__(cls, *args: Any) -> Vec3Float:
        if len(args) == 3:
            return _tuple_new(cls, _floats(args))
        if len(args) != 1:
            raise _bad_input(args)
        value = args[0]
        if isinstance(value, Vec3Float):
            return value
        if isinstance(value, str) or not isinstance(value, (Iterable, np.ndarray)):
            raise _bad_input(value)
        return _tuple_new(cls, _floats(np.asarray(value).tolist() if isinstance(value, np.ndarray) else value))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (tuple(self),)

    x = property(lambda self: self[0], doc="The x component.")
    y = property(lambda self: self[1], doc="The y component.")
    z = property(lambda self: self[2], doc="The z component.")

    def __repr__(self) -> str:
        return f"Vec3Float({self[0]},{self[1]},{self[2]})"

    __str__ = __repr__

    @classmethod
    def from_xyz(cls, x: float, y: float, z: float) -> Vec3Float:
        return _tuple_new(cls, (float(x), float(y), float(z)))

    @classmethod
    def from_str(cls, string: str) -> Vec3Float:
        """Parse ``"1.5,2,3"`` (parentheses and spaces are ignored)."""
        try:
            return cls([float(part) for part in re.split(r"\s*,\s*", string.strip().strip("()"))])
        except ValueError:
            raise _bad_input(string) from None

    @classmethod
    def zeros(cls) -> Vec3Float:
        return cls.from_xyz(0.0, 0.0, 0.0)

    @classmethod
    def ones(cls) -> Vec3Float:
        return cls.from_xyz(1.0, 1.0, 1.0)

    @classmethod
    def full(cls, value: float) -> Vec3Float:
        return cls.from_xyz(value, value, value)

    def with_x(self, new_x: float) -> Vec3Float:
        return self.from_xyz(new_x, self[1], self[2])

    def with_y(self, new_y: float) -> Vec3Float:
        return self.from_xyz(self[0], new_y, self[2])

    def with_z(self, new_z: float) -> Vec3Float:
        return self.from_xyz(self[0], self[1], new_z)

    def _map(self, other: Any, fn: Callable[[float, float], float], reverse: bool = False) -> Vec3Float:
        o: tuple[float, ...]
        if isinstance(other, (Real, np.integer, np.floating)):
            o = (float(other),) * 3
        elif isinstance(other, (Iterable, np.ndarray)) and not isinstance(other, str):
            o = Vec3Float(other)
        else:
            return NotImplemented
        pairs = zip(o, self) if reverse else zip(self, o)
        return _tuple_new(type(self), tuple(fn(a, b) for a, b in pairs))

    def __add__(self, other: Any) -> Vec3Float:  # type: ignore[override]
        return self._map(other, add)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Vec3Float:
        return self._map(other, sub)

    def __rsub__(self, other: Any) -> Vec3Float:
        return self._map(other, sub, reverse=True)

    def __mul__(self, other: Any) -> Vec3Float:  # type: ignore[override]
        return self._map(other, mul)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Vec3Float:
        return self._map(other, truediv)

    def __neg__(self) -> Vec3Float:
        return self.from_xyz(-self[0], -self[1], -self[2])

    def pairmax(self, other: Any) -> Vec3Float:
        return self._map(other, max)

    def pairmin(self, other: Any) -> Vec3Float:
        return self._map(other, min)

    def prod(self) -> float:
        return self[0] * self[1] * self[2]

    def to_np(self) -> np.ndarray:
        return np.array(tuple(self), dtype=np.float64)

    def to_list(self) -> list[float]:
        return list(self)

    def to_tuple(self) -> tuple[float, float, float]:
        return (self[0], self[1], self[2])

    def to_vec3_int(self) -> Vec3Int:
        """Truncate toward zero."""
        return Vec3Int(int(self[0]), int(self[1]), int(self[2]))


Vec3FloatLike: TypeAlias = Vec3Float | Vec3Int | tuple[float, float, float] | np.ndarray | Iterable[float]


def as_vec3_float_or_none(value: Vec3FloatLike | None) -> Vec3Float | None:
    """`Vec3Float(value)`, or None for None."""
    return None if value is None else Vec3Float(value)
