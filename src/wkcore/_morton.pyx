# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False
"""Python entry points to Morton addressing (the kernels use the inline `.pxd` versions)."""
from libc.stdint cimport uint64_t
from wkcore._morton cimport morton_encode, morton_decode

DEF MAX_COORD = 0x1FFFFF


def encode(long long x, long long y, long long z) -> int:
    """Morton index of block (x, y, z); each coordinate in [0, 2**21)."""
    if not (0 <= x <= MAX_COORD and 0 <= y <= MAX_COORD and 0 <= z <= MAX_COORD):
        raise ValueError(f"block coordinate ({x}, {y}, {z}) is outside [0, 2**21)")
    return morton_encode(x, y, z)


def decode(unsigned long long index) -> tuple:
    """Block coordinates (x, y, z) of a Morton index below 2**63."""
    cdef uint64_t x, y, z
    if index >= (<uint64_t>1 << 63):
        raise ValueError(f"Morton index {index} is out of range")
    morton_decode(index, &x, &y, &z)
    return (x, y, z)


def blocks_in_file_order(tuple start, tuple stop) -> list:
    """The (morton, x, y, z) of every block in the box [start, stop), sorted as in a file."""
    cdef long long x, y, z
    for v in start + stop:
        if not 0 <= v <= MAX_COORD + 1:
            raise ValueError(f"block coordinate {v} is outside [0, 2**21]")
    out = [
        (morton_encode(x, y, z), x, y, z)
        for z in range(start[2], stop[2])
        for y in range(start[1], stop[1])
        for x in range(start[0], stop[0])
    ]
    out.sort()
    return out
