"""`VecInt`, an immutable n-dimensional integer vector with named axes.

`Vec3Int` is its three-dimensional case (axes ``x, y, z``) with fast paths of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from numbers import Integral
from operator import add, floordiv, mod, mul, sub
from typing import Any, TypeAlias, TypeVar

import numpy as np

from wkpy.errors import InvalidRequestError, MissingAxisError

__all__ = ["VecInt", "VecIntLike"]

_T = TypeVar("_T", bound="VecInt")
_tuple_new = tuple.__new__


def _bad_input(args: Any) -> InvalidRequestError:
    return InvalidRequestError(
        "A VecInt needs values and axis names: VecInt(1, 2, 3, 4, axes=('x', 'y', 'z', 't')), "
        f"VecInt(x=1, y=2, z=3, t=4) or VecInt((1, 2, 3, 4), ('x', 'y', 'z', 't')); got {args!r}."
    )


def _ints(values: Iterable[Any]) -> tuple[int, ...]:
    out = []
    for value in values:
        if isinstance(value, (Integral, np.integer)):
            out.append(int(value))
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            out.append(int(value))
        else:
            raise _bad_input(value)
    return tuple(out)


class VecInt(tuple[int, ...]):
    """Immutable vector of integers, one per named axis (e.g. ``c, x, y, z, t``).

    A `tuple` subclass: it hashes, compares (lexicographically) and unpacks like the
    plain tuple of its values, while ``+ - * // %`` act element-wise with another
    vector, a sequence of the same length or an int.

    Parameters
    ----------
    *args
        The values (or one iterable of them), optionally followed by an iterable of
        axis names; or another `VecInt` (optionally renamed with `axes`).
    axes : iterable of str, optional
        The axis names, one per value.
    **kwargs
        Alternatively the values by axis name: ``VecInt(x=1, y=2, z=3, t=4)``.

    Examples
    --------
    >>> VecInt(x=1, y=2, z=3, t=4) + 1
    VecInt(2,3,4,5, axes=('x', 'y', 'z', 't'))
    """

    axes: tuple[str, ...]

    def __new__(cls, *args: Any, axes: Iterable[str] | None = None, **kwargs: Any) -> VecInt:
        if kwargs:
            if args or axes is not None:
                raise _bad_input((args, kwargs))
            return cls._make(_ints(kwargs.values()), tuple(kwargs))
        if not args:
            raise _bad_input(args)
        first = args[0]
        if isinstance(first, VecInt):
            if axes is None:  # as in webknossos: the vector itself, whatever its class
                return first
            return cls._make(tuple(first), tuple(axes))
        if isinstance(first, str):
            return cls.from_str(first)
        if isinstance(first, np.ndarray) or isinstance(first, Iterable) or hasattr(first, "to_list"):
            values = _ints(first.to_list() if hasattr(first, "to_list") else first)
            if len(args) == 2 and axes is None and isinstance(args[1], Iterable):
                axes = tuple(args[1])
            elif len(args) != 1:
                raise _bad_input(args)
        else:
            values = _ints(args)
        if axes is None:
            raise _bad_input(args)
        return cls._make(values, tuple(axes))

    @classmethod
    def _make(cls: type[_T], values: tuple[int, ...], axes: tuple[str, ...]) -> _T:
        if len(axes) != len(values) or not all(isinstance(a, str) for a in axes) or len(set(axes)) != len(axes):
            raise _bad_input((values, axes))
        self = _tuple_new(cls, values)
        self.__dict__["axes"] = axes
        return self

    @staticmethod
    def _trusted(values: tuple[int, ...], axes: tuple[str, ...]) -> VecInt:
        """A `VecInt` from ints and matching, distinct axis names, without checks."""
        self = _tuple_new(VecInt, values)
        self.__dict__["axes"] = axes
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (tuple(self), self.axes)

    def __getstate__(self) -> None:
        return None

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            return self.get(index)
        return tuple.__getitem__(self, index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({','.join(str(v) for v in self)}, axes={self.axes})"

    __str__ = __repr__

    # ---- components ----------------------------------------------------------------

    def get(self, axis: str, default: int | None = None) -> int:
        """The component of the named `axis`; `default` (or `KeyError`) if there is none."""
        if axis in self.axes:
            return tuple.__getitem__(self, self.axes.index(axis))
        if default is None:
            raise MissingAxisError(f"Axis {axis} not found in {self.axes}")
        return default

    def _axis(self, name: str) -> int:
        if name not in self.axes:
            raise MissingAxisError(f"The vector does not have a {name} component.")
        return tuple.__getitem__(self, self.axes.index(name))

    c = property(lambda self: self._axis("c"), doc="The c (channel) component.")
    x = property(lambda self: self._axis("x"), doc="The x component.")
    y = property(lambda self: self._axis("y"), doc="The y component.")
    z = property(lambda self: self._axis("z"), doc="The z component.")

    @property
    def xyz(self) -> Any:
        """The x, y and z components as a `Vec3Int`."""
        from .vec3_int import Vec3Int

        return Vec3Int(self.x, self.y, self.z)

    def with_replaced(self: _T, axis: str | int, new_element: int) -> _T:
        """Copy with the component at `axis` (name or index) replaced.

        Raises
        ------
        MissingAxisError
            No axis of that name (a `KeyError` and, as webknossos raises, a `ValueError`).
        """
        if isinstance(axis, str):
            if axis not in self.axes:
                raise MissingAxisError(f"Axis {axis} not found in {self.axes}")
            index = self.axes.index(axis)
        else:
            index = axis
        values = list(self)
        values[index] = new_element
        return type(self)._make(_ints(values), self.axes)

    def with_c(self: _T, new_c: int) -> _T:
        self._axis("c")
        return self.with_replaced("c", new_c)

    def with_x(self: _T, new_x: int) -> _T:
        self._axis("x")
        return self.with_replaced("x", new_x)

    def with_y(self: _T, new_y: int) -> _T:
        self._axis("y")
        return self.with_replaced("y", new_y)

    def with_z(self: _T, new_z: int) -> _T:
        self._axis("z")
        return self.with_replaced("z", new_z)

    def with_xyz(self: _T, new_xyz: Any) -> _T:
        """Copy with x, y and z replaced by those of `new_xyz` (axes it lacks are skipped)."""
        result = self
        for axis, value in zip(("x", "y", "z"), new_xyz):
            if axis in self.axes:
                result = result.with_replaced(axis, value)
        return result

    # ---- element-wise arithmetic ---------------------------------------------------

    def _element_wise(self: _T, other: Any, fn: Callable[[int, int], int], reverse: bool = False) -> _T:
        if isinstance(other, (Integral, np.integer)):
            o: tuple[int, ...] = (int(other),) * len(self)
        elif isinstance(other, (Iterable, np.ndarray)) and not isinstance(other, str):
            o = _ints(other)
            if len(o) != len(self):
                raise InvalidRequestError(f"{other} and {self} are not equally shaped.")
        else:
            return NotImplemented
        pairs = zip(o, self) if reverse else zip(self, o)
        return type(self)._make(tuple(fn(a, b) for a, b in pairs), self.axes)

    def __add__(self: _T, other: Any) -> _T:  # type: ignore[override]
        return self._element_wise(other, add)

    __radd__ = __add__

    def __sub__(self: _T, other: Any) -> _T:
        return self._element_wise(other, sub)

    def __rsub__(self: _T, other: Any) -> _T:
        return self._element_wise(other, sub, reverse=True)

    def __mul__(self: _T, other: Any) -> _T:  # type: ignore[override]
        return self._element_wise(other, mul)

    __rmul__ = __mul__

    def __floordiv__(self: _T, other: Any) -> _T:
        return self._element_wise(other, floordiv)

    def __mod__(self: _T, other: Any) -> _T:
        return self._element_wise(other, mod)

    def __neg__(self: _T) -> _T:
        return type(self)._make(tuple(-v for v in self), self.axes)

    def ceildiv(self: _T, other: Any) -> _T:
        """Element-wise ``(self + other - 1) // other``."""
        return self._element_wise(other, lambda a, b: (a + b - 1) // b)

    def pairmax(self: _T, other: Any) -> _T:
        return self._element_wise(other, max)

    def pairmin(self: _T, other: Any) -> _T:
        return self._element_wise(other, min)

    def add_or_none(self: _T, other: Any) -> _T | None:
        return None if other is None else self + other

    def moveaxis(self: _T, source: int | Iterable[int], target: int | Iterable[int]) -> _T:
        """Move components (and their axis names) like `numpy.moveaxis` moves axes."""
        # the shape (1, 2, ..., n) moved like an array's axes tells where each component goes
        src = source if isinstance(source, int) else list(source)
        dst = target if isinstance(target, int) else list(target)
        shape = np.moveaxis(np.empty(tuple(range(1, len(self) + 1)), dtype=np.uint8), src, dst).shape
        order = [i - 1 for i in shape]
        return type(self)._make(tuple(self[i] for i in order), tuple(self.axes[i] for i in order))

    # ---- queries and conversions ---------------------------------------------------

    def prod(self) -> int:
        result = 1
        for v in self:
            result *= v
        return result

    def contains(self, needle: int) -> bool:
        return needle in self

    def is_positive(self, strictly_positive: bool = False) -> bool:
        return all(v > 0 for v in self) if strictly_positive else all(v >= 0 for v in self)

    def is_uniform(self) -> bool:
        return len(set(self)) <= 1

    def to_np(self) -> np.ndarray:
        return np.array(tuple(self))

    def to_list(self) -> list[int]:
        return list(self)

    def to_tuple(self) -> tuple[int, ...]:
        return tuple(self)

    # ---- alternative constructors --------------------------------------------------

    @staticmethod
    def from_str(string: str) -> VecInt:
        """Parse the integers in `string` (axes ``x, y, z`` for three, else ``unset_i``)."""
        values = tuple(int(v) for v in re.findall(r"-?\d+", string))
        axes = ("x", "y", "z") if len(values) == 3 else tuple(f"unset_{i}" for i in range(len(values)))
        return VecInt._make(values, axes)

    @classmethod
    def zeros(cls, axes: tuple[str, ...]) -> VecInt:
        return cls.full(0, axes)

    @classmethod
    def ones(cls, axes: tuple[str, ...]) -> VecInt:
        return cls.full(1, axes)

    @classmethod
    def full(cls, an_int: int, axes: tuple[str, ...]) -> VecInt:
        return cls._make((int(an_int),) * len(tuple(axes)), tuple(axes))


VecIntLike: TypeAlias = VecInt | tuple[int, ...] | np.ndarray | Iterable[int]
