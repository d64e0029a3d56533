# cython: language_level=3
"""Byte ranges of a file held in caller buffers ("spans"), and tables of chunk rows.

The kernels never read files: the façade's store fetches the byte ranges a box needs and
hands them over as spans, ``(offset, buffer)`` pairs whose buffer holds the file's bytes
``[offset, offset + len(buffer))`` (one buffer per coalesced run of chunks, or one per
chunk, or the whole file: any mix). A chunk row is three u64 ``(chunk number, file offset,
byte count)``; the planners return tables of them (numpy ``(k, 3)`` uint64 arrays), sorted by
offset, and the decoders take such a table and the spans that hold its bytes.

`take_spans` acquires the buffers while holding the GIL and sorts them by offset;
`find_span` looks a byte range up without the GIL; `drop_spans` releases them.
"""
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport malloc, free
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE

cdef extern from *:
    """
    #include <stdlib.h>
    #include <stdint.h>
    typedef struct { uint64_t start; uint64_t length; const uint8_t* ptr; } wk_span;
    static int wk_cmp_span(const void* a, const void* b) {
        uint64_t x = ((const wk_span*)a)->start, y = ((const wk_span*)b)->start;
        return (x > y) - (x < y);
    }
    static void wk_sort_spans(wk_span* v, size_t n) { qsort(v, n, sizeof(wk_span), wk_cmp_span); }
    static int wk_cmp_row(const void* a, const void* b) {
        uint64_t x = ((const uint64_t*)a)[1], y = ((const uint64_t*)b)[1];
        return (x > y) - (x < y);
    }
    /* rows of (chunk, offset, nbytes), sorted by offset (stable enough: offsets of distinct
       present chunks differ, absent ones are never in a table) */
    static void wk_sort_rows(uint64_t* rows, size_t n) { qsort(rows, n, 3 * sizeof(uint64_t), wk_cmp_row); }
    """
    ctypedef struct wk_span:
        uint64_t start
        uint64_t length
        const uint8_t* ptr
    void wk_sort_spans(wk_span* v, size_t n) nogil
    void wk_sort_rows(uint64_t* rows, size_t n) nogil

cdef struct spanset:
    wk_span* items
    Py_buffer* views
    Py_ssize_t n            # buffers acquired (and to release)


cdef inline int take_spans(object spans, spanset* S) except -1:
    """Acquire every ``(offset, buffer)`` of `spans` (any iterable) into `S`, sorted by
    offset. `S` must be zeroed first; `drop_spans` releases it, also after an error."""
    cdef list items = list(spans) if spans is not None else []
    cdef Py_ssize_t n = len(items), i
    cdef object off
    S.items = NULL
    S.views = NULL
    S.n = 0
    if n == 0:
        return 0
    S.items = <wk_span*>malloc(sizeof(wk_span) * n)
    S.views = <Py_buffer*>malloc(sizeof(Py_buffer) * n)
    if S.items == NULL or S.views == NULL:
        raise MemoryError()
    for i in range(n):
        item = items[i]
        if not isinstance(item, tuple) or len(<tuple>item) != 2:
            raise TypeError(f"span {i} is not an (offset, buffer) pair")
        off = (<tuple>item)[0]
        if off < 0:
            raise ValueError(f"span {i} starts at a negative offset {off}")
        PyObject_GetBuffer((<tuple>item)[1], &S.views[i], PyBUF_SIMPLE)
        S.n += 1
        S.items[i].start = off
        S.items[i].length = <uint64_t>S.views[i].len
        S.items[i].ptr = <const uint8_t*>S.views[i].buf
    wk_sort_spans(S.items, <size_t>n)
    return 0


cdef inline void drop_spans(spanset* S) noexcept:
    cdef Py_ssize_t i
    for i in range(S.n):
        PyBuffer_Release(&S.views[i])
    free(S.items)
    free(S.views)
    S.items = NULL
    S.views = NULL
    S.n = 0


cdef inline const uint8_t* find_span(const spanset* S, uint64_t off, uint64_t n) noexcept nogil:
    """Where the file's bytes [off, off + n) are in the spans, or NULL if no span holds them all."""
    cdef Py_ssize_t lo = 0, hi = S.n, mid
    cdef const wk_span* s
    while hi - lo > 1:                 # the last span starting at or before `off`
        mid = (lo + hi) // 2
        if S.items[mid].start <= off:
            lo = mid
        else:
            hi = mid
    if S.n == 0:
        return NULL
    s = &S.items[lo]
    if s.start > off or off - s.start > s.length or n > s.length - (off - s.start):
        return NULL
    return s.ptr + (off - s.start)


cdef inline int take_rows(object rows, const uint64_t** p, Py_ssize_t* k, str what) except -1:
    """A (k, 3) table of u64 `what` rows (chunk or block) as a C pointer (valid while `rows` lives)."""
    cdef const uint64_t[:, ::1] rv = rows
    if rv.shape[1] != 3:
        raise ValueError(f"{what} rows must be a (k, 3) uint64 table, got {rv.shape[1]} columns")
    k[0] = rv.shape[0]
    p[0] = &rv[0, 0] if rv.shape[0] else NULL
    return 0
