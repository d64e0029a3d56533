"""Immutable geometry value types: integer and float vectors, magnifications and boxes."""

from .bounding_box import BoundingBox
from .constants import *  # noqa: F403
from .constants import __all__ as _constants_all
from .mag import Mag, MagLike
from .vec3_float import Vec3Float, Vec3FloatLike, as_vec3_float_or_none
from .vec3_int import Vec3Int, Vec3IntLike
from .vec_int import VecInt, VecIntLike

__all__ = ["Vec3Int", "Vec3IntLike", "VecInt", "VecIntLike", "Vec3Float", "Vec3FloatLike", "Mag", "MagLike",
           "BoundingBox", "as_vec3_float_or_none", "as_vec3_int_or_none", *_constants_all]


def as_vec3_int_or_none(value: Vec3IntLike | None) -> Vec3Int | None:
    """`Vec3Int(value)`, or None for None."""
    return None if value is None else Vec3Int(value)
