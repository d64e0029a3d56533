# cython: language_level=3
"""Strided copies between a chunk buffer and a caller's array (inline, no state).

`copy_nd` (Zarr chunks of any number of axes up to `MAX_AXES`, and WKW blocks as (c, x, y,
z) chunks) follows the chunk's memory order and merges axes that are contiguous on both
sides, so a run that is dense in both buffers is one copy whatever the rank; a chunk and an
array whose dense axes differ (Fortran-ordered chunk, C-ordered array) are copied by
cache-blocked 2-D transposes (`wk_transpose.h`), never item by item across the big array.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcpy

cdef extern from "wk_transpose.h" nogil:
    void wk_copy_bytes(uint8_t* dst, const uint8_t* src, size_t n)
    void wk_transpose(uint8_t* dst, Py_ssize_t ds, const uint8_t* src, Py_ssize_t ss, int64_t rows, int64_t cols,
                      int ts)

cdef enum:
    MAX_AXES = 8                  # axes of a Zarr array the kernels handle (`copy_nd`, _shard.pyx)

cdef inline void copy_row(uint8_t* dst, Py_ssize_t ds, const uint8_t* src, Py_ssize_t ss, Py_ssize_t n,
                          int ts) noexcept nogil:
    """Copy n items of `ts` bytes between two strided rows (one memcpy when both are dense)."""
    cdef Py_ssize_t k
    if ds == ts and ss == ts:
        wk_copy_bytes(dst, src, n * ts)
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

cdef inline void copy_nd(uint8_t* chunk, const Py_ssize_t* cs, uint8_t* arr, const Py_ssize_t* as_,
                         const int64_t* n, int nd, int ts, bint to_chunk) noexcept nogil:
    """Copy an n[0]×…×n[nd-1] box (nd <= MAX_AXES) of `ts`-byte items between a chunk and an
    array, both given by the address of the box's first element and byte strides `cs`, `as_`.

    Loops run in the chunk's memory order (largest chunk stride outermost); axes of length 1
    are dropped, and an axis is merged into the next outer one when both buffers are
    contiguous across it. Then the two innermost loops are one of

    - rows: the innermost axis is dense on both sides (or on neither) -- one `copy_row`
      per row, a short fixed-size copy when both are dense;
    - a transpose: the chunk's innermost axis is dense in the chunk but not in the array,
      and another axis is dense in the array (a C-ordered array and a Fortran-ordered
      chunk, as webknossos writes them) -- one cache-blocked `wk_transpose` of the plane of
      those two axes.

    The axes outside them step an odometer.
    """
    cdef int ax[MAX_AXES]
    cdef Py_ssize_t C[MAX_AXES]
    cdef Py_ssize_t A[MAX_AXES]
    cdef int64_t N[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    cdef int i, j, t, d = 0, outer
    cdef int64_t i1, tn
    cdef Py_ssize_t tc, ta
    cdef bint transpose = False
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
    if C[d - 1] == ts and A[d - 1] != ts:
        for j in range(d - 2, -1, -1):    # an axis dense in the array: make it the second innermost
            if A[j] == ts and N[j] > 1:
                tn = N[j]; tc = C[j]; ta = A[j]
                N[j] = N[d - 2]; C[j] = C[d - 2]; A[j] = A[d - 2]
                N[d - 2] = tn; C[d - 2] = tc; A[d - 2] = ta
                transpose = True
                break
    outer = d - 2
    for i in range(outer):
        at[i] = 0
    while True:
        if transpose:
            if to_chunk:
                wk_transpose(c0, C[d - 2], a0, A[d - 1], N[d - 1], N[d - 2], ts)
            else:
                wk_transpose(a0, A[d - 1], c0, C[d - 2], N[d - 2], N[d - 1], ts)
        else:
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
