"""Axis names, as webknossos spells them."""

from typing import Final, Literal

__all__ = ["C_AXIS", "X_AXIS", "Y_AXIS", "Z_AXIS", "T_AXIS", "TCXYZ_AXES", "CXYZ_AXES", "TXYZ_AXES", "XYZ_AXES",
           "XY_AXES", "XYZAxis"]

C_AXIS: Final = "c"
X_AXIS: Final = "x"
Y_AXIS: Final = "y"
Z_AXIS: Final = "z"
T_AXIS: Final = "t"

TCXYZ_AXES: Final = (T_AXIS, C_AXIS, X_AXIS, Y_AXIS, Z_AXIS)
CXYZ_AXES: Final = (C_AXIS, X_AXIS, Y_AXIS, Z_AXIS)
TXYZ_AXES: Final = (T_AXIS, X_AXIS, Y_AXIS, Z_AXIS)
XYZ_AXES: Final = (X_AXIS, Y_AXIS, Z_AXIS)
XY_AXES: Final = (X_AXIS, Y_AXIS)

XYZAxis = Literal["x", "y", "z"]
