"""Immutable geometry value types: integer vectors, magnifications and boxes."""

from .bounding_box import BoundingBox
from .mag import Mag, MagLike
from .vec3_int import Vec3Int, Vec3IntLike

__all__ = ["Vec3Int", "Vec3IntLike", "Mag", "MagLike", "BoundingBox"]
