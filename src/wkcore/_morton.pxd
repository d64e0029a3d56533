# cython: language_level=3
"""Morton (Z-order) addressing of 3-D block coordinates: bit i of x goes to bit 3i,
of y to 3i+1, of z to 3i+2 (x is the lowest)."""
from libc.stdint cimport uint64_t

cdef inline uint64_t _spread(uint64_t v) noexcept nogil:
    v &= 0x1FFFFFULL
    v = (v | (v << 32)) & 0x1F00000000FFFFULL
    v = (v | (v << 16)) & 0x1F0000FF0000FFULL
    v = (v | (v << 8)) & 0x100F00F00F00F00FULL
    v = (v | (v << 4)) & 0x10C30C30C30C30C3ULL
    v = (v | (v << 2)) & 0x1249249249249249ULL
    return v

cdef inline uint64_t _compact(uint64_t v) noexcept nogil:
    v &= 0x1249249249249249ULL
    v = (v ^ (v >> 2)) & 0x10C30C30C30C30C3ULL
    v = (v ^ (v >> 4)) & 0x100F00F00F00F00FULL
    v = (v ^ (v >> 8)) & 0x1F0000FF0000FFULL
    v = (v ^ (v >> 16)) & 0x1F00000000FFFFULL
    v = (v ^ (v >> 32)) & 0x1FFFFFULL
    return v

cdef inline uint64_t morton_encode(uint64_t x, uint64_t y, uint64_t z) noexcept nogil:
    return _spread(x) | (_spread(y) << 1) | (_spread(z) << 2)

cdef inline void morton_decode(uint64_t m, uint64_t* x, uint64_t* y, uint64_t* z) noexcept nogil:
    x[0] = _compact(m)
    y[0] = _compact(m >> 1)
    z[0] = _compact(m >> 2)
