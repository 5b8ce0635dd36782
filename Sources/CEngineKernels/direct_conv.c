// Direct convolution for few output channels (RGB heads: BigGAN's conv_to_rgb, StyleGAN's toRGB). A GEMM would
// pad those 1–6 rows to a 12-row micro-panel and pack (or gather) every im2col element for 3 multiplies each;
// here each input row is read straight from the image into vectors of 16 output pixels and multiplied into
// every output channel's accumulators.
#include "EngineKernels.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#include "simd_helpers.h"
#define DC_X86 1
#endif

#define DC_VECTORS 4                 // output pixels per block: 4 × 16
#define DC_BLOCK (16 * DC_VECTORS)
#define DC_MAX_KW 64                 // masks kept per kernel column

#ifdef DC_X86
// Output channels 0 ..< M, pixels ox0 ..< ox0 + n (n ≤ 64) of output row oy: out[o][oy·outW + ox] = bias[o] +
// Σ_(c, ky, kx) w[o][c, ky, kx] · x[c, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw], summed in (c, ky, kx) order.
__attribute__((target("avx512f"), always_inline))
static inline void few_block(const ek_conv_source *g, const float *w, long k, long M, const float *bias, float *out,
                             long outPlane, long oy, long ox0, long n, const __mmask16 *masks,
                             const __m512i *columns) {
    __m512 acc[EK_CONV_FEW_MAX][DC_VECTORS];
#pragma clang loop unroll(full)
    for (int o = 0; o < EK_CONV_FEW_MAX; o++)
#pragma clang loop unroll(full)
        for (int v = 0; v < DC_VECTORS; v++) acc[o][v] = _mm512_setzero_ps();
    long plane = g->height * g->width;
    // The next output row's new input row (its last kernel row), fetched into L2 while this one computes: the
    // channels' planes are far apart, more streams than the hardware prefetcher follows.
    long nextRow = (oy + 1) * g->sh - g->padTop + (g->kh - 1) * g->dh;
    long fetchFrom = ox0 * g->sw - g->padLeft, fetchTo = (ox0 + n - 1) * g->sw - g->padLeft + (g->kw - 1) * g->dw + 1;
    if (fetchFrom < 0) fetchFrom = 0;
    if (fetchTo > g->width) fetchTo = g->width;
    if (nextRow < 0 || nextRow >= g->height || oy + 1 >= g->outH) fetchTo = fetchFrom;
    for (long ch = 0; ch < g->channels; ch++) {
        const float *ahead = g->x + ch * plane + nextRow * g->width;
        for (long i = fetchFrom; i < fetchTo; i += 16) _mm_prefetch((const char *)(ahead + i), _MM_HINT_T1);
        for (long ky = 0; ky < g->kh; ky++) {
            long iy = oy * g->sh - g->padTop + ky * g->dh;
            if (iy < 0 || iy >= g->height) continue;  // zero padding: adds nothing
            const float *row = g->x + ch * plane + iy * g->width;
            long r0 = (ch * g->kh + ky) * g->kw;
            for (long kx = 0; kx < g->kw; kx++) {
                long shift = kx * g->dw - g->padLeft;
                __m512 xv[DC_VECTORS];
#pragma clang loop unroll(full)
                for (int v = 0; v < DC_VECTORS; v++) {
                    __mmask16 mk = masks[kx * DC_VECTORS + v];
                    if (g->sw == 1)
                        xv[v] = _mm512_maskz_loadu_ps(mk, row + ox0 + 16 * v + shift);
                    else
                        xv[v] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk,
                                                         _mm512_add_epi32(columns[v], _mm512_set1_epi32((int)shift)),
                                                         row, 4);
                }
#pragma clang loop unroll(full)
                for (int o = 0; o < EK_CONV_FEW_MAX; o++) {
                    if (o >= M) break;
                    __m512 wv = _mm512_set1_ps(w[o * k + r0 + kx]);
#pragma clang loop unroll(full)
                    for (int v = 0; v < DC_VECTORS; v++) acc[o][v] = _mm512_fmadd_ps(wv, xv[v], acc[o][v]);
                }
            }
        }
    }
    for (long o = 0; o < M; o++) {
        __m512 b = _mm512_set1_ps(bias ? bias[o] : 0);
        float *dst = out + o * outPlane + oy * g->outW + ox0;
        for (int v = 0; v < DC_VECTORS; v++) {
            long left = n - 16 * v;
            if (left <= 0) break;
            _mm512_mask_storeu_ps(dst + 16 * v, EK_MASK(left), _mm512_add_ps(acc[o][v], b));
        }
    }
}

// One specialisation per channel count, so the accumulators stay in registers.
#define DC_CASE(MM)                                                                                              \
    __attribute__((target("avx512f"))) static void few_block_##MM(const ek_conv_source *g, const float *w, long k, \
        const float *bias, float *out, long outPlane, long oy, long ox0, long n, const __mmask16 *masks,        \
        const __m512i *columns) {                                                                               \
        few_block(g, w, k, MM, bias, out, outPlane, oy, ox0, n, masks, columns);                                \
    }
DC_CASE(1) DC_CASE(2) DC_CASE(3) DC_CASE(4) DC_CASE(5) DC_CASE(6)

typedef void (*few_block_fn)(const ek_conv_source *, const float *, long, const float *, float *, long, long, long,
                             long, const __mmask16 *, const __m512i *);

__attribute__((target("avx512f")))
static void conv_few_512(const ek_conv_source *g, const float *w, long m, const float *bias, float *out, long p0,
                         long p1) {
    static const few_block_fn blocks[EK_CONV_FEW_MAX] = { few_block_1, few_block_2, few_block_3, few_block_4,
                                                          few_block_5, few_block_6 };
    few_block_fn block = blocks[m - 1];
    long k = g->channels * g->kh * g->kw, outPlane = g->outH * g->outW;
    __mmask16 masks[DC_MAX_KW * DC_VECTORS];
    __m512i columns[DC_VECTORS];
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i width = _mm512_set1_epi32((int)g->width);
    for (long p = p0; p < p1;) {
        long oy = p / g->outW, ox0 = p % g->outW;
        long n = g->outW - ox0 < p1 - p ? g->outW - ox0 : p1 - p;
        if (n > DC_BLOCK) n = DC_BLOCK;
        // Which lanes read inside the image, per kernel column: 0 ≤ ox·sw + shift < width, ox < ox0 + n.
        for (int v = 0; v < DC_VECTORS; v++) {
            __m512i ox = _mm512_add_epi32(_mm512_set1_epi32((int)(ox0 + 16 * v)), lane);
            columns[v] = _mm512_mullo_epi32(ox, _mm512_set1_epi32((int)g->sw));
            long left = n - 16 * v;
            __mmask16 live = left <= 0 ? 0 : EK_MASK(left);
            for (long kx = 0; kx < g->kw; kx++) {
                __m512i ix = _mm512_add_epi32(columns[v], _mm512_set1_epi32((int)(kx * g->dw - g->padLeft)));
                masks[kx * DC_VECTORS + v] = live & _mm512_cmplt_epu32_mask(ix, width);
            }
        }
        block(g, w, k, bias, out, outPlane, oy, ox0, n, masks, columns);
        p += n;
    }
}
#endif

int ek_conv_few(const ek_conv_source *src, const float *w, long m, const float *bias, float *out, long p0, long p1) {
#ifdef DC_X86
    if (ek_kernel_level() == 3 && m >= 1 && m <= EK_CONV_FEW_MAX && src->kw <= DC_MAX_KW
        && src->outW * src->sw + src->kw * src->dw + src->width < (1L << 30)) {
        if (p1 > p0) conv_few_512(src, w, m, bias, out, p0, p1);
        return 1;
    }
#endif
    (void)src; (void)w; (void)m; (void)bias; (void)out; (void)p0; (void)p1;
    return 0;
}
