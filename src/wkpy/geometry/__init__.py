"""Immutable geometry value types: integer and float vectors, magnifications and boxes."""

from .bounding_box import BoundingBox
from .constants import *  # noqa: F403
from .constants import __all__ as _constants_all
from .mag import Mag, MagLike
from .nd_bounding_box import NDBoundingBox
from .normalized_bounding_box import NormalizedBoundingBox
from .vec3_float import Vec3Float, Vec3FloatLike, as_vec3_float_or_none
from .vec3_int import Vec3Int, Vec3IntLike, as_vec3_int_or_none
from .vec_int import VecInt, VecIntLike

__all__ = ["Vec3Int", "Vec3IntLike", "VecInt", "VecIntLike", "Vec3Float", "Vec3FloatLike", "Mag", "MagLike",
           "BoundingBox", "NDBoundingBox", "NormalizedBoundingBox", "as_vec3_float_or_none", "as_vec3_int_or_none",
           *_constants_all]
