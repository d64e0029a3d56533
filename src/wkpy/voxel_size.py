"""`VoxelSize` and `LengthUnit`: the physical size of a mag-1 voxel."""

from __future__ import annotations

from enum import Enum
from dataclasses import dataclass
from typing import Union

from wkpy.geometry import Vec3Float

__all__ = ["LengthUnit", "VoxelSize", "Vec3FloatLike"]

Vec3FloatLike = Union[tuple[float, float, float], list[float]]


class LengthUnit(str, Enum):
    """Units webknossos accepts in `scale.unit`."""

    YOCTOMETER = "yoctometer"
    ZEPTOMETER = "zeptometer"
    ATTOMETER = "attometer"
    FEMTOMETER = "femtometer"
    PICOMETER = "picometer"
    NANOMETER = "nanometer"
    MICROMETER = "micrometer"
    MILLIMETER = "millimeter"
    CENTIMETER = "centimeter"
    DECIMETER = "decimeter"
    METER = "meter"
    HECTOMETER = "hectometer"
    KILOMETER = "kilometer"
    MEGAMETER = "megameter"
    GIGAMETER = "gigameter"
    TERAMETER = "terameter"
    PETAMETER = "petameter"
    EXAMETER = "exameter"
    ZETTAMETER = "zettameter"
    YOTTAMETER = "yottameter"
    ANGSTROM = "angstrom"
    INCH = "inch"
    FOOT = "foot"
    YARD = "yard"
    MILE = "mile"
    PARSEC = "parsec"


_IN_NM = {
    "yoctometer": 1e-15, "zeptometer": 1e-12, "attometer": 1e-9, "femtometer": 1e-6, "picometer": 1e-3,
    "nanometer": 1.0, "micrometer": 1e3, "millimeter": 1e6, "centimeter": 1e7, "decimeter": 1e8,
    "meter": 1e9, "hectometer": 1e11, "kilometer": 1e12, "megameter": 1e15, "gigameter": 1e18,
    "terameter": 1e21, "petameter": 1e24, "exameter": 1e27, "zettameter": 1e30, "yottameter": 1e33,
    "angstrom": 0.1, "inch": 2.54e7, "foot": 3.048e8, "yard": 9.144e8, "mile": 1.609344e12,
    "parsec": 3.0856775814913673e25,
}


@dataclass(frozen=True)
class VoxelSize:
    """Voxel size `factor` (x, y, z; stored as a `Vec3Float`, as in webknossos 4.3.3)
    in `unit` (nanometres unless told)."""

    factor: tuple[float, float, float]
    unit: LengthUnit = LengthUnit.NANOMETER

    def __post_init__(self) -> None:
        factor = tuple(float(v) for v in self.factor)
        if len(factor) != 3 or not all(v > 0 for v in factor):
            raise ValueError(f"a voxel size has 3 positive components, got {self.factor!r}")
        object.__setattr__(self, "factor", Vec3Float(factor))
        object.__setattr__(self, "unit", LengthUnit(self.unit))

    def to_nanometer(self) -> Vec3Float:
        """The factor converted to nanometres."""
        return Vec3Float(self.factor) * _IN_NM[self.unit.value]
