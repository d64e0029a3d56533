"""How a mag ladder grows when downsampling, as `webknossos.SamplingModes`."""

from __future__ import annotations

from enum import Enum

__all__ = ["SamplingModes"]


class SamplingModes(str, Enum):
    """How the mag ladder grows: toward isotropic voxels, in all axes, or only in x and y.

    ``"auto"`` is parsed as `ANISOTROPIC`, as in webknossos 4.3.3.
    """

    ANISOTROPIC = "anisotropic"
    ISOTROPIC = "isotropic"
    CONSTANT_Z = "constant_z"

    @classmethod
    def parse(cls, mode: str | SamplingModes) -> SamplingModes:
        return cls.ANISOTROPIC if mode == "auto" else cls(mode)
