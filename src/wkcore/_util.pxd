# cython: language_level=3
"""Byte helpers and the error record shared by the kernels (all inline, no state)."""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, strchr
from cpython.buffer cimport Py_buffer

cdef enum:
    WK_OK = 0
    WK_EIO = 1          # errno is in err.errnum (the kernels do no I/O: kept for the translator)
    WK_ECORRUPT = 2     # the bytes contradict their format
    WK_ENOMEM = 3
    WK_EUNSUPPORTED = 4
    WK_EMISMATCH = 5    # the file is valid but not what the caller expected
    WK_EARG = 6         # the caller's arguments contradict each other (a ValueError)

cdef struct wk_err:
    int code
    int errnum
    char msg[200]

cdef extern from *:
    """
    #include <stdio.h>
    #define WK_FAIL(e, c, ...) ((e)->code = (c), snprintf((e)->msg, sizeof((e)->msg), __VA_ARGS__), -1)

    #include <stdlib.h>
    #include <sys/mman.h>
    /* An output buffer (the encoded chunks of a shard or file). Up to 32 MiB (glibc's
       largest dynamic mmap threshold) it is plain malloc'ed: the allocator then serves the
       next call of about that size from memory it already has, without page faults. Larger
       ones are fresh mappings every time, aligned to 2 MiB. They are not marked for
       transparent huge pages: a buffer reserved at the size a file can reach (1 GiB for a
       WKW file of 1024³ uint8) but filled only in part would then cost 2 MiB of resident
       memory per touched page (+515 MB in a downsampling of mostly empty files, measured).
       Freed with free(), grown with realloc(). */
    static void* wk_alloc_big(size_t n) {
        void* p = NULL;
        if (n <= ((size_t)32 << 20))
            return malloc(n);
        if (posix_memalign(&p, (size_t)2 << 20, n) != 0)
            return NULL;
        return p;
    }
    """
    int WK_FAIL(wk_err* e, int code, const char* fmt, ...) nogil
    void* wk_alloc_big(size_t n) nogil

cdef inline uint64_t load_le64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)   # x86-64 and aarch64 are little-endian
    return v

cdef inline void store_le64(uint8_t* p, uint64_t v) noexcept nogil:
    memcpy(p, &v, 8)

cdef inline uint32_t load_le32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v

cdef inline void store_le32(uint8_t* p, uint32_t v) noexcept nogil:
    memcpy(p, &v, 4)

cdef inline int check_plain_items(const Py_buffer* v) except -1:
    """Refuse a buffer of Python objects (numpy dtype object, format "O"): the kernels copy
    raw bytes, which in its pointer slots crash the interpreter (and read out, leak addresses)."""
    if v.format != NULL and strchr(v.format, ord("O")) != NULL:
        raise ValueError(f"array items are Python objects (buffer format {v.format.decode(errors='replace')!r}), "
                         "not voxel values")
    return 0
