"""Guess whether converted images are a segmentation (few distinct ids) or color data.

As in webknossos 4.3.3: a path naming ``segmentation`` or ``labels`` suggests a
segmentation; the data then decides. Up to 20 boxes of 16³ voxels (mag voxels) are read;
zeros and the dtype's maximum are ignored; more than one distinct value per 200 voxels
means color. Unlike webknossos, the boxes' positions are drawn with a fixed seed, so the
same data always gets the same answer.
"""

from __future__ import annotations

import os

import numpy as np

from wkpy.dataset.layer.view.mag_view import MagView
from wkpy.errors import OperationError
from wkpy.geometry import BoundingBox, Vec3Int

__all__ = ["guess_if_segmentation_path", "guess_category_from_view", "sample_distinct_values_per_vx"]

NUM_SAMPLES = 20
THRESHOLD = 1 / 200
SAMPLE_SIZE = Vec3Int(16, 16, 16)
MAX_FAILS = 200
MIN_INSPECTED_VOXELS = 1000


def guess_if_segmentation_path(filepath: str | os.PathLike[str]) -> bool:
    """Whether the path names a segmentation (``segmentation`` or ``labels``, any case)."""
    lowered = os.fspath(filepath).lower()
    return "segmentation" in lowered or "labels" in lowered


def guess_category_from_view(view: MagView) -> str:
    """``"color"`` or ``"segmentation"`` for the data of `view` (several channels: color).

    Raises
    ------
    OperationError
        Too few non-empty voxels to decide (also a `RuntimeError`, as in webknossos).
    """
    if view.layer.num_channels > 1 or sample_distinct_values_per_vx(view) > THRESHOLD:
        return "color"
    return "segmentation"


def sample_distinct_values_per_vx(view: MagView) -> float:
    """Distinct values per inspected voxel over sampled boxes (see the module docstring)."""
    box = view.bounding_box
    size = box.size.pairmin(SAMPLE_SIZE * view.mag.to_vec3_int())
    low, high = box.topleft, box.bottomright - size
    rng = np.random.default_rng(0)
    distinct = inspected = valid = invalid = 0
    while valid < NUM_SAMPLES and invalid <= MAX_FAILS:
        offset = Vec3Int(*(int(rng.integers(lo, hi + 1)) for lo, hi in zip(low, high)))
        offset = offset - offset % view.mag.to_vec3_int()
        data = view.read(absolute_bounding_box=BoundingBox(offset, size))
        data = data[data != 0]
        if np.issubdtype(data.dtype, np.integer):
            data = data[data != np.iinfo(data.dtype).max]
        values = np.unique(data)
        if values.size == 0:
            invalid += 1
        else:
            distinct += values.size
            valid += 1
            inspected += data.size
    if inspected < MIN_INSPECTED_VOXELS:
        raise OperationError(f"Failed to find enough valid samples (saw {inspected} voxels).")
    return distinct / inspected
