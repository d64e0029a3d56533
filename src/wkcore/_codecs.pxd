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

cdef const uint8_t* lz4_literals(const uint8_t* src, size_t n, size_t expected) noexcept nogil
cdef const uint8_t* blosc_stored(const uint8_t* src, size_t n, size_t expected) noexcept nogil

cdef size_t zstd_bound(size_t n) noexcept nogil
cdef ZSTD_CCtx* zstd_cctx_new(int level, bint checksum) noexcept nogil
cdef void zstd_cctx_free(ZSTD_CCtx* ctx) noexcept nogil
cdef ZSTD_DCtx* zstd_dctx_new() noexcept nogil
cdef void zstd_dctx_free(ZSTD_DCtx* ctx) noexcept nogil
cdef Py_ssize_t zstd_compress(ZSTD_CCtx* ctx, const uint8_t* src, size_t n, uint8_t* dst, size_t cap) noexcept nogil
cdef int zstd_decompress_exact(ZSTD_DCtx* ctx, const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil

cdef uint32_t crc32c(const uint8_t* p, size_t n) noexcept nogil

# ---- one compressor with its configuration and lazily created state -----------------------
# A `wk_codec` is filled in by the caller (kind and parameters, every pointer NULL), used by
# one thread for any number of codec_encode/codec_decode calls, then codec_release'd.

cdef enum:
    CODEC_ZSTD = 1      # level, checksum
    CODEC_BLOSC = 2     # cname, level (clevel), shuffle, typesize, blocksize
    CODEC_GZIP = 3      # level
    CODEC_ZLIB = 4      # level (a deflate stream with the zlib wrapper, RFC 1950)

cdef enum:              # C-Blosc compressor codes (the `cname` field)
    BLOSC_BLOSCLZ = 0
    BLOSC_LZ4 = 1
    BLOSC_LZ4HC = 2
    BLOSC_ZLIB = 4
    BLOSC_ZSTD = 5

cdef enum:              # codec_decode results
    DECODE_OK = 0
    DECODE_CORRUPT = -1
    DECODE_NOMEM = -2

cdef struct wk_codec:
    int kind
    int level
    int checksum
    int cname
    int shuffle         # 0 none, 1 byte shuffle, 2 bit shuffle
    int typesize
    int blocksize       # 0: automatic
    void* zc            # ZSTD_CCtx*
    void* zd            # ZSTD_DCtx*
    void* gz            # zng_stream* for deflate (gzip, or zlib inside blosc)
    void* gunz          # zng_stream* for inflate
    void* bd            # blosc2_context* for decompression
    void* bc            # blosc2_context* handed to the BloscLZ encoder
    uint8_t* scratch    # one shuffled blosc block
    size_t scratch_len

cdef void codec_init(wk_codec* c, int kind) noexcept nogil
cdef void codec_release(wk_codec* c) noexcept nogil
cdef size_t codec_bound(const wk_codec* c, size_t n) noexcept nogil
cdef Py_ssize_t codec_encode(wk_codec* c, const uint8_t* src, size_t n, uint8_t* dst, size_t cap) noexcept nogil
cdef int codec_decode(wk_codec* c, const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil
