"""Mag ladders and the per-shard jobs of downsampling and upsampling.

The reductions themselves are `wkcore._downsample` kernels (GIL released); this module
decides which mags to make, splits the work per target shard (so tasks never share a
shard) and pads border blocks by mirroring, as webknossos does, so that voxels outside
the layer's bounding box do not darken the border of coarser mags.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from wkcore import _downsample
from wkpy.errors import InvalidRequestError, OperationError, UnsupportedError
from wkpy.executor import io_threads, run_tasks
from wkpy.geometry import BoundingBox, Mag, Vec3Int
from wkpy.storage import Array
from wkpy.dataset.sampling_modes import SamplingModes

__all__ = ["interpolation_for", "mags_to_downsample", "default_coarsest_mag",
           "downsample_job", "upsample_job"]

Box = tuple[tuple[int, int, int], tuple[int, int, int]]


_ALIASES = {"trilinear": "bilinear", "linear": "bilinear"}
_RESAMPLED = ("nearest", "bilinear")  # scipy-zoom modes of webknossos, done as index maps


def interpolation_for(mode: str, category: str) -> str:
    """The kernel reduction for a webknossos interpolation mode name."""
    mode = mode.lower()
    if mode == "default":
        return "mode" if category == "segmentation" else "median"
    mode = _ALIASES.get(mode, mode)
    if mode not in _downsample.MODES and mode not in _RESAMPLED:
        raise UnsupportedError(f"interpolation mode {mode!r} is not supported; use one of "
                               f"{sorted({*_downsample.MODES, *_RESAMPLED, *_ALIASES, 'default'})}")
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


def job_shape(shard: Vec3Int) -> Vec3Int:
    """The target box of one downsampling task: the shard, doubled along its smallest
    axis until it holds 1024³ voxels (webknossos' job size; a multiple of the shard, so
    tasks never share a shard)."""
    axes = list(shard)
    while axes[0] * axes[1] * axes[2] < 1024**3:
        axes[axes.index(min(axes))] *= 2
    return Vec3Int(axes)


def tile_shape(factors: tuple[int, int, int], shard: Vec3Int) -> tuple[int, int, int]:
    """Target voxels processed at once inside a task: up to 1024 source voxels per axis."""
    return tuple(min(max(1024 // f, 1), 512, s) for f, s in zip(factors, shard))  # type: ignore[return-value]


def _tile_maps(n_out: int, f: int, mode: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Source coordinates of scipy's zoom (order 0 or 1, grid_mode False) for one tile axis:
    output voxel o samples input o·(n_in − 1)/(n_out − 1). webknossos' nearest and
    bilinear modes are that zoom per tile, so its tiling matters and is reproduced."""
    n_in = n_out * f
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    coord = np.arange(n_out) * scale
    if mode == "nearest":
        return np.floor(coord + 0.5).astype(np.intp), None, None
    lo = np.floor(coord).astype(np.intp)
    return lo, np.minimum(lo + 1, n_in - 1), coord - lo


def _resample(data: np.ndarray, shape: tuple[int, int, int], factors: tuple[int, int, int], mode: str) -> np.ndarray:
    """Nearest or (tri)linear resampling of a source tile to `shape` (per channel)."""
    if mode == "nearest":
        ix, iy, iz = (_tile_maps(n, f, mode)[0] for n, f in zip(shape, factors))
        return data[:, ix][:, :, iy][:, :, :, iz]
    out = data.astype(np.float64)
    for axis, (n, f) in enumerate(zip(shape, factors), start=1):
        lo, hi, w = _tile_maps(n, f, mode)
        w = w.reshape([-1 if a == axis else 1 for a in range(4)])  # type: ignore[union-attr]
        out = np.take(out, lo, axis=axis) * (1 - w) + np.take(out, hi, axis=axis) * w  # type: ignore[arg-type]
    if data.dtype.kind in "iu":
        info = np.iinfo(data.dtype)
        out = np.clip(np.floor(out + 0.5), info.min, info.max)
    return out.astype(data.dtype)


def downsample_job(job: tuple[Array, Array, Box, tuple[int, int, int], str, Box, tuple[int, int, int]]) -> None:
    """One task: fill a target box (target-mag voxels) from the source mag, tile by tile
    (tiles on all cores), and write it once."""
    source, target, (offset, shape), factors, mode, valid, tile = job
    out = np.zeros((source.info.num_channels, *shape), source.info.dtype, order="F")
    pieces = []
    for tx in range(0, shape[0], tile[0]):
        for ty in range(0, shape[1], tile[1]):
            for tz in range(0, shape[2], tile[2]):
                size = (min(tile[0], shape[0] - tx), min(tile[1], shape[1] - ty), min(tile[2], shape[2] - tz))
                if mode in _RESAMPLED:  # webknossos' tiles decide the result: keep them whole
                    pieces.append(((tx, ty, tz), size))
                    continue
                cuts = min(io_threads(), size[2])  # block reductions do not care how they are cut
                edges = [tz + size[2] * i // cuts for i in range(cuts + 1)]
                pieces += [((tx, ty, a), (size[0], size[1], b - a)) for a, b in zip(edges, edges[1:])]

    def fill(lo: tuple[int, int, int], size: tuple[int, int, int]) -> None:
        src = (tuple((offset[a] + lo[a]) * factors[a] for a in range(3)), tuple(size[a] * factors[a] for a in range(3)))
        data = _read_mirrored(source, src, valid)  # type: ignore[arg-type]
        if not data.any():
            return
        part = out[:, lo[0]:lo[0] + size[0], lo[1]:lo[1] + size[1], lo[2]:lo[2] + size[2]]
        if mode in _RESAMPLED:
            part[...] = _resample(data, size, factors, mode)
            return
        for c in range(data.shape[0]):
            _downsample.downsample(data[c], part[c], factors, mode)

    run_tasks(functools.partial(fill, lo, size) for lo, size in pieces)
    if out.any():
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
