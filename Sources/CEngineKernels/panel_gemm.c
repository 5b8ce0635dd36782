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

// ---------------------------------------------------------------- blocked GEMM
// C = alpha·op(A)·op(B) + beta·C on one thread, Goto-style with the roles arranged for a broadcast kernel: for
// each KC-deep slab, A is packed into 12-row micro-panels (each stays in L1 while it sweeps the B block) and B
// into 32-column panels of at most NC columns (the block stays in L2 and streams through the kernel). Callers
// split C between threads by rows or columns; each element's sum runs in the same order however C is split.
#define BG_KC 256
#define BG_NC 512

// Packed A of m rows: whole micro-panels, rounded to a cache line so the B block after it stays aligned.
static long bg_panel_floats(long m, long kc) { return ((m + PG_ROWS - 1) / PG_ROWS * PG_ROWS * kc + 15) / 16 * 16; }

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

// Fills the B block for rows pc ..< pc + kc and columns jc ..< jc + nc as `ek_panel_pack` panels.
typedef void (*bg_pack_b)(void *ctx, float *dst, long pc, long kc, long jc, long nc);

__attribute__((target("avx512f")))
static void blocked_gemm_512(int transA, long m, long n, long k, float alpha, const float *a, long lda,
                             bg_pack_b packB, void *packContext, float beta, float *c, long ldc,
                             const float *rowBias, const float *colBias, float *scratch) {
    long kcMax = k < BG_KC ? k : BG_KC;
    float *apanel = scratch, *bblock = scratch + bg_panel_floats(m, kcMax);
    long ncMax = n < BG_NC ? n : BG_NC;
    float *edge = bblock + (ncMax + PG_COLS - 1) / PG_COLS * PG_COLS * kcMax;
    for (long pc = 0; pc < k; pc += BG_KC) {
        long kc = k - pc < BG_KC ? k - pc : BG_KC;
        float bt = pc == 0 ? beta : 1;
        // The bias joins in the first slab, where C is first written.
        const float *rb = pc == 0 ? rowBias : NULL, *cb = pc == 0 ? colBias : NULL;
        for (long ir = 0; ir < m; ir += PG_ROWS) {
            long rows = m - ir < PG_ROWS ? m - ir : PG_ROWS;
            blocked_pack_a(apanel + ir * kc, transA ? a + pc * lda + ir : a + ir * lda + pc, lda, transA, rows, kc);
        }
        for (long jc = 0; jc < n; jc += BG_NC) {
            long nc = n - jc < BG_NC ? n - jc : BG_NC;
            packB(packContext, bblock, pc, kc, jc, nc);
            for (long ir = 0; ir < m; ir += PG_ROWS) {
                long rows = m - ir < PG_ROWS ? m - ir : PG_ROWS;
                const float *ap = apanel + ir * kc;
                for (long jr = 0; jr < nc; jr += PG_COLS) {
                    long w = nc - jr < PG_COLS ? nc - jr : PG_COLS;
                    float *cp = c + ir * ldc + jc + jr;
                    const float *trb = rb ? rb + ir : NULL, *tcb = cb ? cb + jc + jr : NULL;
                    if (rows == PG_ROWS && w == PG_COLS) {
                        blocked_tile_512(kc, ap, bblock + jr * kc, cp, ldc, alpha, bt, trb, tcb);
                        continue;
                    }
                    // Edge tile: computed whole into scratch, only its valid part merged into C.
                    blocked_tile_512(kc, ap, bblock + jr * kc, edge, PG_COLS, alpha, 0, NULL, NULL);
                    for (long r = 0; r < rows; r++)
                        for (long q = 0; q < w; q++) {
                            float v = edge[r * PG_COLS + q] + (bt != 0 ? bt * cp[r * ldc + q] : 0);
                            if (tcb) v += tcb[q];
                            if (trb) v += trb[r];
                            cp[r * ldc + q] = v;
                        }
                }
            }
        }
    }
}
#endif

// B from memory, row-major or transposed.
struct bg_matrix { const float *b; long ldb; int transposed; };

static void bg_pack_matrix(void *ctx, float *dst, long pc, long kc, long jc, long nc) {
    const struct bg_matrix *m = ctx;
    ek_panel_pack(dst, m->transposed ? m->b + jc * m->ldb + pc : m->b + pc * m->ldb + jc, m->ldb, kc, nc,
                  m->transposed);
}

int ek_gemm(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda, const float *b,
            long ldb, float beta, float *c, long ldc, const float *rowBias, const float *colBias, float *scratch) {
#ifdef PG_X86
    if (ek_kernel_level() == 3) {
        struct bg_matrix source = { b, ldb, transB };
        if (m > 0 && n > 0 && k > 0)
            blocked_gemm_512(transA, m, n, k, alpha, a, lda, bg_pack_matrix, &source, beta, c, ldc, rowBias, colBias,
                             scratch);
        return 1;
    }
#endif
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb;
    (void)beta; (void)c; (void)ldc; (void)rowBias; (void)colBias; (void)scratch;
    return 0;
}

// ---------------------------------------------------------------- implicit-im2col GEMM
// The convolution's im2col matrix is never built: each B panel row is gathered from the image as it is packed
// (AVX-512 gathers, 16 columns at a time, masked to zero outside the image). This saves writing and re-reading
// the whole matrix: for a 4×4 stride-2 conv, a fifth of the time went to im2col.

struct conv_pack {
    const ek_conv_source *src;
    long j0;                 // first im2col column of this product
    int *y, *x, *offset;     // per block column: oy·sh, ox·sw, and its image's offset plus iy·width + ix at ky = kx = 0
    long columnsFor;         // the block start the columns describe (−1: none yet)
};

#ifdef PG_X86
__attribute__((target("avx512f")))
static void conv_pack_block(void *ctx, float *dst, long pc, long kc, long jc, long nc) {
    struct conv_pack *cp = ctx;
    const ek_conv_source *g = cp->src;
    long panels = (nc + PG_COLS - 1) / PG_COLS;
    if (cp->columnsFor != jc) {
        // Walk the block's pixels with running coordinates (one division for its first column).
        long col = cp->j0 + jc, pixels = g->outH * g->outW;
        long image = col / pixels, oy = (col % pixels) / g->outW, ox = col % g->outW;
        for (long j = 0; j < panels * PG_COLS; j++) {
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
#endif

long ek_conv_gemm_scratch_floats(long m, long n, long k) {
    return ek_gemm_scratch_floats(m, n, k) + 3 * (BG_NC + PG_COLS);
}

int ek_conv_gemm_supported(const ek_conv_source *src, long columns) {
#ifdef PG_X86
    // The gathers index with 32-bit offsets from a channel's start: image·imageStride + iy·width + ix, with iy
    // below (outH·sh + kh·dh) and ix below outW·sw + kw·dw (and down to −padTop·width − padLeft).
    long images = (columns + src->outH * src->outW - 1) / (src->outH * src->outW);
    long rows = src->outH * src->sh + src->kh * src->dh + src->padTop;
    long reach = src->imageStride * images + rows * src->width + src->outW * src->sw + src->kw * src->dw
        + src->padLeft;
    return ek_kernel_level() == 3 && src->imageStride >= 0 && reach < (1L << 30);
#else
    (void)src; (void)columns;
    return 0;
#endif
}

int ek_conv_gemm(long m, long n, const float *w, long ldw, const ek_conv_source *src, long j0, float *c, long ldc,
                 const float *rowBias, float *scratch) {
#ifdef PG_X86
    long k = src->channels * src->kh * src->kw;
    if (ek_conv_gemm_supported(src, j0 + n)) {
        if (m <= 0 || n <= 0 || k <= 0) return 1;
        int *columns = (int *)(scratch + ek_gemm_scratch_floats(m, n, k));
        struct conv_pack pack = { src, j0, columns, columns + BG_NC + PG_COLS, columns + 2 * (BG_NC + PG_COLS), -1 };
        blocked_gemm_512(0, m, n, k, 1, w, ldw, conv_pack_block, &pack, 0, c, ldc, rowBias, NULL, scratch);
        return 1;
    }
#endif
    (void)m; (void)n; (void)w; (void)ldw; (void)src; (void)j0; (void)c; (void)ldc; (void)rowBias; (void)scratch;
    return 0;
}
