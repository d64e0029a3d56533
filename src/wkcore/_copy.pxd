# cython: language_level=3
"""Strided copies between a chunk buffer and a caller's array (inline, no state).

`copy3d` (WKW blocks) follows the caller's array (`key` strides): its smallest stride runs
innermost, so the big array is walked in memory order and the strided side is the block,
which is small enough to stay in cache. `copy_nd` (Zarr chunks, any number of axes up to
`MAX_AXES`) follows the chunk's memory order and merges axes that are contiguous on both
sides, so a run that is dense in both buffers is one memcpy whatever the rank.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcpy

cdef enum:
    MAX_AXES = 8                  # axes of a Zarr array the kernels handle (`copy_nd`, _shard.pyx)

cdef inline Py_ssize_t _abs(Py_ssize_t v) noexcept nogil:
    return -v if v < 0 else v

cdef inline void copy_row(uint8_t* dst, Py_ssize_t ds, const uint8_t* src, Py_ssize_t ss, Py_ssize_t n,
                          int ts) noexcept nogil:
    """Copy n items of `ts` bytes between two strided rows (one memcpy when both are dense)."""
    cdef Py_ssize_t k
    if ds == ts and ss == ts:
        memcpy(dst, src, n * ts)
    elif ts == 1:
        for k in range(n):
            dst[k * ds] = src[k * ss]
    elif ts == 2:
        for k in range(n):
            (<uint16_t*>(dst + k * ds))[0] = (<const uint16_t*>(src + k * ss))[0]
    elif ts == 4:
        for k in range(n):
            (<uint32_t*>(dst + k * ds))[0] = (<const uint32_t*>(src + k * ss))[0]
    elif ts == 8:
        for k in range(n):
            (<uint64_t*>(dst + k * ds))[0] = (<const uint64_t*>(src + k * ss))[0]
    else:
        for k in range(n):
            memcpy(dst + k * ds, src + k * ss, ts)

cdef inline void copy3d(uint8_t* dst, const Py_ssize_t* ds, const uint8_t* src, const Py_ssize_t* ss,
                        const Py_ssize_t* n, const Py_ssize_t* key, int ts) noexcept nogil:
    """Copy an n[0]×n[1]×n[2] box of `ts`-byte items from `src` to `dst` (byte strides)."""
    cdef int o = 0, m = 1, i = 2, t
    cdef Py_ssize_t p, q
    # sort the axes by |key stride|, largest outermost
    if _abs(key[o]) < _abs(key[m]): t = o; o = m; m = t
    if _abs(key[m]) < _abs(key[i]): t = m; m = i; i = t
    if _abs(key[o]) < _abs(key[m]): t = o; o = m; m = t
    for p in range(n[o]):
        for q in range(n[m]):
            copy_row(dst + p * ds[o] + q * ds[m], ds[i], src + p * ss[o] + q * ss[m], ss[i], n[i], ts)

cdef inline void copy_nd(uint8_t* chunk, const Py_ssize_t* cs, uint8_t* arr, const Py_ssize_t* as_,
                         const int64_t* n, int nd, int ts, bint to_chunk) noexcept nogil:
    """Copy an n[0]×…×n[nd-1] box (nd <= MAX_AXES) of `ts`-byte items between a chunk and an
    array, both given by the address of the box's first element and byte strides `cs`, `as_`.

    Loops run in the chunk's memory order (largest chunk stride outermost); axes of length 1
    are dropped, and an axis is merged into the next outer one when both buffers are
    contiguous across it, so the innermost loop is one `copy_row` over the longest run. The
    two innermost loops are plain `for` loops; only the axes outside them (none for boxes
    that merge to at most two axes, as every x, y, z box of a Fortran-ordered chunk does)
    step an odometer.
    """
    cdef int ax[MAX_AXES]
    cdef Py_ssize_t C[MAX_AXES]
    cdef Py_ssize_t A[MAX_AXES]
    cdef int64_t N[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    cdef int i, j, t, d = 0, outer
    cdef int64_t i1
    cdef uint8_t* c0 = chunk
    cdef uint8_t* a0 = arr
    cdef uint8_t* c1
    cdef uint8_t* a1
    for i in range(nd):
        ax[i] = i
    for i in range(1, nd):                # sort axes by chunk stride, largest first
        t = ax[i]
        j = i - 1
        while j >= 0 and cs[ax[j]] < cs[t]:
            ax[j + 1] = ax[j]
            j -= 1
        ax[j + 1] = t
    for i in range(nd):
        if n[ax[i]] == 1:
            continue
        if d > 0 and C[d - 1] == cs[ax[i]] * n[ax[i]] and A[d - 1] == as_[ax[i]] * n[ax[i]]:
            N[d - 1] *= n[ax[i]]          # merge into the previous (outer) axis
            C[d - 1] = cs[ax[i]]
            A[d - 1] = as_[ax[i]]
            continue
        N[d] = n[ax[i]]; C[d] = cs[ax[i]]; A[d] = as_[ax[i]]
        d += 1
    while d < 2:                          # pad outer axes of length 1
        for i in range(d, 0, -1):
            N[i] = N[i - 1]; C[i] = C[i - 1]; A[i] = A[i - 1]
        N[0] = 1; C[0] = 0; A[0] = 0
        d += 1
    outer = d - 2
    for i in range(outer):
        at[i] = 0
    while True:
        for i1 in range(N[d - 2]):
            c1 = c0 + i1 * C[d - 2]
            a1 = a0 + i1 * A[d - 2]
            if to_chunk:
                copy_row(c1, C[d - 1], a1, A[d - 1], N[d - 1], ts)
            else:
                copy_row(a1, A[d - 1], c1, C[d - 1], N[d - 1], ts)
        i = outer - 1                     # step the odometer of the outer axes
        while i >= 0:
            at[i] += 1
            c0 += C[i]
            a0 += A[i]
            if at[i] < N[i]:
                break
            c0 -= C[i] * N[i]
            a0 -= A[i] * N[i]
            at[i] = 0
            i -= 1
        if i < 0:
            return
