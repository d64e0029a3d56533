"""A layer's ``coordinateTransformations``: where webknossos places the layer in the dataset.

Two kinds, as in webknossos 4.3.3: an affine 4×4 matrix and a thin-plate spline given by
landmark pairs. They are immutable values (read-only float64 arrays, frozen attributes)
applied in order; they only change how webknossos renders the layer, never the voxels.

In the JSON::

    {"type": "affine", "matrix": [[1.0, 0.0, 0.0, 10.0], ..., [0.0, 0.0, 0.0, 1.0]]}
    {"type": "thin_plate_spline",
     "correspondences": {"source": [[x, y, z], ...], "target": [[x, y, z], ...]}}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from wkpy.errors import FrozenAttributeError, InvalidRequestError
from wkpy.geometry import Vec3Float

from ._schema import Invalid, as_list, as_object, at, required, show

__all__ = [
    "AffineCoordinateTransformation",
    "CoordinateTransformation",
    "ThinPlateSplineCoordinateTransformation",
    "transformations_from_json",
    "transformations_to_json",
]

_AXES = {"x": 0, "y": 1, "z": 2}


def _axis(axis: str) -> int:
    if axis not in _AXES:
        raise InvalidRequestError(f"The axis must be `x`, `y` or `z`, got {axis!r}.")
    return _AXES[axis]


def _frozen_array(value: Any, what: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"{what} must hold numbers: {exc}") from None
    array.setflags(write=False)
    return array


def _points(value: Any, what: str) -> np.ndarray:
    points = _frozen_array(value, what)
    if points.size == 0:
        raise InvalidRequestError(f"{what}: a thin plate spline needs at least one correspondence")
    if points.ndim != 2 or points.shape[1] != 3:
        raise InvalidRequestError(f"{what} must have shape (N, 3), got {points.shape}")
    return points


def _vec3(value: Any) -> tuple[float, float, float]:
    return tuple(Vec3Float(value))  # type: ignore[return-value]  # InvalidRequestError: "three floats"


class CoordinateTransformation:
    """Base of the transformation kinds: immutable, so copies are the object itself."""

    __slots__ = ()

    def __copy__(self) -> CoordinateTransformation:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CoordinateTransformation:
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenAttributeError(f"{type(self).__name__} is immutable; build a new one")

    def __delattr__(self, name: str) -> None:
        raise FrozenAttributeError(f"{type(self).__name__} is immutable; build a new one")

    def _to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


class AffineCoordinateTransformation(CoordinateTransformation):
    """An affine transformation as a 4×4 homogeneous matrix (``matrix[row][column]``, the
    translation in the last column).

    The constructors (`identity`, `from_translation`, `from_scale`, `from_rotation`) and
    the methods (`translate`, `scale`, `rotate`, `flip`, `chain`) return new objects; each
    method applies its step after this transformation.

    Examples
    --------
    >>> t = AffineCoordinateTransformation.identity().translate((10, 20, 30))
    >>> t.matrix[:3, 3].tolist()
    [10.0, 20.0, 30.0]
    """

    __slots__ = ("matrix",)
    matrix: np.ndarray

    def __init__(self, matrix: Any) -> None:
        array = _frozen_array(matrix, "the affine matrix")
        if array.shape != (4, 4):
            raise InvalidRequestError(f"the affine matrix must have shape (4, 4), got {array.shape}")
        object.__setattr__(self, "matrix", array)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(np.array_equal(self.matrix, other.matrix))  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AffineCoordinateTransformation(matrix={self.matrix.tolist()!r})"

    @classmethod
    def identity(cls) -> AffineCoordinateTransformation:
        return cls(np.eye(4))

    @classmethod
    def from_translation(cls, translation: Iterable[float]) -> AffineCoordinateTransformation:
        matrix = np.eye(4)
        matrix[:3, 3] = _vec3(translation)
        return cls(matrix)

    @classmethod
    def from_scale(cls, scale: Iterable[float]) -> AffineCoordinateTransformation:
        matrix = np.eye(4)
        matrix[:3, :3] = np.diag(_vec3(scale))
        return cls(matrix)

    @classmethod
    def from_rotation(cls, axis: str, angle: float) -> AffineCoordinateTransformation:
        """A rotation by `angle` degrees around `axis`, counter-clockwise when looking from
        the axis' positive end towards the origin."""
        i = _axis(axis)
        a, b = (i + 1) % 3, (i + 2) % 3            # the plane that turns
        cos, sin = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
        matrix = np.eye(4)
        matrix[a, a], matrix[a, b], matrix[b, a], matrix[b, b] = cos, -sin, sin, cos
        return cls(matrix)

    def chain(self, other: AffineCoordinateTransformation) -> AffineCoordinateTransformation:
        """This transformation, then `other`."""
        return type(self)(other.matrix @ self.matrix)

    def translate(self, translation: Iterable[float]) -> AffineCoordinateTransformation:
        return self.chain(self.from_translation(translation))

    def scale(self, scale: Iterable[float]) -> AffineCoordinateTransformation:
        return self.chain(self.from_scale(scale))

    def rotate(self, axis: str, angle: float) -> AffineCoordinateTransformation:
        return self.chain(self.from_rotation(axis, angle))

    def flip(self, axis: str) -> AffineCoordinateTransformation:
        """Mirror at the origin along `axis`."""
        factors = [1.0, 1.0, 1.0]
        factors[_axis(axis)] = -1.0
        return self.scale(factors)

    def _to_dict(self) -> dict[str, Any]:
        return {"type": "affine", "matrix": self.matrix.tolist()}


class ThinPlateSplineCoordinateTransformation(CoordinateTransformation):
    """A smooth warp that maps landmark ``source[i]`` onto ``target[i]``; both are
    read-only (N, 3) float64 arrays of the same length."""

    __slots__ = ("source", "target")
    source: np.ndarray
    target: np.ndarray

    def __init__(self, source: Any, target: Any) -> None:
        src, dst = _points(source, "source"), _points(target, "target")
        if len(src) != len(dst):
            raise InvalidRequestError(f"source and target must have the same length, got {len(src)} and {len(dst)}")
        object.__setattr__(self, "source", src)
        object.__setattr__(self, "target", dst)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(np.array_equal(self.source, other.source)  # type: ignore[attr-defined]
                    and np.array_equal(self.target, other.target))  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"ThinPlateSplineCoordinateTransformation(source={self.source.tolist()!r}, "
                f"target={self.target.tolist()!r})")

    @classmethod
    def from_pairs(cls, pairs: Sequence[Sequence[Iterable[float]]]) -> ThinPlateSplineCoordinateTransformation:
        """From ``(source, target)`` point pairs."""
        sources, targets = [], []
        for pair in pairs:
            pair = list(pair)
            if len(pair) != 2:
                raise InvalidRequestError(f"each correspondence must be a pair of a source and a target point, "
                                          f"got {len(pair)} points")
            sources.append(_vec3(pair[0]))
            targets.append(_vec3(pair[1]))
        return cls(sources, targets)

    @property
    def pairs(self) -> tuple[tuple[Vec3Float, Vec3Float], ...]:
        """The correspondences as ``(source, target)`` pairs of `Vec3Float`."""
        return tuple((Vec3Float(s.tolist()), Vec3Float(t.tolist())) for s, t in zip(self.source, self.target))

    def _to_dict(self) -> dict[str, Any]:
        return {"type": "thin_plate_spline",
                "correspondences": {"source": self.source.tolist(), "target": self.target.tolist()}}


def _one_from_json(value: Any, where: str) -> CoordinateTransformation:
    obj = as_object(value, where)
    kind = obj.get("type")
    try:
        if kind == "affine":
            return AffineCoordinateTransformation(required(obj, "matrix", where))
        if kind == "thin_plate_spline":
            corr = as_object(required(obj, "correspondences", where), at(where, "correspondences"))
            return ThinPlateSplineCoordinateTransformation(
                required(corr, "source", at(where, "correspondences")),
                required(corr, "target", at(where, "correspondences")))
    except ValueError as exc:
        raise Invalid(where, str(exc)) from None
    raise Invalid(at(where, "type"), f"the type has to be `affine` or `thin_plate_spline`, got {show(kind)}")


def transformations_from_json(value: Any, where: str = "coordinateTransformations") -> list[CoordinateTransformation]:
    """Parse a ``coordinateTransformations`` list (None or missing: no transformations)."""
    if value is None:
        return []
    return [_one_from_json(t, at(where, i)) for i, t in enumerate(as_list(value, where))]


def transformations_to_json(transforms: Iterable[CoordinateTransformation]) -> list[dict[str, Any]] | None:
    """The JSON list webknossos writes; None (key left out) for no transformations."""
    out = [t._to_dict() for t in transforms]
    return out or None
