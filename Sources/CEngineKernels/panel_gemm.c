// Panel GEMM: C = alpha · A · B (· a scale per row), A row-major and unpacked, B packed once into panels of 32
// columns. Made for products with a short side that are repeated against the same B (attention: q·kᵀ with k = 64,
// then p·v with n = 64), where OpenBLAS repacks B on every call and its per-call overhead is a large share.
// Below it, the blocked GEMM (`ek_gemm`) for plain products, which packs A as well.
#include "EngineKernels.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#include "simd_helpers.h"
#define PG_X86 1
#endif

#define PG_ROWS 12
#define PG_COLS 32

long ek_panel_floats(long k, long n) { return (n + PG_COLS - 1) / PG_COLS * PG_COLS * k; }

#ifdef PG_X86
// 16 × 16 transpose in registers: r[c] (row c) becomes r[q] (column q).
__attribute__((target("avx512f"), always_inline))
static inline void transpose16_regs(__m512 *r) {
    __m512 t[16];
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
    for (int q = 0; q < 16; q += 8) {
        for (int s = 0; s < 4; s++) {
            t[q / 2 + s] = _mm512_shuffle_f32x4(r[q + s], r[q + 4 + s], 0x88);
            t[q / 2 + 8 + s] = _mm512_shuffle_f32x4(r[q + s], r[q + 4 + s], 0xDD);
        }
    }
    for (int s = 0; s < 4; s++) {
        r[s] = _mm512_shuffle_f32x4(t[s], t[4 + s], 0x88);
        r[8 + s] = _mm512_shuffle_f32x4(t[s], t[4 + s], 0xDD);
        r[4 + s] = _mm512_shuffle_f32x4(t[8 + s], t[12 + s], 0x88);
        r[12 + s] = _mm512_shuffle_f32x4(t[8 + s], t[12 + s], 0xDD);
    }
}

// 16 × 16 block transpose: rows b[(j0 + c)*ldb + p0 ..< +16] for c < 16 become 16 panel rows of 16 values
// (dst[r * PG_COLS + c] = b(j0 + c, p0 + r)). `kp` valid values per row (masked loads past k), `rows` valid rows.
__attribute__((target("avx512f")))
static void transpose16_512(float *dst, const float *b, long ldb, long rows, long kp) {
    __mmask16 km = EK_MASK(kp);
    __m512 r[16];
    for (int c = 0; c < 16; c++) r[c] = c < rows ? _mm512_maskz_loadu_ps(km, b + c * ldb) : _mm512_setzero_ps();
    transpose16_regs(r);
    for (int q = 0; q < 16; q++)
        if (q < kp) _mm512_storeu_ps(dst + q * PG_COLS, r[q]);
}
#endif

#ifdef PG_X86
// Row-major b, row by row: each source row is read once, front to back, and its 32-float pieces go to their
// panels (panel by panel, every row was visited once per panel: ~2% of a 2048³ product, measured).
__attribute__((target("avx512f")))
static void panel_pack_rows_512(float *dst, const float *b, long ldb, long k, long n) {
    long panels = (n + PG_COLS - 1) / PG_COLS;
    for (long p = 0; p < k; p++) {
        const float *src = b + p * ldb;
        float *d = dst + p * PG_COLS;
        for (long q = 0; q < panels; q++, d += k * PG_COLS) {
            long left = n - q * PG_COLS;
            __mmask16 m0 = EK_MASK(left), m1 = left > 16 ? EK_MASK(left - 16) : 0;
            _mm512_storeu_ps(d, _mm512_maskz_loadu_ps(m0, src + q * PG_COLS));
            _mm512_storeu_ps(d + 16, _mm512_maskz_loadu_ps(m1, src + q * PG_COLS + 16));
        }
    }
}
#endif

#ifdef PG_X86
// Transposed b (b(p, j) = b[j*ldb + p]): 16 × 16 register transposes, panel by panel.
__attribute__((target("avx512f")))
static void panel_pack_transposed_512(float *dst, const float *b, long ldb, long k, long n) {
    for (long j0 = 0; j0 < n; j0 += PG_COLS, dst += k * PG_COLS) {
        long w = n - j0 < PG_COLS ? n - j0 : PG_COLS;
        for (long p0 = 0; p0 < k; p0 += 16) {
            long kp = k - p0 < 16 ? k - p0 : 16;
            for (long h = 0; h < PG_COLS; h += 16) {
                long rows = w - h < 0 ? 0 : (w - h < 16 ? w - h : 16);
                transpose16_512(dst + p0 * PG_COLS + h, b + (j0 + h) * ldb + p0, ldb, rows, kp);
            }
        }
    }
}
#endif

// Panel q holds, for p in [0, k), the 32 values b(p, 32q ..< 32q + 32), zero past n.
void ek_panel_pack(float *dst, const float *b, long ldb, long k, long n, int transposed) {
#ifdef PG_X86
    if (ek_kernel_level() == 3) {
        if (transposed) panel_pack_transposed_512(dst, b, ldb, k, n);
        else panel_pack_rows_512(dst, b, ldb, k, n);
        return;
    }
#endif
    for (long j0 = 0; j0 < n; j0 += PG_COLS, dst += k * PG_COLS) {
        long w = n - j0 < PG_COLS ? n - j0 : PG_COLS;
        for (long p = 0; p < k; p++) {
            float *d = dst + p * PG_COLS;
            if (transposed) {
                for (long c = 0; c < w; c++) d[c] = b[(j0 + c) * ldb + p];
            } else {
                memcpy(d, b + p * ldb + j0, (size_t)w * sizeof(float));
            }
            for (long c = w; c < PG_COLS; c++) d[c] = 0;
        }
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
            __mmask16 m0 = EK_MASK(w), m1 = w > 16 ? EK_MASK(w - 16) : 0;
            panel_tile_512(k, a + i0 * lda, lda, rows, bp + q * k * PG_COLS, c + i0 * ldc + q * PG_COLS, ldc,
                           m0, m1, alpha, rowScale ? rowScale + i0 : 0);
        }
    }
}
#endif

#ifdef PG_X86
// AVX2 has 16 vector registers, so a 12×32 tile is computed as 6×16 quarters (12 accumulators, two panel
// vectors, one broadcast). Each element still sums over p in order with one FMA per step, as on AVX-512, so
// both levels give the same bits.
#define PG_QROWS 6
#define PG_QCOLS 16

// One 6×16 quarter with A unpacked (rows `lda` apart; rows past `rows` read the last valid row and are not
// stored), B from a 32-column panel (its first or second 16 columns), `w` valid columns.
__attribute__((target("avx2,fma"), always_inline))
static inline void panel_quarter_256(long k, const float *a, long lda, long rows, const float *bp, float *c,
                                     long ldc, long w, float alpha, const float *rowScale) {
    const float *r[PG_QROWS];
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_QROWS; i++) r[i] = a + (i < rows ? i : rows - 1) * lda;
    __m256 c0[PG_QROWS], c1[PG_QROWS];
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_QROWS; i++) { c0[i] = _mm256_setzero_ps(); c1[i] = _mm256_setzero_ps(); }
#pragma clang loop unroll(disable)   // unrolled, clang spills accumulators (16 registers: 12 + 2 + 1)
    for (long p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
        bp += PG_COLS;
#pragma clang loop unroll(full)
        for (int i = 0; i < PG_QROWS; i++) {
            __m256 ai = _mm256_broadcast_ss(r[i] + p);
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_QROWS; i++) {
        if (i < rows) {
            __m256 s = _mm256_set1_ps(rowScale ? alpha * rowScale[i] : alpha);
            ek_store_part_256(c + i * ldc, _mm256_mul_ps(c0[i], s), w);
            if (w > 8) ek_store_part_256(c + i * ldc + 8, _mm256_mul_ps(c1[i], s), w - 8);
        }
    }
}

__attribute__((target("avx2,fma")))
static void panel_gemm_256(long m, long n, long k, float alpha, const float *a, long lda, const float *bp, float *c,
                           long ldc, const float *rowScale) {
    long panels = (n + PG_COLS - 1) / PG_COLS;
    for (long q = 0; q < panels; q++) {
        for (long h = 0; h < PG_COLS; h += PG_QCOLS) {
            long w = n - q * PG_COLS - h;
            if (w <= 0) break;
            for (long i0 = 0; i0 < m; i0 += PG_QROWS) {
                long rows = m - i0 < PG_QROWS ? m - i0 : PG_QROWS;
                panel_quarter_256(k, a + i0 * lda, lda, rows, bp + q * k * PG_COLS + h, c + i0 * ldc + q * PG_COLS + h,
                                  ldc, w, alpha, rowScale ? rowScale + i0 : NULL);
            }
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
    if (ek_kernel_level() == 2) {
        if (m > 0 && n > 0) panel_gemm_256(m, n, k, alpha, a, lda, panels, c, ldc, rowScale);
        return 1;
    }
#endif
    (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)panels; (void)c; (void)ldc; (void)rowScale;
    return 0;
}

// ---------------------------------------------------------------- blocked GEMM
// C = alpha·op(A)·op(B) + beta·C on one thread, Goto-style with the roles arranged for a broadcast kernel: for
// each KC-deep slab, A is packed into 12-row micro-panels (each stays in L1 while it sweeps the B block) and B
// into 32-column panels of at most NC columns (the block stays in L2 and streams through the kernel). Callers
// split C between threads by rows or columns; each element's sum runs in the same order however C is split.
// KC = 512 (both levels: the same sums, so the same bits): C is read and written once per slab, and at 256 those
// passes over C cost 2–4% of a 2048³ product on two Zen 3 cores (sgemm 92.6–93.9 → 90.2–91.9 ms, linear 2048
// 93.7–94.3 → 89.5–90.5 ms). B blocks are then 256 columns at both levels (512 KB, as 512 × 256 was before).
#define BG_KC 512
#define BG_NC 512

// Packed A of m rows: whole micro-panels, rounded to a cache line so the B block after it stays aligned.
static long bg_panel_floats(long m, long kc) { return ((m + PG_ROWS - 1) / PG_ROWS * PG_ROWS * kc + 15) / 16 * 16; }

// One element of an edge tile into C: the tile's sum·alpha, + beta·C (beta = 0 never reads C), + the biases.
// Separate statements: within one expression clang may fuse a·b + c into an FMA where the target has one, and
// this runs both in plain C (`blocked_tile_at`) and in AVX2+FMA code (`blocked_columns_256`).
static inline void bg_merge(float *c, float scaled, float beta, const float *colBias, const float *rowBias) {
    float old = beta != 0 ? beta * *c : 0;
    float v = scaled + old;
    if (colBias) v += *colBias;
    if (rowBias) v += *rowBias;
    *c = v;
}

long ek_gemm_scratch_floats(long m, long n, long k) {
    long kc = k < BG_KC ? k : BG_KC, nc = n < BG_NC ? n : BG_NC;
    return bg_panel_floats(m, kc) + (nc + PG_COLS - 1) / PG_COLS * PG_COLS * kc + PG_ROWS * PG_COLS;
}

#ifdef PG_X86
// One micro-panel: dst[p*12 + r] = A(r, p) for r < rows (zero above), p < kc. Row-major A goes through 16 × 16
// register transposes; transposed A (A(r, p) = a[p*lda + r]) is already in panel order.
__attribute__((target("avx512f")))
static void blocked_pack_a(float *dst, const float *a, long lda, int transposed, long rows, long kc) {
    if (transposed) {
        __mmask16 rm = EK_MASK(rows);
        for (long p = 0; p < kc; p++)
            _mm512_mask_storeu_ps(dst + p * PG_ROWS, 0x0FFF, _mm512_maskz_loadu_ps(rm, a + p * lda));
        return;
    }
    for (long p0 = 0; p0 < kc; p0 += 16) {
        long kp = kc - p0 < 16 ? kc - p0 : 16;
        __mmask16 km = EK_MASK(kp);
        __m512 v[16];
        for (int r = 0; r < 16; r++)
            v[r] = r < rows ? _mm512_maskz_loadu_ps(km, a + r * lda + p0) : _mm512_setzero_ps();
        transpose16_regs(v);
        // 12 lanes per step; the masked stores overlap nothing past the panel.
        for (int q = 0; q < 16; q++)
            if (q < kp) _mm512_mask_storeu_ps(dst + (p0 + q) * PG_ROWS, 0x0FFF, v[q]);
    }
}

// The 12 × 32 tile: A from its packed micro-panel (broadcasts, L1), B from its panel (two vectors per step, L2,
// prefetched 8 steps ahead). beta = 0 never reads C.
__attribute__((target("avx512f")))
static inline void blocked_tile_512(long kc, const float *ap, const float *bp, float *c, long ldc, float alpha,
                                    float beta, const float *rowBias, const float *colBias) {
    __m512 c0[PG_ROWS], c1[PG_ROWS];
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_ROWS; i++) {
        c0[i] = _mm512_setzero_ps();
        c1[i] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
#pragma clang loop unroll_count(4)
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        _mm_prefetch((const char *)(bp + 8 * PG_COLS), _MM_HINT_T0);
        _mm_prefetch((const char *)(bp + 8 * PG_COLS + 16), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int i = 0; i < PG_ROWS; i++) {
            __m512 ai = _mm512_set1_ps(ap[i]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
        ap += PG_ROWS;
        bp += PG_COLS;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __m512 cb0 = colBias ? _mm512_loadu_ps(colBias) : _mm512_setzero_ps();
    __m512 cb1 = colBias ? _mm512_loadu_ps(colBias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int i = 0; i < PG_ROWS; i++) {
        __m512 r0 = _mm512_mul_ps(c0[i], va), r1 = _mm512_mul_ps(c1[i], va);
        if (beta != 0) {
            r0 = _mm512_fmadd_ps(_mm512_loadu_ps(c + i * ldc), vb, r0);
            r1 = _mm512_fmadd_ps(_mm512_loadu_ps(c + i * ldc + 16), vb, r1);
        }
        if (colBias) {
            r0 = _mm512_add_ps(r0, cb0);
            r1 = _mm512_add_ps(r1, cb1);
        }
        if (rowBias) {
            __m512 rb = _mm512_set1_ps(rowBias[i]);
            r0 = _mm512_add_ps(r0, rb);
            r1 = _mm512_add_ps(r1, rb);
        }
        _mm512_storeu_ps(c + i * ldc, r0);
        _mm512_storeu_ps(c + i * ldc + 16, r1);
    }
}

#endif

#ifdef PG_X86
// AVX2 has 16 vector registers: its tile is 6 × 16 (12 accumulators, two panel vectors, one broadcast), on
// 6-row A micro-panels and 16-column B panels (a 32-column panel read 16 columns at a time would use every
// other cache line, halving what L1 holds of it). Each element still sums over p in order with one FMA per
// step and the same epilogue as the AVX-512 tile, so both levels give the same bits.
#define BG_ROWS_256 6
#define BG_COLS_256 16

// 8 × 8 transpose in registers: r[c] (row c) becomes r[q] (column q).
__attribute__((target("avx2"), always_inline))
static inline void transpose8_regs(__m256 *r) {
    __m256 t[8], u[8];
    for (int c = 0; c < 8; c += 2) {
        t[c] = _mm256_unpacklo_ps(r[c], r[c + 1]);
        t[c + 1] = _mm256_unpackhi_ps(r[c], r[c + 1]);
    }
    for (int c = 0; c < 8; c += 4) {
        u[c] = _mm256_shuffle_ps(t[c], t[c + 2], 0x44);
        u[c + 1] = _mm256_shuffle_ps(t[c], t[c + 2], 0xEE);
        u[c + 2] = _mm256_shuffle_ps(t[c + 1], t[c + 3], 0x44);
        u[c + 3] = _mm256_shuffle_ps(t[c + 1], t[c + 3], 0xEE);
    }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x20);
        r[q + 4] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x31);
    }
}

// One 6-row micro-panel: dst[p*6 + r] = A(r, p) for r < rows (zero above), p < kc. Row-major A goes through
// 8 × 8 register transposes (two rows zero); each column is stored as 8 floats whose last two the next column
// overwrites, the last one as 6 so nothing is written past the panel.
__attribute__((target("avx2,fma")))
static void blocked_pack_a_256(float *dst, const float *a, long lda, int transposed, long rows, long kc) {
    if (transposed) {
        for (long p = 0; p < kc; p++)
            ek_store_part_256(dst + p * BG_ROWS_256, ek_load_part_256(a + p * lda, rows), BG_ROWS_256);
        return;
    }
    long p0 = 0;
    if (rows == BG_ROWS_256) {
        // Whole micro-panels, 8 columns at a time with plain loads and stores while a next column follows.
        for (; p0 + 8 < kc; p0 += 8) {
            __m256 v[8];
#pragma clang loop unroll(full)
            for (int r = 0; r < BG_ROWS_256; r++) v[r] = _mm256_loadu_ps(a + r * lda + p0);
            v[6] = v[7] = _mm256_setzero_ps();
            transpose8_regs(v);
#pragma clang loop unroll(full)
            for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + (p0 + q) * BG_ROWS_256, v[q]);
        }
    }
    for (; p0 < kc; p0 += 8) {
        long kp = kc - p0 < 8 ? kc - p0 : 8;
        __m256 v[8];
        for (int r = 0; r < 8; r++)
            v[r] = r < rows && r < BG_ROWS_256 ? ek_load_part_256(a + r * lda + p0, kp) : _mm256_setzero_ps();
        transpose8_regs(v);
        for (int q = 0; q < kp; q++) {
            float *d = dst + (p0 + q) * BG_ROWS_256;
            if (p0 + q + 1 < kc) _mm256_storeu_ps(d, v[q]);
            else ek_store_part_256(d, v[q], BG_ROWS_256);
        }
    }
}

// The k × n operand as 16-column panels (zero past n), row-major or transposed b (as `ek_panel_pack`).
__attribute__((target("avx2,fma")))
static void panel_pack_256(float *dst, const float *b, long ldb, long k, long n, int transposed) {
    for (long j0 = 0; j0 < n; j0 += BG_COLS_256, dst += k * BG_COLS_256) {
        long w = n - j0 < BG_COLS_256 ? n - j0 : BG_COLS_256;
        if (transposed) {
            // Source rows are the panel's columns: 8 × 8 register transposes, 8 columns by 8 depths at a time.
            for (long p0 = 0; p0 < k; p0 += 8) {
                long kp = k - p0 < 8 ? k - p0 : 8;
                for (long h = 0; h < BG_COLS_256; h += 8) {
                    __m256 v[8];
                    for (int c = 0; c < 8; c++)
                        v[c] = h + c < w ? ek_load_part_256(b + (j0 + h + c) * ldb + p0, kp) : _mm256_setzero_ps();
                    transpose8_regs(v);
                    for (int q = 0; q < kp; q++) _mm256_store_ps(dst + (p0 + q) * BG_COLS_256 + h, v[q]);
                }
            }
            continue;
        }
        for (long p = 0; p < k; p++) {
            float *d = dst + p * BG_COLS_256;
            if (w == BG_COLS_256) {
                _mm256_store_ps(d, _mm256_loadu_ps(b + p * ldb + j0));
                _mm256_store_ps(d + 8, _mm256_loadu_ps(b + p * ldb + j0 + 8));
            } else {
                for (long c = 0; c < BG_COLS_256; c++) d[c] = c < w ? b[p * ldb + j0 + c] : 0;
            }
        }
    }
}

// One 8-column row piece of an AVX2 tile into C: sum·alpha (+ beta·C) (+ column bias) (+ row bias), the AVX-512
// tile's epilogue in the same order. beta = 0 never reads C.
__attribute__((target("avx2,fma"), always_inline))
static inline void blocked_store_256(float *c, __m256 sum, __m256 va, float beta, __m256 vb, const float *colBias,
                                     const float *rowBias) {
    __m256 r = _mm256_mul_ps(sum, va);
    if (beta != 0) r = _mm256_fmadd_ps(_mm256_loadu_ps(c), vb, r);
    if (colBias) r = _mm256_add_ps(r, _mm256_loadu_ps(colBias));
    if (rowBias) r = _mm256_add_ps(r, _mm256_set1_ps(*rowBias));
    _mm256_storeu_ps(c, r);
}

__attribute__((target("avx2,fma")))
static void blocked_tile_256(long kc, const float *ap, const float *bp, float *c, long ldc, float alpha, float beta,
                             const float *rowBias, const float *colBias) {
    __m256 c0[BG_ROWS_256], c1[BG_ROWS_256];
#pragma clang loop unroll(full)
    for (int i = 0; i < BG_ROWS_256; i++) {
        c0[i] = _mm256_setzero_ps();
        c1[i] = _mm256_setzero_ps();
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    }
#pragma clang loop unroll(disable)   // unrolled, clang spills accumulators (16 registers: 12 + 2 + 1)
    for (long p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
        _mm_prefetch((const char *)(bp + 8 * BG_COLS_256), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int i = 0; i < BG_ROWS_256; i++) {
            __m256 ai = _mm256_broadcast_ss(ap + i);
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
        }
        ap += BG_ROWS_256;
        bp += BG_COLS_256;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int i = 0; i < BG_ROWS_256; i++) {
        const float *rb = rowBias ? rowBias + i : NULL;
        blocked_store_256(c + i * ldc, c0[i], va, beta, vb, colBias, rb);
        blocked_store_256(c + i * ldc + 8, c1[i], va, beta, vb, colBias ? colBias + 8 : NULL, rb);
    }
}

// The 6 × 8 tile for B panels with at most 8 valid columns (the first half of the panel): half the work of a
// full tile on the last panel of a product whose columns are not a multiple of 16; same sums per element.
__attribute__((target("avx2,fma")))
static void blocked_tile_256_narrow(long kc, const float *ap, const float *bp, float *c, long ldc, float alpha,
                                    float beta, const float *rowBias, const float *colBias) {
    __m256 acc[BG_ROWS_256];
#pragma clang loop unroll(full)
    for (int i = 0; i < BG_ROWS_256; i++) acc[i] = _mm256_setzero_ps();
#pragma clang loop unroll(disable)
    for (long p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(bp);
#pragma clang loop unroll(full)
        for (int i = 0; i < BG_ROWS_256; i++) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + i), b0, acc[i]);
        ap += BG_ROWS_256;
        bp += BG_COLS_256;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int i = 0; i < BG_ROWS_256; i++)
        blocked_store_256(c + i * ldc, acc[i], va, beta, vb, colBias, rowBias ? rowBias + i : NULL);
}

// Edge panels of 1–3 valid columns: each micro-panel's column of 6 rows is one vector, multiplied by the panel's
// value for each column, so only the needed outputs are computed (a 6 × 8 tile computed 8 columns for one, and
// its 6 chains waited on FMA latency). G micro-panels at once give G independent chains per column. Every element
// still sums its products over p in order with one FMA each and is merged into C by `bg_merge`, as an edge tile
// is, so the bits are the same. The
// 8-float loads of a micro-panel column read 2 floats past it: in the scratch, packed A is followed by the B block.
__attribute__((target("avx2,fma"), always_inline))
static inline void blocked_columns_group(long kc, const float *ap, long panels, const float *bp, const int W,
                                         const int G, float *out) {
    __m256 acc[8][3];
#pragma clang loop unroll(full)
    for (int g = 0; g < G; g++)
#pragma clang loop unroll(full)
        for (int q = 0; q < W; q++) acc[g][q] = _mm256_setzero_ps();
    // Micro-panels past `panels` repeat the last one (their sums are not stored): no branch in the loop.
    const float *a[8];
#pragma clang loop unroll(full)
    for (int g = 0; g < G; g++) a[g] = ap + (g < panels ? g : panels - 1) * kc * BG_ROWS_256;
#pragma clang loop unroll(disable)
    for (long p = 0; p < kc; p++) {
        __m256 b[3];
#pragma clang loop unroll(full)
        for (int q = 0; q < W; q++) b[q] = _mm256_broadcast_ss(bp + p * BG_COLS_256 + q);
#pragma clang loop unroll(full)
        for (int g = 0; g < G; g++) {
            __m256 v = _mm256_loadu_ps(a[g] + p * BG_ROWS_256);
#pragma clang loop unroll(full)
            for (int q = 0; q < W; q++) acc[g][q] = _mm256_fmadd_ps(v, b[q], acc[g][q]);
        }
    }
    // out[(g·6 + r)·3 + q]: the sums of row g·6 + r, column q.
#pragma clang loop unroll(full)
    for (int g = 0; g < G; g++) {
        float v[8];
#pragma clang loop unroll(full)
        for (int q = 0; q < W; q++) {
            _mm256_storeu_ps(v, acc[g][q]);
            for (int r = 0; r < BG_ROWS_256; r++) out[(g * BG_ROWS_256 + r) * 3 + q] = v[r];
        }
    }
}

__attribute__((target("avx2,fma")))
static void blocked_columns_256(long kc, const float *ap, long rows, const float *bp, long w, float *c, long ldc,
                                float alpha, float beta, const float *rowBias, const float *colBias) {
    float sums[8 * BG_ROWS_256 * 3];
    const int G = w == 1 ? 8 : (w == 2 ? 6 : 4);
    for (long r0 = 0; r0 < rows; r0 += G * BG_ROWS_256) {
        long left = rows - r0, panels = (left + BG_ROWS_256 - 1) / BG_ROWS_256;
        if (panels > G) panels = G;
        const float *a0 = ap + r0 * kc;
        if (w == 1) blocked_columns_group(kc, a0, panels, bp, 1, 8, sums);
        else if (w == 2) blocked_columns_group(kc, a0, panels, bp, 2, 6, sums);
        else blocked_columns_group(kc, a0, panels, bp, 3, 4, sums);
        long n = left < G * BG_ROWS_256 ? left : G * BG_ROWS_256;
        for (long r = 0; r < n; r++)
            for (long q = 0; q < w; q++) {
                float scaled = sums[r * 3 + q] * alpha;
                bg_merge(c + (r0 + r) * ldc + q, scaled, beta, colBias ? colBias + q : NULL,
                         rowBias ? rowBias + r0 + r : NULL);
            }
    }
}
#endif

// Fills the B block for rows pc ..< pc + kc and columns jc ..< jc + nc as panels of `kern->cols` columns.
typedef void (*bg_pack_b)(void *ctx, float *dst, long pc, long kc, long jc, long nc);

// The blocked GEMM's vector kernels of one CPU level: A packing into micro-panels of `rows` rows, B packing
// into panels of `cols` columns, the rows × cols tile, the B block's columns (the block stays in L2: 1–2 MB
// per core on the AVX-512 Xeons, 512 KB on Zen 3) and the loop order (`mc`, see `blocked_gemm`).
struct bg_kernels {
    void (*packA)(float *dst, const float *a, long lda, int transposed, long rows, long kc);
    void (*packB)(float *dst, const float *b, long ldb, long k, long n, int transposed);
    void (*tile)(long kc, const float *ap, const float *bp, float *c, long ldc, float alpha, float beta,
                 const float *rowBias, const float *colBias);
    // For an edge panel of at most cols / 2 valid columns: the tile's left half only (or NULL).
    void (*narrowTile)(long kc, const float *ap, const float *bp, float *c, long ldc, float alpha, float beta,
                       const float *rowBias, const float *colBias);
    // For an edge panel of at most 3 valid columns: `rows` rows from consecutive micro-panels (or NULL).
    void (*edgeColumns)(long kc, const float *ap, long rows, const float *bp, long w, float *c, long ldc, float alpha,
                        float beta, const float *rowBias, const float *colBias);
    // The implicit-im2col B block (`struct conv_pack` context), gathered from the image into these panels.
    bg_pack_b packConv;
    long rows, cols, nc, mc;
};

#ifdef PG_X86
__attribute__((target("avx512f"))) static void conv_pack_block(void *ctx, float *dst, long pc, long kc, long jc,
                                                               long nc);
__attribute__((target("avx2,fma"))) static void conv_pack_block_256(void *ctx, float *dst, long pc, long kc, long jc,
                                                                    long nc);

static const struct bg_kernels bg_kernels_512 = {
    blocked_pack_a, ek_panel_pack, blocked_tile_512, NULL, NULL, conv_pack_block, PG_ROWS, PG_COLS, BG_NC / 2, 0 };
static const struct bg_kernels bg_kernels_256 = {
    blocked_pack_a_256, panel_pack_256, blocked_tile_256, blocked_tile_256_narrow, blocked_columns_256,
    conv_pack_block_256, BG_ROWS_256, BG_COLS_256, BG_NC / 2, 60 };
#endif

// The kernels for this CPU, or NULL without AVX2.
static const struct bg_kernels *bg_kernels_for_cpu(void) {
#ifdef PG_X86
    int level = ek_kernel_level();
    if (level == 3) return &bg_kernels_512;
    if (level == 2) return &bg_kernels_256;
#endif
    return NULL;
}

// One tile of the blocked GEMM: rows ir ..< ir + kern->rows of C against the B panel at column jr of the block
// (columns jc + jr …), kc deep; edge tiles are computed whole into `edge` and only their valid part merged.
static inline void blocked_tile_at(const struct bg_kernels *kern, long ir, long jr, long m, long nc, long kc, long jc,
                                   const float *apanel, const float *bblock, float *edge, float *c, long ldc,
                                   float alpha, float bt, const float *rb, const float *cb) {
    long MR = kern->rows, NR = kern->cols;
    long rows = m - ir < MR ? m - ir : MR, w = nc - jr < NR ? nc - jr : NR;
    const float *ap = apanel + ir * kc, *bp = bblock + jr * kc;
    float *cp = c + ir * ldc + jc + jr;
    const float *trb = rb ? rb + ir : NULL, *tcb = cb ? cb + jc + jr : NULL;
    if (rows == MR && w == NR) {
        kern->tile(kc, ap, bp, cp, ldc, alpha, bt, trb, tcb);
        return;
    }
    if (kern->narrowTile && 2 * w <= NR) kern->narrowTile(kc, ap, bp, edge, NR, alpha, 0, NULL, NULL);
    else kern->tile(kc, ap, bp, edge, NR, alpha, 0, NULL, NULL);
    for (long r = 0; r < rows; r++)
        for (long q = 0; q < w; q++)
            bg_merge(cp + r * ldc + q, edge[r * NR + q], bt, tcb ? tcb + q : NULL, trb ? trb + r : NULL);
}

// An operand packed ahead of the call (A by `ek_gemm_pack_a`, B by `ek_gemm_pack_b`): the slab at depth pc holds
// `lines` padded rows of micro-panels (A) or columns of panels (B), `lines · kc` floats from `data + pc · lines`;
// this product's rows or columns start at line `first`.
struct bg_prepacked {
    const float *data;
    long lines, first;
};

// Lines packed for `count` rows (A) or columns (B) in units of the tile's `unit` (0 without a kernel).
static long bg_round(long count, long unit) { return unit > 0 ? (count + unit - 1) / unit * unit : 0; }

// Whether lines first ..< first + count of an operand packed ahead with `lines` lines start on a tile.
static int bg_fits(long first, long count, long lines, long unit) {
    return first % unit == 0 && first + count <= lines;
}

// `pre`: A packed ahead (NULL: packed here, slab by slab); `preB`: B packed ahead (NULL: packed per block).
static void blocked_gemm(const struct bg_kernels *kern, int transA, long m, long n, long k, float alpha,
                         const float *a, long lda, const struct bg_prepacked *pre, const struct bg_prepacked *preB,
                         bg_pack_b packB, void *packContext, float beta, float *c, long ldc, const float *rowBias,
                         const float *colBias, float *scratch) {
    long kcMax = k < BG_KC ? k : BG_KC, ncBlock = kern->nc, MR = kern->rows, NR = kern->cols, mc = kern->mc;
    float *bscratch = scratch + (pre ? 0 : bg_panel_floats(m, kcMax));
    long ncMax = n < ncBlock ? n : ncBlock;
    float *edge = bscratch + (preB ? 0 : (ncMax + NR - 1) / NR * NR * kcMax);
    for (long pc = 0; pc < k; pc += BG_KC) {
        long kc = k - pc < BG_KC ? k - pc : BG_KC;
        float bt = pc == 0 ? beta : 1;
        // The bias joins in the first slab, where C is first written.
        const float *rb = pc == 0 ? rowBias : NULL, *cb = pc == 0 ? colBias : NULL;
        const float *apanel = pre ? pre->data + pc * pre->lines + pre->first * kc : scratch;
        for (long ir = 0; !pre && ir < m; ir += MR) {
            long rows = m - ir < MR ? m - ir : MR;
            kern->packA(scratch + ir * kc, transA ? a + pc * lda + ir : a + ir * lda + pc, lda, transA, rows, kc);
        }
        for (long jc = 0; jc < n; jc += ncBlock) {
            long nc = n - jc < ncBlock ? n - jc : ncBlock;
            const float *bblock = preB ? preB->data + pc * preB->lines + (preB->first + jc) * kc : bscratch;
            if (!preB) packB(packContext, bscratch, pc, kc, jc, nc);
            if (mc == 0) {
                // Each A micro-panel stays in L1 while it sweeps the B block from L2.
                for (long ir = 0; ir < m; ir += MR)
                    for (long jr = 0; jr < nc; jr += NR)
                        blocked_tile_at(kern, ir, jr, m, nc, kc, jc, apanel, bblock, edge, c, ldc, alpha, bt, rb, cb);
            } else {
                // Rows in blocks of mc whose micro-panels stay in L2; each B panel stays in L1 while it meets them.
                for (long ic = 0; ic < m; ic += mc)
                    for (long jr = 0; jr < nc; jr += NR) {
                        long w = nc - jr < NR ? nc - jr : NR, ie = ic + mc < m ? ic + mc : m;
                        if (kern->edgeColumns && w <= 3) {
                            kern->edgeColumns(kc, apanel + ic * kc, ie - ic, bblock + jr * kc, w, c + ic * ldc + jc + jr,
                                              ldc, alpha, bt, rb ? rb + ic : NULL, cb ? cb + jc + jr : NULL);
                            continue;
                        }
                        for (long ir = ic; ir < ie; ir += MR)
                            blocked_tile_at(kern, ir, jr, m, nc, kc, jc, apanel, bblock, edge, c, ldc, alpha, bt,
                                            rb, cb);
                    }
            }
        }
    }
}

void ek_gemm_tile(long *rows, long *cols) {
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    *rows = kern ? kern->rows : PG_ROWS;
    *cols = kern ? kern->cols : PG_COLS;
}

// B from memory, row-major or transposed, packed by the level's packer.
struct bg_matrix {
    const float *b;
    long ldb;
    int transposed;
    void (*pack)(float *dst, const float *b, long ldb, long k, long n, int transposed);
};

static void bg_pack_matrix(void *ctx, float *dst, long pc, long kc, long jc, long nc) {
    const struct bg_matrix *m = ctx;
    m->pack(dst, m->transposed ? m->b + jc * m->ldb + pc : m->b + pc * m->ldb + jc, m->ldb, kc, nc, m->transposed);
}

int ek_gemm(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda, const float *b,
            long ldb, float beta, float *c, long ldc, const float *rowBias, const float *colBias, float *scratch) {
#ifdef PG_X86
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    if (kern) {
        struct bg_matrix source = { b, ldb, transB, kern->packB };
        if (m > 0 && n > 0 && k > 0)
            blocked_gemm(kern, transA, m, n, k, alpha, a, lda, NULL, NULL, bg_pack_matrix, &source, beta, c, ldc,
                         rowBias, colBias, scratch);
        return 1;
    }
#endif
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb;
    (void)beta; (void)c; (void)ldc; (void)rowBias; (void)colBias; (void)scratch;
    return 0;
}

// ---------------------------------------------------------------- implicit-im2col GEMM
// The convolution's im2col matrix is never built: each B panel row is gathered from the image as it is packed
// (AVX-512 gathers, 16 columns at a time, or AVX2 ones, 8 at a time, masked to zero outside the image). This
// saves writing and re-reading the whole matrix: for a 4×4 stride-2 conv, a fifth of the time went to im2col.

struct conv_pack {
    const ek_conv_source *src;
    long j0;                 // first im2col column of this product
    int *y, *x, *offset;     // per block column: oy·sh, ox·sw, and its image's offset plus iy·width + ix at ky = kx = 0
    long columnsFor;         // the block start the columns describe (−1: none yet)
    int *run;                // AVX2, per 8 columns: where they split into runs on one output row (see below)
};

// The block's per-column tables (computed once per block, not per slab): its pixels walked with running
// coordinates (one division for its first column).
static void conv_columns(struct conv_pack *cp, long jc, long nc, long columns) {
    const ek_conv_source *g = cp->src;
    if (cp->columnsFor == jc) return;
    long col = cp->j0 + jc, pixels = g->outH * g->outW;
    long image = col / pixels, oy = (col % pixels) / g->outW, ox = col % g->outW;
    for (long j = 0; j < columns; j++) {
        if (j >= nc) {  // past the product: never inside the image
            cp->y[j] = -(1 << 30);
            cp->x[j] = 0;
            cp->offset[j] = 0;
            continue;
        }
        cp->y[j] = (int)(oy * g->sh);
        cp->x[j] = (int)(ox * g->sw);
        cp->offset[j] = (int)(image * g->imageStride + oy * g->sh * g->width + ox * g->sw);
        if (++ox == g->outW) {
            ox = 0;
            if (++oy == g->outH) { oy = 0; image++; }
        }
    }
    cp->columnsFor = jc;
}

#ifdef PG_X86
__attribute__((target("avx512f")))
static void conv_pack_block(void *ctx, float *dst, long pc, long kc, long jc, long nc) {
    struct conv_pack *cp = ctx;
    const ek_conv_source *g = cp->src;
    long panels = (nc + PG_COLS - 1) / PG_COLS;
    conv_columns(cp, jc, nc, panels * PG_COLS);
    long plane = g->height * g->width, taps = g->kh * g->kw;
    __m512i height = _mm512_set1_epi32((int)g->height), width = _mm512_set1_epi32((int)g->width);
    for (long r = pc; r < pc + kc; r++) {
        long ch = r / taps, ky = (r / g->kw) % g->kh, kx = r % g->kw;
        long dy = ky * g->dh - g->padTop, dx = kx * g->dw - g->padLeft;
        __m512i vdy = _mm512_set1_epi32((int)dy), vdx = _mm512_set1_epi32((int)dx);
        __m512i shift = _mm512_set1_epi32((int)(dy * g->width + dx));
        const float *channel = g->x + ch * plane;
        float *d = dst + (r - pc) * PG_COLS;
        for (long q = 0; q < panels; q++, d += kc * PG_COLS) {
            for (int h = 0; h < PG_COLS; h += 16) {
                long j = q * PG_COLS + h;
                __m512i iy = _mm512_add_epi32(_mm512_loadu_si512(cp->y + j), vdy);
                __m512i ix = _mm512_add_epi32(_mm512_loadu_si512(cp->x + j), vdx);
                // Unsigned compares: negative coordinates are out of range too.
                __mmask16 in = _mm512_cmplt_epu32_mask(iy, height) & _mm512_cmplt_epu32_mask(ix, width);
                __m512i index = _mm512_add_epi32(_mm512_loadu_si512(cp->offset + j), shift);
                _mm512_storeu_ps(d + h, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, index, channel, 4));
            }
        }
    }
}

// The same gathers 8 columns at a time with AVX2, into 16-column panels.
#define RUN_PAST 16

// The even lanes of the 16 floats at p (stride 2) or the 8 at p.
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 conv_run_256(const float *p, long sw) {
    return sw == 1 ? _mm256_loadu_ps(p) : ek_even_256(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
}

// Columns j ..< j + 8 of kc slab rows (window offsets rowShift, dy, dx) into d, d + 16, … (one panel's rows).
__attribute__((target("avx2,fma")))
static void conv_pack_group_256(const struct conv_pack *cp, long j, long kc, const long *rowShift, const int *rowDy,
                                const int *rowDx, float *d) {
    const ek_conv_source *g = cp->src;
    const float *x = g->x;
    int split = cp->run[j / 8];
    long sw = g->sw, at = cp->offset[j];
    if (split == RUN_PAST) {
        for (long r = 0; r < kc; r++) _mm256_storeu_ps(d + r * BG_COLS_256, _mm256_setzero_ps());
        return;
    }
    if (split < 0) {
        // The product's last columns, one run in a guarded image: its lanes, then zeros.
        __m256 keep = _mm256_castsi256_ps(EK_MASK8(-split));
        for (long r = 0; r < kc; r++)
            _mm256_storeu_ps(d + r * BG_COLS_256, _mm256_and_ps(conv_run_256(x + rowShift[r] + at, sw), keep));
        return;
    }
    if (split == 8 && g->guarded) {
        // One run; a guarded image has every window inside and may be read a float past it.
        for (long r = 0; r < kc; r++) _mm256_storeu_ps(d + r * BG_COLS_256, conv_run_256(x + rowShift[r] + at, sw));
        return;
    }
    if (split > 0 && split < 8) {
        // Two runs in a guarded image: each loaded from where its lane 0 would be (reading up to 15 floats past
        // or 14 before its own lanes), blended at lane `split`.
        long second = cp->offset[j + split] - split * sw;
        __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                              _mm256_set1_epi32(split - 1)));
        for (long r = 0; r < kc; r++) {
            const float *row = x + rowShift[r];
            _mm256_storeu_ps(d + r * BG_COLS_256,
                             _mm256_blendv_ps(conv_run_256(row + at, sw), conv_run_256(row + second, sw), upper));
        }
        return;
    }
    // Gathers, masked to zero outside the image; one run inside it takes plain loads (the second stopping at
    // the last float needed).
    // x < n (unsigned) as min(x, n − 1) == x; negative coordinates are huge unsigned values, so out of range too.
    __m256i lastY = _mm256_set1_epi32((int)g->height - 1), lastX = _mm256_set1_epi32((int)g->width - 1);
    __m256i y = _mm256_loadu_si256((const __m256i *)(cp->y + j)), xs = _mm256_loadu_si256((const __m256i *)(cp->x + j));
    __m256i offsets = _mm256_loadu_si256((const __m256i *)(cp->offset + j));
    for (long r = 0; r < kc; r++) {
        const float *row = x + rowShift[r];
        float *out = d + r * BG_COLS_256;
        if (split == 8 && (unsigned long)(cp->y[j] + rowDy[r]) < (unsigned long)g->height
            && (unsigned long)(cp->x[j] + rowDx[r]) < (unsigned long)g->width
            && (unsigned long)(cp->x[j + 7] + rowDx[r]) < (unsigned long)g->width) {
            const float *from = row + at;
            _mm256_storeu_ps(out, sw == 1 ? _mm256_loadu_ps(from)
                                          : ek_even_256(_mm256_loadu_ps(from), ek_load_part_256(from + 8, 7)));
            continue;
        }
        __m256i iy = _mm256_add_epi32(y, _mm256_set1_epi32(rowDy[r]));
        __m256i ix = _mm256_add_epi32(xs, _mm256_set1_epi32(rowDx[r]));
        __m256i in = _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_min_epu32(iy, lastY), iy),
                                      _mm256_cmpeq_epi32(_mm256_min_epu32(ix, lastX), ix));
        _mm256_storeu_ps(out, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), row, offsets, _mm256_castsi256_ps(in), 4));
    }
}

__attribute__((target("avx2,fma")))
static void conv_pack_block_256(void *ctx, float *dst, long pc, long kc, long jc, long nc) {
    struct conv_pack *cp = ctx;
    const ek_conv_source *g = cp->src;
    long panels = (nc + BG_COLS_256 - 1) / BG_COLS_256;
    if (cp->columnsFor != jc) {
        conv_columns(cp, jc, nc, panels * BG_COLS_256);
        // Per 8 columns: where they split into runs on one output row each (x and offset rising by sw: no wrap
        // to another row or image). Such a run is sw floats apart in every kernel row: plain loads (and, for
        // sw = 2, a shuffle) instead of a gather, which is slow on Zen 3. run = q: lanes 0 ..< q and q ..< 8 are
        // two runs (q = 8: one); 0: gather. Two runs need a guarded (zero-padded) image, whose windows never
        // leave it: their loads read past a run's lanes. So do the groups the product ends in (a guarded image):
        // q = −v, one run of v lanes, zeros after; RUN_PAST: no lane in the product (zeros).
        int guarded = g->guarded != 0;
        for (long j = 0; j < panels * BG_COLS_256; j += 8) {
            int q = 0, valid = nc - j < 8 ? (int)(nc - j) : 8;
            if (valid <= 0) {
                q = RUN_PAST;
            } else if (g->sw <= 2 && (valid == 8 || guarded)) {
                int sw = (int)g->sw, l = 1;
                while (l < valid && cp->x[j + l] - cp->x[j] == l * sw && cp->offset[j + l] - cp->offset[j] == l * sw)
                    l++;
                int split = l;
                while (guarded && l < valid && cp->x[j + l] - cp->x[j + split] == (l - split) * sw
                       && cp->offset[j + l] - cp->offset[j + split] == (l - split) * sw) l++;
                if (valid < 8) q = split == valid ? -valid : 0;
                else if (l == 8) q = split;
            }
            cp->run[j / 8] = q;
        }
    }
    long half = g->height * g->width, plane = g->phases == 2 ? 2 * half : half, taps = g->kh * g->kw;
    // Per slab row: the offset of its window's start from the image's (channel plane + dy·width + dx), dy, dx;
    // with phases, column dx of the copy is column dx / 2 of its even (dx even) or odd half.
    long rowShift[BG_KC];
    int rowDy[BG_KC], rowDx[BG_KC];
    for (long r = pc; r < pc + kc; r++) {
        long ch = r / taps, ky = (r / g->kw) % g->kh, kx = r % g->kw;
        long dy = ky * g->dh - g->padTop, dx = kx * g->dw - g->padLeft;
        if (g->phases == 2) {
            rowShift[r - pc] = ch * plane + (dx & 1) * half + dy * g->width + (dx >> 1);
            dx >>= 1;
        } else {
            rowShift[r - pc] = ch * plane + dy * g->width + dx;
        }
        rowDy[r - pc] = (int)dy;
        rowDx[r - pc] = (int)dx;
    }
    // Group after group (8 columns of a panel), each with its kind of load chosen once, for all the slab's rows.
    for (long j = 0; j < panels * BG_COLS_256; j += 8)
        conv_pack_group_256(cp, j, kc, rowShift, rowDy, rowDx,
                            dst + (j / BG_COLS_256) * kc * BG_COLS_256 + j % BG_COLS_256);
}
#endif

long ek_conv_gemm_scratch_floats(long m, long n, long k) {
    return ek_gemm_scratch_floats(m, n, k) + 4 * (BG_NC + PG_COLS);
}

int ek_conv_gemm_supported(const ek_conv_source *src, long columns) {
#ifdef PG_X86
    // The gathers index with 32-bit offsets from a channel's start: image·imageStride + iy·width + ix, with iy
    // below (outH·sh + kh·dh) and ix below outW·sw + kw·dw (and down to −padTop·width − padLeft).
    long images = (columns + src->outH * src->outW - 1) / (src->outH * src->outW);
    long rows = src->outH * src->sh + src->kh * src->dh + src->padTop;
    long reach = src->imageStride * images + rows * src->width + src->outW * src->sw + src->kw * src->dw
        + src->padLeft + (src->phases == 2 ? src->height * src->width : 0);
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    // Only the AVX2 packer reads copies split into phases (only it asks for them, `ek_conv_prefers_padded`).
    if (src->phases == 2 && (!kern || kern->packConv != conv_pack_block_256)) return 0;
    return kern != NULL && src->imageStride >= 0 && reach < (1L << 30);
#else
    (void)src; (void)columns;
    return 0;
#endif
}

int ek_conv_prefers_padded(const ek_conv_source *src) {
    return ek_kernel_level() == 2 && src->guarded == 0 && src->sw <= 2 && (src->padTop > 0 || src->padLeft > 0);
}

// Rows and columns of the zero-padded copy (every window inside), before any split into phases.
static void conv_padded_size(const ek_conv_source *src, long *height, long *width) {
    *height = (src->outH - 1) * src->sh + (src->kh - 1) * src->dh + 1;
    *width = (src->outW - 1) * src->sw + (src->kw - 1) * src->dw + 1;
}

long ek_conv_padded_plane(const ek_conv_source *src) {
    long hp, wp;
    conv_padded_size(src, &hp, &wp);
    return src->sw == 2 ? 2 * hp * ((wp + 1) / 2) : hp * wp;
}

ek_conv_source ek_conv_padded_source(const ek_conv_source *src, const float *x) {
    ek_conv_source s = *src;
    conv_padded_size(src, &s.height, &s.width);
    s.x = x;
    s.imageStride = 0;
    s.padTop = s.padLeft = 0;
    s.guarded = 1;
    s.phases = 0;
    if (src->sw == 2) {
        s.phases = 2;
        s.width = (s.width + 1) / 2;
        s.sw = 1;
    }
    return s;
}

// Columns x0 ..< x0 + n of padded row r into out: image row r − padTop, columns shifted by padLeft, zero
// outside the image.
static void conv_pad_row(const ek_conv_source *src, const float *image, long r, long x0, long n, float *out) {
    long iy = r - src->padTop, from = x0 > src->padLeft ? x0 : src->padLeft;
    long to = src->padLeft + src->width < x0 + n ? src->padLeft + src->width : x0 + n;
    if (iy < 0 || iy >= src->height || from >= to) {
        memset(out, 0, (size_t)n * sizeof(float));
        return;
    }
    if (from > x0) memset(out, 0, (size_t)(from - x0) * sizeof(float));
    memcpy(out + from - x0, image + iy * src->width + from - src->padLeft, (size_t)(to - from) * sizeof(float));
    if (to < x0 + n) memset(out + to - x0, 0, (size_t)(x0 + n - to) * sizeof(float));
}

void ek_conv_pad(const ek_conv_source *src, float *dst, long c0, long c1) {
    long hp, wp;
    conv_padded_size(src, &hp, &wp);
    long plane = ek_conv_padded_plane(src);
    for (long c = c0; c < c1; c++) {
        const float *image = src->x + c * src->height * src->width;
        float *out = dst + c * plane;
        if (src->sw != 2) {
            for (long r = 0; r < hp; r++) conv_pad_row(src, image, r, 0, wp, out + r * wp);
            continue;
        }
        // Padded column x goes to column x / 2 of the even half or of the odd half (hp × wh floats further on).
        // Rows of 2·wh padded columns are built on the stack, as many whole rows as fit (their even and odd
        // columns are then contiguous runs: one split for all of them), else a row in pieces.
        enum { LINE = 4096 };
        float line[LINE];
        long wh = (wp + 1) / 2, wide = 2 * wh, rowsAtOnce = wide <= LINE ? LINE / wide : 1;
        for (long r = 0; r < hp; r += rowsAtOnce) {
            long rows = hp - r < rowsAtOnce ? hp - r : rowsAtOnce;
            for (long x0 = 0; x0 < wide; x0 += LINE) {
                long n = wide - x0 < LINE ? wide - x0 : LINE;
                for (long i = 0; i < rows; i++) conv_pad_row(src, image, r + i, x0, n, line + i * n);
                ek_deinterleave(line, rows * n, out + r * wh + x0 / 2, rows * n / 2, out + (hp + r) * wh + x0 / 2,
                                rows * n / 2);
            }
        }
    }
}

static int conv_gemm(long m, long n, const float *w, long ldw, const struct bg_prepacked *pre,
                     const ek_conv_source *src, long j0, float *c, long ldc, const float *rowBias, float *scratch) {
#ifdef PG_X86
    long k = src->channels * src->kh * src->kw;
    if (ek_conv_gemm_supported(src, j0 + n)) {
        if (m <= 0 || n <= 0 || k <= 0) return 1;
        int *columns = (int *)(scratch + ek_gemm_scratch_floats(m, n, k));
        struct conv_pack pack = { src, j0, columns, columns + BG_NC + PG_COLS, columns + 2 * (BG_NC + PG_COLS), -1,
                                  columns + 3 * (BG_NC + PG_COLS) };
        const struct bg_kernels *kern = bg_kernels_for_cpu();
        blocked_gemm(kern, 0, m, n, k, 1, w, ldw, pre, NULL, kern->packConv, &pack, 0, c, ldc, rowBias, NULL, scratch);
        return 1;
    }
#endif
    (void)m; (void)n; (void)w; (void)ldw; (void)pre; (void)src; (void)j0; (void)c; (void)ldc; (void)rowBias;
    (void)scratch;
    return 0;
}

int ek_conv_gemm(long m, long n, const float *w, long ldw, const ek_conv_source *src, long j0, float *c, long ldc,
                 const float *rowBias, float *scratch) {
    return conv_gemm(m, n, w, ldw, NULL, src, j0, c, ldc, rowBias, scratch);
}

int ek_conv_gemm_packed(long m, long n, const float *packed, long packedRows, long row0, const ek_conv_source *src,
                        long j0, float *c, long ldc, const float *rowBias, float *scratch) {
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    if (!kern || !bg_fits(row0, m, packedRows, kern->rows)) return 0;
    struct bg_prepacked pre = { packed, packedRows, row0 };
    return conv_gemm(m, n, NULL, 0, &pre, src, j0, c, ldc, rowBias, scratch);
}

// ---------------------------------------------------------------- A packed ahead
// A constant A (a layer's weight) packed once into the micro-panels every slab of `blocked_gemm` reads, slab
// after slab, so repeated products skip packing it: for a 4×4 conv with 256 outputs on a 17×17 plane, packing
// the 2 MB weight took 0.12 of 1.8 ms per core.

long ek_gemm_packed_rows(long m) {
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    return bg_round(m, kern ? kern->rows : 0);
}

long ek_gemm_packed_floats(long m, long k) {
    // 16 floats of slack: the AVX2 edge-column kernel reads 2 floats past a micro-panel's column.
    return ek_gemm_packed_rows(m) * k + 16;
}

int ek_gemm_prepacked(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                      const float *packedA, long packedRows, long row0, const float *b, long ldb, const float *packedB,
                      long packedColumns, long column0, float beta, float *c, long ldc, const float *rowBias,
                      const float *colBias, float *scratch) {
#ifdef PG_X86
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    if (!kern || (packedA && !bg_fits(row0, m, packedRows, kern->rows))
        || (packedB && !bg_fits(column0, n, packedColumns, kern->cols))) return 0;
    struct bg_prepacked pa = { packedA, packedRows, row0 }, pb = { packedB, packedColumns, column0 };
    struct bg_matrix source = { b, ldb, transB, kern->packB };
    if (m > 0 && n > 0 && k > 0)
        blocked_gemm(kern, transA, m, n, k, alpha, a, lda, packedA ? &pa : NULL, packedB ? &pb : NULL, bg_pack_matrix,
                     &source, beta, c, ldc, rowBias, colBias, scratch);
    return 1;
#else
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)packedA;
    (void)packedRows; (void)row0; (void)b; (void)ldb; (void)packedB; (void)packedColumns; (void)column0; (void)beta;
    (void)c; (void)ldc; (void)rowBias; (void)colBias; (void)scratch;
    return 0;
#endif
}

long ek_gemm_slab_depth(void) { return BG_KC; }

long ek_gemm_packed_columns(long n) {
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    return bg_round(n, kern ? kern->cols : 0);
}

long ek_gemm_packed_b_floats(long k, long n) { return ek_gemm_packed_columns(n) * k; }

void ek_gemm_pack_b(const float *b, long ldb, int transposed, long k, long n, long j0, long j1, float *packed) {
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    if (!kern) return;
    long columns = ek_gemm_packed_columns(n), end = j1 < n ? j1 : n;
    if (j0 >= end) return;
    for (long pc = 0; pc < k; pc += BG_KC) {
        long kc = k - pc < BG_KC ? k - pc : BG_KC;
        kern->packB(packed + pc * columns + j0 * kc, transposed ? b + j0 * ldb + pc : b + pc * ldb + j0, ldb, kc,
                    end - j0, transposed);
    }
}

void ek_gemm_pack_a(const float *a, long lda, long m, long k, long r0, long r1, float *packed) {
    const struct bg_kernels *kern = bg_kernels_for_cpu();
    if (!kern) return;
    long rows = ek_gemm_packed_rows(m), end = r1 < m ? r1 : m;
    for (long pc = 0; pc < k; pc += BG_KC) {
        long kc = k - pc < BG_KC ? k - pc : BG_KC;
        for (long ir = r0; ir < end; ir += kern->rows) {
            long h = end - ir < kern->rows ? end - ir : kern->rows;
            kern->packA(packed + pc * rows + ir * kc, a + ir * lda + pc, lda, 0, h, kc);
        }
    }
    if (r1 >= m) memset(packed + rows * k, 0, 16 * sizeof(float));
}
