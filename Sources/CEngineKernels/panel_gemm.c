// Panel GEMM: C = alpha · A · B (· a scale per row), A row-major and unpacked, B packed once into panels of 32
// columns. Made for products with a short side that are repeated against the same B (attention: q·kᵀ with k = 64,
// then p·v with n = 64), where OpenBLAS repacks B on every call and its per-call overhead is a large share.
#include "EngineKernels.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define PG_X86 1
#endif

#define PG_ROWS 12
#define PG_COLS 32

long ek_panel_floats(long k, long n) { return (n + PG_COLS - 1) / PG_COLS * PG_COLS * k; }

#ifdef PG_X86
// 16 × 16 block transpose: rows b[(j0 + c)*ldb + p0 ..< +16] for c < 16 become 16 panel rows of 16 values
// (dst[r * PG_COLS + c] = b(j0 + c, p0 + r)). `kp` valid values per row (masked loads past k), `rows` valid rows.
__attribute__((target("avx512f")))
static void transpose16_512(float *dst, const float *b, long ldb, long rows, long kp) {
    __mmask16 km = kp >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << kp) - 1);
    __m512 r[16], t[16];
    for (int c = 0; c < 16; c++) r[c] = c < rows ? _mm512_maskz_loadu_ps(km, b + c * ldb) : _mm512_setzero_ps();
    for (int c = 0; c < 16; c += 2) {
        t[c] = _mm512_unpacklo_ps(r[c], r[c + 1]);
        t[c + 1] = _mm512_unpackhi_ps(r[c], r[c + 1]);
    }
    for (int c = 0; c < 16; c += 4) {
        r[c] = _mm512_shuffle_ps(t[c], t[c + 2], 0x44);
        r[c + 1] = _mm512_shuffle_ps(t[c], t[c + 2], 0xEE);
        r[c + 2] = _mm512_shuffle_ps(t[c + 1], t[c + 3], 0x44);
        r[c + 3] = _mm512_shuffle_ps(t[c + 1], t[c + 3], 0xEE);
    }
    // r[4q + s] holds, in each 128-bit lane l, rows 4q ..< 4q + 4 of column 4l + s.
    for (int q = 0; q < 16; q += 8) {
        for (int s = 0; s < 4; s++) {
            t[q / 2 + s] = _mm512_shuffle_f32x4(r[q + s], r[q + 4 + s], 0x88);
            t[q / 2 + 8 + s] = _mm512_shuffle_f32x4(r[q + s], r[q + 4 + s], 0xDD);
        }
    }
    for (int s = 0; s < 4; s++) {
        __m512 lo0 = _mm512_shuffle_f32x4(t[s], t[4 + s], 0x88), lo1 = _mm512_shuffle_f32x4(t[s], t[4 + s], 0xDD);
        __m512 hi0 = _mm512_shuffle_f32x4(t[8 + s], t[12 + s], 0x88), hi1 = _mm512_shuffle_f32x4(t[8 + s], t[12 + s], 0xDD);
        // Columns s, 8+s (lo0, lo1) and 4+s, 12+s (hi0, hi1).
        if (s < kp) _mm512_storeu_ps(dst + s * PG_COLS, lo0);
        if (8 + s < kp) _mm512_storeu_ps(dst + (8 + s) * PG_COLS, lo1);
        if (4 + s < kp) _mm512_storeu_ps(dst + (4 + s) * PG_COLS, hi0);
        if (12 + s < kp) _mm512_storeu_ps(dst + (12 + s) * PG_COLS, hi1);
    }
}
#endif

// Panel q holds, for p in [0, k), the 32 values b(p, 32q ..< 32q + 32), zero past n.
void ek_panel_pack(float *dst, const float *b, long ldb, long k, long n, int transposed) {
    for (long j0 = 0; j0 < n; j0 += PG_COLS) {
        long w = n - j0 < PG_COLS ? n - j0 : PG_COLS;
#ifdef PG_X86
        if (transposed && ek_kernel_level() == 3) {
            for (long p0 = 0; p0 < k; p0 += 16) {
                long kp = k - p0 < 16 ? k - p0 : 16;
                for (long h = 0; h < PG_COLS; h += 16) {
                    long rows = w - h < 0 ? 0 : (w - h < 16 ? w - h : 16);
                    transpose16_512(dst + p0 * PG_COLS + h, b + (j0 + h) * ldb + p0, ldb, rows, kp);
                }
            }
            dst += k * PG_COLS;
            continue;
        }
#endif
        for (long p = 0; p < k; p++) {
            float *d = dst + p * PG_COLS;
            if (transposed) {
                for (long c = 0; c < w; c++) d[c] = b[(j0 + c) * ldb + p];
            } else {
                memcpy(d, b + p * ldb + j0, (size_t)w * sizeof(float));
            }
            for (long c = w; c < PG_COLS; c++) d[c] = 0;
        }
        dst += k * PG_COLS;
    }
}

#ifdef PG_X86
// One 12×32 tile: 24 accumulators, two panel vectors and one broadcast per step. Rows past `rows` read the last
// valid row (their results are not stored), so every tile runs the same unrolled loop.
__attribute__((target("avx512f")))
static inline void panel_tile_512(long k, const float *a, long lda, long rows, const float *bp, float *c, long ldc,
                                  __mmask16 m0, __mmask16 m1, float alpha, const float *rowScale) {
    const float *r[PG_ROWS];
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_ROWS; i++) r[i] = a + (i < rows ? i : rows - 1) * lda;
    __m512 c0[PG_ROWS], c1[PG_ROWS];
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_ROWS; i++) { c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps(); }
    for (long p = 0; p < k; p++) {
        __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
        bp += PG_COLS;
#pragma clang loop unroll(full)
        for (int i = 0; i < PG_ROWS; i++) {
            __m512 ai = _mm512_set1_ps(r[i][p]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_ROWS; i++) {
        if (i < rows) {
            __m512 s = _mm512_set1_ps(rowScale ? alpha * rowScale[i] : alpha);
            _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_mul_ps(c0[i], s));
            _mm512_mask_storeu_ps(c + i * ldc + 16, m1, _mm512_mul_ps(c1[i], s));
        }
    }
}

__attribute__((target("avx512f")))
static void panel_gemm_512(long m, long n, long k, float alpha, const float *a, long lda, const float *bp, float *c,
                           long ldc, const float *rowScale) {
    long panels = (n + PG_COLS - 1) / PG_COLS;
    for (long i0 = 0; i0 < m; i0 += PG_ROWS) {
        long rows = m - i0 < PG_ROWS ? m - i0 : PG_ROWS;
        for (long q = 0; q < panels; q++) {
            long w = n - q * PG_COLS;
            __mmask16 m0 = w >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << w) - 1);
            __mmask16 m1 = w >= 32 ? (__mmask16)0xFFFF : (w > 16 ? (__mmask16)((1u << (w - 16)) - 1) : 0);
            panel_tile_512(k, a + i0 * lda, lda, rows, bp + q * k * PG_COLS, c + i0 * ldc + q * PG_COLS, ldc,
                           m0, m1, alpha, rowScale ? rowScale + i0 : 0);
        }
    }
}
#endif

int ek_panel_gemm(long m, long n, long k, float alpha, const float *a, long lda, const float *panels, float *c,
                  long ldc, const float *rowScale) {
#ifdef PG_X86
    if (ek_kernel_level() == 3) {
        if (m > 0 && n > 0) panel_gemm_512(m, n, k, alpha, a, lda, panels, c, ldc, rowScale);
        return 1;
    }
#endif
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)panels; (void)c; (void)ldc; (void)rowScale;
    return 0;
}
