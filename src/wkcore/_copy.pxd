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

cdef inline void copy3d(uint8_t* dst, const Py_ssize_t* ds, const uint8_t* src, const Py_ssize_t* ss,
                        const Py_ssize_t* n, const Py_ssize_t* key, int ts) noexcept nogil:
    """Copy an n[0]×n[1]×n[2] box of `ts`-byte items from `src` to `dst` (byte strides)."""
    cdef int a, o = 0, m = 1, i = 2, t
    cdef Py_ssize_t p, q, k, run
    cdef uint8_t* d
    cdef const uint8_t* s
    # sort the axes by |key stride|, largest outermost
    if _abs(key[o]) < _abs(key[m]): t = o; o = m; m = t
    if _abs(key[m]) < _abs(key[i]): t = m; m = i; i = t
    if _abs(key[o]) < _abs(key[m]): t = o; o = m; m = t
    cdef Py_ssize_t dsi = ds[i], ssi = ss[i], ni = n[i]
    for p in range(n[o]):
        for q in range(n[m]):
            d = dst + p * ds[o] + q * ds[m]
            s = src + p * ss[o] + q * ss[m]
            if dsi == ts and ssi == ts:
                memcpy(d, s, ni * ts)
            elif ts == 1:
                for k in range(ni):
                    d[k * dsi] = s[k * ssi]
            elif ts == 2:
                for k in range(ni):
                    (<uint16_t*>(d + k * dsi))[0] = (<const uint16_t*>(s + k * ssi))[0]
            elif ts == 4:
                for k in range(ni):
                    (<uint32_t*>(d + k * dsi))[0] = (<const uint32_t*>(s + k * ssi))[0]
            elif ts == 8:
                for k in range(ni):
                    (<uint64_t*>(d + k * dsi))[0] = (<const uint64_t*>(s + k * ssi))[0]
            else:
                for k in range(ni):
                    memcpy(d + k * dsi, s + k * ssi, ts)
