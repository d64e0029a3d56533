# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""WKW files: header and jump-table checks, and box reads and writes of one file.

A WKW file is a cube of file_len³ blocks of block_len³ voxels, blocks in Morton order,
voxels in Fortran order with channels interleaved (see FORMATS.md). Every entry point
below does all of its I/O and (de)compression with the GIL released: Python threads
working on different files run in parallel. Nothing here keeps state between calls.
Compressed files are rewritten whole into a temporary file that is renamed over the old
one, so a reader or a crash sees the old file or the new one, never a torn one. Raw files
are patched in place after an undo journal is complete on disk (see "undo journal").
A write that covers a whole file never needs the old one: it builds the new file under a
temporary name and renames it over whatever was there, so a damaged file (cut short,
garbage after its header) is replaced, not refused. Temporary files and journals are
created with O_EXCL | O_NOFOLLOW, and files patched in place are opened with
O_NOFOLLOW: nothing is ever written through a symbolic link.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free, realloc
from libc.string cimport memcpy, memcmp, memset
from libc.errno cimport errno, ENOENT, ELOOP
from posix.fcntl cimport open as c_open, O_RDONLY, O_WRONLY, O_RDWR, O_NONBLOCK, O_CLOEXEC
from posix.unistd cimport close, pread, pwrite, ftruncate, unlink, fdatasync
from posix.stat cimport struct_stat, fstat, S_ISREG
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_STRIDES, PyBUF_WRITABLE, PyBUF_FORMAT

from wkcore._util cimport (wk_err, WK_FAIL, WK_OK, WK_EIO, WK_ECORRUPT, WK_ENOMEM,
                           WK_EMISMATCH, load_le64, store_le64, load_le32, store_le32, read_exact, write_all,
                           create_new, publish_new, check_plain_items, O_NOFOLLOW)
from wkcore._morton cimport morton_encode, morton_decode
from wkcore._copy cimport copy3d
from wkcore._codecs cimport lz4_bound, lz4_compress, lz4_decompress_exact, crc32c
from wkcore._raise import raise_for


DEF HEADER_SIZE = 16
DEF LZ4HC_LEVEL = 9
DEF MAX_SIDE_LOG2 = 21       # file side of at most 2**21 voxels
DEF MAX_BLOCK_LOG2 = 10
DEF LZ4_MAX_RATIO = 255      # an LZ4 block expands at most ~255x
DEF READ_GAP = 1 << 16       # nearby blocks are read together across gaps up to this
DEF READ_WINDOW = 1 << 23    # ... in runs of at most this many bytes (one block more if larger)
DEF JOURNAL_HEAD = 32
DEF JOURNAL_TAIL = 24

cdef int TYPE_BYTES[7]
TYPE_BYTES[:] = [0, 1, 2, 4, 8, 4, 8]

cdef struct layout:
    int block_log2
    int file_log2
    int block_type
    int voxel_type
    int voxel_bytes
    uint64_t data_offset

cdef struct region:
    uint8_t* ptr          # element (c=0) of the first voxel of the box in the caller's array
    Py_ssize_t sc, sx, sy, sz
    int nc, ts

# ---- header ---------------------------------------------------------------------------

cdef inline uint64_t n_blocks(const layout* L) noexcept nogil:
    return (<uint64_t>1) << (3 * L.file_log2)

cdef inline uint64_t block_bytes(const layout* L) noexcept nogil:
    return ((<uint64_t>1) << (3 * L.block_log2)) * <uint64_t>L.voxel_bytes

cdef int parse_header(const uint8_t* h, layout* L, wk_err* e) noexcept nogil:
    if h[0] != 0x57 or h[1] != 0x4B or h[2] != 0x57:
        return WK_FAIL(e, WK_ECORRUPT, "header: magic is %02x %02x %02x, not 'WKW'", h[0], h[1], h[2])
    if h[3] != 1:
        return WK_FAIL(e, WK_ECORRUPT, "header: version %d is not 1", h[3])
    L.block_log2 = h[4] & 0xF
    L.file_log2 = h[4] >> 4
    L.block_type = h[5]
    L.voxel_type = h[6]
    L.voxel_bytes = h[7]
    L.data_offset = load_le64(h + 8)
    if L.block_log2 > MAX_BLOCK_LOG2 or L.block_log2 + L.file_log2 > MAX_SIDE_LOG2:
        return WK_FAIL(e, WK_ECORRUPT, "header: block_len 2**%d and file_len 2**%d exceed the format's limits",
                       L.block_log2, L.file_log2)
    if L.block_type < 1 or L.block_type > 3:
        return WK_FAIL(e, WK_ECORRUPT, "header: block type %d is not 1, 2 or 3", L.block_type)
    if L.voxel_type < 1 or L.voxel_type > 6:
        return WK_FAIL(e, WK_ECORRUPT, "header: voxel type %d is not in 1..6", L.voxel_type)
    if L.voxel_bytes == 0 or L.voxel_bytes % TYPE_BYTES[L.voxel_type] != 0:
        return WK_FAIL(e, WK_ECORRUPT, "header: %d bytes per voxel is not a multiple of %d",
                       L.voxel_bytes, TYPE_BYTES[L.voxel_type])
    return 0

cdef void build_header(const layout* L, uint8_t* h) noexcept nogil:
    h[0] = 0x57; h[1] = 0x4B; h[2] = 0x57; h[3] = 1
    h[4] = <uint8_t>((L.file_log2 << 4) | L.block_log2)
    h[5] = <uint8_t>L.block_type
    h[6] = <uint8_t>L.voxel_type
    h[7] = <uint8_t>L.voxel_bytes
    store_le64(h + 8, L.data_offset)

cdef int check_sizes(const layout* L, uint64_t file_size, wk_err* e) noexcept nogil:
    """The file's size and data offset agree with its header."""
    cdef uint64_t N = n_blocks(L), bb = block_bytes(L)
    if L.block_type == 1:
        if L.data_offset < HEADER_SIZE or L.data_offset > file_size \
                or (file_size - L.data_offset) // bb != N or (file_size - L.data_offset) % bb != 0:
            return WK_FAIL(e, WK_ECORRUPT, "raw file of %llu bytes does not hold %llu blocks of %llu bytes after offset %llu",
                           file_size, N, bb, L.data_offset)
    else:
        if L.data_offset != HEADER_SIZE + 8 * N:
            return WK_FAIL(e, WK_ECORRUPT, "header: data offset %llu is not 16 + 8 x %llu blocks", L.data_offset, N)
        if L.data_offset > file_size:
            return WK_FAIL(e, WK_ECORRUPT, "file of %llu bytes is truncated inside its jump table", file_size)
        if bb > LZ4_MAX_RATIO * file_size + 64:
            return WK_FAIL(e, WK_ECORRUPT, "blocks of %llu bytes cannot come from a file of %llu bytes", bb, file_size)
    return 0

cdef int same_geometry(const layout* f, const layout* x, wk_err* e) noexcept nogil:
    if f.block_log2 != x.block_log2 or f.file_log2 != x.file_log2 or f.voxel_type != x.voxel_type \
            or f.voxel_bytes != x.voxel_bytes:
        return WK_FAIL(e, WK_EMISMATCH,
                       "header (block_len 2**%d, file_len 2**%d, voxel type %d, %d bytes/voxel) differs from the layer's (2**%d, 2**%d, %d, %d)",
                       f.block_log2, f.file_log2, f.voxel_type, f.voxel_bytes,
                       x.block_log2, x.file_log2, x.voxel_type, x.voxel_bytes)
    return 0

# ---- I/O helpers ----------------------------------------------------------------------


cdef int check_open(int fd, layout* F, uint64_t* size, wk_err* e) noexcept nogil:
    """Read and check the header of an open file against its size."""
    cdef struct_stat st
    cdef uint8_t h[HEADER_SIZE]
    if fstat(fd, &st) != 0:
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot stat")
    size[0] = <uint64_t>st.st_size
    if size[0] < HEADER_SIZE:
        return WK_FAIL(e, WK_ECORRUPT, "file of %llu bytes is shorter than the 16-byte header", size[0])
    if read_exact(fd, h, HEADER_SIZE, 0, e) or parse_header(h, F, e) or check_sizes(F, size[0], e):
        return -1
    return 0

cdef int open_existing(const char* path, int flags, layout* F, uint64_t* size, wk_err* e) noexcept nogil:
    """Open and check the header; returns the fd, -2 if the file does not exist, -1 on error."""
    cdef int fd = c_open(path, flags | O_NONBLOCK)
    if fd < 0:
        if errno == ENOENT:
            return -2
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot open")
    if check_open(fd, F, size, e):
        close(fd)
        return -1
    return fd

# ---- region <-> block copies ------------------------------------------------------------

cdef void copy_region(uint8_t* blk, int B, int vs, const region* r, Py_ssize_t ax, Py_ssize_t ay, Py_ssize_t az,
                      int lx, int ly, int lz, int nx, int ny, int nz, bint to_block) noexcept nogil:
    """Copy the nx×ny×nz voxels at (lx, ly, lz) of a block from/to the caller's array at (ax, ay, az)."""
    cdef Py_ssize_t bs[3]
    cdef Py_ssize_t rs[3]
    cdef Py_ssize_t n[3]
    cdef int c
    cdef uint8_t* b = blk + (<size_t>lx + <size_t>ly * B + <size_t>lz * B * B) * vs
    cdef uint8_t* a = r.ptr + ax * r.sx + ay * r.sy + az * r.sz
    bs[0] = vs; bs[1] = <Py_ssize_t>B * vs; bs[2] = <Py_ssize_t>B * B * vs
    rs[0] = r.sx; rs[1] = r.sy; rs[2] = r.sz
    n[0] = nx; n[1] = ny; n[2] = nz
    if r.sx == vs and (r.nc == 1 or r.sc == r.ts):
        # the array has the block's own layout (Fortran order, channels interleaved):
        # copy x-runs as bytes
        n[0] = <Py_ssize_t>nx * vs
        bs[0] = rs[0] = 1
        if to_block:
            copy3d(b, bs, a, rs, n, rs, 1)
        else:
            copy3d(a, rs, b, bs, n, rs, 1)
        return
    for c in range(r.nc):
        if to_block:
            copy3d(b + c * r.ts, bs, a + c * r.sc, rs, n, rs, r.ts)
        else:
            copy3d(a + c * r.sc, rs, b + c * r.ts, bs, n, rs, r.ts)

cdef inline bint clip(int64_t b0, int B, const int64_t* box, int axis, int* l0, int* n) noexcept nogil:
    """Intersect block [b0, b0+B) with the box along one axis; False if empty."""
    cdef int64_t lo = box[axis] if box[axis] > b0 else b0
    cdef int64_t hi = box[axis + 3] if box[axis + 3] < b0 + B else b0 + B
    if hi <= lo:
        return False
    l0[0] = <int>(lo - b0)
    n[0] = <int>(hi - lo)
    return True

# ---- read -------------------------------------------------------------------------------

cdef struct bufs:
    uint8_t* blk
    uint8_t* table
    uint8_t* span
    uint8_t* one

cdef void free_bufs(bufs* k) noexcept nogil:
    free(k.blk); free(k.table); free(k.span); free(k.one)

cdef int read_box(const char* path, int given_fd, const layout* X, const int64_t* box, const region* r, int* found,
                  wk_err* e) noexcept nogil:
    """Read a box of the file at `path`, or of the open file `given_fd` (>= 0) if given."""
    cdef layout F
    cdef uint64_t size
    cdef bufs k
    cdef int fd = given_fd, rc
    found[0] = 0
    if fd >= 0:
        if check_open(fd, &F, &size, e):
            return -1
    else:
        fd = open_existing(path, O_RDONLY | O_CLOEXEC, &F, &size, e)
        if fd == -2:
            return 0
        if fd < 0:
            return -1
    found[0] = 1
    k.blk = k.table = k.span = k.one = NULL
    rc = same_geometry(&F, X, e) or read_blocks(fd, &F, size, box, r, &k, e)
    free_bufs(&k)
    if given_fd < 0:
        close(fd)
    return rc

cdef int read_blocks(int fd, const layout* F, uint64_t size, const int64_t* box, const region* r, bufs* k, wk_err* e) noexcept nogil:
    cdef uint64_t bb = block_bytes(F), m
    cdef int B = 1 << F.block_log2, g = F.block_log2, lx, ly, lz, nx, ny, nz
    cdef int64_t bx, by, bz
    k.blk = <uint8_t*>malloc(bb)
    if k.blk == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate a block of %llu bytes", bb)
    if F.block_type != 1:
        return read_compressed(fd, F, size, box, r, k, e)
    for bz in range(box[2] >> g, ((box[5] - 1) >> g) + 1):
        for by in range(box[1] >> g, ((box[4] - 1) >> g) + 1):
            for bx in range(box[0] >> g, ((box[3] - 1) >> g) + 1):
                clip(bx * B, B, box, 0, &lx, &nx)
                clip(by * B, B, box, 1, &ly, &ny)
                clip(bz * B, B, box, 2, &lz, &nz)
                m = morton_encode(bx, by, bz)
                if read_exact(fd, k.blk, bb, F.data_offset + m * bb, e):
                    return -1
                copy_region(k.blk, B, F.voxel_bytes, r, bx * B + lx - box[0], by * B + ly - box[1], bz * B + lz - box[2],
                            lx, ly, lz, nx, ny, nz, False)
    return 0

cdef extern from *:
    """
    #include <stdlib.h>
    #include <stdint.h>
    static int wk_cmp_u64(const void* a, const void* b) {
        uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
        return (x > y) - (x < y);
    }
    static void wk_sort_u64(uint64_t* v, size_t n) { qsort(v, n, sizeof(uint64_t), wk_cmp_u64); }
    """
    void wk_sort_u64(uint64_t* v, size_t n) nogil

cdef int read_compressed(int fd, const layout* F, uint64_t size, const int64_t* box, const region* r, bufs* k,
                         wk_err* e) noexcept nogil:
    """Decode the blocks a box touches in file order, reading runs of nearby blocks in one
    go (gaps up to READ_GAP, runs up to READ_WINDOW), so memory stays bounded and sparse
    reads skip what they do not need."""
    cdef uint64_t bb = block_bytes(F), m, lo_m, hi_m, s, t, s0, end, n = 0, i, j, cap = 0
    cdef uint64_t x, y, z
    cdef int B = 1 << F.block_log2, g = F.block_log2, lx, ly, lz, nx, ny, nz
    cdef int64_t bx, by, bz
    cdef uint64_t* ms
    for bz in range(box[2] >> g, ((box[5] - 1) >> g) + 1):
        for by in range(box[1] >> g, ((box[4] - 1) >> g) + 1):
            for bx in range(box[0] >> g, ((box[3] - 1) >> g) + 1):
                n += 1
    ms = <uint64_t*>malloc(8 * n)
    k.one = <uint8_t*>ms
    if ms == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu block indices", n)
    n = 0
    for bz in range(box[2] >> g, ((box[5] - 1) >> g) + 1):
        for by in range(box[1] >> g, ((box[4] - 1) >> g) + 1):
            for bx in range(box[0] >> g, ((box[3] - 1) >> g) + 1):
                ms[n] = morton_encode(bx, by, bz)
                n += 1
    wk_sort_u64(ms, n)
    lo_m, hi_m = ms[0], ms[n - 1]
    # the jump-table entries from block lo_m-1 to hi_m, checked
    k.table = <uint8_t*>malloc(8 * (hi_m - lo_m + 2))
    if k.table == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate the jump table")
    if lo_m == 0:
        store_le64(k.table, F.data_offset)
        if read_exact(fd, k.table + 8, 8 * (hi_m + 1), HEADER_SIZE, e):
            return -1
    elif read_exact(fd, k.table, 8 * (hi_m - lo_m + 2), HEADER_SIZE + 8 * (lo_m - 1), e):
        return -1
    for m in range(hi_m - lo_m + 2):
        t = load_le64(k.table + 8 * m)
        if t < F.data_offset or t > size or (m > 0 and t < load_le64(k.table + 8 * (m - 1))):
            return WK_FAIL(e, WK_ECORRUPT, "jump table entry %llu is %llu, outside [%llu, %llu] or decreasing",
                           lo_m + m - 1, t, F.data_offset, size)
    i = 0
    while i < n:
        s0 = load_le64(k.table + 8 * (ms[i] - lo_m))
        end = load_le64(k.table + 8 * (ms[i] - lo_m + 1))
        j = i
        while j + 1 < n:
            s = load_le64(k.table + 8 * (ms[j + 1] - lo_m))
            t = load_le64(k.table + 8 * (ms[j + 1] - lo_m + 1))
            if s - end > READ_GAP or t - s0 > READ_WINDOW:
                break
            end = t
            j += 1
        if end - s0 > cap:
            free(k.span)
            cap = end - s0
            k.span = <uint8_t*>malloc(cap + 1)
            if k.span == NULL:
                return WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu bytes", cap)
        if read_exact(fd, k.span, end - s0, s0, e):
            return -1
        while i <= j:
            m = ms[i]
            s = load_le64(k.table + 8 * (m - lo_m))
            t = load_le64(k.table + 8 * (m - lo_m + 1))
            morton_decode(m, &x, &y, &z)
            bx, by, bz = x, y, z
            if lz4_decompress_exact(k.span + (s - s0), t - s, k.blk, bb):
                return WK_FAIL(e, WK_ECORRUPT, "block %llu (%lld, %lld, %lld): LZ4 data of %llu bytes does not decode to %llu bytes",
                               m, bx, by, bz, t - s, bb)
            clip(bx * B, B, box, 0, &lx, &nx)
            clip(by * B, B, box, 1, &ly, &ny)
            clip(bz * B, B, box, 2, &lz, &nz)
            copy_region(k.blk, B, F.voxel_bytes, r, bx * B + lx - box[0], by * B + ly - box[1], bz * B + lz - box[2],
                        lx, ly, lz, nx, ny, nz, False)
            i += 1
    return 0

# ---- write ------------------------------------------------------------------------------

cdef int patch_block(uint8_t* blk, const layout* L, int64_t bx, int64_t by, int64_t bz, const int64_t* box,
                     const region* r, bint* full) noexcept nogil:
    """Copy the caller's voxels into block (bx, by, bz); returns 0 if the box misses it."""
    cdef int B = 1 << L.block_log2, lx, ly, lz, nx, ny, nz
    if not (clip(bx * B, B, box, 0, &lx, &nx) and clip(by * B, B, box, 1, &ly, &ny) and clip(bz * B, B, box, 2, &lz, &nz)):
        return 0
    full[0] = nx == B and ny == B and nz == B
    copy_region(blk, B, L.voxel_bytes, r, bx * B + lx - box[0], by * B + ly - box[1], bz * B + lz - box[2],
                lx, ly, lz, nx, ny, nz, True)
    return 1

cdef inline bint touches(int64_t bx, int64_t by, int64_t bz, int B, const int64_t* box, bint* full) noexcept nogil:
    cdef int lx, ly, lz, nx, ny, nz
    if not (clip(bx * B, B, box, 0, &lx, &nx) and clip(by * B, B, box, 1, &ly, &ny) and clip(bz * B, B, box, 2, &lz, &nz)):
        return False
    full[0] = nx == B and ny == B and nz == B
    return True

cdef inline bint covers_file(const layout* L, const int64_t* box) noexcept nogil:
    """Whether the box is the whole file (every block fully overwritten)."""
    cdef int64_t side = (<int64_t>1) << (L.block_log2 + L.file_log2)
    return box[0] == 0 and box[1] == 0 and box[2] == 0 and box[3] == side and box[4] == side and box[5] == side

cdef int classify_header(const uint8_t* h, uint64_t n, const layout* L, bint raw, layout* F, int* found,
                         wk_err* e) noexcept nogil:
    """May a file starting with these `n` bytes be replaced whole without reading it?

    Yes (found 0) if it is shorter than a header or does not start with 'WKW': it is not a
    WKW file at all (damaged, or cut to nothing). Yes (found 1, its header in F) if its
    header is one of the layer's kind (same geometry, raw or compressed as `raw` says):
    whatever follows the header (jump table, blocks, size) is not needed. No (-1) if the
    header says it is another kind of WKW file, which is refused as a partial write would.
    """
    found[0] = 0
    if n < HEADER_SIZE or h[0] != 0x57 or h[1] != 0x4B or h[2] != 0x57:
        return 0
    if parse_header(h, F, e) or same_geometry(F, L, e):
        return -1
    if raw and F.block_type != 1:
        return WK_FAIL(e, WK_EMISMATCH, "file is compressed (block type %d) but the layer's header says raw", F.block_type)
    if not raw and F.block_type == 1:
        return WK_FAIL(e, WK_EMISMATCH, "file is raw but the layer's header says compressed")
    found[0] = 1
    return 0

cdef int replaceable(const char* path, const layout* L, bint raw, layout* F, int* found, wk_err* e) noexcept nogil:
    """`classify_header` for the file at `path` (absent: found 0). Only its header is read
    (through a link, if it is one: the link is then replaced, never written through)."""
    cdef uint8_t h[HEADER_SIZE]
    cdef Py_ssize_t n = 0, r
    cdef int fd = c_open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    found[0] = 0
    if fd < 0:
        if errno == ENOENT:
            return 0
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot open")
    while n < HEADER_SIZE:
        r = pread(fd, h + n, HEADER_SIZE - n, n)
        if r < 0:
            e.errnum = errno
            close(fd)
            return WK_FAIL(e, WK_EIO, "read failed")
        if r == 0:
            break
        n += r
    close(fd)
    return classify_header(h, <uint64_t>n, L, raw, F, found, e)

# ---- undo journal -------------------------------------------------------------------------
# Before a raw file is patched in place, the old contents of every block the write touches
# are saved to `<file>.journal`:
#
#   header   32 bytes  "WKWJ", version 2, 3 zero bytes, u64 block bytes, u64 data offset,
#                      u64 blocks in the file (all little-endian)
#   records            u64 Morton index of the block, then its old bytes; as many as touched
#   trailer  24 bytes  "WKWJDONE", u64 length of the whole journal, u32 checksum, u32 zero
#
# The checksum chains CRC-32C over every byte: c = crc32c(header); per record
# c = crc32c(le32 c || le64 index || le32 crc32c(block)); finally
# checksum = crc32c(le32 c || "WKWJDONE" || le64 length). The trailer is written last,
# before the file is touched, so only a journal whose trailer, length and checksum all
# agree may have a patch behind it. (Nothing is synced on this path: the guarantee is
# against killed processes, whose writes the page cache keeps; not against power loss.) `recover` is the one
# place that judges a journal: a valid one is applied (restoring the old blocks), then
# deleted; anything else (short, wrong magic, length or checksum, not matching the file)
# was cut short before the file was touched, and is deleted unapplied.

cdef inline uint32_t chain_record(uint32_t c, uint64_t m, const uint8_t* blk, uint64_t bb) noexcept nogil:
    cdef uint8_t t[16]
    store_le32(t, c)
    store_le64(t + 4, m)
    store_le32(t + 12, crc32c(blk, bb))
    return crc32c(t, 16)

cdef inline uint32_t chain_seal(uint32_t c, uint64_t total) noexcept nogil:
    cdef uint8_t t[20]
    store_le32(t, c)
    memcpy(t + 4, b"WKWJDONE", 8)
    store_le64(t + 12, total)
    return crc32c(t, 20)

cdef void journal_head(const layout* F, uint8_t* h) noexcept nogil:
    memset(h, 0, JOURNAL_HEAD)
    memcpy(h, b"WKWJ", 4)
    h[4] = 2
    store_le64(h + 8, block_bytes(F))
    store_le64(h + 16, F.data_offset)
    store_le64(h + 24, n_blocks(F))

cdef int write_journal(int fd, const char* journal, const layout* F, const int64_t* box, uint8_t* blk,
                       wk_err* e) noexcept nogil:
    """Save the old contents of every block the box touches, seal and sync the journal."""
    cdef uint64_t bb = block_bytes(F), m, pos = JOURNAL_HEAD
    cdef int64_t bx, by, bz
    cdef uint8_t head[JOURNAL_HEAD]
    cdef uint8_t tail[JOURNAL_TAIL]
    cdef uint8_t rec[8]
    cdef uint32_t c
    cdef int g = F.block_log2, rc = 0
    cdef int jfd = create_new(journal, O_WRONLY)
    if jfd < 0:
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot create the undo journal")
    journal_head(F, head)
    c = crc32c(head, JOURNAL_HEAD)
    rc = write_all(jfd, head, JOURNAL_HEAD, 0, e)
    for bz in range(box[2] >> g, ((box[5] - 1) >> g) + 1):
        for by in range(box[1] >> g, ((box[4] - 1) >> g) + 1):
            for bx in range(box[0] >> g, ((box[3] - 1) >> g) + 1):
                if rc:
                    break
                m = morton_encode(bx, by, bz)
                store_le64(rec, m)
                rc = read_exact(fd, blk, bb, F.data_offset + m * bb, e) or write_all(jfd, rec, 8, pos, e) \
                    or write_all(jfd, blk, bb, pos + 8, e)
                c = chain_record(c, m, blk, bb)
                pos += 8 + bb
    if not rc:
        memset(tail, 0, JOURNAL_TAIL)
        memcpy(tail, b"WKWJDONE", 8)
        store_le64(tail + 8, pos + JOURNAL_TAIL)
        store_le32(tail + 16, chain_seal(c, pos + JOURNAL_TAIL))
        rc = write_all(jfd, tail, JOURNAL_TAIL, pos, e)
    if close(jfd) != 0 and not rc:
        e.errnum = errno
        rc = WK_FAIL(e, WK_EIO, "cannot close the undo journal")
    if rc:
        unlink(journal)    # the file is untouched
    return rc

cdef int check_journal(int jfd, const char* path, layout* F, uint64_t* size, int* fd, uint8_t** blk,
                       wk_err* e) noexcept nogil:
    """1 if the open journal (of `size` bytes) is complete and fits the raw file at `path`,
    which is then open for patching in fd, with a block buffer in blk; 0 if the journal is
    to be discarded; -1 on error."""
    cdef struct_stat st
    cdef uint8_t head[JOURNAL_HEAD]
    cdef uint8_t tail[JOURNAL_TAIL]
    cdef uint8_t want[JOURNAL_HEAD]
    cdef uint8_t rec[8]
    cdef uint64_t bb, fsize, pos, m, n
    cdef uint32_t c
    if fstat(jfd, &st) != 0:
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot stat the undo journal")
    if not S_ISREG(st.st_mode):
        return 0
    n = size[0] = <uint64_t>st.st_size
    if n < JOURNAL_HEAD + JOURNAL_TAIL:
        return 0
    if read_exact(jfd, head, JOURNAL_HEAD, 0, e) or read_exact(jfd, tail, JOURNAL_TAIL, n - JOURNAL_TAIL, e):
        return -1
    bb = load_le64(head + 8)
    if memcmp(head, b"WKWJ\x02", 5) != 0 or memcmp(tail, b"WKWJDONE", 8) != 0 or load_le64(tail + 8) != n \
            or load_le32(tail + 20) != 0 \
            or bb == 0 or bb > n or (n - JOURNAL_HEAD - JOURNAL_TAIL) % (8 + bb) != 0:
        return 0
    fd[0] = open_existing(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, F, &fsize, e)
    if fd[0] == -2:
        return 0                        # no file: nothing was patched
    if fd[0] == -1:
        if e.code == WK_ECORRUPT or e.errnum == ELOOP:
            return 0                    # not a raw file that this journal could have patched
        return -1
    journal_head(F, want)
    if F.block_type != 1 or memcmp(head, want, JOURNAL_HEAD) != 0:
        return 0
    blk[0] = <uint8_t*>malloc(bb)
    if blk[0] == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate a block of %llu bytes", bb)
    c = crc32c(head, JOURNAL_HEAD)
    pos = JOURNAL_HEAD
    while pos < n - JOURNAL_TAIL:
        if read_exact(jfd, rec, 8, pos, e) or read_exact(jfd, blk[0], bb, pos + 8, e):
            return -1
        m = load_le64(rec)
        if m >= n_blocks(F):
            return 0
        c = chain_record(c, m, blk[0], bb)
        pos += 8 + bb
    return 1 if chain_seal(c, n) == load_le32(tail + 16) else 0

cdef int recover(const char* path, const char* journal, wk_err* e) noexcept nogil:
    """Settle the journal of the raw file at `path` (the caller holds the file's lock):
    0 if there is none, 1 if it was incomplete (deleted unapplied), 2 if it was rolled back
    (the old blocks restored and synced, then the journal deleted), -1 on error."""
    cdef layout F
    cdef int jfd, fd = -1, verdict, rc = 0
    cdef uint8_t* blk = NULL
    cdef uint8_t rec[8]
    cdef uint64_t size = 0, bb, pos
    jfd = c_open(journal, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    if jfd < 0:
        if errno == ENOENT:
            return 0
        if errno != ELOOP:
            e.errnum = errno
            return WK_FAIL(e, WK_EIO, "cannot open the undo journal")
        verdict = 0                     # a link planted at the journal's name
    else:
        verdict = check_journal(jfd, path, &F, &size, &fd, &blk, e)
    if verdict == 0:
        verdict = 1                     # discarded
    elif verdict == 1:
        bb = block_bytes(&F)
        pos = JOURNAL_HEAD
        while rc == 0 and pos < size - JOURNAL_TAIL:
            rc = read_exact(jfd, rec, 8, pos, e) or read_exact(jfd, blk, bb, pos + 8, e) \
                or write_all(fd, blk, bb, F.data_offset + load_le64(rec) * bb, e)
            pos += 8 + bb
        if rc == 0 and fdatasync(fd) != 0:
            e.errnum = errno
            rc = WK_FAIL(e, WK_EIO, "cannot sync the rolled-back file")
        verdict = -1 if rc else 2
    free(blk)
    if fd >= 0:
        close(fd)
    if jfd >= 0:
        close(jfd)
    if verdict >= 1 and unlink(journal) != 0 and errno != ENOENT:
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot remove the undo journal")
    return verdict

cdef int patch_blocks(int fd, const layout* F, const layout* L, const int64_t* box, const region* r, uint8_t* blk,
                      wk_err* e) noexcept nogil:
    """Write the box's voxels into the blocks of the open raw file (read-modify-write for
    blocks the box covers only in part)."""
    cdef uint64_t bb = block_bytes(L), m
    cdef int B = 1 << L.block_log2, g = L.block_log2
    cdef int64_t bx, by, bz
    cdef bint full
    for bz in range(box[2] >> g, ((box[5] - 1) >> g) + 1):
        for by in range(box[1] >> g, ((box[4] - 1) >> g) + 1):
            for bx in range(box[0] >> g, ((box[3] - 1) >> g) + 1):
                m = morton_encode(bx, by, bz)
                touches(bx, by, bz, B, box, &full)
                if not full and read_exact(fd, blk, bb, F.data_offset + m * bb, e):
                    return -1
                patch_block(blk, L, bx, by, bz, box, r, &full)
                if write_all(fd, blk, bb, F.data_offset + m * bb, e):
                    return -1
    return 0

cdef int write_new_raw(const char* path, const char* tmp, layout* L, const int64_t* box, const region* r,
                       uint8_t* blk, wk_err* e) noexcept nogil:
    """Build a full-size (sparse, zeroed) raw file with the box written into it under the
    temporary name, then rename it over `path`: a crash leaves the old file or none."""
    cdef uint8_t h[HEADER_SIZE]
    cdef int fd, rc
    L.data_offset = HEADER_SIZE
    build_header(L, h)
    fd = create_new(tmp, O_RDWR)
    if fd < 0:
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot create the temporary file")
    rc = write_all(fd, h, HEADER_SIZE, 0, e)
    if rc == 0 and ftruncate(fd, HEADER_SIZE + n_blocks(L) * block_bytes(L)) != 0:
        e.errnum = errno
        rc = WK_FAIL(e, WK_EIO, "cannot size the temporary file")
    if rc == 0:
        rc = patch_blocks(fd, L, L, box, r, blk, e)
    return publish_new(fd, tmp, path, rc, e)

cdef int write_raw(const char* path, const char* tmp, const char* journal, layout* L, const int64_t* box,
                   const region* r, wk_err* e) noexcept nogil:
    """Write a box into a raw file. A missing file, and any file the box covers whole, is
    built anew beside it and renamed into place. Otherwise the file is patched in place,
    after an undo journal (when `journal` is not empty) is complete on disk; a journal
    left by a killed writer is settled first (see `recover`)."""
    cdef layout F
    cdef uint64_t size, bb = block_bytes(L)
    cdef int fd = -2, rc = 0, found
    cdef uint8_t* blk
    if journal[0] != 0 and recover(path, journal, e) < 0:
        return -1
    if covers_file(L, box):
        if replaceable(path, L, True, &F, &found, e):
            return -1
    else:
        fd = open_existing(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC, &F, &size, e)
        if fd == -1:
            return -1
        if fd >= 0 and same_geometry(&F, L, e):
            close(fd)
            return -1
        if fd >= 0 and F.block_type != 1:
            close(fd)
            return WK_FAIL(e, WK_EMISMATCH, "file is compressed (block type %d) but the layer's header says raw",
                           F.block_type)
    blk = <uint8_t*>malloc(bb)
    if blk == NULL:
        if fd >= 0:
            close(fd)
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate a block of %llu bytes", bb)
    if fd < 0:
        rc = write_new_raw(path, tmp, L, box, r, blk, e)
    else:
        if journal[0] != 0:
            rc = write_journal(fd, journal, &F, box, blk, e)
        if rc == 0:
            rc = patch_blocks(fd, &F, L, box, r, blk, e)
        if rc == 0 and journal[0] != 0:
            unlink(journal)
        # on a failure after the journal was sealed, it stays: the next access rolls back
        close(fd)
    free(blk)
    return rc

cdef struct growbuf:
    uint8_t* data
    uint64_t len
    uint64_t cap

cdef int reserve(growbuf* g, uint64_t extra, wk_err* e) noexcept nogil:
    cdef uint64_t cap = g.cap if g.cap else (64 << 20)
    cdef uint8_t* p
    if g.len + extra <= g.cap:
        return 0
    while cap < g.len + extra:
        cap *= 2
    p = <uint8_t*>realloc(g.data, cap)
    if p == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu bytes for encoded blocks", cap)
    g.data = p
    g.cap = cap
    return 0

cdef int check_old(const uint8_t* old, uint64_t size, const layout* L, layout* F, wk_err* e) noexcept nogil:
    """The old file's bytes agree with themselves and with the layer's layout."""
    if size < HEADER_SIZE:
        return WK_FAIL(e, WK_ECORRUPT, "file of %llu bytes is shorter than the 16-byte header", size)
    if parse_header(old, F, e) or check_sizes(F, size, e) or same_geometry(F, L, e):
        return -1
    if F.block_type == 1:
        return WK_FAIL(e, WK_EMISMATCH, "file is raw but the layer's header says compressed")
    return 0

cdef int old_block(const uint8_t* old, uint64_t size, const layout* L, uint64_t m, uint64_t* s, uint64_t* t, wk_err* e) noexcept nogil:
    """Byte range [s, t) of block m in the old file's bytes, checked."""
    s[0] = L.data_offset if m == 0 else load_le64(old + HEADER_SIZE + 8 * (m - 1))
    t[0] = load_le64(old + HEADER_SIZE + 8 * m)
    if t[0] < s[0] or t[0] > size or s[0] < L.data_offset:
        return WK_FAIL(e, WK_ECORRUPT, "jump table entry %llu is %llu, outside [%llu, %llu]", m, t[0], s[0], size)
    return 0

cdef int encode_blocks(const uint8_t* old, uint64_t size, const layout* L, uint64_t m_lo, uint64_t m_hi,
                       const int64_t* box, const region* r, growbuf* out, uint64_t* ends, wk_err* e) noexcept nogil:
    """Append blocks m_lo..m_hi-1 of the new file to `out`: blocks the box touches are
    (decoded,) patched and re-encoded, the others copied as they are (or the encoded zero
    block for a new file); ends[i] is the end of block m_lo+i within `out`."""
    cdef uint64_t bb = block_bytes(L), m, s = 0, t = 0, cap = lz4_bound(bb), x, y, z
    cdef int B = 1 << L.block_log2, hc = LZ4HC_LEVEL if L.block_type == 3 else 0, rc = 0
    cdef Py_ssize_t clen, zero_len = -1
    cdef bint full
    cdef uint8_t* blk = <uint8_t*>malloc(bb)
    cdef uint8_t* zero = NULL
    cdef layout D = L[0]
    D.data_offset = HEADER_SIZE + 8 * n_blocks(L)
    if blk == NULL or cap == 0:
        free(blk)
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate a block of %llu bytes", bb)
    for m in range(m_lo, m_hi):
        morton_decode(m, &x, &y, &z)
        if old != NULL and old_block(old, size, &D, m, &s, &t, e):
            rc = -1
            break
        if touches(x, y, z, B, box, &full):
            if full:
                pass
            elif old != NULL:
                if lz4_decompress_exact(old + s, t - s, blk, bb):
                    rc = WK_FAIL(e, WK_ECORRUPT, "block %llu: LZ4 data of %llu bytes does not decode to %llu bytes",
                                 m, t - s, bb)
                    break
            else:
                memset(blk, 0, bb)
            patch_block(blk, L, x, y, z, box, r, &full)
            if reserve(out, cap, e):
                rc = -1
                break
            clen = lz4_compress(blk, bb, out.data + out.len, cap, hc)
            if clen < 0:
                rc = WK_FAIL(e, WK_ENOMEM, "LZ4 compression of block %llu failed", m)
                break
        elif old != NULL:
            clen = <Py_ssize_t>(t - s)
            if reserve(out, clen, e):
                rc = -1
                break
            memcpy(out.data + out.len, old + s, clen)
        else:
            if zero_len < 0:
                zero = <uint8_t*>malloc(cap)
                if zero == NULL:
                    rc = WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu bytes", cap)
                    break
                memset(blk, 0, bb)
                zero_len = lz4_compress(blk, bb, zero, cap, hc)
            clen = zero_len
            if reserve(out, clen, e):
                rc = -1
                break
            memcpy(out.data + out.len, zero, clen)
        out.len += clen
        ends[m - m_lo] = out.len
    free(blk)
    free(zero)
    return rc

cdef int assemble_file(const char* path, const char* tmp, const layout* L, Py_ssize_t n_parts,
                       const uint8_t** blobs, const uint64_t* lens, const uint64_t** ends,
                       const uint64_t* counts, wk_err* e) noexcept nogil:
    """Write header, jump table and the encoded parts to `tmp`, then rename it to `path`."""
    cdef uint64_t N = n_blocks(L), data_offset = HEADER_SIZE + 8 * N, base = data_offset, m = 0, i, j
    cdef uint8_t* head = <uint8_t*>malloc(data_offset)
    cdef layout H = L[0]
    cdef int fd, rc = 0
    if head == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate the jump table")
    H.data_offset = data_offset
    build_header(&H, head)
    for i in range(<uint64_t>n_parts):
        for j in range(counts[i]):
            store_le64(head + HEADER_SIZE + 8 * m, base + ends[i][j])
            m += 1
        base += lens[i]
    if m != N:
        free(head)
        return WK_FAIL(e, WK_EMISMATCH, "encoded parts hold %llu blocks, the file needs %llu", m, N)
    fd = create_new(tmp, O_WRONLY)
    if fd < 0:
        free(head)
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot create the temporary file")
    rc = write_all(fd, head, data_offset, 0, e)
    base = data_offset
    for i in range(<uint64_t>n_parts):
        if rc:
            break
        rc = write_all(fd, blobs[i], lens[i], base, e)
        base += lens[i]
    free(head)
    return publish_new(fd, tmp, path, rc, e)

cdef int write_compressed(const char* path, const char* tmp, layout* L, const int64_t* box, const region* r,
                          wk_err* e) noexcept nogil:
    """Rebuild a compressed file (see `encode_blocks`) and publish it atomically. A box
    covering the whole file needs nothing of the old one but its header's block type."""
    cdef layout F
    cdef uint64_t size = 0, N = n_blocks(L)
    cdef int fd = -2, rc = 0, found
    cdef uint8_t* old = NULL
    cdef growbuf g
    cdef uint64_t* ends
    cdef const uint8_t* blob
    cdef const uint64_t* cends
    g.data = NULL; g.len = 0; g.cap = 0
    if covers_file(L, box):
        if replaceable(path, L, False, &F, &found, e):
            return -1
        if found:
            L.block_type = F.block_type
    else:
        fd = open_existing(path, O_RDONLY | O_CLOEXEC, &F, &size, e)
    if fd == -1:
        return -1
    if fd >= 0:
        old = <uint8_t*>malloc(size)
        if old == NULL:
            rc = WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu bytes", size)
        else:
            rc = read_exact(fd, old, size, 0, e) or check_old(old, size, L, &F, e)
        close(fd)
        L.block_type = F.block_type
    ends = <uint64_t*>malloc(8 * N)
    if rc == 0 and ends == NULL:
        rc = WK_FAIL(e, WK_ENOMEM, "cannot allocate the jump table")
    if rc == 0:
        rc = encode_blocks(old, size, L, 0, N, box, r, &g, ends, e)
    if rc == 0:
        blob = g.data
        cends = ends
        rc = assemble_file(path, tmp, L, 1, &blob, &g.len, &cends, &N, e)
    free(old); free(ends); free(g.data)
    return rc

# ---- Python entry points ----------------------------------------------------------------

cdef int fill_region(region* r, Py_buffer* v, tuple offset, int voxel_type, int voxel_bytes, tuple extent) except -1:
    cdef int i
    cdef Py_ssize_t ox, oy, oz
    if v.ndim != 4:
        raise ValueError(f"array must be 4-D (c, x, y, z), got {v.ndim}-D")
    r.ts = TYPE_BYTES[voxel_type]
    if v.itemsize != r.ts:
        raise ValueError(f"array items are {v.itemsize} bytes, the file's voxel type has {r.ts}")
    check_plain_items(v)
    r.nc = voxel_bytes // r.ts
    if v.shape[0] != r.nc:
        raise ValueError(f"array has {v.shape[0]} channels, the file has {r.nc}")
    for i in range(3):
        if offset[i] < 0 or offset[i] + extent[i] > v.shape[i + 1]:
            raise ValueError(f"box of extent {extent} at {offset} does not fit an array of shape "
                             f"{tuple(v.shape[k] for k in range(4))}")
    r.sc = v.strides[0]; r.sx = v.strides[1]; r.sy = v.strides[2]; r.sz = v.strides[3]
    ox = offset[0]; oy = offset[1]; oz = offset[2]
    r.ptr = <uint8_t*>v.buf + ox * r.sx + oy * r.sy + oz * r.sz
    return 0

cdef int check_box(const layout* L, tuple box, int64_t* b) except -1:
    cdef int i
    cdef int64_t side = (<int64_t>1) << (L.block_log2 + L.file_log2)
    if len(box) != 6:
        raise ValueError("box must be (x0, y0, z0, x1, y1, z1)")
    for i in range(6):
        b[i] = box[i]
    for i in range(3):
        if not (0 <= b[i] < b[i + 3] <= side):
            raise ValueError(f"box {box} is empty or not inside the file's [0, {side}) cube")
    return 0

cdef int check_layout(layout* L, int block_log2, int file_log2, int block_type, int voxel_type, int voxel_bytes) except -1:
    cdef uint8_t h[HEADER_SIZE]
    cdef wk_err e
    L.block_log2 = block_log2; L.file_log2 = file_log2; L.block_type = block_type
    L.voxel_type = voxel_type; L.voxel_bytes = voxel_bytes; L.data_offset = 0
    if not (0 <= block_log2 <= 15 and 0 <= file_log2 <= 15 and 0 <= voxel_bytes <= 255):
        raise ValueError("layout field out of range")
    build_header(L, h)
    e.code = 0
    if parse_header(h, L, &e):
        raise ValueError(e.msg.decode())
    return 0


def read(path, tuple layout_, tuple box, out, tuple out_offset, int fd=-1) -> bool:
    """Read `box` (file voxel coordinates) of one WKW file into `out[:, ox:, oy:, oz:]`.

    `layout_` is (block_log2, file_log2, voxel_type, voxel_bytes) as header.wkw says.
    With `fd` >= 0 the already open file is read (so that several readers of one file
    see the same version of it) and `path` only names it in errors.
    Returns False, leaving `out` untouched, if the file does not exist.
    """
    cdef layout L
    cdef int64_t b[6]
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int found = 0, rc
    cdef bytes p = path.encode() if isinstance(path, str) else bytes(path)
    cdef const char* cp = p
    check_layout(&L, layout_[0], layout_[1], 1, layout_[2], layout_[3])
    check_box(&L, box, b)
    PyObject_GetBuffer(out, &v, PyBUF_STRIDES | PyBUF_WRITABLE | PyBUF_FORMAT)
    try:
        fill_region(&r, &v, out_offset, L.voxel_type, L.voxel_bytes, (b[3] - b[0], b[4] - b[1], b[5] - b[2]))
        e.code = 0; e.errnum = 0
        with nogil:
            rc = read_box(cp, fd, &L, b, &r, &found, &e)
    finally:
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
    return bool(found)


def write(path, tmp_path, tuple layout_, tuple box, data, tuple data_offset, journal_path="") -> None:
    """Write `data[:, dx:, dy:, dz:]` into `box` of one WKW file, creating it if needed.

    `layout_` is (block_log2, file_log2, block_type, voxel_type, voxel_bytes); an existing
    file keeps its own block type. Compressed files are rebuilt in `tmp_path` (same
    folder) and renamed over `path`. Raw files are patched in place, after saving the old
    blocks to `journal_path` (if given; a journal already there is settled first, see
    `roll_back`), which is removed once the patch is complete; a missing raw file is
    built in `tmp_path` and renamed into place.

    A box covering the whole file replaces it without reading it: a damaged file (cut
    short, garbage after its header, not a WKW file at all) is overwritten. Only a file
    whose header says it is another kind of WKW file (other geometry, raw vs compressed,
    unknown block type) is refused, as by any write. A partial write into a damaged file
    raises CorruptFileError. Temporary files and journals are created with O_EXCL and
    O_NOFOLLOW; a raw file is patched only if it is not a symbolic link (else OSError
    ELOOP).
    """
    cdef layout L
    cdef int64_t b[6]
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc
    cdef bytes p = path.encode() if isinstance(path, str) else bytes(path)
    cdef bytes tp = tmp_path.encode() if isinstance(tmp_path, str) else bytes(tmp_path)
    cdef bytes jp = journal_path.encode() if isinstance(journal_path, str) else bytes(journal_path)
    cdef const char* cp = p
    cdef const char* ctp = tp
    cdef const char* cjp = jp
    check_layout(&L, layout_[0], layout_[1], layout_[2], layout_[3], layout_[4])
    check_box(&L, box, b)
    PyObject_GetBuffer(data, &v, PyBUF_STRIDES | PyBUF_FORMAT)
    try:
        fill_region(&r, &v, data_offset, L.voxel_type, L.voxel_bytes, (b[3] - b[0], b[4] - b[1], b[5] - b[2]))
        e.code = 0; e.errnum = 0
        with nogil:
            if L.block_type == 1:
                rc = write_raw(cp, ctp, cjp, &L, b, &r, &e)
            else:
                rc = write_compressed(cp, ctp, &L, b, &r, &e)
    finally:
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)


def roll_back(path, journal_path) -> int:
    """Settle the undo journal `journal_path` of the raw file `path` left by a killed writer.

    The caller must hold the file's lock exclusively. A complete journal (trailer, length
    and checksum agree, and it fits the file) is applied, restoring the blocks it saved,
    and then deleted: 2. Any other journal (cut short while being written, damaged, a link,
    or not matching the file) never had a patch behind it and is deleted unapplied: 1.
    No journal: 0.
    """
    cdef wk_err e
    cdef int rc
    cdef bytes p = path.encode() if isinstance(path, str) else bytes(path)
    cdef bytes jp = journal_path.encode() if isinstance(journal_path, str) else bytes(journal_path)
    cdef const char* cp = p
    cdef const char* cjp = jp
    e.code = 0; e.errnum = 0
    with nogil:
        rc = recover(cp, cjp, &e)
    if rc < 0:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
    return rc


def write_journal_for(path, journal_path, tuple layout_, tuple box) -> None:
    """Write the undo journal that a patch of `box` into the raw file `path` would write
    first, without patching (to test and inspect crash recovery; see `roll_back`)."""
    cdef layout L, F
    cdef int64_t b[6]
    cdef wk_err e
    cdef uint64_t size
    cdef int rc, fd
    cdef uint8_t* blk
    cdef bytes p = path.encode() if isinstance(path, str) else bytes(path)
    cdef bytes jp = journal_path.encode() if isinstance(journal_path, str) else bytes(journal_path)
    cdef const char* cp = p
    cdef const char* cjp = jp
    check_layout(&L, layout_[0], layout_[1], 1, layout_[2], layout_[3])
    check_box(&L, box, b)
    e.code = 0; e.errnum = 0
    with nogil:
        fd = open_existing(cp, O_RDONLY | O_CLOEXEC, &F, &size, &e)
        if fd == -2:
            rc = WK_FAIL(&e, WK_EIO, "no such file")
            e.errnum = ENOENT
        elif fd < 0:
            rc = -1
        else:
            rc = same_geometry(&F, &L, &e)
            if rc == 0 and F.block_type != 1:
                rc = WK_FAIL(&e, WK_EMISMATCH, "file is not raw")
            blk = <uint8_t*>malloc(block_bytes(&F)) if rc == 0 else NULL
            if rc == 0 and blk == NULL:
                rc = WK_FAIL(&e, WK_ENOMEM, "cannot allocate a block")
            if rc == 0:
                rc = write_journal(fd, cjp, &F, b, blk, &e)
            free(blk)
            close(fd)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)


def encode_range(old, tuple layout_, tuple box, data, tuple data_offset, unsigned long long m_lo,
                 unsigned long long m_hi, path="<file>") -> tuple:
    """Encode blocks m_lo..m_hi-1 of a new compressed file (see `assemble`).

    `old` is the whole old file (bytes) or None for a new file; `layout_` as for `write`
    (an old file's own block type wins). If the box covers the whole file only the first
    16 bytes of `old` are looked at (see `write`), so a damaged old file is replaced. Returns (encoded bytes, block ends as bytes of
    little-endian u64, relative to the start of the encoded bytes).
    """
    cdef layout L, F
    cdef int64_t b[6]
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc = 0, found = 0
    cdef growbuf g
    cdef const uint8_t[::1] o = old if old is not None else None
    cdef const uint8_t* op = &o[0] if old is not None and len(old) > 0 else NULL
    cdef uint64_t osize = len(old) if old is not None else 0
    check_layout(&L, layout_[0], layout_[1], layout_[2], layout_[3], layout_[4])
    check_box(&L, box, b)
    if L.block_type == 1 or m_lo > m_hi or m_hi > n_blocks(&L):
        raise ValueError(f"blocks [{m_lo}, {m_hi}) of a compressed file of {n_blocks(&L)} blocks")
    ends = bytearray(8 * (m_hi - m_lo))
    cdef uint8_t[::1] ev = ends
    cdef uint64_t* ep = <uint64_t*>&ev[0] if m_hi > m_lo else NULL
    g.data = NULL; g.len = 0; g.cap = 0
    e.code = 0; e.errnum = 0
    if old is not None and covers_file(&L, b):
        # every block is replaced: only the old header's kind matters (see classify_header)
        with nogil:
            rc = classify_header(op, osize, &L, False, &F, &found, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
        if found:
            L.block_type = F.block_type
        op = NULL
        osize = 0
    elif old is not None:
        if op == NULL:
            raise_for(WK_ECORRUPT, 0, "file is empty", path)
        with nogil:
            rc = check_old(op, osize, &L, &F, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
        L.block_type = F.block_type
    PyObject_GetBuffer(data, &v, PyBUF_STRIDES | PyBUF_FORMAT)
    try:
        fill_region(&r, &v, data_offset, L.voxel_type, L.voxel_bytes, (b[3] - b[0], b[4] - b[1], b[5] - b[2]))
        with nogil:
            rc = encode_blocks(op, osize, &L, m_lo, m_hi, b, &r, &g, ep, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
        return (g.data[:g.len] if g.len else b""), bytes(ends)
    finally:
        PyBuffer_Release(&v)
        free(g.data)


def assemble(path, tmp_path, tuple layout_, list parts) -> None:
    """Write a compressed file from the `(encoded, ends)` parts of `encode_range`, in
    order, to `tmp_path`, then rename it over `path`."""
    cdef layout L
    cdef wk_err e
    cdef int rc
    cdef Py_ssize_t n = len(parts), i
    cdef bytes p = path.encode() if isinstance(path, str) else bytes(path)
    cdef bytes tp = tmp_path.encode() if isinstance(tmp_path, str) else bytes(tmp_path)
    cdef const char* cp = p
    cdef const char* ctp = tp
    check_layout(&L, layout_[0], layout_[1], layout_[2], layout_[3], layout_[4])
    blobs = <const uint8_t**>malloc(sizeof(uint8_t*) * (n + 1))
    ends = <const uint64_t**>malloc(sizeof(uint64_t*) * (n + 1))
    lens = <uint64_t*>malloc(8 * (n + 1))
    counts = <uint64_t*>malloc(8 * (n + 1))
    keep = []
    try:
        if blobs == NULL or ends == NULL or lens == NULL or counts == NULL:
            raise MemoryError()
        for i in range(n):
            blob, end = parts[i]
            blob, end = bytes(blob), bytes(end)
            keep.append((blob, end))
            if len(end) % 8 or (len(end) and int.from_bytes(end[len(end) - 8:], "little") != len(blob)):
                raise ValueError(f"part {i} is not the output of encode_range")
            blobs[i] = <const uint8_t*><const char*>keep[i][0]
            ends[i] = <const uint64_t*><const char*>keep[i][1]
            lens[i] = len(blob)
            counts[i] = len(end) // 8
        e.code = 0; e.errnum = 0
        with nogil:
            rc = assemble_file(cp, ctp, &L, n, blobs, lens, ends, counts, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
    finally:
        free(blobs); free(ends); free(lens); free(counts)


def parse_header_bytes(data, path="<bytes>") -> tuple:
    """(block_log2, file_log2, block_type, voxel_type, voxel_bytes, data_offset) of a header."""
    cdef layout L
    cdef wk_err e
    cdef bytes head = bytes(data[:HEADER_SIZE])     # len() of an array counts rows: check the bytes
    if len(head) < HEADER_SIZE:
        raise_for(WK_ECORRUPT, 0, f"header is {len(head)} bytes, needs 16", path)
    cdef const uint8_t[::1] d = head
    e.code = 0
    if parse_header(&d[0], &L, &e):
        raise_for(e.code, 0, e.msg.decode(errors="replace"), path)
    return (L.block_log2, L.file_log2, L.block_type, L.voxel_type, L.voxel_bytes, L.data_offset)


def header_bytes(int block_log2, int file_log2, int block_type, int voxel_type, int voxel_bytes,
                 unsigned long long data_offset=0) -> bytes:
    """The 16 header bytes for a layout (data offset 0 is what header.wkw holds)."""
    cdef layout L
    cdef uint8_t h[HEADER_SIZE]
    check_layout(&L, block_log2, file_log2, block_type, voxel_type, voxel_bytes)
    L.data_offset = data_offset
    build_header(&L, h)
    return bytes(h[:HEADER_SIZE])
