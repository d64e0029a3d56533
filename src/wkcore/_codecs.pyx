# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False
"""LZ4, LZ4HC, zstd, Blosc, gzip, zlib and CRC-32C over buffers.

This is the one module that links C-Blosc2 (whose static archive also carries LZ4, zstd
and zlib-ng); the other kernels cimport the `cdef` functions declared in `_codecs.pxd`.

Threading: every function here works only on its arguments and on codec state that the
caller owns (a `wk_codec`, or contexts created and freed inside one call), so calls from
different threads never share state and all of them run with the GIL released. The only
global step is `blosc2_init()` once at import, under the GIL, before any thread can call in.

Blosc: C-Blosc2's context API (`blosc2_compress_ctx`) always writes the Blosc2 chunk
format (version byte 5+, 32-byte extended header, run-length streams), which C-Blosc1
readers -- numcodecs' `Blosc`, tensorstore, zarr-python -- reject; its only Blosc1
switch (`BLOSC_BLOSC1_COMPAT`) applies to the global, lock-protected API alone. So chunks
are written here in the C-Blosc1 format (version 2, 16-byte header) with Blosc2's public
shuffle kernels and the codecs' own APIs, and read back by `blosc2_decompress_ctx`, which
reads every Blosc format version.
"""
from libc.stdint cimport uint8_t, int16_t, uint32_t, int32_t, int64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_C_CONTIGUOUS

from wkcore._util cimport load_le32, store_le32
from wkcore.errors import CorruptFileError

cdef extern from *:
    """
    int LZ4_compressBound(int inputSize);
    int LZ4_compress_default(const char* src, char* dst, int srcSize, int dstCapacity);
    int LZ4_compress_HC(const char* src, char* dst, int srcSize, int dstCapacity, int compressionLevel);
    int LZ4_decompress_safe(const char* src, char* dst, int compressedSize, int dstCapacity);
    typedef union LZ4_stream_u LZ4_stream_t;
    LZ4_stream_t* LZ4_initStream(void* buffer, size_t size);
    int LZ4_compress_fast_continue(LZ4_stream_t* stream, const char* src, char* dst, int srcSize, int dstCapacity,
                                   int acceleration);

    /* One LZ4 block through a fresh stream without a dictionary: the 32-bit position
       table with a 5-byte hash (LZ4_compress_default picks the 16-bit table and a 4-byte
       hash for inputs below 64 KiB, which meets many false candidates on noisy image data
       and runs markedly slower on it). The state (LZ4_STREAM_MINSIZE, 16 KiB + 32 for the
       default LZ4_MEMORY_USAGE) lives on the stack; if the library wants more, fall back. */
    static int wk_lz4_compress(const char* src, char* dst, int n, int cap) {
        union { void* p; unsigned long long u; char bytes[(1 << 14) + 64]; } state;
        LZ4_stream_t* s = LZ4_initStream(&state, sizeof state);
        if (s == NULL)
            return LZ4_compress_default(src, dst, n, cap);
        return LZ4_compress_fast_continue(s, src, dst, n, cap, 1);
    }

    #include <stddef.h>
    typedef struct ZSTD_CCtx_s ZSTD_CCtx;
    typedef struct ZSTD_DCtx_s ZSTD_DCtx;
    size_t ZSTD_compressBound(size_t srcSize);
    ZSTD_CCtx* ZSTD_createCCtx(void);
    size_t ZSTD_freeCCtx(ZSTD_CCtx* cctx);
    ZSTD_DCtx* ZSTD_createDCtx(void);
    size_t ZSTD_freeDCtx(ZSTD_DCtx* dctx);
    size_t ZSTD_CCtx_setParameter(ZSTD_CCtx* cctx, int param, int value);
    size_t ZSTD_compress2(ZSTD_CCtx* cctx, void* dst, size_t dstCapacity, const void* src, size_t srcSize);
    size_t ZSTD_decompressDCtx(ZSTD_DCtx* dctx, void* dst, size_t dstCapacity, const void* src, size_t srcSize);
    unsigned long long ZSTD_getFrameContentSize(const void* src, size_t srcSize);
    unsigned ZSTD_isError(size_t code);
    #define WK_ZSTD_c_compressionLevel 100
    #define WK_ZSTD_c_checksumFlag 201

    #include <stdint.h>
    uint32_t wk_crc32c(uint32_t crc, const uint8_t* p, size_t n);
    int wk_crc32c_hardware(void);
    """
    int LZ4_compressBound(int) nogil
    int LZ4_compress_default(const char*, char*, int, int) nogil
    int LZ4_compress_HC(const char*, char*, int, int, int) nogil
    int LZ4_decompress_safe(const char*, char*, int, int) nogil
    int wk_lz4_compress(const char*, char*, int, int) nogil
    size_t ZSTD_compressBound(size_t) nogil
    ZSTD_CCtx* ZSTD_createCCtx() nogil
    size_t ZSTD_freeCCtx(ZSTD_CCtx*) nogil
    ZSTD_DCtx* ZSTD_createDCtx() nogil
    size_t ZSTD_freeDCtx(ZSTD_DCtx*) nogil
    size_t ZSTD_CCtx_setParameter(ZSTD_CCtx*, int, int) nogil
    size_t ZSTD_compress2(ZSTD_CCtx*, void*, size_t, const void*, size_t) nogil
    size_t ZSTD_decompressDCtx(ZSTD_DCtx*, void*, size_t, const void*, size_t) nogil
    unsigned long long ZSTD_getFrameContentSize(const void*, size_t) nogil
    unsigned ZSTD_isError(size_t) nogil
    int WK_ZSTD_c_compressionLevel
    int WK_ZSTD_c_checksumFlag
    uint32_t wk_crc32c(uint32_t, const uint8_t*, size_t) nogil
    int wk_crc32c_hardware() nogil

cdef extern from "blosc2.h" nogil:
    ctypedef struct blosc2_context
    ctypedef struct blosc2_cparams:
        uint8_t compcode
        uint8_t clevel
        int32_t typesize
        int16_t nthreads
        int32_t blocksize
    ctypedef struct blosc2_dparams:
        int16_t nthreads
    blosc2_cparams BLOSC2_CPARAMS_DEFAULTS
    blosc2_dparams BLOSC2_DPARAMS_DEFAULTS
    void blosc2_init()
    blosc2_context* blosc2_create_cctx(blosc2_cparams cparams)
    blosc2_context* blosc2_create_dctx(blosc2_dparams dparams)
    void blosc2_free_ctx(blosc2_context* ctx)
    int blosc2_decompress_ctx(blosc2_context* ctx, const void* src, int32_t srcsize, void* dest, int32_t destsize)
    int32_t blosc2_shuffle(int32_t typesize, int32_t blocksize, const void* src, void* dest)
    int32_t blosc2_bitshuffle(int32_t typesize, int32_t blocksize, const void* src, void* dest)

cdef extern from *:
    """
    /* BloscLZ's encoder is not in blosc2.h. Its last parameter has changed over C-Blosc2
       releases (none, `int split_block`, `blosc2_context* ctx`); a live context satisfies
       every variant. blosc2 is pinned in pyproject.toml. */
    int blosclz_compress(int clevel, const void* input, int length, void* output, int maxout, void* ctx);

    /* zlib-ng's native API (zlib-ng.h 2.x), bundled in libblosc2.a. */
    typedef struct wk_zng_stream {
        const uint8_t* next_in;
        uint32_t avail_in;
        size_t total_in;
        uint8_t* next_out;
        uint32_t avail_out;
        size_t total_out;
        const char* msg;
        void* state;
        void* (*zalloc)(void*, unsigned int, unsigned int);
        void (*zfree)(void*, void*);
        void* opaque;
        int data_type;
        uint32_t adler;
        unsigned long reserved;
    } zng_stream;
    int32_t zng_deflateInit2(zng_stream* strm, int32_t level, int32_t method, int32_t windowBits, int32_t memLevel, int32_t strategy);
    int32_t zng_deflate(zng_stream* strm, int32_t flush);
    int32_t zng_deflateReset(zng_stream* strm);
    int32_t zng_deflateEnd(zng_stream* strm);
    int32_t zng_inflateInit2(zng_stream* strm, int32_t windowBits);
    int32_t zng_inflate(zng_stream* strm, int32_t flush);
    int32_t zng_inflateReset(zng_stream* strm);
    int32_t zng_inflateEnd(zng_stream* strm);
    """
    int blosclz_compress(int, const void*, int, void*, int, void*) nogil
    ctypedef struct zng_stream:
        const uint8_t* next_in
        uint32_t avail_in
        size_t total_in
        uint8_t* next_out
        uint32_t avail_out
        size_t total_out
    int32_t zng_deflateInit2(zng_stream*, int32_t, int32_t, int32_t, int32_t, int32_t) nogil
    int32_t zng_deflate(zng_stream*, int32_t) nogil
    int32_t zng_deflateReset(zng_stream*) nogil
    int32_t zng_deflateEnd(zng_stream*) nogil
    int32_t zng_inflateInit2(zng_stream*, int32_t) nogil
    int32_t zng_inflate(zng_stream*, int32_t) nogil
    int32_t zng_inflateReset(zng_stream*) nogil
    int32_t zng_inflateEnd(zng_stream*) nogil

DEF LZ4_MAX_INPUT = 0x7E000000
DEF Z_FINISH = 4
DEF Z_STREAM_END = 1
DEF Z_MEM_ERROR = -4
DEF GZIP_WBITS = 31          # 15-bit window, gzip wrapper
DEF GZIP_ANY_WBITS = 47      # 15-bit window, gzip or zlib wrapper (decoding)
DEF ZLIB_WBITS = 15
DEF BLOSC_HEADER = 16
DEF BLOSC_MIN_BUFFERSIZE = 128
DEF BLOSC_MAX_SPLITS = 16
DEF BLOSC_MAX_INPUT = 0x7FFFFF00
DEF BLOSC_MAX_VERSION = 6    # highest chunk format C-Blosc2 reads

# ---- C level -------------------------------------------------------------------------

cdef size_t lz4_bound(size_t n) noexcept nogil:
    if n > LZ4_MAX_INPUT:
        return 0
    return <size_t>LZ4_compressBound(<int>n)

cdef Py_ssize_t lz4_compress(const uint8_t* src, size_t n, uint8_t* dst, size_t cap, int hc_level) noexcept nogil:
    cdef int r
    if n > LZ4_MAX_INPUT:
        return -1
    if cap > 0x7FFFFFFF:
        cap = 0x7FFFFFFF
    if hc_level > 0:
        r = LZ4_compress_HC(<const char*>src, <char*>dst, <int>n, <int>cap, hc_level)
    else:
        r = wk_lz4_compress(<const char*>src, <char*>dst, <int>n, <int>cap)
    return r if r > 0 else -1

cdef int lz4_decompress_exact(const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil:
    if n > 0x7FFFFFFF or expected > 0x7FFFFFFF:
        return -1
    return 0 if LZ4_decompress_safe(<const char*>src, <char*>dst, <int>n, <int>expected) == <int>expected else -1

cdef const uint8_t* lz4_literals(const uint8_t* src, size_t n, size_t expected) noexcept nogil:
    """Where the `expected` bytes of an LZ4 block that is one run of literals start in it
    (what LZ4 makes of incompressible data: a token of 15 literals and no match, the
    length's extra bytes, the bytes themselves, nothing after), or NULL for any other
    block. The bytes there are exactly what decompressing the block gives, so a caller may
    copy them where they belong instead of decompressing into a buffer first."""
    cdef size_t i = 1, length = 15
    if expected < 15 or n < 1 or src[0] != 0xF0:
        return NULL
    while True:
        if i >= n or length > expected:
            return NULL
        length += src[i]
        i += 1
        if src[i - 1] != 255:
            break
    if length != expected or n - i != expected:
        return NULL
    return src + i

cdef const uint8_t* blosc_stored(const uint8_t* src, size_t n, size_t expected) noexcept nogil:
    """Where the `expected` bytes of a C-Blosc1 chunk stored uncompressed (the "memcpyed"
    flag: what Blosc makes of incompressible data) start in it, or NULL for any other
    chunk; as `lz4_literals`."""
    if n < BLOSC_HEADER or expected > BLOSC_MAX_INPUT or (src[0] != 1 and src[0] != 2) or not (src[2] & 0x02):
        return NULL
    if load_le32(src + 4) != expected or load_le32(src + 12) != expected + BLOSC_HEADER \
            or n < expected + BLOSC_HEADER:
        return NULL
    return src + BLOSC_HEADER

cdef size_t zstd_bound(size_t n) noexcept nogil:
    return ZSTD_compressBound(n)

cdef ZSTD_CCtx* zstd_cctx_new(int level, bint checksum) noexcept nogil:
    cdef ZSTD_CCtx* ctx = ZSTD_createCCtx()
    if ctx == NULL:
        return NULL
    if ZSTD_isError(ZSTD_CCtx_setParameter(ctx, WK_ZSTD_c_compressionLevel, level)) or \
       ZSTD_isError(ZSTD_CCtx_setParameter(ctx, WK_ZSTD_c_checksumFlag, 1 if checksum else 0)):
        ZSTD_freeCCtx(ctx)
        return NULL
    return ctx

cdef void zstd_cctx_free(ZSTD_CCtx* ctx) noexcept nogil:
    ZSTD_freeCCtx(ctx)

cdef ZSTD_DCtx* zstd_dctx_new() noexcept nogil:
    return ZSTD_createDCtx()

cdef void zstd_dctx_free(ZSTD_DCtx* ctx) noexcept nogil:
    ZSTD_freeDCtx(ctx)

cdef Py_ssize_t zstd_compress(ZSTD_CCtx* ctx, const uint8_t* src, size_t n, uint8_t* dst, size_t cap) noexcept nogil:
    cdef size_t r = ZSTD_compress2(ctx, dst, cap, src, n)
    return -1 if ZSTD_isError(r) else <Py_ssize_t>r

cdef int zstd_decompress_exact(ZSTD_DCtx* ctx, const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil:
    cdef size_t r = ZSTD_decompressDCtx(ctx, dst, expected, src, n)
    return 0 if (not ZSTD_isError(r) and r == expected) else -1

cdef uint32_t crc32c(const uint8_t* p, size_t n) noexcept nogil:
    return wk_crc32c(0, p, n)

# ---- deflate (gzip, zlib, and zlib inside Blosc) ----------------------------------------------

cdef Py_ssize_t deflate_into(wk_codec* c, int wbits, int level, const uint8_t* src, size_t n,
                             uint8_t* dst, size_t cap) noexcept nogil:
    """One complete deflate stream with the gzip or zlib wrapper; -1 if it does not fit."""
    cdef zng_stream* s = <zng_stream*>c.gz
    if n > 0xFFFFFFFFUL:
        return -1
    if cap > 0xFFFFFFFFUL:
        cap = 0xFFFFFFFFUL
    if s == NULL:
        s = <zng_stream*>calloc(1, sizeof(zng_stream))
        if s == NULL:
            return -1
        if zng_deflateInit2(s, level, 8, wbits, 8, 0) != 0:
            free(s)
            return -1
        c.gz = s
    elif zng_deflateReset(s) != 0:
        return -1
    s.next_in = src
    s.avail_in = <uint32_t>n
    s.next_out = dst
    s.avail_out = <uint32_t>cap
    if zng_deflate(s, Z_FINISH) != Z_STREAM_END:
        return -1
    return <Py_ssize_t>(cap - s.avail_out)

cdef int inflate_exact(wk_codec* c, const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil:
    cdef zng_stream* s = <zng_stream*>c.gunz
    cdef int32_t r
    if n > 0xFFFFFFFFUL or expected > 0xFFFFFFFFUL:
        return DECODE_CORRUPT
    if s == NULL:
        s = <zng_stream*>calloc(1, sizeof(zng_stream))
        if s == NULL:
            return DECODE_NOMEM
        if zng_inflateInit2(s, GZIP_ANY_WBITS) != 0:
            free(s)
            return DECODE_NOMEM
        c.gunz = s
    elif zng_inflateReset(s) != 0:
        return DECODE_NOMEM
    s.next_in = src
    s.avail_in = <uint32_t>n
    s.next_out = dst
    s.avail_out = <uint32_t>expected
    r = zng_inflate(s, Z_FINISH)
    if r == Z_MEM_ERROR:
        return DECODE_NOMEM
    return DECODE_OK if (r == Z_STREAM_END and s.total_out == expected) else DECODE_CORRUPT

# ---- Blosc -------------------------------------------------------------------------------

cdef int blosc_compformat(int cname) noexcept nogil:
    """The 3-bit codec field of a Blosc1 header (LZ4HC shares LZ4's format)."""
    if cname == BLOSC_BLOSCLZ:
        return 0
    if cname == BLOSC_LZ4 or cname == BLOSC_LZ4HC:
        return 1
    if cname == BLOSC_ZLIB:
        return 3
    if cname == BLOSC_ZSTD:
        return 4
    return -1

cdef int32_t blosc_blocksize(const wk_codec* c, int32_t n, int ts) noexcept nogil:
    """Bytes per Blosc block: the configured size, else one that grows with the level."""
    cdef int32_t bs
    if c.blocksize > 0:
        bs = c.blocksize if c.blocksize >= BLOSC_MIN_BUFFERSIZE else BLOSC_MIN_BUFFERSIZE
    else:
        bs = 8192 << (c.level if c.level < 5 else 5)          # 8 KiB .. 256 KiB
        if c.cname == BLOSC_ZSTD or c.cname == BLOSC_ZLIB or c.cname == BLOSC_LZ4HC:
            bs *= 2
    if c.cname == BLOSC_BLOSCLZ and bs // ts > 65536:
        bs = 65536 * ts
    if bs > n:
        bs = n
    if bs > ts:
        bs = bs // ts * ts
    return bs

cdef Py_ssize_t blosc_stream(wk_codec* c, const uint8_t* src, int32_t n, uint8_t* dst, int32_t cap) noexcept nogil:
    """One compressed Blosc stream; <= 0 when it does not compress into `cap` bytes."""
    cdef int level
    cdef blosc2_cparams cp
    if c.cname == BLOSC_BLOSCLZ:
        if c.bc == NULL:
            cp = BLOSC2_CPARAMS_DEFAULTS
            cp.compcode = BLOSC_BLOSCLZ
            cp.clevel = <uint8_t>c.level
            cp.typesize = c.typesize if c.typesize > 0 else 1
            cp.nthreads = 1
            c.bc = blosc2_create_cctx(cp)
            if c.bc == NULL:
                return -1
        return blosclz_compress(c.level, src, n, dst, cap, c.bc)
    if c.cname == BLOSC_LZ4:
        return lz4_compress(src, n, dst, cap, 0)
    if c.cname == BLOSC_LZ4HC:
        return lz4_compress(src, n, dst, cap, c.level)
    if c.cname == BLOSC_ZLIB:
        return deflate_into(c, ZLIB_WBITS, c.level, src, n, dst, cap)
    if c.cname == BLOSC_ZSTD:
        if c.zc == NULL:
            level = 2 * c.level - 1 if c.level < 9 else 22      # C-Blosc's mapping
            c.zc = zstd_cctx_new(level, False)
            if c.zc == NULL:
                return -1
        return zstd_compress(<ZSTD_CCtx*>c.zc, src, n, dst, cap)
    return -1

cdef Py_ssize_t blosc_memcpyed(const wk_codec* c, const uint8_t* src, int32_t n, int ts, int32_t bs,
                               uint8_t* dst) noexcept nogil:
    dst[0] = 2
    dst[1] = 1
    dst[2] = <uint8_t>(0x02 | (blosc_compformat(c.cname) << 5))
    dst[3] = <uint8_t>ts
    store_le32(dst + 4, <uint32_t>n)
    store_le32(dst + 8, <uint32_t>bs)
    store_le32(dst + 12, <uint32_t>(n + BLOSC_HEADER))
    memcpy(dst + BLOSC_HEADER, src, n)
    return n + BLOSC_HEADER

cdef Py_ssize_t blosc_encode(wk_codec* c, const uint8_t* src, size_t n_, uint8_t* dst, size_t cap) noexcept nogil:
    """A C-Blosc1 chunk (format version 2, 16-byte header) of at most n + 16 bytes.

    Blocks are shuffled by Blosc2's kernels (a bit shuffle only for blocks of a multiple of
    8 elements, as Blosc1 does) and split into one stream per byte of the type
    exactly when every Blosc1 reader would split them (typesize <= 16 and at least 128
    elements per block, not the last partial block); a stream that does not shrink is
    stored raw, and a chunk that does not shrink is stored as a plain copy.
    """
    cdef int ts = c.typesize if 0 < c.typesize <= 255 else 1
    cdef int32_t n = <int32_t>n_, bs, bsize, nblocks, leftover, j, k, nstreams, neblock
    if n_ % ts:
        ts = 1      # no block may end inside an element: readers disagree on such tails
    cdef int64_t pos, room, limit = <int64_t>n_ + BLOSC_HEADER
    cdef Py_ssize_t cs
    cdef uint8_t flags
    cdef bint split
    cdef const uint8_t* p
    if n_ > BLOSC_MAX_INPUT or cap < n_ + BLOSC_HEADER or blosc_compformat(c.cname) < 0:
        return -1
    bs = blosc_blocksize(c, n, ts) if n > 0 else 0
    if c.level == 0 or n < BLOSC_MIN_BUFFERSIZE:
        return blosc_memcpyed(c, src, n, ts, bs, dst)
    nblocks = n // bs
    leftover = n % bs
    if leftover:
        nblocks += 1
    split = ts <= BLOSC_MAX_SPLITS and bs // ts >= BLOSC_MIN_BUFFERSIZE
    flags = <uint8_t>(blosc_compformat(c.cname) << 5)
    if not split:
        flags |= 0x10
    if c.shuffle == 1 and ts > 1:
        flags |= 0x01
    elif c.shuffle == 2:
        flags |= 0x04
    if flags & 0x05:
        if c.scratch_len < <size_t>bs:
            free(c.scratch)
            c.scratch = <uint8_t*>malloc(bs)
            c.scratch_len = bs if c.scratch != NULL else 0
            if c.scratch == NULL:
                return -1
    pos = BLOSC_HEADER + 4 * <int64_t>nblocks
    if pos > limit:
        return blosc_memcpyed(c, src, n, ts, bs, dst)
    for j in range(nblocks):
        bsize = leftover if (leftover and j == nblocks - 1) else bs
        store_le32(dst + BLOSC_HEADER + 4 * j, <uint32_t>pos)
        p = src + <int64_t>j * bs
        if flags & 0x01:
            blosc2_shuffle(ts, bsize, p, c.scratch)
            p = c.scratch
        elif (flags & 0x04) and (bsize // ts) % 8 == 0:
            # Blosc1 (and Blosc2 reading format 2) bit-shuffles only blocks of a multiple
            # of 8 elements and stores other blocks unshuffled.
            blosc2_bitshuffle(ts, bsize, p, c.scratch)
            p = c.scratch
        nstreams = ts if (split and bsize == bs) else 1
        neblock = bsize // nstreams
        for k in range(nstreams):
            room = limit - pos - 4
            if room < 0:
                return blosc_memcpyed(c, src, n, ts, bs, dst)
            cs = blosc_stream(c, p + <int64_t>k * neblock, neblock, dst + pos + 4,
                              <int32_t>(room if room < neblock else neblock))
            if cs <= 0 or cs >= neblock:
                if neblock > room:
                    return blosc_memcpyed(c, src, n, ts, bs, dst)
                memcpy(dst + pos + 4, p + <int64_t>k * neblock, neblock)
                cs = neblock
            store_le32(dst + pos, <uint32_t>cs)
            pos += 4 + cs
    dst[0] = 2
    dst[1] = 1
    dst[2] = flags
    dst[3] = <uint8_t>ts
    store_le32(dst + 4, <uint32_t>n)
    store_le32(dst + 8, <uint32_t>bs)
    store_le32(dst + 12, <uint32_t>pos)
    return <Py_ssize_t>pos

cdef int blosc_decode(wk_codec* c, const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil:
    """Any Blosc chunk (format versions 1-6) that must expand to exactly `expected` bytes."""
    cdef uint32_t nbytes, cbytes
    cdef uint8_t version, flags, b2
    cdef blosc2_dparams dp
    cdef int r
    if n < BLOSC_HEADER or expected > BLOSC_MAX_INPUT or n > 0x7FFFFFFF:
        return DECODE_CORRUPT
    version = src[0]
    flags = src[2]
    nbytes = load_le32(src + 4)
    cbytes = load_le32(src + 12)
    if version == 0 or version > BLOSC_MAX_VERSION or nbytes != expected or cbytes > n or cbytes < BLOSC_HEADER:
        return DECODE_CORRUPT
    if expected == 0:
        return DECODE_OK
    if version >= 3 and (flags & 0x05) == 0x05:
        # Blosc2 extended header: refuse chunks that point outside themselves (lazy), carry
        # instrumentation instead of data, leave memory uninitialised, or use VL blocks.
        if n < 32:
            return DECODE_CORRUPT
        b2 = src[31]
        if (b2 & 0x08) or (b2 & 0x80) or ((b2 >> 4) & 0x7) == 4 or (src[30] & 0x01):
            return DECODE_CORRUPT
    if c.bd == NULL:
        dp = BLOSC2_DPARAMS_DEFAULTS
        dp.nthreads = 1
        c.bd = blosc2_create_dctx(dp)
        if c.bd == NULL:
            return DECODE_NOMEM
    r = blosc2_decompress_ctx(<blosc2_context*>c.bd, src, <int32_t>n, dst, <int32_t>expected)
    return DECODE_OK if r == <int>expected else DECODE_CORRUPT

# ---- one configured compressor --------------------------------------------------------------

cdef void codec_init(wk_codec* c, int kind) noexcept nogil:
    c.kind = kind
    c.level = 0
    c.checksum = 0
    c.cname = BLOSC_LZ4
    c.shuffle = 0
    c.typesize = 1
    c.blocksize = 0
    c.zc = c.zd = c.gz = c.gunz = c.bd = c.bc = NULL
    c.scratch = NULL
    c.scratch_len = 0

cdef void codec_release(wk_codec* c) noexcept nogil:
    if c.zc != NULL:
        zstd_cctx_free(<ZSTD_CCtx*>c.zc)
    if c.zd != NULL:
        zstd_dctx_free(<ZSTD_DCtx*>c.zd)
    if c.gz != NULL:
        zng_deflateEnd(<zng_stream*>c.gz)
        free(c.gz)
    if c.gunz != NULL:
        zng_inflateEnd(<zng_stream*>c.gunz)
        free(c.gunz)
    if c.bd != NULL:
        blosc2_free_ctx(<blosc2_context*>c.bd)
    if c.bc != NULL:
        blosc2_free_ctx(<blosc2_context*>c.bc)
    free(c.scratch)
    c.zc = c.zd = c.gz = c.gunz = c.bd = c.bc = NULL
    c.scratch = NULL
    c.scratch_len = 0

cdef size_t codec_bound(const wk_codec* c, size_t n) noexcept nogil:
    """Output capacity that always suffices for `codec_encode` of `n` bytes."""
    if c.kind == CODEC_ZSTD:
        return zstd_bound(n)
    if c.kind == CODEC_BLOSC:
        return n + BLOSC_HEADER
    return n + (n >> 3) + (n >> 6) + 256      # deflate: stored blocks plus the gzip wrapper

cdef Py_ssize_t codec_encode(wk_codec* c, const uint8_t* src, size_t n, uint8_t* dst, size_t cap) noexcept nogil:
    """Encode `n` bytes into `dst`; the encoded length, or -1 (no memory, or `cap` too small)."""
    if c.kind == CODEC_ZSTD:
        if c.zc == NULL:
            c.zc = zstd_cctx_new(c.level, c.checksum != 0)
            if c.zc == NULL:
                return -1
        return zstd_compress(<ZSTD_CCtx*>c.zc, src, n, dst, cap)
    if c.kind == CODEC_BLOSC:
        return blosc_encode(c, src, n, dst, cap)
    if c.kind == CODEC_GZIP:
        return deflate_into(c, GZIP_WBITS, c.level, src, n, dst, cap)
    if c.kind == CODEC_ZLIB:
        return deflate_into(c, ZLIB_WBITS, c.level, src, n, dst, cap)
    return -1

cdef int codec_decode(wk_codec* c, const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil:
    """Decode into exactly `expected` bytes: DECODE_OK, DECODE_CORRUPT or DECODE_NOMEM."""
    if c.kind == CODEC_ZSTD:
        if c.zd == NULL:
            c.zd = zstd_dctx_new()
            if c.zd == NULL:
                return DECODE_NOMEM
        return DECODE_OK if zstd_decompress_exact(<ZSTD_DCtx*>c.zd, src, n, dst, expected) == 0 else DECODE_CORRUPT
    if c.kind == CODEC_BLOSC:
        return blosc_decode(c, src, n, dst, expected)
    if c.kind == CODEC_GZIP or c.kind == CODEC_ZLIB:
        return inflate_exact(c, src, n, dst, expected)
    return DECODE_CORRUPT

# ---- Python level --------------------------------------------------------------------

cdef class _Buf:
    """A read-only contiguous view of any buffer, released with the object."""
    cdef Py_buffer view
    cdef bint held

    def __cinit__(self, obj):
        PyObject_GetBuffer(obj, &self.view, PyBUF_SIMPLE | PyBUF_C_CONTIGUOUS)
        self.held = True

    def __dealloc__(self):
        if self.held:
            PyBuffer_Release(&self.view)

    cdef const uint8_t* ptr(self) noexcept nogil:
        return <const uint8_t*>self.view.buf

    cdef size_t size(self) noexcept nogil:
        return <size_t>self.view.len


def lz4_compress_block(data, int hc_level=0) -> bytes:
    """Compress `data` into one raw LZ4 block (LZ4HC at `hc_level` > 0)."""
    cdef _Buf src = _Buf(data)
    cdef size_t cap = lz4_bound(src.size())
    if cap == 0 and src.size() > 0:
        raise ValueError(f"LZ4 input of {src.size()} bytes is too large")
    out = PyBytes_FromStringAndSize(NULL, cap + 1)
    cdef uint8_t* dst = <uint8_t*>PyBytes_AS_STRING(out)
    cdef Py_ssize_t r
    with nogil:
        r = lz4_compress(src.ptr(), src.size(), dst, cap + 1, hc_level)
    if r < 0:
        raise ValueError("LZ4 compression failed")
    return out[:r]


def lz4_decompress_block(data, Py_ssize_t size) -> bytes:
    """Decompress one raw LZ4 block that must expand to exactly `size` bytes."""
    cdef _Buf src = _Buf(data)
    if size < 0:
        raise ValueError("size must be >= 0")
    out = PyBytes_FromStringAndSize(NULL, size)
    cdef uint8_t* dst = <uint8_t*>PyBytes_AS_STRING(out)
    cdef int r
    with nogil:
        r = lz4_decompress_exact(src.ptr(), src.size(), dst, <size_t>size)
    if r < 0:
        raise CorruptFileError(f"LZ4 block of {src.size()} bytes does not decode to {size} bytes")
    return out


def zstd_compress_frame(data, int level=5, bint checksum=True) -> bytes:
    """Compress `data` into one zstd frame (content size and, if asked, checksum in it)."""
    cdef _Buf src = _Buf(data)
    cdef size_t cap = zstd_bound(src.size())
    out = PyBytes_FromStringAndSize(NULL, cap)
    cdef uint8_t* dst = <uint8_t*>PyBytes_AS_STRING(out)
    cdef Py_ssize_t r = -1
    cdef ZSTD_CCtx* ctx
    with nogil:
        ctx = zstd_cctx_new(level, checksum)
        if ctx != NULL:
            r = zstd_compress(ctx, src.ptr(), src.size(), dst, cap)
            zstd_cctx_free(ctx)
    if r < 0:
        raise ValueError(f"zstd compression failed (level {level})")
    return out[:r]


def zstd_decompress_frame(data, Py_ssize_t size) -> bytes:
    """Decompress one zstd frame that must expand to exactly `size` bytes."""
    cdef _Buf src = _Buf(data)
    if size < 0:
        raise ValueError("size must be >= 0")
    out = PyBytes_FromStringAndSize(NULL, size)
    cdef uint8_t* dst = <uint8_t*>PyBytes_AS_STRING(out)
    cdef int r = -1
    cdef ZSTD_DCtx* ctx
    with nogil:
        ctx = zstd_dctx_new()
        if ctx != NULL:
            r = zstd_decompress_exact(ctx, src.ptr(), src.size(), dst, <size_t>size)
            zstd_dctx_free(ctx)
    if r < 0:
        raise CorruptFileError(f"zstd frame of {src.size()} bytes does not decode to {size} bytes")
    return out


def crc32c_of(data) -> int:
    """CRC-32C (Castagnoli) of `data`, as zarr's `crc32c` codec stores it."""
    cdef _Buf src = _Buf(data)
    cdef uint32_t r
    with nogil:
        r = crc32c(src.ptr(), src.size())
    return r


def crc32c_portable(data) -> int:
    """CRC-32C by the table-driven fallback only (to test it against the fast path)."""
    cdef _Buf src = _Buf(data)
    return wk_crc32c_portable_(src.ptr(), src.size())


cdef extern from *:
    """
    uint32_t wk_crc32c_portable(uint32_t crc, const uint8_t* p, size_t n);
    static uint32_t wk_crc32c_portable_(const uint8_t* p, size_t n) { return wk_crc32c_portable(0, p, n); }
    """
    uint32_t wk_crc32c_portable_(const uint8_t*, size_t) nogil

CRC32C_HARDWARE: bool = bool(wk_crc32c_hardware())

BLOSC_CNAMES = {"blosclz": BLOSC_BLOSCLZ, "lz4": BLOSC_LZ4, "lz4hc": BLOSC_LZ4HC, "zlib": BLOSC_ZLIB, "zstd": BLOSC_ZSTD}

blosc2_init()   # registers Blosc2's codecs and picks its shuffle kernels; idempotent


cdef bytes _encode(wk_codec* c, data):
    cdef _Buf src = _Buf(data)
    cdef size_t cap = codec_bound(c, src.size())
    out = PyBytes_FromStringAndSize(NULL, cap)
    cdef uint8_t* dst = <uint8_t*>PyBytes_AS_STRING(out)
    cdef Py_ssize_t r
    with nogil:
        r = codec_encode(c, src.ptr(), src.size(), dst, cap)
        codec_release(c)
    if r < 0:
        raise ValueError("compression failed")
    return out[:r]


cdef bytes _decode(wk_codec* c, data, Py_ssize_t size, str what):
    cdef _Buf src = _Buf(data)
    if size < 0:
        raise ValueError("size must be >= 0")
    out = PyBytes_FromStringAndSize(NULL, size)
    cdef uint8_t* dst = <uint8_t*>PyBytes_AS_STRING(out)
    cdef int r
    with nogil:
        r = codec_decode(c, src.ptr(), src.size(), dst, <size_t>size)
        codec_release(c)
    if r == DECODE_NOMEM:
        raise MemoryError(f"{what}: out of memory")
    if r != DECODE_OK:
        raise CorruptFileError(f"{what} of {src.size()} bytes does not decode to {size} bytes")
    return out


def blosc_compress_chunk(data, str cname="lz4", int clevel=5, int shuffle=1, int typesize=1,
                         int blocksize=0) -> bytes:
    """Compress `data` into one C-Blosc1 chunk (readable by every Blosc reader).

    `shuffle` is 0 (none), 1 (byte) or 2 (bit); `blocksize` 0 picks one.
    """
    cdef wk_codec c
    if cname not in BLOSC_CNAMES or not 0 <= clevel <= 9 or shuffle not in (0, 1, 2) \
            or not 1 <= typesize or blocksize < 0:
        raise ValueError(f"bad blosc parameters: {cname=}, {clevel=}, {shuffle=}, {typesize=}, {blocksize=}")
    codec_init(&c, CODEC_BLOSC)
    c.cname = BLOSC_CNAMES[cname]
    c.level = clevel
    c.shuffle = shuffle
    c.typesize = typesize
    c.blocksize = blocksize
    return _encode(&c, data)


def blosc_decompress_chunk(data, Py_ssize_t size) -> bytes:
    """Decompress one Blosc chunk (any format version) that must expand to exactly `size` bytes."""
    cdef wk_codec c
    codec_init(&c, CODEC_BLOSC)
    return _decode(&c, data, size, "blosc chunk")


def gzip_compress_member(data, int level=5) -> bytes:
    """Compress `data` into one gzip member (RFC 1952), as zarr's `gzip` codec stores it."""
    cdef wk_codec c
    if not 0 <= level <= 9:
        raise ValueError(f"gzip level {level} is not in 0..9")
    codec_init(&c, CODEC_GZIP)
    c.level = level
    return _encode(&c, data)


def zlib_compress_stream(data, int level=1) -> bytes:
    """Compress `data` into one zlib stream (RFC 1950), as zarr's `zlib` codec stores it."""
    cdef wk_codec c
    if not 0 <= level <= 9:
        raise ValueError(f"zlib level {level} is not in 0..9")
    codec_init(&c, CODEC_ZLIB)
    c.level = level
    return _encode(&c, data)


def gzip_decompress_member(data, Py_ssize_t size) -> bytes:
    """Decompress a gzip (or zlib) stream that must expand to exactly `size` bytes."""
    cdef wk_codec c
    codec_init(&c, CODEC_GZIP)
    return _decode(&c, data, size, "gzip stream")
