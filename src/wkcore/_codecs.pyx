# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False
"""LZ4, LZ4HC, zstd and CRC-32C over buffers.

This is the one module that links C-Blosc2 (whose static archive also carries LZ4 and
zstd); the other kernels cimport the `cdef` functions declared in `_codecs.pxd`.

Threading: every function here works only on its arguments and on codec contexts it
creates and frees itself (zstd contexts, LZ4 stack state), so calls from different
threads never share state and all of them run with the GIL released.
"""
from libc.stdint cimport uint8_t, uint32_t
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_C_CONTIGUOUS

from wkcore.errors import CorruptFileError

cdef extern from *:
    """
    int LZ4_compressBound(int inputSize);
    int LZ4_compress_default(const char* src, char* dst, int srcSize, int dstCapacity);
    int LZ4_compress_HC(const char* src, char* dst, int srcSize, int dstCapacity, int compressionLevel);
    int LZ4_decompress_safe(const char* src, char* dst, int compressedSize, int dstCapacity);

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

DEF LZ4_MAX_INPUT = 0x7E000000

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
        r = LZ4_compress_default(<const char*>src, <char*>dst, <int>n, <int>cap)
    return r if r > 0 else -1

cdef int lz4_decompress_exact(const uint8_t* src, size_t n, uint8_t* dst, size_t expected) noexcept nogil:
    if n > 0x7FFFFFFF or expected > 0x7FFFFFFF:
        return -1
    return 0 if LZ4_decompress_safe(<const char*>src, <char*>dst, <int>n, <int>expected) == <int>expected else -1

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
