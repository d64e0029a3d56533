# cython: language_level=3
"""Strided 3-D copies between a chunk buffer and a caller's array (inline, no state).

The loop order follows the caller's array (`key` strides): its smallest stride runs
innermost, so the big array is walked in memory order and the strided side is the chunk,
which is small enough to stay in cache.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

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
