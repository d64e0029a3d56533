# cython: language_level=3
"""C-level codec entry points, cimported by the file and shard kernels.

All are pure functions over caller-owned buffers, callable without the GIL.
Sizes are returned as >= 0; a negative return means the codec refused the input.
"""
from libc.stdint cimport uint8_t, uint32_t

cdef extern from *:
    """
    typedef struct ZSTD_CCtx_s ZSTD_CCtx;
    typedef struct ZSTD_DCtx_s ZSTD_DCtx;
    """
    ctypedef struct ZSTD_CCtx
    ctypedef struct ZSTD_DCtx

cdef size_t lz4_bound(size_t n) noexcept nogil
cdef Py_ssize_t lz4_compress(const uint8_t* src, size_t n, uint8_t* dst, size_t cap, int hc_level) noexcept nogil
cdef int lz4_decompress_exact(const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil

cdef size_t zstd_bound(size_t n) noexcept nogil
cdef ZSTD_CCtx* zstd_cctx_new(int level, bint checksum) noexcept nogil
cdef void zstd_cctx_free(ZSTD_CCtx* ctx) noexcept nogil
cdef ZSTD_DCtx* zstd_dctx_new() noexcept nogil
cdef void zstd_dctx_free(ZSTD_DCtx* ctx) noexcept nogil
cdef Py_ssize_t zstd_compress(ZSTD_CCtx* ctx, const uint8_t* src, size_t n, uint8_t* dst, size_t cap) noexcept nogil
cdef int zstd_decompress_exact(ZSTD_DCtx* ctx, const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil

cdef uint32_t crc32c(const uint8_t* p, size_t n) noexcept nogil
