"""`Mag`, the per-axis downsampling factor of a layer's magnification."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from numbers import Integral
from typing import Any, TypeAlias

import numpy as np

from wkpy.errors import InvalidRequestError

from .vec3_int import Vec3Int

__all__ = ["Mag", "MagLike"]

_SHORT_NAME = re.compile(r"\d+")
_LONG_NAME = re.compile(r"(\d+)-(\d+)-(\d+)")


def _parse(mag_like: Any) -> Vec3Int:
    """Convert a mag-like value to a validated Vec3Int of powers of two."""
    if type(mag_like) is int or isinstance(mag_like, (Integral, np.integer)):
        value = int(mag_like)
        vec = Vec3Int.from_xyz(value, value, value)
    elif isinstance(mag_like, str):
        if _SHORT_NAME.fullmatch(mag_like):
            value = int(mag_like)
            vec = Vec3Int.from_xyz(value, value, value)
        else:
            match = _LONG_NAME.fullmatch(mag_like)
            if match is None:
                raise ValueError(
                    f"A mag string must look like '2' or '2-2-1', got {mag_like!r}."
                )
            vec = Vec3Int(*(int(part) for part in match.groups()))
    elif isinstance(mag_like, (Vec3Int, Iterable, np.ndarray)):
        vec = Vec3Int(mag_like)
    else:
        raise ValueError(
            "A Mag needs an int, three ints or a string like '2-2-1', "
            f"got {mag_like!r}."
        )
    for component in vec:
        if component < 1 or component & (component - 1):
            raise InvalidRequestError(
                f"Mag components must be powers of two (>= 1), got {component} in {vec}."
            )
    return vec


class Mag:
    """Immutable magnification (downsampling factor per axis, powers of two).

    Parameters
    ----------
    mag : MagLike
        An int (``4`` means 4-4-4), a string (``"4"`` or ``"2-2-1"``), three ints as
        a tuple/list/array/`Vec3Int`, or another `Mag`.

    Notes
    -----
    Equality and hashing follow the components, so ``Mag(2) == Mag("2-2-2") == 2``.
    Ordering (as in webknossos) only looks at `max_dim`.
    """

    __slots__ = ("_mag",)
    _mag: Vec3Int

    def __new__(cls, mag: MagLike) -> Mag:
        if type(mag) is cls:
            return mag
        self = object.__new__(cls)
        _set_vec(self, _parse(mag.to_vec3_int() if isinstance(mag, Mag) else mag))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[type[Mag], tuple[tuple[int, int, int]]]:
        return (type(self), (self._mag.to_tuple(),))

    def __copy__(self) -> Mag:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Mag:
        return self

    # ---- components --------------------------------------------------------------

    @property
    def x(self) -> int:
        """Factor along x."""
        return self._mag[0]

    @property
    def y(self) -> int:
        """Factor along y."""
        return self._mag[1]

    @property
    def z(self) -> int:
        """Factor along z."""
        return self._mag[2]

    @property
    def max_dim(self) -> int:
        """Largest of the three factors."""
        return max(self._mag)

    @property
    def max_dim_log2(self) -> int:
        """Base-2 logarithm of `max_dim`."""
        return self.max_dim.bit_length() - 1

    def __iter__(self) -> Iterator[int]:
        return iter(self._mag)

    # ---- comparison --------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mag):
            return self._mag == other._mag
        try:
            return self._mag == Mag(other)._mag  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self._mag)

    # Ordering mirrors webknossos (functools.total_ordering over max_dim-based
    # `<` and `<=`): `>` is "not < and !=", `>=` is "not <".
    def __lt__(self, other: Any) -> bool:
        return self.max_dim < Mag(other).max_dim

    def __le__(self, other: Any) -> bool:
        return self.max_dim <= Mag(other).max_dim

    def __gt__(self, other: Any) -> bool:
        return not self < other and self != other

    def __ge__(self, other: Any) -> bool:
        return not self < other

    # ---- arithmetic --------------------------------------------------------------

    def __mul__(self, factor: int | MagLike) -> Mag:
        return Mag(self._mag * _factor(factor))

    __rmul__ = __mul__

    def __floordiv__(self, divisor: int | MagLike) -> Mag:
        return Mag(self._mag // _factor(divisor))

    def __truediv__(self, divisor: int | MagLike) -> Mag:
        d = _factor(divisor)
        if self._mag % d != (0, 0, 0):
            raise InvalidRequestError(f"{self!r} is not divisible by {divisor!r}.")
        return Mag(self._mag // d)

    # ---- conversions -------------------------------------------------------------

    def __str__(self) -> str:
        return self.to_layer_name()

    def __repr__(self) -> str:
        return f"Mag({self.to_layer_name()})"

    def to_layer_name(self) -> str:
        """``"2"`` for an isotropic mag, ``"2-2-1"`` otherwise."""
        x, y, z = self._mag
        return str(x) if x == y == z else f"{x}-{y}-{z}"

    def to_long_layer_name(self) -> str:
        """Always ``"x-y-z"``, e.g. ``"2-2-2"``."""
        x, y, z = self._mag
        return f"{x}-{y}-{z}"

    def to_list(self) -> list[int]:
        """Factors as a list."""
        return self._mag.to_list()

    def to_np(self) -> np.ndarray:
        """Factors as a numpy array."""
        return self._mag.to_np()

    def to_vec3_int(self) -> Vec3Int:
        """Factors as a `Vec3Int`."""
        return self._mag

    def to_tuple(self) -> tuple[int, int, int]:
        """Factors as a plain tuple."""
        return self._mag.to_tuple()


def _factor(value: Any) -> Any:
    """Operand for Mag arithmetic: Mags become Vec3Ints, everything else passes through."""
    return value._mag if isinstance(value, Mag) else value


_set_vec = vars(Mag)["_mag"].__set__

MagLike: TypeAlias = int | str | list[int] | tuple[int, ...] | np.ndarray | Mag | Vec3Int
