# cython: language_level=3
"""The voxel element types the per-voxel kernels specialise for (`_downsample`, `_sample`)."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int16_t, int32_t, int64_t

ctypedef fused vox:
    uint8_t
    uint16_t
    uint32_t
    uint64_t
    int8_t
    int16_t
    int32_t
    int64_t
    float
    double
