# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""Nearest-neighbour sampling at given coordinates (the per-voxel part of a layer transform).

The coordinates are an (N, 3) float64 array of mag-1 positions, one per output voxel of a
tile, in the order of ``np.meshgrid(xs, ys, zs, indexing="ij")`` flattened (x slowest, z
fastest). A position is usable when every axis lies in [lo, hi] (NaN never does); it then
samples the source voxel ``floor((p - origin) / mag + 0.5)`` per axis — ties round up, as
``scipy.ndimage`` with order 0 — which webknossos' ``transform`` computes the same way.

Threading: both functions work on the buffers they are given only, with the GIL released;
nothing is shared between calls, so any number of threads may call them at once.
"""
import operator

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int16_t, int32_t, int64_t
from libc.math cimport floor

from wkcore._voxel cimport vox


cdef inline bint usable(const double[:, :] coords, Py_ssize_t n, const double* lo, const double* hi) noexcept nogil:
    cdef int a
    cdef double c
    for a in range(3):
        c = coords[n, a]
        if not (c >= lo[a] and c <= hi[a]):     # false for NaN
            return False
    return True


def coordinate_extent(const double[:, :] coords, lo, hi):
    """(count, minimum, maximum) over the usable rows of `coords`: how many there are, and
    per axis the smallest and largest coordinate among them (None, None without any)."""
    cdef double lo_[3]
    cdef double hi_[3]
    cdef double mins[3]
    cdef double maxs[3]
    cdef Py_ssize_t n, count = 0, N = coords.shape[0]
    cdef int a
    if coords.shape[1] != 3:
        raise ValueError(f"coordinates must have shape (N, 3), got ({coords.shape[0]}, {coords.shape[1]})")
    for a in range(3):
        lo_[a], hi_[a] = lo[a], hi[a]
    with nogil:
        for n in range(N):
            if not usable(coords, n, lo_, hi_):
                continue
            for a in range(3):
                if count == 0 or coords[n, a] < mins[a]:
                    mins[a] = coords[n, a]
                if count == 0 or coords[n, a] > maxs[a]:
                    maxs[a] = coords[n, a]
            count += 1
    if count == 0:
        return 0, None, None
    return count, (mins[0], mins[1], mins[2]), (maxs[0], maxs[1], maxs[2])


cdef Py_ssize_t sample_3d(const vox[:, :, :, :] src, const double[:, :] coords, const double* lo, const double* hi,
                          const double* origin, const double* mag, const uint8_t[:, :, :] mask, bint has_mask,
                          vox[:, :, :, :] out, const Py_ssize_t* offset, const Py_ssize_t* shape) noexcept:
    """Returns the number of voxels written, or -1 - n if row n samples outside `src`.
    The memoryviews are taken with the GIL held; the loop runs without it."""
    cdef Py_ssize_t n, i, j, k, ix, iy, iz, ch, written = 0
    cdef double fx, fy, fz
    cdef Py_ssize_t C = src.shape[0], SX = src.shape[1], SY = src.shape[2], SZ = src.shape[3]
    with nogil:
        for n in range(coords.shape[0]):
            if not usable(coords, n, lo, hi):
                continue
            fx = floor((coords[n, 0] - origin[0]) / mag[0] + 0.5)
            fy = floor((coords[n, 1] - origin[1]) / mag[1] + 0.5)
            fz = floor((coords[n, 2] - origin[2]) / mag[2] + 0.5)
            # bounds checked on the doubles: casting one beyond Py_ssize_t is undefined
            if not (0 <= fx < SX and 0 <= fy < SY and 0 <= fz < SZ):
                written = -1 - n
                break
            ix, iy, iz = <Py_ssize_t>fx, <Py_ssize_t>fy, <Py_ssize_t>fz
            if has_mask and mask[ix, iy, iz] == 0:
                continue
            k = n % shape[2]
            j = (n // shape[2]) % shape[1]
            i = n // (shape[2] * shape[1])
            for ch in range(C):
                out[ch, offset[0] + i, offset[1] + j, offset[2] + k] = src[ch, ix, iy, iz]
            written += 1
    return written


def sample_nearest(src, coords, lo, hi, origin, mag, mask, out, offset, shape) -> int:
    """Copy, for each usable row of `coords`, the nearest voxel of `src` into `out`.

    Parameters
    ----------
    src : (c, x, y, z) array, the source voxels read from mag-1 position `origin` in `mag`.
    coords : (N, 3) float64, mag-1 positions; N = x·y·z of `shape`, in meshgrid ij order.
    lo, hi : 3 floats each, the usable range per axis (inclusive).
    origin, mag : 3 numbers each, where `src` starts and its voxel size, both in mag 1.
    mask : None or a (x, y, z) uint8 array over `src`; rows sampling a 0 there are skipped.
    out : (c, X, Y, Z) array of `src`'s dtype; row n goes to `offset` + its tile position.
    offset, shape : 3 ints each, the tile's place and shape inside `out`.

    Returns the number of voxels written.
    """
    cdef double lo_[3]
    cdef double hi_[3]
    cdef double origin_[3]
    cdef double mag_[3]
    cdef Py_ssize_t offset_[3]
    cdef Py_ssize_t shape_[3]
    cdef Py_ssize_t result
    cdef int a
    cdef const uint8_t[:, :, :] mask_view = None
    cdef const double[:, :] coord_view = coords
    for a in range(3):
        lo_[a], hi_[a], origin_[a], mag_[a] = lo[a], hi[a], origin[a], mag[a]
        # checked as Python integers: C (or numpy scalar) sums of hostile values wrap around
        off, side = operator.index(offset[a]), operator.index(shape[a])
        if off < 0 or not 0 <= side <= out.shape[a + 1] - off or not mag_[a] > 0:
            raise ValueError(f"the tile {tuple(offset)}+{tuple(shape)} (mag {tuple(mag)}) does not fit "
                             f"the output of shape {out.shape}")
        offset_[a], shape_[a] = off, side
    # each side is within `out` now, so their product cannot overflow
    if coord_view.shape[1] != 3 or coord_view.shape[0] != shape_[0] * shape_[1] * shape_[2]:
        raise ValueError(f"coordinates of shape {coords.shape} do not fit a tile of shape {tuple(shape)}")
    if src.ndim != 4 or out.ndim != 4 or src.shape[0] != out.shape[0] or src.dtype != out.dtype:
        raise ValueError(f"source {src.shape} {src.dtype} and output {out.shape} {out.dtype} must be "
                         "(c, x, y, z) arrays of one dtype with the same channels")
    has_mask = mask is not None
    if has_mask:
        mask_view = mask
        if tuple(mask.shape) != tuple(src.shape[1:]):
            raise ValueError(f"mask of shape {mask.shape} does not cover the source {src.shape}")
    name = src.dtype.name
    if name == "uint8":
        result = sample_3d[uint8_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "uint16":
        result = sample_3d[uint16_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "uint32":
        result = sample_3d[uint32_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "uint64":
        result = sample_3d[uint64_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "int8":
        result = sample_3d[int8_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "int16":
        result = sample_3d[int16_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "int32":
        result = sample_3d[int32_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "int64":
        result = sample_3d[int64_t](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "float32":
        result = sample_3d[float](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    elif name == "float64":
        result = sample_3d[double](src, coord_view, lo_, hi_, origin_, mag_, mask_view, has_mask, out, offset_, shape_)
    else:
        raise ValueError(f"cannot sample voxels of dtype {src.dtype}")
    if result < 0:
        raise ValueError(f"coordinate row {-1 - result} samples outside the source of shape {src.shape}")
    return result
