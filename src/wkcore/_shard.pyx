# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""Zarr v3 chunk files: `sharding_indexed` shards and plain (unsharded) chunk files, over buffers.

A shard file holds encoded inner chunks and an index: for every inner chunk, in C order of
the inner-chunk grid over the array's axes (1 to `MAX_AXES` of them: (c, x, y, z) for a
webknossos layer, plus its extra axes in an n-d layer), a u64 pair (offset, nbytes), both 2**64-1 for a
chunk that is absent, optionally followed by the index's CRC-32C; the index sits at the
end of the file (default) or at its start. An unsharded chunk file is one encoded chunk.
Encoding one chunk: a permutation of its axes (`transpose`; the decoded chunk's byte
strides), the `bytes` codec (element byte order), then bytes-to-bytes steps in order (at
most three of zstd, blosc, gzip, zlib, crc32c). See FORMATS.md, section 3.

Nothing here opens, reads or writes a file: the caller (the façade's store) fetches bytes
and stores the results. A read is

1. `index_range` -> the caller fetches those bytes -> `parse_index` (checked: every present
   chunk lies inside the file's data bytes);
2. `plan` -> the chunk rows (number, offset, nbytes) the box touches, sorted by offset ->
   the caller fetches their bytes as spans (see `_spans.pxd`), in batches if it likes;
3. `decode` -> the chunks of each batch decoded into the box's part of the caller's array.

A write encodes every inner chunk the box touches with `encode` (chunks the box covers
only in part are decoded first from the old file's bytes, given as spans of the `plan(...,
partial=True)` rows; chunks that end up all fill value are dropped), possibly as several
sub-boxes on several threads, then `assemble` lays out the new file: which runs of bytes
come from the old file and which from the encoded sets, and the new index. The caller
writes that (copying the old runs without decoding them) and publishes it atomically. A
write that covers the whole shard needs nothing of the old file, so a damaged shard is
simply replaced. `append` lays out the other way to change a shard whose index is at its
end: the new chunks and a new index after the old file's bytes, which stay as they are.

Threading: every entry point releases the GIL for its codec and copy work and keeps its
state (codec contexts, buffers) on its own stack and heap; nothing is shared between calls,
so threads working on different boxes run in parallel. A `ShardIndex` and an
`EncodedChunks` are immutable once made and may be shared by threads.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memcmp, memset
from libc.stdio cimport snprintf
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_STRIDES, PyBUF_WRITABLE, PyBUF_FORMAT, \
    PyBUF_SIMPLE

from wkcore._util cimport (wk_err, WK_FAIL, wk_alloc_big, WK_ECORRUPT, WK_ENOMEM, WK_EARG,
                           load_le64, store_le64, load_le32, store_le32, check_plain_items)
from wkcore._codecs cimport (wk_codec, codec_init, codec_release, codec_bound, codec_encode, codec_decode, blosc_stored,
                             crc32c, CODEC_ZSTD, CODEC_BLOSC, CODEC_GZIP, CODEC_ZLIB, DECODE_OK, DECODE_NOMEM,
                             BLOSC_BLOSCLZ, BLOSC_LZ4, BLOSC_LZ4HC, BLOSC_ZLIB, BLOSC_ZSTD)
from wkcore._copy cimport copy_nd, MAX_AXES
from wkcore._spans cimport spanset, take_spans, drop_spans, find_span, take_rows, wk_sort_rows
from wkcore._raise import raise_for
from wkcore.errors import UnsupportedError

import numpy as np


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
DEF MAX_CHUNKS = 1 << 24         # inner chunks per shard (an index of 256 MiB)
DEF MAX_CHUNK_BYTES = 1 << 31
DEF RESERVE_LIMIT = 1 << 28      # bytes reserved at once for the chunks of one `encode`
DEF MAX_SIDE = 1 << 62           # elements along one axis of a shard
DEF COORDS_TEXT = 8 * 21         # "g0,g1,...": MAX_AXES signed 64-bit numbers and commas
DEF OLD_FILE = -1                # `assemble`: a run of the old file's bytes

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
    uint8_t* a                   # decoded / encoded chunk buffers
    uint8_t* b

cdef void work_init(work* W, const zspec* S) noexcept nogil:
    cdef int i
    memset(W, 0, sizeof(work))
    for i in range(S.n_steps):
        W.codecs[i] = S.steps[i].codec

cdef void work_free(work* W, const zspec* S) noexcept nogil:
    cdef int i
    for i in range(S.n_steps):
        codec_release(&W.codecs[i])
    free(W.a); free(W.b)
    W.a = W.b = NULL

cdef int alloc_work(work* W, const zspec* S, wk_err* e) noexcept nogil:
    W.a = <uint8_t*>malloc(S.work_bytes)
    W.b = <uint8_t*>malloc(S.work_bytes)
    if W.a == NULL or W.b == NULL:
        return WK_FAIL(e, WK_ENOMEM, "cannot allocate two chunk buffers of %llu bytes", S.work_bytes)
    return 0


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


cdef int check_index(uint64_t* e, const zspec* S, uint64_t size, wk_err* e_) noexcept nogil:
    """Decode the raw index entries in place (byte order) and check that every present
    chunk lies inside the file's data bytes, and that together they list no more bytes
    than those (entries sharing bytes could otherwise make a rewrite copy the file many
    times over: work stays bounded by the file)."""
    cdef uint64_t n = S.n_chunks, isz = index_bytes(S), lo, hi, off, nb, m, total = 0
    cdef char where[COORDS_TEXT]
    lo = isz if S.index_at_start else 0
    hi = size if S.index_at_start else size - isz
    for m in range(2 * n):
        e[m] = wk_bswap64(e[m]) if S.index_big_endian else load_le64(<uint8_t*>&e[m])
    for m in range(n):
        off = e[2 * m]
        nb = e[2 * m + 1]
        if off == WK_ABSENT and nb == WK_ABSENT:
            continue
        if off < lo or off > hi or nb > hi - off:
            return WK_FAIL(e_, WK_ECORRUPT,
                           "shard index entry %llu (chunk %s) is (offset %llu, %llu bytes), outside the data bytes [%llu, %llu)",
                           m, chunk_text(S, m, where), off, nb, lo, hi)
        total += nb
        if total > hi - lo:
            return WK_FAIL(e_, WK_ECORRUPT,
                           "shard index lists more chunk bytes than the file's %llu data bytes (entries share "
                           "bytes; entry %llu, chunk %s)", hi - lo, m, chunk_text(S, m, where))
    return 0

cdef void encode_index(const uint64_t* index, const zspec* S, uint8_t* out) noexcept nogil:
    """The index bytes of `index` into `out` (index_bytes(S) of room)."""
    cdef uint64_t m, v
    for m in range(2 * S.n_chunks):
        v = index[m]
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

cdef int decode_chunk(work* W, const zspec* S, const uint8_t* src, uint64_t n, uint64_t m, uint8_t* final,
                      uint8_t** out, wk_err* e) noexcept nogil:
    """Undo the bytes-to-bytes steps; `out` gets the native-order chunk (in W.a, W.b, src or
    `final`). `final` (NULL: none) is where the last codec may write the whole chunk (the
    caller's array, when the chunk's part of it has the chunk's layout); the chunk is there
    when `out` is `final`."""
    cdef uint8_t* cur = <uint8_t*>src    # only read while it is `src`
    cdef uint8_t* dst
    cdef uint64_t cur_len = n, expected, ncrc = 0, ncodec
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
        if S.steps[i].kind == CODEC_BLOSC and blosc_stored(cur, cur_len, S.chunk_bytes + 4 * crcs_before(S, i)) != NULL:
            # stored uncompressed: the chunk is in `cur` already (one copy less)
            cur = <uint8_t*>blosc_stored(cur, cur_len, S.chunk_bytes + 4 * crcs_before(S, i))
            cur_len = S.chunk_bytes + 4 * crcs_before(S, i)
            continue
        ncrc = ncodec = 0
        for j in range(i):
            if S.steps[j].kind == STEP_CRC:
                ncrc += 1
            else:
                ncodec += 1
        expected = S.chunk_bytes + 4 * ncrc
        dst = W.b if cur == W.a else W.a
        if final != NULL and ncrc == 0 and ncodec == 0:
            dst = final                  # the last step, and it yields the bare chunk
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
        if cur != W.a and cur != W.b and cur != final:    # the caller's bytes are never changed
            memcpy(W.a, cur, S.chunk_bytes)
            cur = W.a
        byteswap(cur, S.chunk_bytes, S.ts)
    out[0] = cur
    return 0

cdef inline uint64_t crcs_before(const zspec* S, int i) noexcept nogil:
    """CRC steps applied before step i when encoding (their checksums are inside step i's data)."""
    cdef uint64_t k = 0
    cdef int j
    for j in range(i):
        k += S.steps[j].kind == STEP_CRC
    return k

cdef int encode_chunk(work* W, const zspec* S, uint8_t* final, uint8_t** out, uint64_t* out_len,
                      wk_err* e) noexcept nogil:
    """Apply the steps to the native-order chunk in W.a (which this scrambles). `final`
    (NULL: none; else S.work_bytes of room) is where the last codec writes, so its output
    needs no further copy; `out` is `final` then."""
    cdef uint8_t* cur = W.a
    cdef uint8_t* dst
    cdef uint64_t cur_len = S.chunk_bytes
    cdef Py_ssize_t r
    cdef int i, j
    cdef bint last
    if S.big_endian and S.ts > 1:
        byteswap(cur, S.chunk_bytes, S.ts)
    for i in range(S.n_steps):
        if S.steps[i].kind == STEP_CRC:
            store_le32(cur + cur_len, crc32c(cur, cur_len))
            cur_len += 4
            continue
        last = True
        for j in range(i + 1, S.n_steps):
            if S.steps[j].kind != STEP_CRC:
                last = False
        dst = final if (last and final != NULL) else (W.b if cur == W.a else W.a)
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


cdef inline bint covers_chunk(const zspec* S, const int64_t* n) noexcept nogil:
    cdef int k
    for k in range(S.nd):
        if n[k] != S.chunk[k]:
            return False
    return True

cdef inline bint same_layout(const zspec* S, const region* r, const int64_t* n) noexcept nogil:
    """The box covers the whole chunk and its part of the caller's array is laid out as the
    decoded chunk (same byte strides along every axis longer than 1): a decoder may write
    the chunk there directly."""
    cdef int k
    for k in range(S.nd):
        if n[k] != S.chunk[k] or (S.chunk[k] > 1 and r.s[k] != S.cstride[k]):
            return False
    return True

# ---- read ---------------------------------------------------------------------------------

cdef Py_ssize_t plan_rows(const zspec* S, const uint64_t* index, const zbox* box, bint partial,
                          uint64_t* rows) noexcept nogil:
    """The rows (chunk, offset, nbytes) of the present chunks the box touches -- with
    `partial`, only those it covers in part -- into `rows` (NULL: only count them)."""
    cdef int64_t g0[MAX_AXES]
    cdef int64_t g1[MAX_AXES]
    cdef int64_t g[MAX_AXES]
    cdef int64_t l[MAX_AXES]
    cdef int64_t n[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    cdef Py_ssize_t k = 0
    cdef uint64_t m
    cdef bint more = True
    touched_chunks(S, box, g0, g1)
    memcpy(g, g0, sizeof(g))
    while more:
        m = chunk_number(S, g)
        if index[2 * m] != WK_ABSENT:
            overlap(S, g, box, l, n, at)
            if not (partial and covers_chunk(S, n)):
                if rows != NULL:
                    rows[3 * k] = m
                    rows[3 * k + 1] = index[2 * m]
                    rows[3 * k + 2] = index[2 * m + 1]
                k += 1
        more = next_cell(S, g, g0, g1)
    return k

cdef int decode_rows(const zspec* S, const zbox* box, const region* r, const uint64_t* rows, Py_ssize_t k,
                     const spanset* sp, wk_err* e) noexcept nogil:
    """Decode the chunks of `rows` from the spans and copy their parts inside the box."""
    cdef work W
    cdef Py_ssize_t i
    cdef uint64_t m, off, nb
    cdef int64_t g[MAX_AXES]
    cdef int64_t l[MAX_AXES]
    cdef int64_t n[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    cdef const uint8_t* src
    cdef uint8_t* cur
    cdef uint8_t* direct
    cdef char where[COORDS_TEXT]
    cdef int rc
    work_init(&W, S)
    rc = alloc_work(&W, S, e)
    for i in range(k):
        if rc:
            break
        m, off, nb = rows[3 * i], rows[3 * i + 1], rows[3 * i + 2]
        if m >= S.n_chunks:
            rc = WK_FAIL(e, WK_EARG, "row %lld names chunk %llu of a shard of %llu", <long long>i, m, S.n_chunks)
            break
        src = find_span(sp, off, nb)
        if src == NULL:
            rc = WK_FAIL(e, WK_EARG, "no span holds the %llu bytes at %llu of chunk %s", nb, off, chunk_text(S, m, where))
            break
        chunk_coords(S, m, g)
        if not overlap(S, g, box, l, n, at):
            continue
        direct = region_at(r, S, at) if same_layout(S, r, n) else NULL
        rc = decode_chunk(&W, S, src, nb, m, direct, &cur, e)
        if rc == 0 and cur != direct:
            copy_nd(chunk_at(cur, S, l), S.cstride, region_at(r, S, at), r.s, n, S.nd, S.ts, False)
    work_free(&W, S)
    return rc

# ---- write ------------------------------------------------------------------------------

cdef struct encoded_set:            # encoded chunks of one sub-box
    uint8_t* buf
    uint64_t len
    uint64_t cap
    uint64_t* table              # per chunk: (number, offset in buf or WK_ABSENT if all fill, nbytes)
    uint64_t count
    uint64_t table_cap

cdef int prepared_reserve(encoded_set* P, uint64_t n, wk_err* e) noexcept nogil:
    """Room for n more bytes after P.len (an encoder writes its chunk there)."""
    cdef uint64_t cap
    cdef void* q
    if P.len + n > P.cap:
        cap = 2 * P.cap + n + (1 << 20)
        q = realloc(P.buf, cap)
        if q == NULL:
            return WK_FAIL(e, WK_ENOMEM, "cannot grow the buffer of encoded chunks to %llu bytes", cap)
        P.buf = <uint8_t*>q
        P.cap = cap
    return 0

cdef int prepared_add(encoded_set* P, uint64_t m, const uint8_t* p, uint64_t n, wk_err* e) noexcept nogil:
    """Record chunk m: its n encoded bytes at p (NULL: all fill, absent), which are copied
    to the end of P.buf unless they already are there (see `prepared_reserve`)."""
    cdef uint64_t cap
    cdef void* q
    if P.count == P.table_cap:
        cap = 2 * P.table_cap + 64
        q = realloc(P.table, 24 * cap)
        if q == NULL:
            return WK_FAIL(e, WK_ENOMEM, "cannot grow the table of encoded chunks")
        P.table = <uint64_t*>q
        P.table_cap = cap
    if p != NULL and p != P.buf + P.len and prepared_reserve(P, n, e):
        return -1
    P.table[3 * P.count] = m
    P.table[3 * P.count + 1] = P.len if p != NULL else WK_ABSENT
    P.table[3 * P.count + 2] = n if p != NULL else 0
    P.count += 1
    if p != NULL:
        if p != P.buf + P.len:
            memcpy(P.buf + P.len, p, n)
        P.len += n
    return 0

cdef int encode_rows(const zspec* S, const zbox* box, const region* r, const uint64_t* index, const spanset* sp,
                     encoded_set* P, wk_err* e) noexcept nogil:
    """Encode every chunk the box touches into P, in C order of the chunk grid: the box's
    voxels over the chunk's old content (decoded from the spans when `index` says it is
    present and the box covers it only in part) or over the fill value."""
    cdef work W
    cdef int rc, k
    cdef uint64_t m, off, nb, enc_len = 0, touched = 1, want
    cdef int64_t g0[MAX_AXES]
    cdef int64_t g1[MAX_AXES]
    cdef int64_t g[MAX_AXES]
    cdef int64_t l[MAX_AXES]
    cdef int64_t n[MAX_AXES]
    cdef int64_t at[MAX_AXES]
    cdef const uint8_t* src
    cdef uint8_t* cur
    cdef char where[COORDS_TEXT]
    cdef bint more
    work_init(&W, S)
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
        P.buf = <uint8_t*>wk_alloc_big(want)
        if P.table == NULL or P.buf == NULL:
            rc = WK_FAIL(e, WK_ENOMEM, "cannot allocate %llu bytes for encoded chunks", want)
        else:
            P.table_cap = touched
            P.cap = want
    memcpy(g, g0, sizeof(g))
    more = rc == 0
    while more:
        m = chunk_number(S, g)
        overlap(S, g, box, l, n, at)
        if not covers_chunk(S, n):
            if index != NULL and index[2 * m] != WK_ABSENT:
                off, nb = index[2 * m], index[2 * m + 1]
                src = find_span(sp, off, nb)
                if src == NULL:
                    rc = WK_FAIL(e, WK_EARG, "no span holds the %llu bytes at %llu of chunk %s, which the box "
                                 "covers in part", nb, off, chunk_text(S, m, where))
                    break
                if decode_chunk(&W, S, src, nb, m, NULL, &cur, e):
                    rc = -1
                    break
                if cur != W.a:
                    memcpy(W.a, cur, S.chunk_bytes)
            else:
                fill_chunk(W.a, S)
        copy_nd(chunk_at(W.a, S, l), S.cstride, region_at(r, S, at), r.s, n, S.nd, S.ts, True)
        if is_fill(W.a, S):
            rc = prepared_add(P, m, NULL, 0, e)
        else:
            rc = prepared_reserve(P, S.work_bytes, e) or encode_chunk(&W, S, P.buf + P.len, &cur, &enc_len, e) \
                or prepared_add(P, m, cur, enc_len, e)
        if rc:
            break
        more = next_cell(S, g, g0, g1)
    work_free(&W, S)
    return rc

cdef int64_t* prepared_lookup(const zspec* S, encoded_set** sets, int nsets, wk_err* e) noexcept nogil:
    """Per chunk number: (set << 40 | entry), or -1."""
    cdef int64_t* look = <int64_t*>malloc(8 * S.n_chunks)
    cdef int i
    cdef uint64_t j, m
    if look == NULL:
        WK_FAIL(e, WK_ENOMEM, "cannot allocate a table of %llu chunks", S.n_chunks)
        return NULL
    memset(look, 0xFF, 8 * S.n_chunks)
    for i in range(nsets):
        for j in range(sets[i].count):
            m = sets[i].table[3 * j]
            if m < S.n_chunks:
                look[m] = (<int64_t>i << 40) | <int64_t>j
    return look

cdef int assemble_runs(const zspec* S, const uint64_t* old, encoded_set** sets, int nsets, uint64_t* index,
                       int64_t* runs, Py_ssize_t* nruns, uint64_t* present, int64_t append_at,
                       uint64_t* data_bytes, wk_err* e) noexcept nogil:
    """Lay out the new file: chunks of the sets where they have them (absent if all fill),
    the old file's chunks elsewhere. `index` gets the new entries; `runs` the byte runs in
    file order as (source: OLD_FILE or a set, offset in it, length), neighbours merged;
    `data_bytes` the bytes of the chunks present. With `append_at` >= 0 the old file stays
    where it is: its chunks keep their entries and the sets' chunks follow from that offset
    (`runs` then holds only theirs)."""
    cdef int64_t* look = prepared_lookup(S, sets, nsets, e) if nsets else NULL
    cdef uint64_t m, pos = <uint64_t>append_at if append_at >= 0 else (index_bytes(S) if S.index_at_start else 0)
    cdef int64_t source, off, nb
    cdef const uint64_t* entry
    cdef Py_ssize_t k = 0
    if nsets and look == NULL:
        return -1
    present[0] = data_bytes[0] = 0
    for m in range(S.n_chunks):
        index[2 * m] = index[2 * m + 1] = WK_ABSENT
        if look != NULL and look[m] >= 0:
            source = look[m] >> 40
            entry = sets[source].table + 3 * (look[m] & ((<int64_t>1 << 40) - 1))
            if entry[1] == WK_ABSENT:
                continue
            off, nb = <int64_t>entry[1], <int64_t>entry[2]
        elif old != NULL and old[2 * m] != WK_ABSENT:
            source, off, nb = OLD_FILE, <int64_t>old[2 * m], <int64_t>old[2 * m + 1]
            if append_at >= 0:                  # stays where it is
                index[2 * m], index[2 * m + 1] = old[2 * m], old[2 * m + 1]
                present[0] += 1
                data_bytes[0] += <uint64_t>nb
                continue
        else:
            continue
        data_bytes[0] += <uint64_t>nb
        index[2 * m] = pos
        index[2 * m + 1] = <uint64_t>nb
        pos += <uint64_t>nb
        present[0] += 1
        if k > 0 and runs[3 * (k - 1)] == source and runs[3 * (k - 1) + 1] + runs[3 * (k - 1) + 2] == off:
            runs[3 * (k - 1) + 2] += nb
        else:
            runs[3 * k] = source
            runs[3 * k + 1] = off
            runs[3 * k + 2] = nb
            k += 1
    nruns[0] = k
    free(look)
    return 0


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

    @property
    def shard_shape(self) -> tuple:
        """Elements per file along each axis."""
        return tuple(self.s.shard[k] for k in range(self.s.nd))

    @property
    def chunk_shape(self) -> tuple:
        """Elements per inner chunk along each axis."""
        return tuple(self.s.chunk[k] for k in range(self.s.nd))

    @property
    def sharded(self) -> bool:
        """Whether files carry an index of inner chunks."""
        return bool(self.s.sharded)

    @property
    def index_at_start(self) -> bool:
        """Whether the index precedes the chunks in a file (else it ends the file)."""
        return bool(self.s.index_at_start)

    @property
    def index_crc(self) -> bool:
        """Whether the index ends with a CRC32C of its entries (the ``crc32c`` index codec)."""
        return bool(self.s.index_crc)


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


cdef class ShardIndex:
    """The checked index of one chunk file: (offset, nbytes) per inner chunk in C order of
    the chunk grid, every present chunk inside the file's data bytes. Made by `parse_index`;
    immutable, so threads may share it."""

    cdef uint64_t* e
    cdef readonly ShardSpec spec
    cdef readonly unsigned long long file_size

    def __dealloc__(self):
        free(self.e)

    def __len__(self) -> int:
        return self.spec.s.n_chunks

    def chunk(self, unsigned long long m) -> tuple | None:
        """(offset, nbytes) of chunk `m`, or None if it is absent."""
        if m >= self.spec.s.n_chunks:
            raise IndexError(f"chunk {m} of a shard of {self.spec.s.n_chunks}")
        return None if self.e[2 * m] == WK_ABSENT else (self.e[2 * m], self.e[2 * m + 1])

    def as_list(self) -> list:
        """(offset, nbytes) per chunk, None for absent chunks."""
        return [None if self.e[2 * m] == WK_ABSENT else (self.e[2 * m], self.e[2 * m + 1])
                for m in range(self.spec.s.n_chunks)]

    @property
    def present(self) -> int:
        """How many chunks the file holds."""
        cdef uint64_t m, k = 0
        for m in range(self.spec.s.n_chunks):
            k += self.e[2 * m] != WK_ABSENT
        return k


cdef ShardIndex _same_grid(ShardSpec spec, object index):
    if index is None:
        return None
    if not isinstance(index, ShardIndex):
        raise TypeError(f"index must be a ShardIndex from parse_index, not {type(index).__name__}")
    if (<ShardIndex>index).spec.s.n_chunks != spec.s.n_chunks:
        raise ValueError("the index is of a shard with another chunk grid")
    return <ShardIndex>index


def index_range(ShardSpec spec, unsigned long long size) -> tuple:
    """(offset, nbytes) of the index bytes in a chunk file of `size` bytes: what to fetch
    for `parse_index`; (0, 0) if the file has no index (unsharded) or is too short for one."""
    cdef uint64_t isz = index_bytes(&spec.s)
    if not spec.s.sharded or size < isz:
        return (0, 0)
    return (0 if spec.s.index_at_start else size - isz, isz)


def parse_index(ShardSpec spec, data, unsigned long long size, name="<bytes>") -> ShardIndex:
    """Check and decode the index of a chunk file of `size` bytes from its index bytes
    `data` (see `index_range`; ignored for unsharded files, whose one chunk is the file).

    Raises
    ------
    CorruptFileError
        The file is shorter than its index, the index checksum is wrong, or an entry lies
        outside the file's data bytes (the message names `name` and the chunk).
    ValueError
        `data` is not as long as the index.
    """
    cdef uint64_t isz = index_bytes(&spec.s), n = spec.s.n_chunks
    cdef uint32_t want, got
    cdef wk_err e
    cdef int rc = 0
    cdef Py_buffer v
    cdef ShardIndex ix = ShardIndex.__new__(ShardIndex)
    ix.spec = spec
    ix.file_size = size
    ix.e = <uint64_t*>malloc(16 * n + 8)
    if ix.e == NULL:
        raise MemoryError()
    if not spec.s.sharded:
        ix.e[0] = 0
        ix.e[1] = size
        return ix
    if size < isz:
        raise_for(WK_ECORRUPT, 0, f"file of {size} bytes is shorter than its {isz}-byte shard index", name)
    PyObject_GetBuffer(data, &v, PyBUF_SIMPLE)
    try:
        if <uint64_t>v.len != isz:
            raise ValueError(f"{name}: index bytes are {v.len} bytes, the index has {isz}")
        e.code = 0; e.errnum = 0
        with nogil:
            memcpy(ix.e, v.buf, 16 * n)
            if spec.s.index_crc:
                want = load_le32(<const uint8_t*>v.buf + 16 * n)
                got = crc32c(<const uint8_t*>v.buf, 16 * n)
                if want != got:
                    rc = WK_FAIL(&e, WK_ECORRUPT, "shard index checksum is 0x%08x, the index bytes give 0x%08x",
                                 want, got)
            if rc == 0:
                rc = check_index(ix.e, &spec.s, size, &e)
    finally:
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return ix


def plan(ShardSpec spec, index, tuple box, bint partial=False) -> np.ndarray:
    """The (k, 3) uint64 rows (chunk, offset, nbytes) of the present chunks that the
    shard-local `box` touches, sorted by offset: the bytes to fetch for `decode`. With
    `partial`, only the chunks the box covers in part: the old bytes an `encode` of that
    box needs. An `index` of None (no file) has no rows."""
    cdef zbox b
    cdef ShardIndex ix = _same_grid(spec, index)
    cdef Py_ssize_t k
    _box(&spec.s, box, &b)
    if ix is None:
        return np.empty((0, 3), np.uint64)
    with nogil:
        k = plan_rows(&spec.s, ix.e, &b, partial, NULL)
    rows = np.empty((k, 3), np.uint64)
    cdef uint64_t[:, ::1] rv = rows
    if k:
        with nogil:
            plan_rows(&spec.s, ix.e, &b, partial, &rv[0, 0])
            wk_sort_rows(&rv[0, 0], <size_t>k)
    return rows


def decode(ShardSpec spec, tuple box, out, tuple out_offset, rows, spans, name="<bytes>") -> int:
    """Decode the chunks of `rows` (see `plan`; any subset) from `spans` -- ``(file
    offset, buffer)`` pairs holding their bytes -- and copy their parts inside the
    shard-local `box` (the starts along every axis, then the ends) into `out` (as many axes
    as the spec, any strides) at `out_offset`. Returns the number of chunks decoded.

    Raises
    ------
    CorruptFileError
        A chunk's bytes do not decode (the message names `name` and the chunk).
    ValueError
        A row's bytes are in no span, a row names a chunk outside the shard, or the box
        does not fit the shard or `out`.
    """
    cdef zbox b
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc = 0
    cdef spanset sp
    cdef const uint64_t* rp
    cdef Py_ssize_t k
    _box(&spec.s, box, &b)
    take_rows(rows, &rp, &k, "chunk")
    memset(&sp, 0, sizeof(sp))
    PyObject_GetBuffer(out, &v, PyBUF_STRIDES | PyBUF_WRITABLE | PyBUF_FORMAT)
    try:
        _region(&r, &v, out_offset, &spec.s, &b)
        take_spans(spans, &sp)
        e.code = 0; e.errnum = 0
        if k:
            with nogil:
                rc = decode_rows(&spec.s, &b, &r, rp, k, &sp, &e)
    finally:
        drop_spans(&sp)
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return k


cdef uint8_t _EMPTY[1]


cdef class EncodedChunks:
    """The encoded chunks of one sub-box of a shard, made by `encode` for `assemble`: a
    read-only buffer of their bytes, in C order of the chunk grid."""

    cdef encoded_set p
    cdef readonly ShardSpec spec

    def __dealloc__(self):
        free(self.p.buf)
        free(self.p.table)

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        PyBuffer_FillInfo(buffer, self, self.p.buf if self.p.buf != NULL else _EMPTY, self.p.len, 1, flags)

    def __releasebuffer__(self, Py_buffer* buffer):
        pass

    @property
    def count(self) -> int:
        """Chunks held (all-fill chunks count too: they will be absent)."""
        return self.p.count

    @property
    def nbytes(self) -> int:
        return self.p.len


cdef extern from "Python.h":
    int PyBuffer_FillInfo(Py_buffer* view, object obj, void* buf, Py_ssize_t len, int readonly, int flags) except -1


def encode(ShardSpec spec, tuple box, data, tuple data_offset, index=None, spans=None, name="<bytes>") -> EncodedChunks:
    """Encode every inner chunk that the shard-local `box` touches, with `data` (as many
    axes as the spec) at `data_offset` written over the chunk's current content: the fill
    value, or -- for a chunk the box covers in part and `index` (the old file's, None for
    none) has -- its old bytes, decoded from `spans` (the ``plan(..., partial=True)`` rows).
    Chunks that end up all fill value are recorded as absent. Boxes of different calls for
    one file must not share chunks. Runs without the GIL, so several threads can encode
    parts of one shard at once.

    Raises
    ------
    CorruptFileError
        An old chunk does not decode (naming `name` and the chunk).
    ValueError
        An old chunk's bytes are in no span; the box does not fit the shard or `data`.
    """
    cdef zbox b
    cdef region r
    cdef Py_buffer v
    cdef wk_err e
    cdef int rc = 0
    cdef spanset sp
    cdef ShardIndex ix = _same_grid(spec, index)
    cdef const uint64_t* old = ix.e if ix is not None else NULL
    cdef EncodedChunks out = EncodedChunks.__new__(EncodedChunks)
    out.spec = spec
    _box(&spec.s, box, &b)
    memset(&sp, 0, sizeof(sp))
    PyObject_GetBuffer(data, &v, PyBUF_STRIDES | PyBUF_FORMAT)
    try:
        _region(&r, &v, data_offset, &spec.s, &b)
        take_spans(spans, &sp)
        e.code = 0; e.errnum = 0
        with nogil:
            rc = encode_rows(&spec.s, &b, &r, old, &sp, &out.p, &e)
    finally:
        drop_spans(&sp)
        PyBuffer_Release(&v)
    if rc:
        raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), name)
    return out


def assemble(ShardSpec spec, index, sets) -> tuple | None:
    """Lay out the new chunk file after `encode` of one or more sub-boxes (`sets`): their
    chunks where they have them, the old file's (`index`; None for no file) elsewhere.

    Returns None if no chunk is left (the file is to be removed, or to stay absent), else
    ``(runs, index_bytes)``: the file's bytes after (index at the end) or before (index at
    the start) the index are the (p, 3) int64 `runs` in order, each (source, offset,
    length) with source -1 for the old file's bytes and i for ``sets[i]``'s buffer;
    `index_bytes` is the new encoded index (empty for unsharded files).
    """
    laid = _lay_out(spec, index, sets, -1)
    return None if laid is None else laid[:2]


def append(ShardSpec spec, ShardIndex index not None, sets, unsigned long long at) -> tuple | None:
    """Lay out an append to a shard whose index is at its end: the old file (`index`)
    keeps its bytes and every chunk the sets do not replace keeps its entry; the sets'
    chunks follow from byte `at` (the old file's size), then the new index.

    Returns None if no chunk is left, else ``(runs, index_bytes, data_bytes)``: the
    (p, 3) int64 `runs` of the sets' bytes to write from `at` on, in order (source i for
    ``sets[i]``, offset, length), the new encoded index, and how many bytes the chunks
    present now hold (the rest of the file before the index is dead space).

    Raises
    ------
    ValueError
        The spec is unsharded or has its index at the start, or `at` is before the old
        file's end.
    """
    if not spec.s.sharded or spec.s.index_at_start:
        raise ValueError("only a shard with its index at the end is appended to")
    if at < index.file_size:
        raise ValueError(f"an append at byte {at} would overwrite the old file of {index.file_size} bytes")
    return _lay_out(spec, index, sets, <int64_t>at)


cdef tuple _lay_out(ShardSpec spec, index, sets, int64_t append_at):
    cdef ShardIndex ix = _same_grid(spec, index)
    cdef list items = list(sets)
    cdef int nsets = len(items), i
    cdef encoded_set** ptrs = NULL
    cdef uint64_t* new = NULL
    cdef uint64_t present = 0, data = 0, isz = index_bytes(&spec.s)
    cdef Py_ssize_t nruns = 0
    cdef wk_err e
    cdef int rc
    for item in items:
        if not isinstance(item, EncodedChunks) or (<EncodedChunks>item).spec.s.n_chunks != spec.s.n_chunks:
            raise ValueError("sets must be EncodedChunks of encode() with this shard's spec")
    runs = np.empty((spec.s.n_chunks, 3), np.int64)
    cdef int64_t[:, ::1] rv = runs
    ptrs = <encoded_set**>malloc(sizeof(encoded_set*) * (nsets + 1))
    new = <uint64_t*>malloc(16 * spec.s.n_chunks + 8)
    try:
        if ptrs == NULL or new == NULL:
            raise MemoryError()
        for i in range(nsets):
            ptrs[i] = &(<EncodedChunks>items[i]).p
        e.code = 0; e.errnum = 0
        with nogil:
            rc = assemble_runs(&spec.s, ix.e if ix is not None else NULL, ptrs, nsets, new, &rv[0, 0], &nruns,
                               &present, append_at, &data, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), "<assemble>")
        if present == 0:
            return None
        head = bytearray(isz)
        if isz:
            with nogil:
                encode_index(new, &spec.s, <uint8_t*>new)       # in place: room for the CRC
            head[:] = (<uint8_t*>new)[:isz]
        return runs[:nruns], bytes(head), data
    finally:
        free(ptrs)
        free(new)


def decode_chunk_bytes(ShardSpec spec, data, name="<bytes>") -> bytes:
    """Decode one encoded inner chunk into its native-order bytes (in the chunk's memory order)."""
    cdef work W
    cdef wk_err e
    cdef uint8_t* cur
    cdef int rc
    cdef bytes src = bytes(data)
    cdef const uint8_t* sp = src
    cdef uint64_t n = len(src)         # bytes, whatever len() of `data` counts (an array's rows)
    e.code = 0; e.errnum = 0
    work_init(&W, &spec.s)
    try:
        with nogil:
            rc = alloc_work(&W, &spec.s, &e)
            if rc == 0:
                rc = decode_chunk(&W, &spec.s, sp, n, 0, NULL, &cur, &e)
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
                rc = encode_chunk(&W, &spec.s, NULL, &cur, &n, &e)
        if rc:
            raise_for(e.code, e.errnum, e.msg.decode(errors="replace"), "<bytes>")
        return cur[:n]
    finally:
        work_free(&W, &spec.s)
