"""Mag ladders and the per-shard jobs of downsampling and upsampling.

The reductions themselves are `wkcore._downsample` kernels (GIL released); this module
decides which mags to make, splits the work per target shard (so tasks never share a
shard) and pads border blocks by mirroring, as webknossos does, so that voxels outside
the layer's bounding box do not darken the border of coarser mags.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np

from wkcore import _downsample
from wkpy.errors import InvalidRequestError, OperationError, UnsupportedError
from wkpy.geometry import BoundingBox, Mag, Vec3Int
from wkpy.storage import Array

__all__ = ["SamplingModes", "interpolation_for", "mags_to_downsample", "default_coarsest_mag",
           "downsample_job", "upsample_job"]

Box = tuple[tuple[int, int, int], tuple[int, int, int]]


class SamplingModes(str, Enum):
    """How the mag ladder grows: toward isotropic voxels, in all axes, or only in x and y."""

    ANISOTROPIC = "anisotropic"
    ISOTROPIC = "isotropic"
    CONSTANT_Z = "constant_z"

    @classmethod
    def parse(cls, mode: str | SamplingModes) -> SamplingModes:
        return cls.ANISOTROPIC if mode == "auto" else cls(mode)


_ALIASES = {"bilinear": "average", "trilinear": "average", "linear": "average"}


def interpolation_for(mode: str, category: str) -> str:
    """The kernel reduction for a webknossos interpolation mode name."""
    mode = mode.lower()
    if mode == "default":
        return "mode" if category == "segmentation" else "median"
    mode = _ALIASES.get(mode, mode)
    if mode not in _downsample.MODES:
        raise UnsupportedError(f"interpolation mode {mode!r} is not supported; use one of "
                               f"{sorted(set(_downsample.MODES) | set(_ALIASES) | {'default'})}")
    return mode


def default_coarsest_mag(size: Vec3Int) -> Mag:
    """About 100 voxels across the larger of x and y, and at least mag 4."""
    longest = max(size[0], size[1], 1)
    return Mag(max(2 ** math.ceil(math.log2(max(longest / 100, 1e-9))), 4))


def mags_to_downsample(from_mag: Mag, coarsest: Mag, voxel_size: tuple[float, float, float] | None,
                       align_with: set[Mag] = frozenset()) -> list[Mag]:  # type: ignore[assignment]
    """The mags after `from_mag` up to `coarsest`, as webknossos chooses them.

    With a voxel size (anisotropic sampling) each step doubles the finest physical axis
    alone unless doubling all axes keeps the voxels closer to cubic. Mags existing in
    other layers (`align_with`) are reused when they continue the ladder.
    """
    if not all(a <= b for a, b in zip(from_mag.to_list(), coarsest.to_list())):
        raise InvalidRequestError(f"coarsest mag {coarsest} is finer than {from_mag} in some axis")
    by_max = {m.max_dim: m for m in align_with}
    out: list[Mag] = []
    current = from_mag
    top = np.array(coarsest.to_list())
    while current < coarsest:
        cur = np.array(current.to_list())
        if current.max_dim * 2 in by_max:
            current = by_max[current.max_dim * 2]
        elif voxel_size is None:
            current = Mag(tuple(int(v) for v in np.minimum(cur * 2, top)))
        else:
            physical = cur * np.array(voxel_size)
            smallest = physical == physical.min()
            factor = smallest + 1
            both, only_min = physical * 2, physical * factor
            if both.max() / both.min() < only_min.max() / only_min.min():
                new = Mag(tuple(int(v) for v in np.minimum(cur * 2, top)))
            else:
                new = Mag(tuple(int(v) for v in np.minimum(cur * factor, top)))
                if new.max_dim == current.max_dim and new != current:
                    current = new
                    continue
            if new == current:
                raise OperationError(f"mag {coarsest} cannot be reached from {current} "
                                          f"with voxel size {voxel_size}")
            current = new
        out.append(current)
    return out


def _read_mirrored(source: Array, box: Box, valid: Box) -> np.ndarray:
    """Read `box` (source-mag voxels); parts outside `valid` are mirrored from inside it."""
    (off, shape), (voff, vshape) = box, valid
    lo = [max(off[a], voff[a]) for a in range(3)]
    hi = [min(off[a] + shape[a], voff[a] + vshape[a]) for a in range(3)]
    if any(h <= l for l, h in zip(lo, hi)):
        return np.zeros((source.info.num_channels, *shape), source.info.dtype)
    data = source.read(tuple(lo), tuple(h - l for l, h in zip(lo, hi)))  # type: ignore[arg-type]
    pad = [(0, 0)] + [(lo[a] - off[a], off[a] + shape[a] - hi[a]) for a in range(3)]
    return np.pad(data, pad, mode="symmetric") if any(p != (0, 0) for p in pad) else data


def downsample_job(job: tuple[Array, Array, Box, tuple[int, int, int], str, Box]) -> None:
    """One task: fill target box (target-mag voxels) from the source mag."""
    source, target, (offset, shape), factors, mode, valid = job
    src_box = (tuple(o * f for o, f in zip(offset, factors)), tuple(s * f for s, f in zip(shape, factors)))
    data = _read_mirrored(source, src_box, valid)  # type: ignore[arg-type]
    if not data.any():
        return
    out = np.zeros((data.shape[0], *shape), data.dtype, order="F")
    for c in range(data.shape[0]):
        _downsample.downsample(data[c], out[c], factors, mode)
    target.write(offset, out)


def upsample_job(job: tuple[Array, Array, Box, tuple[int, int, int]]) -> None:
    """One task: fill target box (target-mag voxels) by repeating source voxels."""
    source, target, (offset, shape), factors = job
    lo = [o // f for o, f in zip(offset, factors)]
    hi = [-(-(o + s) // f) for o, s, f in zip(offset, shape, factors)]
    data = source.read(tuple(lo), tuple(h - l for l, h in zip(lo, hi)))  # type: ignore[arg-type]
    if not data.any():
        return
    for axis, f in enumerate(factors, start=1):
        data = np.repeat(data, f, axis=axis)
    start = [o - l * f for o, l, f in zip(offset, lo, factors)]
    target.write(offset, data[:, start[0]:start[0] + shape[0], start[1]:start[1] + shape[1],
                              start[2]:start[2] + shape[2]])


def target_boxes(region: BoundingBox, shard: Vec3Int) -> list[Box]:
    """`region` (target-mag voxels) split along the target's shard grid."""
    out = []
    first, last = region.topleft // shard, (region.bottomright - 1) // shard
    for k in range(first.z, last.z + 1):
        for j in range(first.y, last.y + 1):
            for i in range(first.x, last.x + 1):
                box = BoundingBox(Vec3Int(i, j, k) * shard, shard).intersected_with(region, dont_assert=True)
                if not box.is_empty():
                    out.append((tuple(box.topleft), tuple(box.size)))
    return out  # type: ignore[return-value]
