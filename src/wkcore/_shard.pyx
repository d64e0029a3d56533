# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""Zarr v3 chunk files: `sharding_indexed` shards and plain (unsharded) chunk files.

A shard file holds encoded inner chunks and an index: for every inner chunk, in C order of
the inner-chunk grid over the array's axes (1 to `MAX_AXES` of them: (c, x, y, z) for a
webknossos layer, plus its extra axes in an n-d layer), a u64 pair (offset, nbytes), both 2**64-1 for a
chunk that is absent, optionally followed by the index's CRC-32C; the index sits at the
end of the file (default) or at its start. An unsharded chunk file is one encoded chunk.
Encoding one chunk: a permutation of its axes (`transpose`; the decoded chunk's byte
strides), the `bytes` codec (element byte order), then bytes-to-bytes steps in order (at
most three of zstd, blosc, gzip, zlib, crc32c). See FORMATS.md, section 3.

Box reads decode only the inner chunks the box touches. Box writes re-encode only touched
chunks, copy the others' encoded bytes as they are, drop chunks that are entirely the fill
value, and write the new file under a temporary name (created with O_EXCL | O_NOFOLLOW,
never through a link) renamed over the old one; a shard left without chunks is not written
(an existing one is removed). A write that replaces every chunk of a shard does not read the
old file at all, so a damaged shard is overwritten; a partial write into one raises. For a big box in one shard,
`encode` lets several threads each prepare the chunks of a chunk-aligned part, and `write`
then only assembles the file.

Threading: every entry point releases the GIL for all I/O and codec work and keeps its
state (codec contexts, buffers) on its own stack and heap; nothing is shared between calls,
so threads working on different files run in parallel. Callers serialise writers of one file.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memcmp, memset
from libc.stdio cimport snprintf
from libc.errno cimport errno, ENOENT
from posix.fcntl cimport open as c_open, O_RDONLY, O_WRONLY, O_NONBLOCK, O_CLOEXEC
from posix.unistd cimport close, dup, pread, pwrite, unlink
from posix.stat cimport struct_stat, fstat
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_STRIDES, PyBUF_WRITABLE, PyBUF_FORMAT

from wkcore._util cimport (wk_err, WK_FAIL, WK_EIO, WK_ECORRUPT, WK_ENOMEM,
                           load_le64, store_le64, load_le32, store_le32, read_exact, write_all, create_new,
                           publish_new, check_plain_items)
from wkcore._codecs cimport (wk_codec, codec_init, codec_release, codec_bound, codec_encode, codec_decode,
                             crc32c, CODEC_ZSTD, CODEC_BLOSC, CODEC_GZIP, CODEC_ZLIB, DECODE_OK, DECODE_NOMEM,
                             BLOSC_BLOSCLZ, BLOSC_LZ4, BLOSC_LZ4HC, BLOSC_ZLIB, BLOSC_ZSTD)
from wkcore._copy cimport copy_nd, MAX_AXES
from wkcore._raise import raise_for
from wkcore.errors import UnsupportedError


cdef extern from *:
    """
    #include <stdint.h>
    #define WK_ABSENT UINT64_MAX
    static inline uint16_t wk_bswap16(uint16_t v) { return __builtin_bswap16(v); }
    static inline uint32_t wk_bswap32(uint32_t v) { return __builtin_bswap32(v); }
    static inline uint64_t wk_bswap64(uint64_t v) { return __builtin_bswap64(v); }
    """
    uint64_t WK_ABSENT
    uint16_t wk_bswap16(uint16_t) nogil
    uint32_t wk_bswap32(uint32_t) nogil
    uint64_t wk_bswap64(uint64_t) nogil

DEF MAX_STEPS = 3
DEF STEP_CRC = 0
DEF STAGE = 8 << 20              # bytes of encoded chunks gathered before one pwrite
DEF SPAN_SLACK = 1 << 20
DEF SPAN_CAP = 1 << 25            # above this, chunks are read one by one (bounded memory)
DEF MAX_CHUNKS = 1 << 24         # inner chunks per shard (an index of 256 MiB)
DEF MAX_CHUNK_BYTES = 1 << 31
DEF RESERVE_LIMIT = 1 << 28      # bytes reserved at once for the chunks of one `encode`
DEF MAX_SIDE = 1 << 62           # elements along one axis of a shard
DEF COORDS_TEXT = 8 * 21         # "g0,g1,...": MAX_AXES signed 64-bit numbers and commas

cdef struct step:
    int kind                     # STEP_CRC or CODEC_*
    wk_codec codec               # configuration only: every state pointer is NULL

cdef struct zspec:
    int ts                       # bytes per element
    int nd                       # axes of the array (1..MAX_AXES)
    int64_t shard[MAX_AXES]      # elements per shard along each axis
    int64_t chunk[MAX_AXES]      # elements per inner chunk
    int64_t grid[MAX_AXES]       # inner chunks per shard
    uint64_t n_chunks
    Py_ssize_t cstride[MAX_AXES] # byte strides of a decoded chunk
    uint64_t chunk_bytes
    uint64_t work_bytes          # capacity of each work buffer (largest stage of the chain + slack)
    int big_endian
    int n_steps
    step steps[MAX_STEPS]        # bytes-to-bytes steps in encoding order
    int sharded
    int index_at_start
    int index_big_endian
    int index_crc
    uint8_t fill[8]              # fill value, native byte order

cdef struct region:
    uint8_t* ptr                 # the caller's element at the box start
    Py_ssize_t s[MAX_AXES]       # its byte strides, one per axis of the array

cdef struct zbox:                # a shard-local box: [lo, hi) along each of the spec's nd axes
    int64_t lo[MAX_AXES]
    int64_t hi[MAX_AXES]

cdef struct work:
    wk_codec codecs[MAX_STEPS]   # live codec state of this call
    uint64_t* index              # (offset, nbytes) per inner chunk, native order, checked
    uint8_t* a                   # decoded / encoded chunk buffers
    uint8_t* b
    uint8_t* enc                 # encoded bytes of one chunk, or of a span of chunks
    uint64_t enc_cap
    uint8_t* stage               # new file bytes not yet written
    uint64_t staged
    uint64_t stage_at            # file offset of stage[0]
    int fd_in
    int fd_out

cdef void work_init(work* W, const zspec* S) noexcept nogil:
    cdef int i
    memset(W, 0, sizeof(work))
    for i in range(S.n_steps):
        W.codecs[i] = S.steps[i].codec
    W.fd_in = W.fd_out = -1

cdef void work_free(work* W, const zspec* S) noexcept nogil:
    cdef int i
    for i in range(S.n_steps):
        codec_release(&W.codecs[i])
    free(W.index); free(W.a); free(W.b); free(W.enc); free(W.stage)
    if W.fd_in >= 0:
        close(W.fd_in)
    if W.fd_out >= 0:
        close(W.fd_out)
    W.index = NULL; W.a = W.b = W.enc = W.stage = NULL
    W.fd_in = W.fd_out = -1

cdef int alloc_work(work* W, const zspec* S, wk_err* e) noexcept nogil:
    W.a = <uint8_t*>malloc(S.work_bytes)
    W.b = <uint8_t*>malloc(S.work_bytes)
    if W.a == NULL or W.b == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate two chunk buffers of %llu bytes", S.work_bytes)
    return 0

cdef int grow_enc(work* W, uint64_t n, wk_err* e) noexcept nogil:
    """Make W.enc hold n bytes plus 8 of slack (n is bounded by a file size)."""
    cdef uint8_t* p
    if n + 8 <= W.enc_cap:
        return 0
    p = <uint8_t*>realloc(W.enc, n + 8)
    if p == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu bytes", n)
    W.enc = p
    W.enc_cap = n + 8
    return 0

# ---- I/O helpers ----------------------------------------------------------------------


cdef int open_in(const char* path, work* W, uint64_t* size, wk_err* e, int fd=-1) noexcept nogil:
    """Open an existing file for reading (or use a duplicate of the caller's `fd`): 1 if
    found, 0 if absent, -1 on error."""
    cdef struct_stat st
    W.fd_in = dup(fd) if fd >= 0 else c_open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    if W.fd_in < 0:
        if errno == ENOENT:
            return 0
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot open")
    if fstat(W.fd_in, &st) != 0:
        e.errnum = errno
        return WK_FAIL(e, WK_EIO, "cannot stat")
    size[0] = <uint64_t>st.st_size
    return 1

# ---- the index ----------------------------------------------------------------------------

cdef inline uint64_t index_bytes(const zspec* S) noexcept nogil:
    return (S.n_chunks * 16 + (4 if S.index_crc else 0)) if S.sharded else 0

cdef void chunk_coords(const zspec* S, uint64_t m, int64_t* g) noexcept nogil:
    cdef int k
    for k in range(S.nd - 1, -1, -1):
        g[k] = <int64_t>(m % <uint64_t>S.grid[k])
        m //= <uint64_t>S.grid[k]

cdef const char* chunk_text(const zspec* S, uint64_t m, char* buf) noexcept nogil:
    """Chunk m's grid coordinates as "g0,g1,..." in `buf` (COORDS_TEXT bytes), for messages."""
    cdef int64_t g[MAX_AXES]
    cdef int k, at = 0
    chunk_coords(S, m, g)
    buf[0] = 0
    for k in range(S.nd):
        at += snprintf(buf + at, COORDS_TEXT - at, "%s%lld", "," if k else "", <long long>g[k])
    return buf

cdef int load_index(work* W, const zspec* S, uint64_t size, wk_err* e) noexcept nogil:
    """Read, check and decode the index of the open shard W.fd_in (or make the one entry of
    an unsharded chunk file); every present entry lies inside the file's data bytes."""
    cdef uint64_t n = S.n_chunks, isz = index_bytes(S), at, lo, hi, off, nb, m
    cdef uint32_t want, got
    cdef uint8_t tail[4]
    cdef char where[COORDS_TEXT]
    W.index = <uint64_t*>malloc(16 * n)
    if W.index == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate an index of %llu chunks", n)
    if not S.sharded:
        W.index[0] = 0
        W.index[1] = size
        return 0
    if size < isz:
        return WK_FAIL(e, WK_ECORRUPT, "file of %llu bytes is shorter than its %llu-byte shard index", size, isz)
    at = 0 if S.index_at_start else size - isz
    if read_exact(W.fd_in, <uint8_t*>W.index, 16 * n, at, e):
        return -1
    if S.index_crc:
        if read_exact(W.fd_in, tail, 4, at + 16 * n, e):
            return -1
        want = load_le32(tail)
        got = crc32c(<uint8_t*>W.index, 16 * n)
        if want != got:
            return WK_FAIL(e, WK_ECORRUPT, "shard index checksum is 0x%08x, the index bytes give 0x%08x", want, got)
    lo = isz if S.index_at_start else 0
    hi = size if S.index_at_start else size - isz
    for m in range(2 * n):
        W.index[m] = wk_bswap64(W.index[m]) if S.index_big_endian else load_le64(<uint8_t*>&W.index[m])
    for m in range(n):
        off = W.index[2 * m]
        nb = W.index[2 * m + 1]
        if off == WK_ABSENT and nb == WK_ABSENT:
            continue
        if off < lo or off > hi or nb > hi - off:
            return WK_FAIL(e, WK_ECORRUPT,
                           "shard index entry %llu (chunk %s) is (offset %llu, %llu bytes), outside the data bytes [%llu, %llu)",
                           m, chunk_text(S, m, where), off, nb, lo, hi)
    return 0

cdef void encode_index(const work* W, const zspec* S, uint8_t* out) noexcept nogil:
    """The index bytes of W.index into `out` (index_bytes(S) of room; may be W.index itself)."""
    cdef uint64_t m, v
    for m in range(2 * S.n_chunks):
        v = W.index[m]
        store_le64(out + 8 * m, wk_bswap64(v) if S.index_big_endian else v)
    if S.index_crc:
        store_le32(out + 16 * S.n_chunks, crc32c(out, 16 * S.n_chunks))

# ---- one chunk: decode, encode, fill ----------------------------------------------------------

cdef void byteswap(uint8_t* p, uint64_t n, int ts) noexcept nogil:
    cdef uint64_t i
    cdef uint16_t v2
    cdef uint32_t v4
    cdef uint64_t v8
    if ts == 2:
        for i in range(0, n, 2):
            memcpy(&v2, p + i, 2); v2 = wk_bswap16(v2); memcpy(p + i, &v2, 2)
    elif ts == 4:
        for i in range(0, n, 4):
            memcpy(&v4, p + i, 4); v4 = wk_bswap32(v4); memcpy(p + i, &v4, 4)
    elif ts == 8:
        for i in range(0, n, 8):
            memcpy(&v8, p + i, 8); v8 = wk_bswap64(v8); memcpy(p + i, &v8, 8)

cdef const char* step_name(int kind) noexcept nogil:
    if kind == CODEC_ZSTD:
        return "zstd"
    if kind == CODEC_BLOSC:
        return "blosc"
    if kind == CODEC_GZIP:
        return "gzip"
    if kind == CODEC_ZLIB:
        return "zlib"
    return "crc32c"

cdef int decode_chunk(work* W, const zspec* S, uint8_t* src, uint64_t n, uint64_t m, uint8_t** out,
                      wk_err* e) noexcept nogil:
    """Undo the bytes-to-bytes steps; `out` gets the native-order chunk (in W.a, W.b or src)."""
    cdef uint8_t* cur = src
    cdef uint8_t* dst
    cdef uint64_t cur_len = n, expected, ncrc = 0
    cdef int i, j, r
    cdef uint32_t want, got
    cdef char where[COORDS_TEXT]
    for i in range(S.n_steps - 1, -1, -1):
        if S.steps[i].kind == STEP_CRC:
            if cur_len < 4:
                return WK_FAIL(e, WK_ECORRUPT, "chunk %s: %llu bytes cannot hold a CRC-32C",
                               chunk_text(S, m, where), cur_len)
            want = load_le32(cur + cur_len - 4)
            got = crc32c(cur, cur_len - 4)
            if want != got:
                return WK_FAIL(e, WK_ECORRUPT, "chunk %s: CRC-32C is 0x%08x, its bytes give 0x%08x",
                               chunk_text(S, m, where), want, got)
            cur_len -= 4
            continue
        ncrc = 0
        for j in range(i):
            if S.steps[j].kind == STEP_CRC:
                ncrc += 1
        expected = S.chunk_bytes + 4 * ncrc
        dst = W.b if cur == W.a else W.a
        r = codec_decode(&W.codecs[i], cur, cur_len, dst, expected)
        if r == DECODE_NOMEM:
            return WK_FAIL(e, WK_ENOMEM, "out of memory decoding %s data", step_name(S.steps[i].kind))
        if r != DECODE_OK:
            return WK_FAIL(e, WK_ECORRUPT, "chunk %s: %s data of %llu bytes does not decode to %llu bytes",
                           chunk_text(S, m, where), step_name(S.steps[i].kind), cur_len, expected)
        cur = dst
        cur_len = expected
    if cur_len != S.chunk_bytes:
        return WK_FAIL(e, WK_ECORRUPT, "chunk %s holds %llu bytes, not the %llu of a chunk",
                       chunk_text(S, m, where), cur_len, S.chunk_bytes)
    if S.big_endian and S.ts > 1:
        byteswap(cur, S.chunk_bytes, S.ts)
    out[0] = cur
    return 0

cdef int encode_chunk(work* W, const zspec* S, uint8_t** out, uint64_t* out_len, wk_err* e) noexcept nogil:
    """Apply the steps to the native-order chunk in W.a (which this scrambles)."""
    cdef uint8_t* cur = W.a
    cdef uint8_t* dst
    cdef uint64_t cur_len = S.chunk_bytes
    cdef Py_ssize_t r
    cdef int i
    if S.big_endian and S.ts > 1:
        byteswap(cur, S.chunk_bytes, S.ts)
    for i in range(S.n_steps):
        if S.steps[i].kind == STEP_CRC:
            store_le32(cur + cur_len, crc32c(cur, cur_len))
            cur_len += 4
            continue
        dst = W.b if cur == W.a else W.a
        r = codec_encode(&W.codecs[i], cur, cur_len, dst, S.work_bytes - 4 * MAX_STEPS)
        if r < 0:
            return WK_FAIL(e, WK_ENOMEM, "%s compression of a chunk of %llu bytes failed", step_name(S.steps[i].kind), cur_len)
        cur = dst
        cur_len = <uint64_t>r
    out[0] = cur
    out_len[0] = cur_len
    return 0

cdef void fill_chunk(uint8_t* p, const zspec* S) noexcept nogil:
    cdef uint64_t i
    if S.ts == 1:
        memset(p, S.fill[0], S.chunk_bytes)
        return
    i = 0
    while i < S.chunk_bytes:
        memcpy(p + i, S.fill, S.ts)
        i += <uint64_t>S.ts

cdef bint is_fill(const uint8_t* p, const zspec* S) noexcept nogil:
    """Every element equals the fill value: the first does, and the buffer repeats with period ts."""
    return memcmp(p, S.fill, S.ts) == 0 and memcmp(p, p + S.ts, S.chunk_bytes - S.ts) == 0

# ---- strided copies between a chunk and the caller's array ----------------------------------


cdef bint overlap(const zspec* S, const int64_t* g, const zbox* box, int64_t* l, int64_t* n, int64_t* at) noexcept nogil:
    """Part of chunk g inside the box: start l in the chunk, extent n, start `at` in the box."""
    cdef int k
    cdef int64_t c0, lo, hi
    for k in range(S.nd):
        c0 = g[k] * S.chunk[k]
        lo = box.lo[k] if box.lo[k] > c0 else c0
        hi = box.hi[k] if box.hi[k] < c0 + S.chunk[k] else c0 + S.chunk[k]
        if hi <= lo:
            return False
        l[k] = lo - c0
        n[k] = hi - lo
        at[k] = lo - box.lo[k]
    return True

cdef inline uint8_t* chunk_at(uint8_t* p, const zspec* S, const int64_t* l) noexcept nogil:
    cdef int k
    for k in range(S.nd):
        p += l[k] * S.cstride[k]
    return p

cdef inline uint8_t* region_at(const region* r, const zspec* S, const int64_t* at) noexcept nogil:
    cdef uint8_t* p = r.ptr
    cdef int k
    for k in range(S.nd):
        p += at[k] * r.s[k]
    return p

cdef inline uint64_t chunk_number(const zspec* S, const int64_t* g) noexcept nogil:
    cdef int64_t m = 0
    cdef int k
    for k in range(S.nd):
        m = m * S.grid[k] + g[k]
    return <uint64_t>m

cdef inline void touched_chunks(const zspec* S, const zbox* box, int64_t* g0, int64_t* g1) noexcept nogil:
    """The grid cells [g0, g1) of the chunks the box touches."""
    cdef int k
    for k in range(S.nd):
        g0[k] = box.lo[k] // S.chunk[k]
        g1[k] = (box.hi[k] - 1) // S.chunk[k] + 1

cdef inline bint next_cell(const zspec* S, int64_t* g, const int64_t* g0, const int64_t* g1) noexcept nogil:
    """Step g to the next cell of [g0, g1) in C order (last axis fastest); False past the last."""
    cdef int k = S.nd - 1
    while k >= 0:
        g[k] += 1
        if g[k] < g1[k]:
            return True
        g[k] = g0[k]
        k -= 1
    return False

cdef inline void copy_chunk_part(uint8_t* chunk, const zspec* S, const zbox* box, const region* r,
                                 const int64_t* g, bint to_chunk) noexcept nogil:
    """Copy the part of grid chunk g inside the box between the decoded chunk and the region."""
    cdef int64_t l[MAX_AXES]
    cdef int64_t n[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    overlap(S, g, box, l, n, at)
    copy_nd(chunk_at(chunk, S, l), S.cstride, region_at(r, S, at), r.s, n, S.nd, S.ts, to_chunk)

# ---- read -------------------------------------------------------------------------------

cdef int read_box(const char* path, const zspec* S, const zbox* box, const region* r, int* found,
                  int fd, wk_err* e) noexcept nogil:
    cdef work W
    cdef int rc
    work_init(&W, S)
    rc = read_chunks(path, &W, S, box, r, found, fd, e)
    work_free(&W, S)
    return rc

cdef int read_chunks(const char* path, work* W, const zspec* S, const zbox* box, const region* r, int* found,
                     int fd, wk_err* e) noexcept nogil:
    cdef uint64_t size = 0, m, off, nb, span0 = WK_ABSENT, span1 = 0, total = 0, touched = 0
    cdef int64_t g0[MAX_AXES]
    cdef int64_t g1[MAX_AXES]
    cdef int64_t g[MAX_AXES]
    cdef bint span = False, more
    cdef uint8_t* src
    cdef uint8_t* cur
    found[0] = open_in(path, W, &size, e, fd)
    if found[0] <= 0:
        return found[0]
    if load_index(W, S, size, e):
        return -1
    touched_chunks(S, box, g0, g1)
    # One read for all touched chunks when they lie close together in the file (and the
    # span is not large: memory stays bounded; beyond that each chunk is read alone).
    memcpy(g, g0, sizeof(g))
    more = True
    while more:
        m = chunk_number(S, g)
        off = W.index[2 * m]
        if off != WK_ABSENT:
            nb = W.index[2 * m + 1]
            touched += 1
            total += nb
            if off < span0: span0 = off
            if off + nb > span1: span1 = off + nb
        more = next_cell(S, g, g0, g1)
    if touched == 0:
        return 0
    if span1 - span0 <= 2 * total + SPAN_SLACK and span1 - span0 <= SPAN_CAP:
        if grow_enc(W, span1 - span0, e) or read_exact(W.fd_in, W.enc, span1 - span0, span0, e):
            return -1
        span = True
    if alloc_work(W, S, e):
        return -1
    memcpy(g, g0, sizeof(g))
    more = True
    while more:
        m = chunk_number(S, g)
        off = W.index[2 * m]
        if off != WK_ABSENT:
            nb = W.index[2 * m + 1]
            if span:
                src = W.enc + (off - span0)
            else:
                if grow_enc(W, nb, e) or read_exact(W.fd_in, W.enc, nb, off, e):
                    return -1
                src = W.enc
            if decode_chunk(W, S, src, nb, m, &cur, e):
                return -1
            copy_chunk_part(cur, S, box, r, g, False)
        more = next_cell(S, g, g0, g1)
    return 0

# ---- write ------------------------------------------------------------------------------

cdef int flush_stage(work* W, const char* tmp, wk_err* e) noexcept nogil:
    if W.fd_out < 0:
        W.fd_out = create_new(tmp, O_WRONLY)
        if W.fd_out < 0:
            e.errnum = errno
            return WK_FAIL(e, WK_EIO, "cannot create the temporary file")
    if write_all(W.fd_out, W.stage, W.staged, W.stage_at, e):
        return -1
    W.stage_at += W.staged
    W.staged = 0
    return 0

cdef int append(work* W, const char* tmp, const uint8_t* p, uint64_t n, wk_err* e) noexcept nogil:
    if W.staged + n > STAGE and flush_stage(W, tmp, e):
        return -1
    if n > STAGE:
        if write_all(W.fd_out, p, n, W.stage_at, e):
            return -1
        W.stage_at += n
        return 0
    memcpy(W.stage + W.staged, p, n)
    W.staged += n
    return 0

cdef int append_old(work* W, const char* tmp, uint64_t off, uint64_t n, wk_err* e) noexcept nogil:
    """Copy n encoded bytes of the old file through the stage."""
    cdef uint64_t piece
    while n > 0:
        if W.staged == STAGE and flush_stage(W, tmp, e):
            return -1
        piece = STAGE - W.staged
        if piece > n:
            piece = n
        if read_exact(W.fd_in, W.stage + W.staged, piece, off, e):
            return -1
        W.staged += piece
        off += piece
        n -= piece
    return 0

cdef struct encoded_set:            # encoded chunks of one sub-box, made ahead of `write_box`
    uint8_t* buf
    uint64_t len
    uint64_t cap
    uint64_t* table              # per chunk: (number, offset in buf or WK_ABSENT if all fill, nbytes)
    uint64_t count
    uint64_t table_cap

cdef int make_chunk(work* W, const zspec* S, uint64_t m, const int64_t* g, const zbox* box, const region* r,
                    uint64_t off, uint64_t nb, uint8_t** out, uint64_t* out_len, wk_err* e) noexcept nogil:
    """Chunk m with the box's voxels written into it (over its old content `off`, `nb`, or
    the fill value), encoded; `out` is NULL if the result is all fill value."""
    cdef int64_t l[MAX_AXES]
    cdef int64_t n[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    cdef bint full = True
    cdef int k
    cdef uint8_t* cur
    overlap(S, g, box, l, n, at)
    for k in range(S.nd):
        full = full and n[k] == S.chunk[k]
    if not full:
        if off != WK_ABSENT:
            if grow_enc(W, nb, e) or read_exact(W.fd_in, W.enc, nb, off, e) or decode_chunk(W, S, W.enc, nb, m, &cur, e):
                return -1
            if cur != W.a:
                memcpy(W.a, cur, S.chunk_bytes)
        else:
            fill_chunk(W.a, S)
    copy_nd(chunk_at(W.a, S, l), S.cstride, region_at(r, S, at), r.s, n, S.nd, S.ts, True)
    out[0] = NULL
    if is_fill(W.a, S):
        return 0
    return encode_chunk(W, S, out, out_len, e)

cdef int prepared_add(encoded_set* P, uint64_t m, const uint8_t* p, uint64_t n, wk_err* e) noexcept nogil:
    cdef uint64_t cap
    cdef void* q
    if P.count == P.table_cap:
        cap = 2 * P.table_cap + 64
        q = realloc(P.table, 24 * cap)
        if q == NULL:
            return WK_FAIL(e, WK_ENOMEM, "cannot grow the table of prepared chunks")
        P.table = <uint64_t*>q
        P.table_cap = cap
    if p != NULL and P.len + n > P.cap:
        cap = 2 * P.cap + n + (1 << 20)
        q = realloc(P.buf, cap)
        if q == NULL:
            return WK_FAIL(e, WK_ENOMEM, "cannot grow the buffer of prepared chunks to %llu bytes", cap)
        P.buf = <uint8_t*>q
        P.cap = cap
    P.table[3 * P.count] = m
    P.table[3 * P.count + 1] = P.len if p != NULL else WK_ABSENT
    P.table[3 * P.count + 2] = n if p != NULL else 0
    P.count += 1
    if p != NULL:
        memcpy(P.buf + P.len, p, n)
        P.len += n
    return 0

cdef bint chunk_aligned(const zspec* S, const zbox* box) noexcept nogil:
    """Whether every chunk the box touches lies wholly inside it (none keeps old voxels)."""
    cdef int k
    for k in range(S.nd):
        if box.lo[k] % S.chunk[k] or box.hi[k] % S.chunk[k]:
            return False
    return True

cdef bint whole_shard(const zspec* S, const zbox* box) noexcept nogil:
    cdef int k
    for k in range(S.nd):
        if box.lo[k] != 0 or box.hi[k] != S.shard[k]:
            return False
    return True

cdef int encode_box(const char* path, const zspec* S, const zbox* box, const region* r, encoded_set* P,
                    wk_err* e) noexcept nogil:
    """Encode every chunk the box touches (over the current file's content) into P."""
    cdef work W
    cdef int rc = 0, k
    cdef uint64_t size = 0, m, off, nb, enc_len = 0
    cdef int64_t g0[MAX_AXES]
    cdef int64_t g1[MAX_AXES]
    cdef int64_t g[MAX_AXES]
    cdef uint8_t* cur
    cdef uint64_t touched = 1, want
    cdef bint more
    work_init(&W, S)
    if not chunk_aligned(S, box):       # some chunk keeps old voxels: the old file is needed
        rc = open_in(path, &W, &size, e)
        if rc == 1:
            rc = load_index(&W, S, size, e)
    if rc == 0:
        rc = alloc_work(&W, S, e)
    touched_chunks(S, box, g0, g1)
    for k in range(S.nd):
        touched *= <uint64_t>(g1[k] - g0[k])
    # Reserve up front: growing by realloc (mremap) would take the process-wide memory
    # lock and stall the other threads encoding parts of the same shard.
    want = touched * S.work_bytes
    if want > RESERVE_LIMIT:
        want = RESERVE_LIMIT
    if rc == 0 and P.cap == 0:
        P.table = <uint64_t*>malloc(24 * touched)
        P.buf = <uint8_t*>malloc(want)
        if P.table == NULL or P.buf == NULL:
            rc = WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu bytes for prepared chunks", want)
        else:
            P.table_cap = touched
            P.cap = want
    memcpy(g, g0, sizeof(g))
    more = rc == 0
    while more:
        m = chunk_number(S, g)
        off = W.index[2 * m] if W.index != NULL else WK_ABSENT
        nb = W.index[2 * m + 1] if W.index != NULL else WK_ABSENT
        if make_chunk(&W, S, m, g, box, r, off, nb, &cur, &enc_len, e) or prepared_add(P, m, cur, enc_len, e):
            rc = -1
            break
        more = next_cell(S, g, g0, g1)
    work_free(&W, S)
    return rc

cdef int write_box(const char* path, const char* tmp, const zspec* S, const zbox* box, const region* r,
                   encoded_set** preps, int npreps, int* outcome, wk_err* e) noexcept nogil:
    cdef work W
    cdef int rc
    work_init(&W, S)
    rc = rebuild(path, tmp, &W, S, box, r, preps, npreps, outcome, e)
    if rc == 0 and outcome[0] == 0:
        rc = publish_new(W.fd_out, tmp, path, rc, e)
        W.fd_out = -1
    elif rc and W.fd_out >= 0:
        unlink(tmp)
    work_free(&W, S)
    return rc

cdef int64_t* prepared_lookup(const zspec* S, encoded_set** preps, int npreps, wk_err* e) noexcept nogil:
    """Per chunk number: (prepared set << 40 | entry), or -1."""
    cdef int64_t* look = <int64_t*>malloc(8 * S.n_chunks)
    cdef int i
    cdef uint64_t j, m
    if look == NULL:
        WK_FAIL(e, WK_ENOMEM, "cannot allocate a table of %llu chunks", S.n_chunks)
        return NULL
    memset(look, 0xFF, 8 * S.n_chunks)
    for i in range(npreps):
        for j in range(preps[i].count):
            m = preps[i].table[3 * j]
            if m < S.n_chunks:
                look[m] = (<int64_t>i << 40) | <int64_t>j
    return look

cdef int rebuild(const char* path, const char* tmp, work* W, const zspec* S, const zbox* box, const region* r,
                 encoded_set** preps, int npreps, int* outcome, wk_err* e) noexcept nogil:
    """Write the new file to `tmp` (outcome 0), or, if no chunk is left, remove `path`
    (outcome 1) or leave it absent (outcome 2). Chunks found in `preps` are taken from
    there, other chunks the box touches are made here, the rest are copied."""
    cdef uint64_t size = 0, m, off, nb, present = 0, isz = index_bytes(S), enc_len = 0
    cdef uint64_t* old = NULL
    cdef int64_t* look = NULL
    cdef int64_t g[MAX_AXES]
    cdef int64_t l[MAX_AXES]
    cdef int64_t n[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    cdef int exists, rc = 0
    cdef const encoded_set* P
    cdef uint64_t* entry
    cdef uint8_t* cur
    # A box covering the whole shard replaces every chunk: the old file is not read (nor
    # its index checked), so a damaged shard is overwritten.
    exists = 0 if whole_shard(S, box) else open_in(path, W, &size, e)
    if exists < 0:
        return -1
    if exists:
        if load_index(W, S, size, e):
            return -1
        old = W.index
    W.index = <uint64_t*>malloc(16 * S.n_chunks + 4)     # + 4: encoded in place with its CRC
    W.stage = <uint8_t*>malloc(STAGE)
    if W.index == NULL or W.stage == NULL:
        rc = WK_FAIL(e, WK_ENOMEM, "cannot allocate the index and write buffers")
    if rc == 0:
        rc = alloc_work(W, S, e)
    if rc == 0 and npreps > 0:
        look = prepared_lookup(S, preps, npreps, e)
        rc = -1 if look == NULL else 0
    W.stage_at = isz if S.index_at_start else 0
    m = 0
    while rc == 0 and m < S.n_chunks:
        chunk_coords(S, m, g)
        off = old[2 * m] if old != NULL else WK_ABSENT
        nb = old[2 * m + 1] if old != NULL else WK_ABSENT
        W.index[2 * m] = W.index[2 * m + 1] = WK_ABSENT
        if look != NULL and look[m] >= 0:
            P = preps[look[m] >> 40]
            entry = P.table + 3 * (look[m] & ((<int64_t>1 << 40) - 1))
            if entry[1] != WK_ABSENT:
                W.index[2 * m] = W.stage_at + W.staged
                W.index[2 * m + 1] = entry[2]
                rc = append(W, tmp, P.buf + entry[1], entry[2], e)
                present += 1
        elif overlap(S, g, box, l, n, at):
            rc = make_chunk(W, S, m, g, box, r, off, nb, &cur, &enc_len, e)
            if rc == 0 and cur != NULL:
                W.index[2 * m] = W.stage_at + W.staged
                W.index[2 * m + 1] = enc_len
                rc = append(W, tmp, cur, enc_len, e)
                present += 1
        elif off != WK_ABSENT:
            W.index[2 * m] = W.stage_at + W.staged
            W.index[2 * m + 1] = nb
            rc = append_old(W, tmp, off, nb, e)
            present += 1
        m += 1
    free(old)
    free(look)
    if rc:
        return -1
    if present == 0:
        outcome[0] = 2
        if exists or whole_shard(S, box):
            if unlink(path) == 0:
                outcome[0] = 1
            elif errno != ENOENT:
                e.errnum = errno
                return WK_FAIL(e, WK_EIO, "cannot remove the emptied file")
            elif exists:
                outcome[0] = 1
        return 0
    outcome[0] = 0
    if isz:
        # encoded in place (W.index has room for the CRC), written past the stage: an index
        # of up to MAX_CHUNKS entries is far larger than STAGE
        encode_index(W, S, <uint8_t*>W.index)
        if S.index_at_start:
            if flush_stage(W, tmp, e):
                return -1
            return write_all(W.fd_out, <uint8_t*>W.index, isz, 0, e)
        if append(W, tmp, <uint8_t*>W.index, isz, e):
            return -1
    return flush_stage(W, tmp, e)

# ---- Python entry points ------------------------------------------------------------------

MAX_NDIM = MAX_AXES    # axes a ShardSpec (and every box and buffer used with it) may have

_STEP_KINDS = {"crc32c": STEP_CRC, "zstd": CODEC_ZSTD, "blosc": CODEC_BLOSC, "gzip": CODEC_GZIP, "zlib": CODEC_ZLIB}
_BLOSC_CNAMES = {"blosclz": BLOSC_BLOSCLZ, "lz4": BLOSC_LZ4, "lz4hc": BLOSC_LZ4HC, "zlib": BLOSC_ZLIB, "zstd": BLOSC_ZSTD}


cdef class ShardSpec:
    """How the chunk files of one Zarr v3 array are laid out and encoded.

    Parameters
    ----------
    itemsize : bytes per element (1, 2, 4 or 8).
    shard_shape, chunk_shape : elements along each axis of the array per file and per inner
        chunk (equal for unsharded arrays): 1 to `MAX_AXES` (8) axes, e.g. (c, x, y, z) or
        (c, t, x, y, z).
    order : the `transpose` codec's permutation of the axes; (0, 1, ..., n-1) is C order.
    big_endian : the `bytes` codec's byte order.
    steps : bytes-to-bytes codecs in encoding order: ``("crc32c",)``, ``("zstd", level,
        checksum)``, ``("gzip", level)``, ``("zlib", level)`` (Zarr v2's
        zlib compressor), ``("blosc", cname, clevel, shuffle, typesize,
        blocksize)`` with shuffle 0/1/2 (none/byte/bit).
    sharded : whether files carry an index of inner chunks.
    index_at_start, index_big_endian, index_crc : the index's location and codecs.
    fill : the fill value as `itemsize` bytes, native (little-endian) order.

    Raises
    ------
    UnsupportedError
        More than `MAX_AXES` axes (also a ValueError).
    ValueError
        Shapes of different lengths, an order that is not a permutation, a chunk that does
        not divide the shard, more chunks or larger chunks than the kernels hold, an unknown
        codec or element size.
    """

    cdef zspec s

    def __init__(self, int itemsize, shard_shape, chunk_shape, order, bint big_endian, steps, bint sharded,
                 bint index_at_start=False, bint index_big_endian=False, bint index_crc=True, bytes fill=None):
        cdef int k, i
        cdef uint64_t size, biggest
        memset(&self.s, 0, sizeof(zspec))
        if itemsize not in (1, 2, 4, 8):
            raise ValueError(f"element size {itemsize} is not 1, 2, 4 or 8 bytes")
        shard_shape, chunk_shape, order = tuple(shard_shape), tuple(chunk_shape), tuple(order)
        nd = len(shard_shape)
        if nd > MAX_AXES:
            raise UnsupportedError(f"arrays of {nd} axes are not supported (at most {MAX_AXES})")
        if nd < 1 or len(chunk_shape) != nd or sorted(order) != list(range(nd)):
            raise ValueError(f"need shapes of the same rank (1..{MAX_AXES}) and a permutation of their axes, "
                             f"got {shard_shape}, {chunk_shape}, {order}")
        n_chunks, chunk_elems = 1, 1
        for k in range(nd):
            if not 1 <= chunk_shape[k] <= shard_shape[k] <= MAX_SIDE or shard_shape[k] % chunk_shape[k]:
                raise ValueError(f"shard shape {shard_shape} is not a positive multiple of chunk shape {chunk_shape}")
            n_chunks *= shard_shape[k] // chunk_shape[k]
            chunk_elems *= chunk_shape[k]
        if n_chunks > MAX_CHUNKS or (not sharded and n_chunks != 1):
            raise ValueError(f"{n_chunks} inner chunks per shard (limit {MAX_CHUNKS}; 1 when unsharded)")
        if chunk_elems * itemsize > MAX_CHUNK_BYTES:
            raise ValueError(f"a chunk of {chunk_shape} × {itemsize} bytes exceeds {MAX_CHUNK_BYTES} bytes")
        fill = bytes(itemsize) if fill is None else fill
        if len(fill) != itemsize:
            raise ValueError(f"fill value has {len(fill)} bytes, not {itemsize}")
        steps = list(steps)
        if len(steps) > MAX_STEPS:
            raise ValueError(f"at most {MAX_STEPS} bytes-to-bytes codecs, got {len(steps)}")
        self.s.ts = itemsize
        self.s.nd = nd
        self.s.n_chunks = n_chunks
        self.s.chunk_bytes = chunk_elems * itemsize
        for k in range(nd):
            self.s.shard[k] = shard_shape[k]
            self.s.chunk[k] = chunk_shape[k]
            self.s.grid[k] = shard_shape[k] // chunk_shape[k]
        # transpose: the chunk is stored as np.transpose(chunk, order) in C order
        size = itemsize
        for i in range(nd - 1, -1, -1):
            self.s.cstride[order[i]] = size
            size *= chunk_shape[order[i]]
        self.s.big_endian = big_endian
        self.s.sharded = sharded
        self.s.index_at_start = index_at_start
        self.s.index_big_endian = index_big_endian
        self.s.index_crc = index_crc
        for k in range(itemsize):
            self.s.fill[k] = fill[k]
        self.s.n_steps = len(steps)
        size = biggest = self.s.chunk_bytes
        for i, st in enumerate(steps):
            kind = _STEP_KINDS.get(st[0]) if st else None
            if kind is None:
                raise ValueError(f"unknown bytes-to-bytes codec {st!r}")
            self.s.steps[i].kind = kind
            codec_init(&self.s.steps[i].codec, CODEC_ZSTD if kind == STEP_CRC else kind)
            if kind == STEP_CRC:
                size += 4
            else:
                _configure(&self.s.steps[i].codec, st)
                size = codec_bound(&self.s.steps[i].codec, size)
            biggest = max(biggest, size)
        self.s.work_bytes = biggest + 4 * MAX_STEPS + 16

    @property
    def ndim(self) -> int:
        """Axes of the array (of every box and buffer passed with this spec)."""
        return self.s.nd

    @property
    def n_chunks(self) -> int:
        return self.s.n_chunks

    @property
    def chunk_bytes(self) -> int:
        return self.s.chunk_bytes

    @property
    def index_bytes(self) -> int:
        return index_bytes(&self.s)


cdef int _configure(wk_codec* c, tuple st) except -1:
    if st[0] == "zstd":
        _, level, checksum = st
        if not -131072 <= level <= 22:
            raise ValueError(f"zstd level {level} is out of range")
        c.level, c.checksum = level, bool(checksum)
    elif st[0] in ("gzip", "zlib"):
        _, level = st
        if not 0 <= level <= 9:
            raise ValueError(f"{st[0]} level {level} is not in 0..9")
        c.level = level
    else:
        _, cname, clevel, shuffle, typesize, blocksize = st
        if cname not in _BLOSC_CNAMES or not 0 <= clevel <= 9 or shuffle not in (0, 1, 2) \
                or not 1 <= typesize <= 1 << 20 or not 0 <= blocksize < 1 << 30:
            raise ValueError(f"bad blosc configuration {st!r}")
        c.cname, c.level, c.shuffle, c.typesize, c.blocksize = _BLOSC_CNAMES[cname], clevel, shuffle, typesize, blocksize
    return 0


cdef int _box(const zspec* S, tuple box, zbox* b) except -1:
    cdef int k, nd = S.nd
    shard = tuple(S.shard[i] for i in range(nd))
    if len(box) != 2 * nd:
        raise ValueError(f"box must be {2 * nd} numbers (the {nd} starts, then the {nd} ends), got {box}")
    for k in range(nd):
        lo, hi = box[k], box[k + nd]
        if not (0 <= lo < hi <= shard[k]):
            raise ValueError(f"box {box} is empty or not inside the shard {shard}")
        b.lo[k] = lo
        b.hi[k] = hi
    return 0


cdef int _region(region* r, Py_buffer* v, tuple offset, const zspec* S, const zbox* b) except -1:
    cdef int k, nd = S.nd
    if v.ndim != nd:
        raise ValueError(f"array must be {nd}-D like the shards, got {v.ndim}-D")
    if v.itemsize != S.ts:
        raise ValueError(f"array items are {v.itemsize} bytes, the chunks' are {S.ts}")
    check_plain_items(v)
    if len(offset) != nd:
        raise ValueError(f"array offset must have {nd} values, got {offset}")
    r.ptr = <uint8_t*>v.buf
    for k in range(nd):
        if offset[k] < 0 or offset[k] + b.hi[k] - b.lo[k] > v.shape[k]:
            raise ValueError(f"box {tuple(b.lo[i] for i in range(nd)) + tuple(b.hi[i] for i in range(nd))} at "
                             f"{offset} does not fit an array of shape {tuple(v.shape[i] for i in range(nd))}")
        r.s[k] = v.strides[k]
        r.ptr += <Py_ssize_t>offset[k] * v.strides[k]
    return 0


cdef bytes _fs(path):
    return path.encode() if isinstance(path, str) else bytes(path)


def read(path, ShardSpec spec, tuple box, out, tuple out_offset, int fd=-1) -> bool:
    """Read `box` (shard-local: the starts along every axis, then the ends, e.g.
    (c0, x0, y0, z0, c1, x1, y1, z1)) of one chunk file into `out` (as many axes as the
    spec, any strides) at `out_offset`. Absent chunks leave `out` untouched; returns
    False if the file does not exist. With `fd` (the file, opened by the caller) the file
    is not opened by name: pieces of one read then see one version of a file that a
    writer replaces meanwhile. `path` still names the file in errors."""
    cdef zbox b
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int found = 0, rc
    cdef bytes p = _fs(path)
    cdef const char* cp = p
    _box(&spec.s, box, &b)
    PyObject_GetBuffer(out, &v, PyBUF_STRIDES | PyBUF_WRITABLE | PyBUF_FORMAT)
    try:
        _region(&r, &v, out_offset, &spec.s, &b)
        e.code = 0; e.errnum = 0
        with nogil:
            rc = read_box(cp, &spec.s, &b, &r, &found, fd, &e)
    finally:
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
    return bool(found)


cdef class PreparedChunks:
    """Encoded chunks of one sub-box of a shard, made by `encode` for a later `write`."""

    cdef encoded_set p
    cdef readonly ShardSpec spec

    def __dealloc__(self):
        free(self.p.buf)
        free(self.p.table)

    @property
    def count(self) -> int:
        """Chunks held (all-fill chunks count too: they will be absent)."""
        return self.p.count

    @property
    def nbytes(self) -> int:
        return self.p.len


def encode(path, ShardSpec spec, tuple box, data, tuple data_offset) -> PreparedChunks:
    """Encode every inner chunk that `box` touches, with `data` (as many axes as the spec)
    at `data_offset` written over the chunk's current content in `path`, for a later `write`
    of that file. Boxes of different calls must not share chunks; the caller keeps other
    writers of the file away until the `write`. Runs without the GIL, so several threads
    can prepare parts of one shard at once."""
    cdef zbox b
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc
    cdef bytes p = _fs(path)
    cdef const char* cp = p
    cdef PreparedChunks out = PreparedChunks.__new__(PreparedChunks)
    out.spec = spec
    _box(&spec.s, box, &b)
    PyObject_GetBuffer(data, &v, PyBUF_STRIDES | PyBUF_FORMAT)
    try:
        _region(&r, &v, data_offset, &spec.s, &b)
        e.code = 0; e.errnum = 0
        with nogil:
            rc = encode_box(cp, &spec.s, &b, &r, &out.p, &e)
    finally:
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
    return out


def write(path, tmp_path, ShardSpec spec, tuple box, data, tuple data_offset, prepared=()) -> int:
    """Write `data` (as many axes as the spec) at `data_offset` into `box` of one chunk file.

    Chunks held by `prepared` (from `encode` of the same file) are taken as they are; the
    other chunks the box touches are encoded here. The new file is built in `tmp_path` (same
    folder) and renamed over `path`. Returns 0 if the file was written, 1 if it was removed
    (no chunk left), 2 if it stays absent.
    """
    cdef zbox b
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc, outcome = 2, i, npreps
    cdef bytes p = _fs(path)
    cdef bytes tp = _fs(tmp_path)
    cdef const char* cp = p
    cdef const char* ctp = tp
    cdef encoded_set** preps = NULL
    cdef PreparedChunks pc
    prepared = list(prepared)
    npreps = len(prepared)
    for item in prepared:
        if not isinstance(item, PreparedChunks) or (<PreparedChunks>item).spec is not spec:
            raise ValueError("prepared chunks must come from encode() with the same ShardSpec")
    _box(&spec.s, box, &b)
    PyObject_GetBuffer(data, &v, PyBUF_STRIDES | PyBUF_FORMAT)
    try:                                # `preps` is allocated inside: a `data` that is no buffer leaks nothing
        preps = <encoded_set**>malloc(sizeof(encoded_set*) * (npreps + 1))
        if preps == NULL:
            raise MemoryError()
        for i in range(npreps):
            pc = prepared[i]
            preps[i] = &pc.p
        _region(&r, &v, data_offset, &spec.s, &b)
        e.code = 0; e.errnum = 0
        with nogil:
            rc = write_box(cp, ctp, &spec.s, &b, &r, preps, npreps, &outcome, &e)
    finally:
        PyBuffer_Release(&v)
        free(preps)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
    return outcome


def read_index(path, ShardSpec spec) -> list | None:
    """The checked index of one chunk file: (offset, nbytes) per inner chunk in C order,
    None for absent chunks; None if the file does not exist."""
    cdef work W
    cdef wk_err e
    cdef uint64_t size = 0
    cdef int rc
    cdef bytes p = _fs(path)
    cdef const char* cp = p
    e.code = 0; e.errnum = 0
    work_init(&W, &spec.s)
    try:
        with nogil:
            rc = open_in(cp, &W, &size, &e)
            if rc == 1:
                rc = load_index(&W, &spec.s, size, &e)
                if rc == 0:
                    rc = 1
        if rc < 0:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), path)
        if rc == 0:
            return None
        return [None if W.index[2 * m] == WK_ABSENT else (W.index[2 * m], W.index[2 * m + 1])
                for m in range(spec.s.n_chunks)]
    finally:
        work_free(&W, &spec.s)


def decode_chunk_bytes(ShardSpec spec, data, name="<bytes>") -> bytes:
    """Decode one encoded inner chunk into its native-order bytes (in the chunk's memory order)."""
    cdef work W
    cdef wk_err e
    cdef uint8_t* cur
    cdef int rc
    cdef const uint8_t[::1] src = bytes(data)
    cdef uint64_t n = src.shape[0]     # bytes, whatever len() of `data` counts (an array's rows)
    e.code = 0; e.errnum = 0
    work_init(&W, &spec.s)
    try:
        with nogil:
            rc = grow_enc(&W, n, &e) or alloc_work(&W, &spec.s, &e)
            if rc == 0:
                if n:
                    memcpy(W.enc, &src[0], n)
                rc = decode_chunk(&W, &spec.s, W.enc, n, 0, &cur, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
        return cur[:spec.s.chunk_bytes]
    finally:
        work_free(&W, &spec.s)


def encode_chunk_bytes(ShardSpec spec, data) -> bytes:
    """Encode one chunk given as native-order bytes in the chunk's memory order."""
    cdef work W
    cdef wk_err e
    cdef uint8_t* cur
    cdef uint64_t n = 0
    cdef int rc
    cdef const uint8_t[::1] src = bytes(data)
    if <uint64_t>src.shape[0] != spec.s.chunk_bytes:   # bytes, not len() of `data` (an array's rows)
        raise ValueError(f"a chunk has {spec.s.chunk_bytes} bytes, got {src.shape[0]}")
    e.code = 0; e.errnum = 0
    work_init(&W, &spec.s)
    try:
        with nogil:
            rc = alloc_work(&W, &spec.s, &e)
            if rc == 0:
                memcpy(W.a, &src[0], spec.s.chunk_bytes)
                rc = encode_chunk(&W, &spec.s, &cur, &n, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), "<bytes>")
        return cur[:n]
    finally:
        work_free(&W, &spec.s)
