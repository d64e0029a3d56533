# cython: language_level=3
"""Byte helpers and the error record shared by the kernels (all inline, no state)."""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, strchr
from cpython.buffer cimport Py_buffer
from libc.errno cimport errno, EEXIST
from posix.unistd cimport close, pread, pwrite, unlink
from posix.fcntl cimport open as c_open, O_CREAT, O_EXCL, O_CLOEXEC

cdef extern from "<fcntl.h>" nogil:
    enum: O_NOFOLLOW

cdef extern from "<stdio.h>" nogil:
    int rename(const char* old, const char* new)

cdef enum:
    WK_OK = 0
    WK_EIO = 1          # errno is in err.errnum
    WK_ECORRUPT = 2     # the file contradicts its format
    WK_ENOMEM = 3
    WK_EUNSUPPORTED = 4
    WK_EMISMATCH = 5    # the file is valid but not what the caller expected

cdef struct wk_err:
    int code
    int errnum
    char msg[200]

cdef extern from *:
    """
    #include <stdio.h>
    #define WK_FAIL(e, c, ...) ((e)->code = (c), snprintf((e)->msg, sizeof((e)->msg), __VA_ARGS__), -1)
    """
    int WK_FAIL(wk_err* e, int code, const char* fmt, ...) nogil

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

cdef inline int read_exact(int fd, uint8_t* buf, uint64_t n, uint64_t off, wk_err* e) noexcept nogil:
    """Read n bytes at `off`; a short file is corrupt, an OS error is I/O."""
    cdef Py_ssize_t r
    while n > 0:
        r = pread(fd, buf, n if n < 0x40000000 else 0x40000000, off)
        if r < 0:
            e.errnum = errno
            return WK_FAIL(e, WK_EIO, "read failed")
        if r == 0:
            return WK_FAIL(e, WK_ECORRUPT, "file ends at byte %llu, %llu bytes short", off, n)
        buf += r; off += r; n -= r
    return 0

cdef inline int write_all(int fd, const uint8_t* buf, uint64_t n, uint64_t off, wk_err* e) noexcept nogil:
    """Write n bytes at `off`, retrying short writes."""
    cdef Py_ssize_t r
    while n > 0:
        r = pwrite(fd, buf, n if n < 0x40000000 else 0x40000000, off)
        if r < 0:
            e.errnum = errno
            return WK_FAIL(e, WK_EIO, "write failed")
        buf += r; off += r; n -= r
    return 0

cdef inline int create_new(const char* path, int flags) noexcept nogil:
    """Create `path` as a new file and open it with `flags`, never through a link: the fd,
    or -1 with errno set. Temporary names are unique to a live process and thread, so a
    file already there is a killed writer's leftover or something planted (a link, say):
    it is unlinked (the link itself, not its target) and the creation retried once."""
    cdef int full = flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
    cdef int fd = c_open(path, full, 0o644)
    if fd < 0 and errno == EEXIST and unlink(path) == 0:
        fd = c_open(path, full, 0o644)
    return fd


cdef inline int publish_new(int fd, const char* tmp, const char* path, int rc, wk_err* e) noexcept nogil:
    """Close the temporary file `tmp` (open as `fd`) and, if `rc` is 0 so far, rename it
    over `path`; on any failure remove it. The one way the kernels publish a new file."""
    if close(fd) != 0 and rc == 0:
        e.errnum = errno
        rc = WK_FAIL(e, WK_EIO, "cannot close the temporary file")
    if rc == 0 and rename(tmp, path) != 0:
        e.errnum = errno
        rc = WK_FAIL(e, WK_EIO, "cannot rename the new file into place")
    if rc:
        unlink(tmp)
    return rc


cdef inline int check_plain_items(const Py_buffer* v) except -1:
    """Refuse a buffer of Python objects (numpy dtype object, format "O"): the kernels copy
    raw bytes, which in its pointer slots crash the interpreter (and read out, leak addresses)."""
    if v.format != NULL and strchr(v.format, ord("O")) != NULL:
        raise ValueError(f"array items are Python objects (buffer format {v.format.decode(errors='replace')!r}), "
                         "not voxel values")
    return 0
