# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""Block reductions for downsampling: each output voxel reduces an fx×fy×fz block.

Elements of a block are visited with y fastest, then x, then z — webknossos' order —
which decides ties of the mode filter exactly as webknossos does (the earliest wins). All work runs with the
GIL released; nothing is shared between calls.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int16_t, int32_t, int64_t
from libc.stdlib cimport malloc, free
from libc.math cimport rint

from wkcore._voxel cimport vox

# the same numbers as webknossos' InterpolationModes, plus AVERAGE
MODES = {"median": 0, "mode": 1, "average": 3, "max": 5, "min": 6}


cdef inline void shell_sort(vox* a, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t gap = 1, i, j
    cdef vox t
    while gap < n // 3:
        gap = 3 * gap + 1
    while gap > 0:
        for i in range(gap, n):
            t = a[i]
            j = i
            while j >= gap and a[j - gap] > t:
                a[j] = a[j - gap]
                j -= gap
            a[j] = t
        gap //= 3


cdef inline vox reduce_block(vox* a, Py_ssize_t n, int mode) noexcept nogil:
    cdef Py_ssize_t i, j, count, best_count
    cdef vox best
    cdef double acc
    cdef bint seen
    if mode == 5 or mode == 6:          # max / min
        best = a[0]
        for i in range(1, n):
            if (mode == 5 and a[i] > best) or (mode == 6 and a[i] < best):
                best = a[i]
        return best
    if mode == 3:                       # average, rounded half to even for integers
        acc = 0
        for i in range(n):
            acc += <double>a[i]
        if vox is float or vox is double:
            return <vox>(acc / n)
        else:
            return <vox>rint(acc / n)
    if mode == 1:                       # mode: most frequent, earliest first occurrence wins ties
        best = a[0]
        best_count = 0
        for i in range(n):
            seen = False
            for j in range(i):
                if a[j] == a[i]:
                    seen = True
                    break
            if seen:
                continue
            count = 1
            for j in range(i + 1, n):
                if a[j] == a[i]:
                    count += 1
            if count > best_count:
                best, best_count = a[i], count
                if 2 * best_count > n:
                    break
        return best
    # median: numpy's definition (mean of the middle two for even n, in the input type
    # for floats, truncated for integers); any NaN makes the median NaN
    if vox is float or vox is double:
        for i in range(n):
            if a[i] != a[i]:
                return a[i]
    shell_sort(a, n)
    if n % 2:
        return a[n // 2]
    if vox is float or vox is double:
        return (a[n // 2 - 1] + a[n // 2]) / 2
    else:
        return <vox>((<double>a[n // 2 - 1] + <double>a[n // 2]) / 2)


cdef int reduce_3d(const vox[:, :, :] src, vox[:, :, :] out, int fx, int fy, int fz, int mode) except -1:
    cdef Py_ssize_t X = out.shape[0], Y = out.shape[1], Z = out.shape[2], x, y, z, i, j, k, n
    cdef vox* scratch = <vox*>malloc(sizeof(vox) * fx * fy * fz)
    if scratch == NULL:
        raise MemoryError()
    with nogil:
        for z in range(Z):
            for y in range(Y):
                for x in range(X):
                    n = 0
                    for k in range(fz):
                        for i in range(fx):
                            for j in range(fy):
                                scratch[n] = src[x * fx + i, y * fy + j, z * fz + k]
                                n += 1
                    out[x, y, z] = reduce_block(scratch, n, mode)
    free(scratch)
    return 0


def downsample(src, out, tuple factors, str mode) -> None:
    """Reduce `src` (x, y, z) by `factors` into `out` (x/fx, y/fy, z/fz), same dtype.

    `mode` is one of median, mode, average, max, min.
    """
    cdef int fx, fy, fz
    fx, fy, fz = factors
    if mode not in MODES:
        raise ValueError(f"unknown reduction {mode!r}; use one of {sorted(MODES)}")
    if min(factors) < 1:
        raise ValueError(f"factors {factors} must be positive")
    if src.ndim != 3 or out.ndim != 3 or tuple(out.shape) != (src.shape[0] // fx, src.shape[1] // fy, src.shape[2] // fz) \
            or any(s % f for s, f in zip(src.shape, factors)):
        raise ValueError(f"cannot reduce {tuple(src.shape)} by {factors} into {tuple(out.shape)}")
    if src.dtype != out.dtype:
        raise ValueError(f"source {src.dtype} and output {out.dtype} differ")
    name = src.dtype.name
    m = MODES[mode]
    if name == "uint8":
        reduce_3d[uint8_t](src, out, fx, fy, fz, m)
    elif name == "uint16":
        reduce_3d[uint16_t](src, out, fx, fy, fz, m)
    elif name == "uint32":
        reduce_3d[uint32_t](src, out, fx, fy, fz, m)
    elif name == "uint64":
        reduce_3d[uint64_t](src, out, fx, fy, fz, m)
    elif name == "int8":
        reduce_3d[int8_t](src, out, fx, fy, fz, m)
    elif name == "int16":
        reduce_3d[int16_t](src, out, fx, fy, fz, m)
    elif name == "int32":
        reduce_3d[int32_t](src, out, fx, fy, fz, m)
    elif name == "int64":
        reduce_3d[int64_t](src, out, fx, fy, fz, m)
    elif name == "float32":
        reduce_3d[float](src, out, fx, fy, fz, m)
    elif name == "float64":
        reduce_3d[double](src, out, fx, fy, fz, m)
    else:
        raise ValueError(f"cannot downsample {src.dtype}")
