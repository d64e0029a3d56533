# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""WKW files over buffers: header and jump-table checks, box decoding and encoding, the
undo journal of raw files.

A WKW file is a cube of file_len³ blocks of block_len³ voxels, blocks in Morton order,
voxels in Fortran order with channels interleaved (see FORMATS.md). Nothing here opens,
reads or writes a file: the caller (the façade's store) fetches bytes and stores the
results. Every entry point does its (de)compression and copies with the GIL released, so
Python threads working on different files run in parallel; nothing keeps state between
calls.

A read is: the file's first 16 bytes -> `table_range` (checks the header against the
layer and the file's size; the jump-table bytes the box needs, none for raw files) ->
`plan` (the rows (block, offset, nbytes) the box touches, checked, in file order) -> the
caller fetches their bytes as spans (`_spans.pxd`), in batches if it likes -> `decode`.

A compressed file is rewritten whole: `encode_range` encodes a range of blocks of the new
file from the old file's bytes (several ranges on several threads) and `assemble` gives
the header and jump table that go before them. A raw file is patched in place:
`patch_raw` makes the new contents of the touched blocks (from their old bytes where the
box covers them in part), after the caller saved the old blocks in an undo journal
(`journal_head`, `journal_records`, `journal_tail`; judged by `JournalCheck`, see "undo
journal"). A new raw file, or one the box covers whole, is built from `patch_raw`'s blocks
and published at once.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free, realloc
from libc.string cimport memcpy, memcmp, memset
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_STRIDES, PyBUF_WRITABLE, PyBUF_FORMAT, \
    PyBUF_SIMPLE

from wkcore._util cimport (wk_err, WK_FAIL, wk_alloc_big, WK_OK, WK_ECORRUPT, WK_ENOMEM, WK_EMISMATCH, WK_EARG,
                           load_le64, store_le64, load_le32, store_le32, check_plain_items)
from wkcore._morton cimport morton_encode, morton_decode
from wkcore._copy cimport copy_nd
from wkcore._codecs cimport lz4_bound, lz4_compress, lz4_decompress_exact, lz4_literals, crc32c
from wkcore._spans cimport spanset, take_spans, drop_spans, find_span, take_rows, wk_sort_rows
from wkcore._raise import raise_for

import numpy as np


DEF HEADER_SIZE = 16
DEF LZ4HC_LEVEL = 9
DEF MAX_SIDE_LOG2 = 21       # file side of at most 2**21 voxels
DEF MAX_BLOCK_LOG2 = 10
DEF LZ4_MAX_RATIO = 255      # an LZ4 block expands at most ~255x
DEF JOURNAL_HEAD = 32
DEF JOURNAL_TAIL = 24
DEF RESERVE_LIMIT = 1 << 28      # bytes reserved at once for the encoded blocks of one `encode_range`

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

# ---- region <-> block copies ------------------------------------------------------------

cdef void copy_region(uint8_t* blk, int B, int vs, const region* r, Py_ssize_t ax, Py_ssize_t ay, Py_ssize_t az,
                      int lx, int ly, int lz, int nx, int ny, int nz, bint to_block) noexcept nogil:
    """Copy the nx×ny×nz voxels at (lx, ly, lz) of a block from/to the caller's array at (ax, ay, az)."""
    cdef Py_ssize_t bs[4]
    cdef Py_ssize_t rs[4]
    cdef int64_t n[4]
    cdef uint8_t* b = blk + (<size_t>lx + <size_t>ly * B + <size_t>lz * B * B) * vs
    cdef uint8_t* a = r.ptr + ax * r.sx + ay * r.sy + az * r.sz
    # a block is a (c, x, y, z) chunk in Fortran order with channels interleaved
    bs[0] = r.ts; bs[1] = vs; bs[2] = <Py_ssize_t>B * vs; bs[3] = <Py_ssize_t>B * B * vs
    rs[0] = r.sc; rs[1] = r.sx; rs[2] = r.sy; rs[3] = r.sz
    n[0] = r.nc; n[1] = nx; n[2] = ny; n[3] = nz
    copy_nd(b, bs, a, rs, n, 4, r.ts, to_block)

cdef inline bint clip(int64_t b0, int B, const int64_t* box, int axis, int* l0, int* n) noexcept nogil:
    """Intersect block [b0, b0+B) with the box along one axis; False if empty."""
    cdef int64_t lo = box[axis] if box[axis] > b0 else b0
    cdef int64_t hi = box[axis + 3] if box[axis + 3] < b0 + B else b0 + B
    if hi <= lo:
        return False
    l0[0] = <int>(lo - b0)
    n[0] = <int>(hi - lo)
    return True

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


# ---- read -------------------------------------------------------------------------------

cdef int file_layout(const layout* X, const uint8_t* h, Py_ssize_t hn, uint64_t size, layout* F,
                     wk_err* e) noexcept nogil:
    """The header `h` of a file of `size` bytes, checked against its size and the layer's
    geometry `X`, into F."""
    if size < HEADER_SIZE:
        return WK_FAIL(e, WK_ECORRUPT, "file of %llu bytes is shorter than the 16-byte header", size)
    if hn < HEADER_SIZE:
        return WK_FAIL(e, WK_EARG, "%lld header bytes given, the header has 16", <long long>hn)
    return parse_header(h, F, e) or check_sizes(F, size, e) or same_geometry(F, X, e)

cdef uint64_t box_blocks(const layout* F, const int64_t* box) noexcept nogil:
    cdef int g = F.block_log2
    return <uint64_t>(((box[3] - 1) >> g) - (box[0] >> g) + 1) * <uint64_t>(((box[4] - 1) >> g) - (box[1] >> g) + 1) \
        * <uint64_t>(((box[5] - 1) >> g) - (box[2] >> g) + 1)

cdef void morton_span(const layout* F, const int64_t* box, uint64_t* lo_m, uint64_t* hi_m) noexcept nogil:
    """The smallest and largest Morton index of the blocks the box touches (its corners':
    Morton order grows along every axis)."""
    cdef int g = F.block_log2
    lo_m[0] = morton_encode(box[0] >> g, box[1] >> g, box[2] >> g)
    hi_m[0] = morton_encode((box[3] - 1) >> g, (box[4] - 1) >> g, (box[5] - 1) >> g)

cdef int plan_blocks(const layout* F, uint64_t size, const int64_t* box, const uint8_t* table, bint partial,
                     uint64_t* rows, Py_ssize_t* k, wk_err* e) noexcept nogil:
    """Rows (block, offset, nbytes) of the blocks the box touches (with `partial`, only
    those it covers in part), in file order. `table`: the jump-table entries lo_m-1..hi_m
    (see `table_range`) of a compressed file, checked here."""
    cdef uint64_t bb = block_bytes(F), m, lo_m, hi_m, t, prev = 0, n = 0, i
    cdef int B = 1 << F.block_log2, g = F.block_log2
    cdef int64_t bx, by, bz
    cdef bint full
    cdef uint64_t* T = NULL
    morton_span(F, box, &lo_m, &hi_m)
    if F.block_type != 1:
        # T[i] is the end of block lo_m-1+i (the data offset for "block -1")
        T = <uint64_t*>malloc(8 * (hi_m - lo_m + 2))
        if T == NULL:
            return WK_FAIL(e, WK_ENOMEM, "cannot allocate the jump table")
        if lo_m == 0:
            T[0] = F.data_offset
            memcpy(T + 1, table, 8 * (hi_m + 1))
        else:
            memcpy(T, table, 8 * (hi_m - lo_m + 2))
        for i in range(hi_m - lo_m + 2):
            t = load_le64(<uint8_t*>&T[i])
            if t < F.data_offset or t > size or (i > 0 and t < prev):
                free(T)
                return WK_FAIL(e, WK_ECORRUPT, "jump table entry %llu is %llu, outside [%llu, %llu] or decreasing",
                               lo_m + i - 1, t, F.data_offset, size)
            T[i] = prev = t
    for bz in range(box[2] >> g, ((box[5] - 1) >> g) + 1):
        for by in range(box[1] >> g, ((box[4] - 1) >> g) + 1):
            for bx in range(box[0] >> g, ((box[3] - 1) >> g) + 1):
                touches(bx, by, bz, B, box, &full)
                if partial and full:
                    continue
                m = morton_encode(bx, by, bz)
                rows[3 * n] = m
                if T == NULL:
                    rows[3 * n + 1] = F.data_offset + m * bb
                    rows[3 * n + 2] = bb
                else:
                    rows[3 * n + 1] = T[m - lo_m]
                    rows[3 * n + 2] = T[m - lo_m + 1] - T[m - lo_m]
                n += 1
    free(T)
    k[0] = <Py_ssize_t>n
    return 0

cdef int decode_blocks(const layout* F, const int64_t* box, const region* r, const uint64_t* rows, Py_ssize_t k,
                       const spanset* sp, wk_err* e) noexcept nogil:
    """Decode the blocks of `rows` from the spans and copy their parts inside the box."""
    cdef uint64_t bb = block_bytes(F), m, off, nb, x, y, z
    cdef int B = 1 << F.block_log2, lx, ly, lz, nx, ny, nz
    cdef int64_t bx, by, bz
    cdef Py_ssize_t i
    cdef const uint8_t* src
    cdef uint8_t* blk = NULL
    cdef uint8_t* dst
    cdef int rc = 0
    if F.block_type != 1:
        blk = <uint8_t*>malloc(bb)
        if blk == NULL:
            return WK_FAIL(e, WK_ENOMEM, "cannot allocate a block of %llu bytes", bb)
    for i in range(k):
        m, off, nb = rows[3 * i], rows[3 * i + 1], rows[3 * i + 2]
        if m >= n_blocks(F) or (F.block_type == 1 and nb != bb):
            rc = WK_FAIL(e, WK_EARG, "row %lld (block %llu, %llu bytes) is not a block of this file", <long long>i, m, nb)
            break
        src = find_span(sp, off, nb)
        if src == NULL:
            rc = WK_FAIL(e, WK_EARG, "no span holds the %llu bytes at %llu of block %llu", nb, off, m)
            break
        morton_decode(m, &x, &y, &z)
        bx, by, bz = x, y, z
        if not (clip(bx * B, B, box, 0, &lx, &nx) and clip(by * B, B, box, 1, &ly, &ny)
                and clip(bz * B, B, box, 2, &lz, &nz)):
            continue
        if blk != NULL and lz4_literals(src, nb, bb) != NULL:
            src = lz4_literals(src, nb, bb)      # stored as literals: copied from where they are
        elif blk != NULL:
            # a whole block whose part of the caller's array has the block's layout (a
            # Fortran-ordered array, channels interleaved) is decoded straight into it
            dst = blk
            if nx == B and ny == B and nz == B and r.sx == F.voxel_bytes and r.sy == <Py_ssize_t>B * F.voxel_bytes \
                    and r.sz == <Py_ssize_t>B * B * F.voxel_bytes and (r.nc == 1 or r.sc == r.ts):
                dst = r.ptr + (bx * B - box[0]) * r.sx + (by * B - box[1]) * r.sy + (bz * B - box[2]) * r.sz
            if lz4_decompress_exact(src, nb, dst, bb):
                rc = WK_FAIL(e, WK_ECORRUPT, "block %llu (%lld, %lld, %lld): LZ4 data of %llu bytes does not decode to %llu bytes",
                             m, bx, by, bz, nb, bb)
                break
            if dst != blk:
                continue
            src = blk
        copy_region(<uint8_t*>src, B, F.voxel_bytes, r, bx * B + lx - box[0], by * B + ly - box[1], bz * B + lz - box[2],
                    lx, ly, lz, nx, ny, nz, False)
    free(blk)
    return rc


cdef int patch_rows(const layout* F, const int64_t* box, const region* r, const uint64_t* rows, Py_ssize_t k,
                    const spanset* sp, bint old, uint8_t* out, wk_err* e) noexcept nogil:
    """The new contents of the raw blocks of `rows`, one after the other into `out`: the
    box's voxels over the block's old bytes (from the spans, if `old`) or over zeros."""
    cdef uint64_t bb = block_bytes(F), m, off, x, y, z
    cdef int B = 1 << F.block_log2
    cdef Py_ssize_t i
    cdef const uint8_t* src
    cdef uint8_t* blk
    cdef bint full = False, hit
    for i in range(k):
        m, off = rows[3 * i], rows[3 * i + 1]
        if m >= n_blocks(F) or rows[3 * i + 2] != bb:
            return WK_FAIL(e, WK_EARG, "row %lld (block %llu, %llu bytes) is not a block of this file",
                           <long long>i, m, rows[3 * i + 2])
        blk = out + <uint64_t>i * bb
        morton_decode(m, &x, &y, &z)
        hit = touches(x, y, z, B, box, &full)
        if not (hit and full):
            if old:
                src = find_span(sp, off, bb)
                if src == NULL:
                    return WK_FAIL(e, WK_EARG, "no span holds the %llu bytes at %llu of block %llu", bb, off, m)
                memcpy(blk, src, bb)
            else:
                memset(blk, 0, bb)
        if hit:
            patch_block(blk, F, x, y, z, box, r, &full)
    return 0

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
# against killed processes, whose writes the page cache keeps; not against power loss.)
# `JournalCheck` is the one place that judges a journal: a valid one is applied
# (restoring the old blocks), then deleted; anything else (short, wrong magic, length or
# checksum, not matching the file) was cut short before the file was touched, and is
# deleted unapplied.

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

cdef void journal_head_of(const layout* F, uint8_t* h) noexcept nogil:
    memset(h, 0, JOURNAL_HEAD)
    memcpy(h, b"WKWJ", 4)
    h[4] = 2
    store_le64(h + 8, block_bytes(F))
    store_le64(h + 16, F.data_offset)
    store_le64(h + 24, n_blocks(F))

cdef int journal_rows(const layout* F, const uint64_t* rows, Py_ssize_t k, const spanset* sp, uint32_t* c,
                      uint8_t* out, wk_err* e) noexcept nogil:
    """The records of the blocks of `rows` (their old bytes from the spans) into `out`."""
    cdef uint64_t bb = block_bytes(F), m
    cdef Py_ssize_t i
    cdef const uint8_t* src
    for i in range(k):
        m = rows[3 * i]
        if m >= n_blocks(F) or rows[3 * i + 2] != bb:
            return WK_FAIL(e, WK_EARG, "row %lld (block %llu, %llu bytes) is not a block of this file",
                           <long long>i, m, rows[3 * i + 2])
        src = find_span(sp, rows[3 * i + 1], bb)
        if src == NULL:
            return WK_FAIL(e, WK_EARG, "no span holds the %llu bytes at %llu of block %llu", bb, rows[3 * i + 1], m)
        store_le64(out, m)
        memcpy(out + 8, src, bb)
        c[0] = chain_record(c[0], m, src, bb)
        out += 8 + bb
    return 0

cdef struct growbuf:
    uint8_t* data
    uint64_t len
    uint64_t cap

cdef int reserve(growbuf* g, uint64_t extra, wk_err* e) noexcept nogil:
    cdef uint64_t cap = g.cap if g.cap else g.len + extra      # the first allocation: as asked
    cdef uint8_t* p
    if g.len + extra <= g.cap:
        return 0
    while cap < g.len + extra:
        cap *= 2
    p = <uint8_t*>(realloc(g.data, cap) if g.data != NULL else wk_alloc_big(cap))
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
    # Reserve room for every block at its largest up front (at most RESERVE_LIMIT): one
    # allocation of the size the output can reach, which the allocator can hand out again
    # to the next call, instead of doubling through ever larger fresh ones.
    if reserve(out, min((m_hi - m_lo) * cap, <uint64_t>RESERVE_LIMIT), e):
        free(blk)
        return -1
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


cdef int _file(const layout* X, object head, uint64_t size, layout* F, object name) except -1:
    """The file's header bytes `head`, checked against its size and the layer (`X`)."""
    cdef wk_err e
    cdef Py_buffer v
    cdef int rc
    PyObject_GetBuffer(head, &v, PyBUF_SIMPLE)
    try:
        e.code = 0; e.errnum = 0
        rc = file_layout(X, <const uint8_t*>v.buf, v.len, size, F, &e)
    finally:
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return 0


cdef int _read_layout(layout* L, tuple layout_) except -1:
    if len(layout_) != 4:
        raise ValueError("layout must be (block_log2, file_log2, voxel_type, voxel_bytes)")
    return check_layout(L, layout_[0], layout_[1], 1, layout_[2], layout_[3])


def table_range(tuple layout_, head, unsigned long long size, tuple box, name="<bytes>") -> tuple:
    """(offset, nbytes) of the jump-table entries a read of `box` needs from a file of
    `size` bytes whose first 16 bytes are `head`; (0, 0) for a raw file.

    `layout_` is (block_log2, file_log2, voxel_type, voxel_bytes) as header.wkw says.

    Raises
    ------
    CorruptFileError
        The header is damaged, contradicts the file's size, or has another geometry than
        the layer (the message names `name`).
    """
    cdef layout L, F
    cdef int64_t b[6]
    cdef uint64_t lo_m, hi_m, start
    _read_layout(&L, layout_)
    check_box(&L, box, b)
    _file(&L, head, size, &F, name)
    if F.block_type == 1:
        return (0, 0)
    morton_span(&F, b, &lo_m, &hi_m)
    start = HEADER_SIZE + 8 * (lo_m - 1) if lo_m > 0 else HEADER_SIZE
    return (start, HEADER_SIZE + 8 * (hi_m + 1) - start)


def plan(tuple layout_, head, unsigned long long size, tuple box, table=b"", bint partial=False,
         name="<bytes>") -> np.ndarray:
    """The (k, 3) uint64 rows (block, offset, nbytes) of the blocks `box` touches in a file
    of `size` bytes (first 16 bytes `head`), sorted by offset: what to fetch for `decode`.
    A compressed file needs the jump-table bytes of `table_range` as `table`. With
    `partial`, only the blocks the box covers in part.

    Raises
    ------
    CorruptFileError
        The header or the needed jump-table entries are damaged (naming `name`).
    ValueError
        `table` is not the bytes `table_range` asked for.
    """
    cdef layout L, F
    cdef int64_t b[6]
    cdef wk_err e
    cdef int rc
    cdef Py_ssize_t k = 0
    cdef Py_buffer t
    cdef uint64_t lo_m, hi_m, want = 0
    _read_layout(&L, layout_)
    check_box(&L, box, b)
    _file(&L, head, size, &F, name)
    morton_span(&F, b, &lo_m, &hi_m)
    if F.block_type != 1:
        want = 8 * (hi_m + 1) if lo_m == 0 else 8 * (hi_m - lo_m + 2)
    rows = np.empty((box_blocks(&F, b), 3), np.uint64)
    cdef uint64_t[:, ::1] rv = rows
    PyObject_GetBuffer(table, &t, PyBUF_SIMPLE)
    try:
        if <uint64_t>t.len != want:
            raise ValueError(f"{name}: {t.len} jump-table bytes given, the box needs {want}")
        e.code = 0; e.errnum = 0
        with nogil:
            rc = plan_blocks(&F, size, b, <const uint8_t*>t.buf, partial, &rv[0, 0], &k, &e)
            if rc == 0:
                wk_sort_rows(&rv[0, 0], <size_t>k)      # file order (Morton order)
    finally:
        PyBuffer_Release(&t)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return rows[:k]


def decode(tuple layout_, head, tuple box, out, tuple out_offset, rows, spans, name="<bytes>") -> int:
    """Decode the blocks of `rows` (see `plan`; any subset) from `spans` -- ``(file
    offset, buffer)`` pairs holding their bytes -- and copy their parts inside `box` (file
    voxel coordinates) into ``out[:, ox:, oy:, oz:]``. `head` is the file's first 16 bytes.
    Returns the number of blocks decoded.

    Raises
    ------
    CorruptFileError
        A block's LZ4 data does not decode (naming `name` and the block).
    ValueError
        A row's bytes are in no span, or a row, the box or `out` does not fit the file.
    """
    cdef layout L, F
    cdef int64_t b[6]
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc = 0
    cdef spanset sp
    cdef const uint64_t* rp
    cdef Py_ssize_t k
    cdef const uint8_t[::1] h = head
    _read_layout(&L, layout_)
    check_box(&L, box, b)
    if h.shape[0] < HEADER_SIZE:
        raise ValueError(f"{name}: {h.shape[0]} header bytes given, the header has 16")
    e.code = 0; e.errnum = 0
    if parse_header(&h[0], &F, &e) or same_geometry(&F, &L, &e):
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    take_rows(rows, &rp, &k, "block")
    memset(&sp, 0, sizeof(sp))
    PyObject_GetBuffer(out, &v, PyBUF_STRIDES | PyBUF_WRITABLE | PyBUF_FORMAT)
    try:
        fill_region(&r, &v, out_offset, L.voxel_type, L.voxel_bytes, (b[3] - b[0], b[4] - b[1], b[5] - b[2]))
        take_spans(spans, &sp)
        if k:
            with nogil:
                rc = decode_blocks(&F, b, &r, rp, k, &sp, &e)
    finally:
        drop_spans(&sp)
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return k


def new_raw_header(tuple layout_) -> tuple:
    """(header bytes, file size) of a new raw file of the layout (block_log2, file_log2,
    block_type, voxel_type, voxel_bytes): its blocks follow the 16-byte header."""
    cdef layout L
    cdef uint8_t h[HEADER_SIZE]
    check_layout(&L, layout_[0], layout_[1], 1, layout_[3], layout_[4])
    L.data_offset = HEADER_SIZE
    build_header(&L, h)
    return bytes(h[:HEADER_SIZE]), HEADER_SIZE + n_blocks(&L) * block_bytes(&L)


def classify(tuple layout_, head, name="<bytes>") -> bool:
    """May a file starting with `head` (its first bytes, up to 16; b"" if it is empty) be
    replaced whole by a write of the layer `layout_` (block_log2, file_log2, block_type,
    voxel_type, voxel_bytes)? True if its header is one of the layer's kind (raw or
    compressed as the layout says), False if it is no WKW file at all (damaged, cut short).

    Raises
    ------
    CorruptFileError
        A valid header of another kind of WKW file (other geometry, raw vs compressed).
    """
    cdef layout L, F
    cdef wk_err e
    cdef int found = 0
    cdef const uint8_t[::1] h = bytes(head[:HEADER_SIZE])
    check_layout(&L, layout_[0], layout_[1], layout_[2], layout_[3], layout_[4])
    e.code = 0; e.errnum = 0
    if classify_header(&h[0] if h.shape[0] else NULL, h.shape[0], &L, L.block_type == 1, &F, &found, &e):
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return bool(found)


cdef int _raw_file(layout* L, tuple layout_, object head, uint64_t size, layout* F, object name) except -1:
    """The header of an existing raw file, checked (size, geometry, raw)."""
    check_layout(L, layout_[0], layout_[1], layout_[2], layout_[3], layout_[4])
    _file(L, head, size, F, name)
    if F.block_type != 1:
        raise_for(WK_EMISMATCH, 0, f"file is compressed (block type {F.block_type}) but the layer's header says raw",
                  name)
    return 0


def patch_raw(tuple layout_, head, unsigned long long size, tuple box, data, tuple data_offset, rows, spans,
              bint old, name="<bytes>") -> bytearray:
    """The new contents of the raw blocks of `rows` (see `plan`), one after the other:
    `data` at `data_offset` written over each block's old bytes -- from `spans` if `old`,
    needed only for blocks the box covers in part -- or over zeros. `head` and `size` are
    the file's (`new_raw_header` for a new file).

    Raises
    ------
    CorruptFileError
        The header is damaged or not a raw file of the layer's geometry.
    ValueError
        An old block's bytes are in no span; the box or `data` do not fit.
    """
    cdef layout L, F
    cdef int64_t b[6]
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc = 0
    cdef spanset sp
    cdef const uint64_t* rp
    cdef Py_ssize_t k
    _raw_file(&L, layout_, head, size, &F, name)
    check_box(&L, box, b)
    take_rows(rows, &rp, &k, "block")
    out = bytearray(<Py_ssize_t>(k * block_bytes(&F)))
    cdef uint8_t[::1] ov = out
    memset(&sp, 0, sizeof(sp))
    PyObject_GetBuffer(data, &v, PyBUF_STRIDES | PyBUF_FORMAT)
    try:
        fill_region(&r, &v, data_offset, L.voxel_type, L.voxel_bytes, (b[3] - b[0], b[4] - b[1], b[5] - b[2]))
        take_spans(spans, &sp)
        e.code = 0; e.errnum = 0
        if k:
            with nogil:
                rc = patch_rows(&F, b, &r, rp, k, &sp, old, &ov[0], &e)
    finally:
        drop_spans(&sp)
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return out


def journal_head(tuple layout_, head, unsigned long long size, name="<bytes>") -> tuple:
    """(the journal's 32 header bytes, the checksum chain after them) for patching the raw
    file whose first 16 bytes are `head` (see "undo journal")."""
    cdef layout L, F
    cdef uint8_t h[JOURNAL_HEAD]
    _raw_file(&L, layout_, head, size, &F, name)
    journal_head_of(&F, h)
    return bytes(h[:JOURNAL_HEAD]), crc32c(h, JOURNAL_HEAD)


def journal_records(tuple layout_, head, unsigned long long size, rows, spans, unsigned int chain,
                    name="<bytes>") -> tuple:
    """(the journal records of the blocks of `rows`, their old bytes taken from `spans`;
    the checksum chain after them)."""
    cdef layout L, F
    cdef wk_err e
    cdef int rc = 0
    cdef spanset sp
    cdef const uint64_t* rp
    cdef Py_ssize_t k
    cdef uint32_t c = chain
    _raw_file(&L, layout_, head, size, &F, name)
    take_rows(rows, &rp, &k, "block")
    out = bytearray(<Py_ssize_t>(k * (8 + block_bytes(&F))))
    cdef uint8_t[::1] ov = out
    memset(&sp, 0, sizeof(sp))
    try:
        take_spans(spans, &sp)
        e.code = 0; e.errnum = 0
        if k:
            with nogil:
                rc = journal_rows(&F, rp, k, &sp, &c, &ov[0], &e)
    finally:
        drop_spans(&sp)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return out, c


def journal_tail(unsigned int chain, unsigned long long total) -> bytes:
    """The journal's 24-byte trailer for a journal of `total` bytes (trailer included)."""
    cdef uint8_t t[JOURNAL_TAIL]
    memset(t, 0, JOURNAL_TAIL)
    memcpy(t, b"WKWJDONE", 8)
    store_le64(t + 8, total)
    store_le32(t + 16, chain_seal(chain, total))
    return bytes(t[:JOURNAL_TAIL])


cdef class JournalCheck:
    """The judge of one undo journal found beside a raw file (see "undo journal").

    Made from the raw file's first 16 bytes and size (`file_head` None if there is no
    file, or it is a link, or not a regular file) and the journal's first 32 and last 24
    bytes and size. `plausible` says whether the journal may be a complete one of this
    file; then its records -- ``record_bytes`` each, ``records`` of them, from byte 32 --
    are fed in order to `scan`, after which `sealed` says whether the checksum holds: only
    then is it applied (`entries` gives where each record's block goes), else it is
    deleted unapplied.
    """

    cdef layout F
    cdef uint64_t size, bb, scanned
    cdef uint32_t chain, seal
    cdef readonly bint plausible

    def __init__(self, file_head, unsigned long long file_size, jhead, jtail, unsigned long long jsize):
        cdef wk_err e
        cdef uint8_t want[JOURNAL_HEAD]
        cdef const uint8_t[::1] h
        cdef const uint8_t[::1] t
        self.plausible = False
        self.size = jsize
        if file_head is None or jsize < JOURNAL_HEAD + JOURNAL_TAIL:
            return
        h = bytes(jhead)
        t = bytes(jtail)
        fh = bytes(file_head)
        if h.shape[0] != JOURNAL_HEAD or t.shape[0] != JOURNAL_TAIL or len(fh) < HEADER_SIZE \
                or file_size < HEADER_SIZE:
            return
        self.bb = load_le64(&h[8])
        if memcmp(&h[0], b"WKWJ\x02", 5) != 0 or memcmp(&t[0], b"WKWJDONE", 8) != 0 or load_le64(&t[8]) != jsize \
                or load_le32(&t[20]) != 0 or self.bb == 0 or self.bb > jsize \
                or (jsize - JOURNAL_HEAD - JOURNAL_TAIL) % (8 + self.bb) != 0:
            return
        cdef const uint8_t[::1] fv = fh
        e.code = 0; e.errnum = 0
        if parse_header(&fv[0], &self.F, &e) or check_sizes(&self.F, file_size, &e) or self.F.block_type != 1:
            return                      # not a raw file that this journal could have patched
        journal_head_of(&self.F, want)
        if memcmp(&h[0], want, JOURNAL_HEAD) != 0:
            return
        self.chain = crc32c(&h[0], JOURNAL_HEAD)
        self.seal = load_le32(&t[16])
        self.plausible = True

    @property
    def record_bytes(self) -> int:
        return 8 + self.bb

    @property
    def records(self) -> int:
        return (self.size - JOURNAL_HEAD - JOURNAL_TAIL) // (8 + self.bb) if self.plausible else 0

    def scan(self, records) -> None:
        """Chain the checksum over the next whole records (in order)."""
        cdef Py_buffer v
        cdef uint64_t i, n, m, rb = 8 + self.bb
        cdef const uint8_t* p
        if not self.plausible:
            return
        PyObject_GetBuffer(records, &v, PyBUF_SIMPLE)
        try:
            if <uint64_t>v.len % rb or self.scanned + <uint64_t>v.len // rb > self.records:
                raise ValueError(f"{v.len} bytes are not whole records of the journal")
            n = <uint64_t>v.len // rb
            p = <const uint8_t*>v.buf
            with nogil:
                for i in range(n):
                    m = load_le64(p + i * rb)
                    if m >= n_blocks(&self.F):
                        self.plausible = False
                        break
                    self.chain = chain_record(self.chain, m, p + i * rb + 8, self.bb)
            self.scanned += n
        finally:
            PyBuffer_Release(&v)

    @property
    def sealed(self) -> bool:
        """Every record scanned and the checksum holds: the journal is complete."""
        return self.plausible and self.scanned == self.records and chain_seal(self.chain, self.size) == self.seal

    def entries(self, records) -> np.ndarray:
        """(k, 3) uint64 rows (block, file offset, offset of its old bytes in `records`) of
        whole records (of a sealed journal)."""
        cdef const uint8_t[::1] v = records
        cdef uint64_t i, rb = 8 + self.bb, n, m
        if not self.plausible or v.shape[0] % rb:
            raise ValueError("not whole records of a plausible journal")
        n = v.shape[0] // rb
        rows = np.empty((n, 3), np.uint64)
        cdef uint64_t[:, ::1] rv = rows
        for i in range(n):
            m = load_le64(&v[i * rb])
            if m >= n_blocks(&self.F):
                raise ValueError(f"record {i} names block {m} of {n_blocks(&self.F)}")
            rv[i, 0] = m
            rv[i, 1] = self.F.data_offset + m * self.bb
            rv[i, 2] = i * rb + 8
        return rows


def assemble(tuple layout_, list parts) -> bytes:
    """The header and jump table of a compressed file made of the `(encoded, ends)` parts
    of `encode_range` in order (which follow them in the file). `encoded` may be given by
    its length in bytes (a writer that has written it need not keep it).

    Raises
    ------
    ValueError
        The parts do not come from `encode_range` or do not cover every block.
    """
    cdef layout L
    cdef uint64_t N, data_offset, base, m = 0, j, count
    cdef Py_ssize_t i
    check_layout(&L, layout_[0], layout_[1], layout_[2], layout_[3], layout_[4])
    N = n_blocks(&L)
    data_offset = HEADER_SIZE + 8 * N
    L.data_offset = data_offset
    head = bytearray(data_offset)
    cdef uint8_t[::1] hv = head
    build_header(&L, &hv[0])
    base = data_offset
    cdef Py_buffer v
    cdef const uint8_t* p
    for i in range(len(parts)):
        blob, ends = parts[i]
        blob_len = blob if isinstance(blob, int) else memoryview(blob).nbytes
        PyObject_GetBuffer(ends, &v, PyBUF_SIMPLE)
        try:
            count = <uint64_t>v.len // 8
            p = <const uint8_t*>v.buf
            if v.len % 8 or (count and load_le64(p + 8 * (count - 1)) != <uint64_t>blob_len):
                raise ValueError(f"part {i} is not the output of encode_range")
            if m + count > N:
                raise ValueError(f"encoded parts hold more than the {N} blocks of the file")
            with nogil:
                for j in range(count):
                    store_le64(&hv[HEADER_SIZE + 8 * (m + j)], base + load_le64(p + 8 * j))
            m += count
        finally:
            PyBuffer_Release(&v)
        base += blob_len
    if m != N:
        raise ValueError(f"encoded parts hold {m} blocks, the file needs {N}")
    return bytes(head)

cdef extern from "Python.h":
    int PyBuffer_FillInfo(Py_buffer* view, object obj, void* buf, Py_ssize_t len, int readonly, int flags) except -1

cdef uint8_t _EMPTY[1]


cdef class EncodedBlocks:
    """The encoded blocks of one `encode_range`: a read-only buffer that owns the bytes the
    kernel wrote (handed over without a copy)."""

    cdef uint8_t* data
    cdef Py_ssize_t n

    def __dealloc__(self):
        free(self.data)

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        PyBuffer_FillInfo(buffer, self, self.data if self.data != NULL else _EMPTY, self.n, 1, flags)

    def __releasebuffer__(self, Py_buffer* buffer):
        pass

    def __len__(self) -> int:
        return self.n


def encode_range(old, tuple layout_, tuple box, data, tuple data_offset, unsigned long long m_lo,
                 unsigned long long m_hi, name="<file>") -> tuple:
    """Encode blocks m_lo..m_hi-1 of a new compressed file (see `assemble`): the blocks
    `box` touches with `data` at `data_offset` written into them (over their old content),
    the others copied from the old file as they are (or the encoded zero block).

    `old` is the whole old file (bytes) or None for a new file; `layout_` is (block_log2,
    file_log2, block_type, voxel_type, voxel_bytes) (an old file's own block type wins). If
    the box covers the whole file only the first 16 bytes of `old` are looked at, so a
    damaged old file is replaced; a valid header of another kind is refused. Returns
    (the encoded bytes as an `EncodedBlocks` buffer, block ends as bytes of little-endian
    u64, relative to the start of the encoded bytes).

    Raises
    ------
    CorruptFileError
        The old file is damaged (a partial write) or of another kind (naming `name`).
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
    cdef EncodedBlocks blob
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
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
        if found:
            L.block_type = F.block_type
        op = NULL
        osize = 0
    elif old is not None:
        if op == NULL:
            raise_for(WK_ECORRUPT, 0, "file is empty", name)
        with nogil:
            rc = check_old(op, osize, &L, &F, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
        L.block_type = F.block_type
    PyObject_GetBuffer(data, &v, PyBUF_STRIDES | PyBUF_FORMAT)
    try:
        fill_region(&r, &v, data_offset, L.voxel_type, L.voxel_bytes, (b[3] - b[0], b[4] - b[1], b[5] - b[2]))
        with nogil:
            rc = encode_blocks(op, osize, &L, m_lo, m_hi, b, &r, &g, ep, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
        blob = EncodedBlocks.__new__(EncodedBlocks)
        blob.data = g.data
        blob.n = <Py_ssize_t>g.len
        g.data = NULL
        return blob, bytes(ends)
    finally:
        PyBuffer_Release(&v)
        free(g.data)


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

