/* Copies between a chunk (or WKW block) buffer and a caller's array: cache-blocked 2-D
   transposes and short dense runs. Pure functions over caller buffers, no state; included
   by _copy.pxd (and so inlined into the kernels that cimport it).

   wk_transpose(dst, ds, src, ss, rows, cols, ts): src holds `rows` rows of `cols` dense
   `ts`-byte items (row stride `ss` bytes), dst gets the transpose: `cols` rows of `rows`
   dense items (row stride `ds`), i.e. dst[j*ds + i*ts] = src[i*ss + j*ts]. Tiles of 16
   bytes square go through SSE2 unpack networks (baseline on x86-64); edges, other
   architectures and item sizes other than 1, 2, 4, 8 take a scalar loop that stores
   densely. */
#ifndef WK_TRANSPOSE_H
#define WK_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define WK_HAVE_SSE2 1
#endif

/* Copy n bytes that are typically short (a chunk row of 32 or 64 bytes): fixed-size
   moves the compiler inlines, instead of a call into the C library per row. */
static inline void wk_copy_bytes(uint8_t* dst, const uint8_t* src, size_t n) {
    if (n >= 16 && n <= 128) {
        size_t k = 0;
        for (; k + 16 <= n; k += 16)
            memcpy(dst + k, src + k, 16);
        if (k < n)
            memcpy(dst + n - 16, src + n - 16, 16);   /* overlaps bytes already copied */
        return;
    }
    memcpy(dst, src, n);
}

static inline void wk_transpose_scalar(uint8_t* dst, ptrdiff_t ds, const uint8_t* src, ptrdiff_t ss,
                                       int64_t rows, int64_t cols, int ts) {
    int64_t i, j;
    /* dst rows outermost: stores are dense, loads strided (cheaper than strided stores) */
    switch (ts) {
    case 1:
        for (j = 0; j < cols; j++)
            for (i = 0; i < rows; i++)
                dst[j * ds + i] = src[i * ss + j];
        break;
    case 2:
        for (j = 0; j < cols; j++)
            for (i = 0; i < rows; i++)
                memcpy(dst + j * ds + 2 * i, src + i * ss + 2 * j, 2);
        break;
    case 4:
        for (j = 0; j < cols; j++)
            for (i = 0; i < rows; i++)
                memcpy(dst + j * ds + 4 * i, src + i * ss + 4 * j, 4);
        break;
    case 8:
        for (j = 0; j < cols; j++)
            for (i = 0; i < rows; i++)
                memcpy(dst + j * ds + 8 * i, src + i * ss + 8 * j, 8);
        break;
    default:
        for (j = 0; j < cols; j++)
            for (i = 0; i < rows; i++)
                memcpy(dst + j * ds + (ptrdiff_t)ts * i, src + i * ss + (ptrdiff_t)ts * j, (size_t)ts);
    }
}

#ifdef WK_HAVE_SSE2
/* One stage of the unpack network over T registers: out[2i], out[2i+1] interleave in[i]
   and in[i + T/2]. log2(T) stages transpose a T x T tile of (16/T)-byte items. */
#define WK_STAGE(T, UNPACK_LO, UNPACK_HI, in, out)                      \
    for (int q_ = 0; q_ < (T) / 2; q_++) {                               \
        out[2 * q_] = UNPACK_LO(in[q_], in[q_ + (T) / 2]);               \
        out[2 * q_ + 1] = UNPACK_HI(in[q_], in[q_ + (T) / 2]);           \
    }

static inline void wk_tile16x1(uint8_t* dst, ptrdiff_t ds, const uint8_t* src, ptrdiff_t ss) {
    __m128i a[16], b[16];
    for (int r = 0; r < 16; r++)
        a[r] = _mm_loadu_si128((const __m128i*)(src + r * ss));
    WK_STAGE(16, _mm_unpacklo_epi8, _mm_unpackhi_epi8, a, b)
    WK_STAGE(16, _mm_unpacklo_epi8, _mm_unpackhi_epi8, b, a)
    WK_STAGE(16, _mm_unpacklo_epi8, _mm_unpackhi_epi8, a, b)
    WK_STAGE(16, _mm_unpacklo_epi8, _mm_unpackhi_epi8, b, a)
    for (int r = 0; r < 16; r++)
        _mm_storeu_si128((__m128i*)(dst + r * ds), a[r]);
}

static inline void wk_tile8x2(uint8_t* dst, ptrdiff_t ds, const uint8_t* src, ptrdiff_t ss) {
    __m128i a[8], b[8];
    for (int r = 0; r < 8; r++)
        a[r] = _mm_loadu_si128((const __m128i*)(src + r * ss));
    WK_STAGE(8, _mm_unpacklo_epi16, _mm_unpackhi_epi16, a, b)
    WK_STAGE(8, _mm_unpacklo_epi16, _mm_unpackhi_epi16, b, a)
    WK_STAGE(8, _mm_unpacklo_epi16, _mm_unpackhi_epi16, a, b)
    for (int r = 0; r < 8; r++)
        _mm_storeu_si128((__m128i*)(dst + r * ds), b[r]);
}

static inline void wk_tile4x4(uint8_t* dst, ptrdiff_t ds, const uint8_t* src, ptrdiff_t ss) {
    __m128i a[4], b[4];
    for (int r = 0; r < 4; r++)
        a[r] = _mm_loadu_si128((const __m128i*)(src + r * ss));
    WK_STAGE(4, _mm_unpacklo_epi32, _mm_unpackhi_epi32, a, b)
    WK_STAGE(4, _mm_unpacklo_epi32, _mm_unpackhi_epi32, b, a)
    for (int r = 0; r < 4; r++)
        _mm_storeu_si128((__m128i*)(dst + r * ds), a[r]);
}

static inline void wk_tile2x8(uint8_t* dst, ptrdiff_t ds, const uint8_t* src, ptrdiff_t ss) {
    __m128i a0 = _mm_loadu_si128((const __m128i*)src), a1 = _mm_loadu_si128((const __m128i*)(src + ss));
    _mm_storeu_si128((__m128i*)dst, _mm_unpacklo_epi64(a0, a1));
    _mm_storeu_si128((__m128i*)(dst + ds), _mm_unpackhi_epi64(a0, a1));
}
#endif

static inline void wk_transpose(uint8_t* dst, ptrdiff_t ds, const uint8_t* src, ptrdiff_t ss,
                                int64_t rows, int64_t cols, int ts) {
#ifdef WK_HAVE_SSE2
    if (ts == 1 || ts == 2 || ts == 4 || ts == 8) {
        const int64_t T = 16 / ts;                 /* tile side in items */
        const int64_t r_end = rows - rows % T, c_end = cols - cols % T;
        int64_t i, j;
        for (i = 0; i < r_end; i += T) {
            for (j = 0; j < c_end; j += T) {
                const uint8_t* s = src + i * ss + j * ts;
                uint8_t* d = dst + j * ds + i * ts;
                switch (ts) {
                case 1: wk_tile16x1(d, ds, s, ss); break;
                case 2: wk_tile8x2(d, ds, s, ss); break;
                case 4: wk_tile4x4(d, ds, s, ss); break;
                default: wk_tile2x8(d, ds, s, ss); break;
                }
            }
        }
        if (c_end < cols)      /* the right edge: columns past the last whole tile, every row */
            wk_transpose_scalar(dst + c_end * ds, ds, src + c_end * ts, ss, rows, cols - c_end, ts);
        if (r_end < rows)      /* the bottom edge: rows past the last whole tile */
            wk_transpose_scalar(dst + r_end * ts, ds, src + r_end * ss, ss, rows - r_end, c_end, ts);
        return;
    }
#endif
    wk_transpose_scalar(dst, ds, src, ss, rows, cols, ts);
}

#endif
