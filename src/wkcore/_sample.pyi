"""Nearest-neighbour sampling at given coordinates (the per-voxel part of a layer transform)."""

from collections.abc import Sequence

import numpy as np

def coordinate_extent(
    coords: np.ndarray, lo: Sequence[float], hi: Sequence[float]
) -> tuple[int, tuple[float, float, float] | None, tuple[float, float, float] | None]: ...
def sample_nearest(
    src: np.ndarray,
    coords: np.ndarray,
    lo: Sequence[float],
    hi: Sequence[float],
    origin: Sequence[float],
    mag: Sequence[float],
    mask: np.ndarray | None,
    out: np.ndarray,
    offset: Sequence[int],
    shape: Sequence[int],
) -> int: ...
