"""Downsampling: mag ladders, the reduction of one buffer, and the per-job work.

The names follow ``webknossos.dataset.layer._downsampling_utils`` (webknossos 4.3.3), with
the same results. The block reductions (median, mode, max, min, and wkpy's average) are the
`wkcore._downsample` kernels, which run with the GIL released; every entry point here that
reduces blocks (`downsample_cube`, `non_linear_filter_3d`'s column reductions `_median`,
`_mode`, `_max`, `_min`, the jobs) calls them. webknossos' zoom modes resample each buffer
as `scipy.ndimage.zoom` does: ``nearest`` is an index map computed here (exact), while
``bilinear`` and ``bicubic`` depend on scipy's spline arithmetic and call scipy, an optional
dependency (`UnsupportedError` without it).

The jobs split the work per target box (so tasks never share a shard) and pad border blocks
by mirroring the voxels inside the layer's box, as webknossos does, so that voxels outside
the layer's bounding box do not darken the border of coarser mags.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from wkcore import _downsample
from wkpy.errors import InvalidRequestError, OperationError, UnsupportedError
from wkpy.executor import io_threads, run_tasks
from wkpy.geometry import BoundingBox, Mag, Vec3Int, Vec3IntLike
from wkpy.storage import Array, ArrayInfo
from wkpy.dataset.sampling_modes import SamplingModes

if TYPE_CHECKING:
    from wkpy.dataset.dataset import Dataset
    from wkpy.dataset.layer.view.view import View

__all__ = [
    "InterpolationModes",
    "SamplingModes",
    "calculate_default_coarsest_mag",
    "calculate_mags_to_downsample",
    "calculate_mags_to_upsample",
    "determine_downsample_buffer_shape",
    "determine_upsample_buffer_shape",
    "downsample_cube",
    "downsample_cube_job",
    "downsample_job",
    "job_shape",
    "linear_filter_3d",
    "non_linear_filter_3d",
    "is_zoom_mode",
    "parse_interpolation_mode",
    "require_interpolation",
    "resampled_mag_shapes",
]

Box = tuple[tuple[int, int, int], tuple[int, int, int]]


class InterpolationModes(Enum):
    """How a block of source voxels becomes one target voxel (webknossos' numbers).

    ``MEDIAN``, ``MODE``, ``MAX``, ``MIN`` reduce each block (the kernels); ``NEAREST``,
    ``BILINEAR``, ``BICUBIC`` resample each buffer as ``scipy.ndimage.zoom`` with spline
    order 0, 1, 2. ``AVERAGE`` (the rounded mean of a block) is a wkpy addition.
    """

    MEDIAN = 0
    MODE = 1
    NEAREST = 2
    BILINEAR = 3
    BICUBIC = 4
    MAX = 5
    MIN = 6
    AVERAGE = 7


_KERNEL_NAMES = {InterpolationModes.MEDIAN: "median", InterpolationModes.MODE: "mode",
                 InterpolationModes.MAX: "max", InterpolationModes.MIN: "min",
                 InterpolationModes.AVERAGE: "average"}
_ZOOM_ORDERS = {InterpolationModes.NEAREST: 0, InterpolationModes.BILINEAR: 1, InterpolationModes.BICUBIC: 2}
_ALIASES = {"TRILINEAR": "BILINEAR", "LINEAR": "BILINEAR"}


class UnknownInterpolationModeError(InvalidRequestError, KeyError):
    """An interpolation mode name webknossos does not know (a `KeyError` there)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def parse_interpolation_mode(interpolation_mode: str | InterpolationModes,
                             layer_category: str) -> InterpolationModes:
    """The mode for a name (any case); ``"default"`` is ``MODE`` for segmentation layers
    and ``MEDIAN`` otherwise, as in webknossos 4.3.3.

    Raises
    ------
    UnknownInterpolationModeError
        No mode of that name (also a `KeyError`, as in webknossos).
    """
    if isinstance(interpolation_mode, InterpolationModes):
        return interpolation_mode
    name = str(interpolation_mode).upper()
    if name == "DEFAULT":
        return InterpolationModes.MODE if layer_category == "segmentation" else InterpolationModes.MEDIAN
    try:
        return InterpolationModes[_ALIASES.get(name, name)]
    except KeyError:
        known = sorted(m.name.lower() for m in InterpolationModes)
        raise UnknownInterpolationModeError(f"unknown interpolation_mode {interpolation_mode!r}; use 'default' "
                                            f"or one of {known}") from None


# ---- mag ladders ------------------------------------------------------------------------
def calculate_default_coarsest_mag(dataset_size: Vec3IntLike) -> Mag:
    """The mag at which the larger of x and y spans about 100 voxels: the power of two at
    or above ``max(x, y) / 100``, and at least 4 (as webknossos 4.3.3)."""
    size = Vec3Int(dataset_size)
    longest = max(size[0], size[1], 1)
    return Mag(max(2 ** math.ceil(math.log2(longest / 100)), 4))


def _mags_of(dataset_to_align_with: Dataset | Iterable[Mag] | None) -> set[Mag]:
    if dataset_to_align_with is None:
        return set()
    layers = getattr(dataset_to_align_with, "layers", None)
    if layers is not None:
        return {m for layer in layers.values() for m in layer.mags}
    return {Mag(m) for m in dataset_to_align_with}  # type: ignore[union-attr]


def calculate_mags_to_downsample(
    from_mag: Mag,
    coarsest_mag: Mag,
    dataset_to_align_with: Dataset | Iterable[Mag] | None,
    voxel_size: tuple[float, float, float] | None,
) -> list[Mag]:
    """The mags after `from_mag` up to `coarsest_mag`, as webknossos 4.3.3 chooses them.

    Without a voxel size every axis doubles per step (capped by `coarsest_mag`). With one
    (anisotropic sampling) a step doubles only the physically finest axes unless doubling
    all keeps the voxels closer to cubic. A mag of another layer of `dataset_to_align_with`
    (a dataset, or the mags themselves) with twice the current maximum factor is taken
    over as the next step.

    Raises
    ------
    InvalidRequestError
        `coarsest_mag` is finer than `from_mag` in some axis, or the aligned layers hold
        two mags of the same maximum factor (also an `AssertionError`, as in webknossos).
    OperationError
        `coarsest_mag` cannot be reached with that voxel size (a `RuntimeError`).
    """
    from_mag, coarsest_mag = Mag(from_mag), Mag(coarsest_mag)
    if not all(a <= b for a, b in zip(from_mag.to_list(), coarsest_mag.to_list())):
        raise InvalidRequestError(f"the coarsest mag {coarsest_mag} is finer than {from_mag} in some axis")
    aligned = _mags_of(dataset_to_align_with)
    by_max = {m.max_dim: m for m in aligned}
    if len(by_max) != len(aligned):
        raise InvalidRequestError(f"the layers to align with hold different mags of the same maximum factor: "
                                  f"{sorted(m.to_layer_name() for m in aligned)}")
    top = np.array(coarsest_mag.to_list())
    out: list[Mag] = []
    current = from_mag
    while current < coarsest_mag:
        cur = np.array(current.to_list())
        if current.max_dim * 2 in by_max:
            current = by_max[current.max_dim * 2]
            if current > coarsest_mag:
                warnings.warn(f"[INFO] The mag {current} taken from another layer is larger in some dimensions "
                              f"than coarsest_mag {coarsest_mag}.", stacklevel=2)
        elif voxel_size is None:
            current = Mag(tuple(int(v) for v in np.minimum(cur * 2, top)))
        else:
            physical = cur * np.array(voxel_size, dtype=np.float64)
            factor = (physical == physical.min()) + 1
            both, only_min = physical * 2, physical * factor
            if both.max() / both.min() < only_min.max() / only_min.min():
                new = Mag(tuple(int(v) for v in np.minimum(cur * 2, top)))
            else:
                new = Mag(tuple(int(v) for v in np.minimum(cur * factor, top)))
                if new.max_dim == current.max_dim and new != current:
                    current = new     # e.g. 4-4-2 → 4-4-4 keeps the maximum: not a step of its own
                    continue
            if new == current:
                raise OperationError(f"the coarsest mag {coarsest_mag} cannot be reached from {current} "
                                     f"with voxel size {voxel_size}")
            current = new
        out.append(current)
    return out


def calculate_mags_to_upsample(
    from_mag: Mag,
    finest_mag: Mag,
    dataset_to_align_with: Dataset | Iterable[Mag] | None,
    voxel_size: tuple[float, float, float] | None,
) -> list[Mag]:
    """The mags below `from_mag` down to `finest_mag`, coarsest first: the downsampling
    ladder from `finest_mag` to `from_mag`, reversed (as webknossos 4.3.3)."""
    ladder = calculate_mags_to_downsample(finest_mag, from_mag, dataset_to_align_with, voxel_size)
    return list(reversed(ladder))[1:] + [Mag(finest_mag)]


# ---- buffers and jobs ---------------------------------------------------------------
def determine_downsample_buffer_shape(array_info: ArrayInfo, mag_factors: Vec3IntLike) -> Vec3Int:
    """Target voxels reduced at once: up to 1024 source voxels per axis, at most 512 and
    at most the target's shard (webknossos 4.3.3)."""
    factors = Vec3Int(mag_factors)
    return (Vec3Int.full(1024) // factors).pairmax(Vec3Int.ones()).pairmin(Vec3Int.full(512)) \
        .pairmin(Vec3Int(array_info.shard_shape))


def determine_upsample_buffer_shape(array_info: ArrayInfo) -> Vec3Int:
    """Target voxels filled at once when upsampling: one shard."""
    return Vec3Int(array_info.shard_shape)


def job_shape(shard: Vec3IntLike) -> Vec3Int:
    """The target box of one downsampling task: the shard, doubled along its smallest axis
    until it holds 1024³ voxels (webknossos' job size; a multiple of the shard, so tasks
    never share a shard)."""
    axes = list(Vec3Int(shard))
    while axes[0] * axes[1] * axes[2] < 1024**3:
        axes[axes.index(min(axes))] *= 2
    return Vec3Int(axes)


# ---- reductions -------------------------------------------------------------------------
def _native(data: np.ndarray) -> np.ndarray:
    """`data` in native byte order, of a dtype the kernels reduce."""
    data = np.asarray(data)
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    if data.dtype.name not in {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
                               "float32", "float64"}:
        raise UnsupportedError(f"cannot downsample voxels of dtype {data.dtype}")
    return data


def _check_factors(shape: tuple[int, ...], factors: Any) -> tuple[int, int, int]:
    f = tuple(int(v) for v in factors)
    if len(f) != 3 or len(shape) != 3:
        raise InvalidRequestError(f"expected an (x, y, z) buffer and 3 factors, got shape {shape} and {factors}")
    if min(f) < 1 or any(s % v for s, v in zip(shape, f)):
        raise InvalidRequestError(f"a buffer of shape {shape} cannot be reduced by the factors {f}")
    return f  # type: ignore[return-value]


def _reduce_columns(x: np.ndarray, name: str) -> np.ndarray:
    """Reduce each column of an (elements, blocks) array with the kernel `name`; within a
    column the earliest row comes first (which decides ties of the mode)."""
    x = _native(x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise InvalidRequestError(f"expected a non-empty (elements, blocks) array, got shape {x.shape}")
    out = np.empty((1, x.shape[1], 1), x.dtype)
    _downsample.downsample(x[:, :, np.newaxis], out, (x.shape[0], 1, 1), name)
    return out[0, :, 0]


def _median(x: np.ndarray) -> np.ndarray:
    """Median of each column, as ``np.median(x, axis=0).astype(x.dtype)``."""
    return _reduce_columns(x, "median")


def _mode(x: np.ndarray) -> np.ndarray:
    """Most frequent value of each column; ties go to the value seen first."""
    return _reduce_columns(x, "mode")


def _max(x: np.ndarray) -> np.ndarray:
    return _reduce_columns(x, "max")


def _min(x: np.ndarray) -> np.ndarray:
    return _reduce_columns(x, "min")


def non_linear_filter_3d(data: np.ndarray, factors: list[int],
                         func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Reduce each ``fx×fy×fz`` block of an (x, y, z) array with `func`.

    `func` gets an (elements, blocks) array: row ``dy + fy·dx + fx·fy·dz`` holds the voxel
    at that offset inside each block, column ``bx + nx·by + nx·ny·bz`` is block (bx, by, bz)
    — webknossos' layout, which decides how `_mode` breaks ties. Returns the
    (x/fx, y/fy, z/fz) array of `func`'s results.
    """
    data = np.asarray(data)
    fx, fy, fz = _check_factors(data.shape, factors)
    nx, ny, nz = data.shape[0] // fx, data.shape[1] // fy, data.shape[2] // fz
    blocks = data.reshape((fx, nx, fy, ny, fz, nz), order="F")        # [dx, bx, dy, by, dz, bz]
    columns = blocks.transpose(2, 0, 4, 1, 3, 5).reshape((fx * fy * fz, nx * ny * nz), order="F")
    return np.asarray(func(columns)).reshape((nx, ny, nz), order="F")


def _zoom_maps(n_out: int, f: int) -> np.ndarray:
    """Source index of each output voxel of ``scipy.ndimage.zoom`` with order 0 along an
    axis (grid_mode False): output o samples input o·(n_in − 1)/(n_out − 1), ties up."""
    n_in = n_out * f
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return np.floor(np.arange(n_out) * scale + 0.5).astype(np.intp)


def linear_filter_3d(data: np.ndarray, factors: list[int], order: int) -> np.ndarray:
    """Resample an (x, y, z) buffer to (x/fx, y/fy, z/fz) as ``scipy.ndimage.zoom`` with
    spline `order` (0 nearest, 1 bilinear, 2 bicubic), border mode ``"nearest"`` and the
    prefilter on, as webknossos 4.3.3 does.

    Raises
    ------
    UnsupportedError
        `order` 1 or 2 without scipy installed (``pip install scipy``).
    """
    data = np.asarray(data)
    f = _check_factors(data.shape, factors)
    if order == 0:
        ix, iy, iz = (_zoom_maps(n // v, v) for n, v in zip(data.shape, f))
        return data[np.ix_(ix, iy, iz)]
    try:
        from scipy.ndimage import zoom
    except ImportError:
        raise UnsupportedError("the bilinear and bicubic interpolation modes resample with scipy.ndimage, "
                               "exactly as webknossos does; install scipy (pip install scipy)") from None
    return zoom(data, 1 / np.array(f), output=data.dtype, order=order, mode="nearest", prefilter=True)


def _downsample_into(src: np.ndarray, out: np.ndarray, factors: tuple[int, int, int],
                     mode: InterpolationModes) -> None:
    """Fill `out` (x/fx, y/fy, z/fz) from `src` (x, y, z) with `mode`."""
    if mode in _ZOOM_ORDERS:
        out[...] = linear_filter_3d(src, list(factors), _ZOOM_ORDERS[mode])
    else:
        _downsample.downsample(_native(src), out, factors, _KERNEL_NAMES[mode])


def downsample_cube(cube_buffer: np.ndarray, factors: list[int],
                    interpolation_mode: InterpolationModes) -> np.ndarray:
    """One (x, y, z) buffer reduced by `factors` with `interpolation_mode`, as webknossos
    4.3.3 computes it; the result has the buffer's dtype.

    Raises
    ------
    InvalidRequestError
        The buffer is not 3-D or not divisible by the factors (also an `AssertionError`,
        as in webknossos).
    UnsupportedError
        A dtype the kernels do not reduce, or a zoom mode that needs scipy without it.
    """
    data = _native(cube_buffer)
    f = _check_factors(data.shape, factors)
    mode = InterpolationModes(interpolation_mode)
    out = np.empty(tuple(n // v for n, v in zip(data.shape, f)), data.dtype, order="F")
    _downsample_into(data, out, f, mode)
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


# Memory bounds of one task: the target box is written in one piece up to this size (else
# buffer by buffer), and a block reduction reads at most this many source bytes per piece.
_WHOLE_BOX_BYTES = 256 * 2**20
_PIECE_BYTES = 32 * 2**20


def _touches(lo: tuple[int, ...], hi: tuple[int, ...], shards: list[Box]) -> bool:
    return any(all(o < h and o + n > l for o, n, l, h in zip(off, shape, lo, hi)) for off, shape in shards)


def downsample_job(job: tuple[Array, Array, Box, tuple[int, int, int], InterpolationModes, Box,
                              tuple[int, int, int], bool, list[Box] | None]) -> None:
    """One task: fill a target box (target-mag voxels) from the source array, buffer by
    buffer from the box's top-left.

    `job` is (source, target, (offset, shape), factors, mode, valid, buffer, overwrite,
    shards): `valid` is the source-mag box outside which source voxels are mirrored in;
    `buffer` the target-mag shape resampled at once (it decides the zoom modes' results,
    as in webknossos; block reductions do not depend on it and are cut finer, onto the
    cores); `shards` the source-mag boxes of the source's shards on disk (None: unknown),
    buffers touching none of them are zero and skipped. An all-zero result is written
    only with `overwrite` (the target may hold older data). A box of up to 256 MiB is
    written at once, a larger one buffer by buffer.
    """
    source, target, (offset, shape), factors, mode, valid, tile, overwrite, shards = job
    nc, dtype = source.info.num_channels, source.info.dtype
    def has_data(lo: tuple[int, int, int], size: tuple[int, int, int]) -> bool:
        src_lo = tuple((offset[a] + lo[a]) * factors[a] for a in range(3))
        return shards is None or _touches(src_lo, tuple(src_lo[a] + size[a] * factors[a] for a in range(3)), shards)

    tiles = []
    for tx in range(0, shape[0], tile[0]):
        for ty in range(0, shape[1], tile[1]):
            for tz in range(0, shape[2], tile[2]):
                lo = (tx, ty, tz)
                size = (min(tile[0], shape[0] - tx), min(tile[1], shape[1] - ty), min(tile[2], shape[2] - tz))
                if has_data(lo, size):
                    tiles.append((lo, size))

    def pieces_of(lo: tuple[int, int, int], size: tuple[int, int, int]) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
        if mode in _ZOOM_ORDERS:               # each buffer is resampled whole, as in webknossos
            return [(lo, size)]
        source_bytes = nc * dtype.itemsize * math.prod(size) * math.prod(factors)
        cuts = min(max(io_threads(), -(-source_bytes // _PIECE_BYTES)), size[2])
        edges = [lo[2] + size[2] * i // cuts for i in range(cuts + 1)]
        return [((lo[0], lo[1], a), (size[0], size[1], b - a)) for a, b in zip(edges, edges[1:])]

    def fill(out: np.ndarray, corner: tuple[int, int, int], lo: tuple[int, int, int],
             size: tuple[int, int, int]) -> None:
        src = (tuple((offset[a] + lo[a]) * factors[a] for a in range(3)), tuple(size[a] * factors[a] for a in range(3)))
        data = _read_mirrored(source, src, valid)  # type: ignore[arg-type]
        r = [lo[a] - corner[a] for a in range(3)]
        part = out[:, r[0]:r[0] + size[0], r[1]:r[1] + size[1], r[2]:r[2] + size[2]]
        for c in range(data.shape[0]):
            if data[c].any():
                _downsample_into(data[c], part[c], factors, mode)

    def run(corner: tuple[int, int, int], extent: tuple[int, int, int],
            parts: list[tuple[tuple[int, int, int], tuple[int, int, int]]]) -> None:
        parts = [p for p in parts if has_data(*p)]  # pieces of a sparse tile that touch no shard stay zero
        out = np.zeros((nc, *extent), dtype, order="F")
        run_tasks(functools.partial(fill, out, corner, lo, size) for lo, size in parts)
        if overwrite or out.any():
            target.write(tuple(offset[a] + corner[a] for a in range(3)), out)  # type: ignore[arg-type]

    if nc * dtype.itemsize * math.prod(shape) <= _WHOLE_BOX_BYTES:
        parts = [p for lo, size in tiles for p in pieces_of(lo, size)]
        if parts or overwrite:
            run((0, 0, 0), shape, parts)
        return
    if overwrite:                              # every buffer is rewritten, also the empty ones
        tiles = [((tx, ty, tz), (min(tile[0], shape[0] - tx), min(tile[1], shape[1] - ty),
                                 min(tile[2], shape[2] - tz)))
                 for tx in range(0, shape[0], tile[0]) for ty in range(0, shape[1], tile[1])
                 for tz in range(0, shape[2], tile[2])]
    for lo, size in tiles:
        run(lo, size, pieces_of(lo, size))


def _view_box_in_mag(view: View) -> Box:
    """The view's x, y, z box in its mag's voxels."""
    from wkpy.dataset.layer.view.view import box_in_mag

    box = box_in_mag(BoundingBox.from_ndbbox(view.bounding_box), view.mag)
    return tuple(box.topleft), tuple(box.size)  # type: ignore[return-value]


def downsample_cube_job(
    args: tuple[View, View, int],
    mag_factors: Vec3IntLike,
    interpolation_mode: InterpolationModes,
    buffer_shape: Vec3IntLike,
    valid_source_bbox: BoundingBox | None = None,
) -> None:
    """Downsample the source view of `args` (source, target, index) into the target view,
    which covers the same mag-1 box in a mag `mag_factors` times coarser, `buffer_shape`
    target voxels at a time (as webknossos 4.3.3). Views of n-d layers are downsampled
    along x, y and z at each position of the target's box along the additional axes.

    Source voxels outside `valid_source_bbox` (mag 1, aligned with the source mag; of an
    `NDBoundingBox` its x, y, z) are not read: the voxels inside it are mirrored there
    instead.

    Raises
    ------
    InvalidRequestError
        The views' mags or boxes do not fit the factors, or n-d views of other axes.
    ReadOnlyError
        The target view is read-only.
    """
    from wkpy.dataset.layer.view._nd_view import paired_faces
    from wkpy.dataset.layer.view.view import box_in_mag

    source_view, target_view, _ = args
    factors = Vec3Int(mag_factors)
    if source_view.mag.to_vec3_int() * factors != target_view.mag.to_vec3_int():
        raise InvalidRequestError(f"mag {source_view.mag} times the factors {tuple(factors)} is not the "
                                  f"target's mag {target_view.mag}")
    if source_view.bounding_box.topleft_xyz != target_view.bounding_box.topleft_xyz:
        raise InvalidRequestError(f"the source view {source_view.bounding_box} and the target view "
                                  f"{target_view.bounding_box} must start at the same mag-1 voxel")
    target_view._ensure_writable()
    valid = BoundingBox.from_ndbbox(valid_source_bbox if valid_source_bbox is not None else source_view.bounding_box)
    valid_in_mag = box_in_mag(valid.align_with_mag(source_view.mag, ceil=True), source_view.mag, allow_empty=True)
    for source, target in paired_faces(source_view, target_view):
        downsample_job((source, target, _view_box_in_mag(target_view), tuple(factors),  # type: ignore[arg-type]
                        InterpolationModes(interpolation_mode), (tuple(valid_in_mag.topleft), tuple(valid_in_mag.size)),  # type: ignore[arg-type]
                        tuple(Vec3Int(buffer_shape)), True, None))  # type: ignore[arg-type]


def resampled_mag_shapes(data_format: str, layer_box: BoundingBox, chunk_shape: Vec3IntLike | int | None,
                         shard_shape: Vec3IntLike | int | None) -> tuple[Vec3Int, Vec3Int]:
    """Chunk and shard shape (mag voxels) of a mag made by downsampling or upsampling.

    As webknossos 4.3.3: the given shapes, else its defaults (never the source mag's):
    32³ chunks; shards of 32³ chunks, of 128×128×1 chunks for a Zarr3 layer at most one
    shard of chunks deep in z, of one chunk for Zarr (v2).

    Raises
    ------
    DataMismatchError
        A shape that is not a power of two, or a shard that is not a multiple of the chunk.
    """
    from wkpy.dataset.layer.layer import chunk_and_shard_shape

    return chunk_and_shard_shape(chunk_shape, shard_shape, None, data_format, layer_box)


def require_interpolation(mode: InterpolationModes) -> None:
    """Raise `UnsupportedError` now if `mode` needs scipy and scipy is missing (before any
    mag is created for it)."""
    if _ZOOM_ORDERS.get(mode, 0) > 0:
        try:
            import scipy.ndimage  # noqa: F401
        except ImportError:
            raise UnsupportedError(f"interpolation mode {mode.name.lower()} resamples with scipy.ndimage, exactly "
                                   "as webknossos does; install scipy (pip install scipy)") from None


def is_zoom_mode(mode: InterpolationModes) -> bool:
    """Whether `mode` resamples whole buffers (its results depend on how the work is cut)."""
    return mode in _ZOOM_ORDERS
