// Direct convolution for few output channels (RGB heads: BigGAN's conv_to_rgb, StyleGAN's toRGB). A GEMM would
// pad those 1–6 rows to a 12-row micro-panel and pack (or gather) every im2col element for 3 multiplies each;
// here each input row is read straight from the image into vectors of 16 (AVX-512) or 8 (AVX2) output pixels
// and multiplied into every output channel's accumulators.
#include "EngineKernels.h"
#include <stdlib.h>
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

// ---------------------------------------------------------------- AVX2 + FMA
// The same sums with 8-float vectors. 16 ymm registers hold M × V accumulators, the V input vectors of one
// kernel column and a weight, so a block is at most DC8_V(M) vectors (a row's last block only as many as it
// needs). The input rows are read from a copy: channel planes a power of two apart (64 KiB for 128²) put every
// channel's row on the same L1 and L2 sets, so read in place the rows of one output row evict each other and
// come from L3 again for every block and every output row they serve (8.5 → 5.7 ms for BigGAN's 128² head).
// The copy keeps the last R input rows of every channel (a ring) contiguously, each padded with zeros to the
// left and right so that every block loads whole vectors: a padded column adds w · 0, as a masked-out lane of
// the AVX-512 kernel does, so the sums and their order are the same.
#define DC8_V(M) ((M) == 1 ? 6 : (M) == 2 ? 4 : (M) == 3 ? 3 : 2)
#define DC8_MAXV 6
#define DC8_PENDING 64               // kernel rows up to which rows are fetched two output rows early

// One multiply-add step of a block: the input at x[ox·sw] for output pixel ox (the row, shifted to the kernel
// column) times the weights at w[o·k] for output channel o.
typedef struct { const float *x, *w; } dc8_tap;

// Output channels 0 ..< M, pixels bx ..< bx + n (n ≤ 8V) of output row oy: the sum over its `count` taps in
// order. One flat loop (not rows × kernel columns): clang's -O2 then keeps all accumulators in registers.
__attribute__((target("avx2,fma"), always_inline))
static inline void few_block_256(const ek_conv_source *g, long k, const int M, const int V, const int gather,
                                 const float *bias, float *out, long outPlane, long oy, long bx, long n,
                                 const dc8_tap *taps, long count, const char *const *fetch, long fetches) {
    __m256 acc[EK_CONV_FEW_MAX][DC8_MAXV];
#pragma clang loop unroll(full)
    for (int o = 0; o < EK_CONV_FEW_MAX; o++)
#pragma clang loop unroll(full)
        for (int v = 0; v < DC8_MAXV; v++) acc[o][v] = _mm256_setzero_ps();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i columns[DC8_MAXV];
    for (int v = 0; v < V; v++)
        if (gather) columns[v] = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32((int)(bx + 8 * v)), lane),
                                                    _mm256_set1_epi32((int)g->sw));
    // The lines to fetch, one every `every` taps, spread over the arithmetic (a burst would stall on misses).
    const long every = fetches > 0 ? (count + fetches - 1) / fetches : count + 1;
    long due = every, fi = 0;
    for (long t = 0; t < count; t++) {
        if (--due == 0) { due = every; if (fi < fetches) _mm_prefetch(fetch[fi++], _MM_HINT_T1); }
        const float *x = taps[t].x, *wt = taps[t].w;
        __m256 xv[DC8_MAXV];
#pragma clang loop unroll(full)
        for (int v = 0; v < DC8_MAXV; v++) {
            if (v >= V) break;
            xv[v] = gather ? _mm256_i32gather_ps(x, columns[v], 4) : _mm256_loadu_ps(x + bx + 8 * v);
        }
#pragma clang loop unroll(full)
        for (int o = 0; o < EK_CONV_FEW_MAX; o++) {
            if (o >= M) break;
            __m256 wv = _mm256_set1_ps(wt[o * k]);
#pragma clang loop unroll(full)
            for (int v = 0; v < DC8_MAXV; v++) {
                if (v >= V) break;
                acc[o][v] = _mm256_fmadd_ps(wv, xv[v], acc[o][v]);
            }
        }
    }
    for (long o = 0; o < M; o++) {
        __m256 b = _mm256_set1_ps(bias ? bias[o] : 0);
        float *dst = out + o * outPlane + oy * g->outW + bx;
        for (int v = 0; v < V; v++) ek_store_part_256(dst + 8 * v, _mm256_add_ps(acc[o][v], b), n - 8 * v);
    }
}

// One specialisation per channel count and vector count, so the accumulators stay in registers, with plain
// loads (stride 1) or gathers (a separate loop: sharing one spills an accumulator across the rows).
typedef void (*few_block256_fn)(const ek_conv_source *, long, const float *, float *, long, long, long, long,
                                const dc8_tap *, long, const char *const *, long);
#define DC8_CASE(MM, VV)                                                                                          \
    __attribute__((target("avx2,fma"))) static void few_block256_##MM##_##VV(const ek_conv_source *g, long k,     \
        const float *bias, float *out, long outPlane, long oy, long bx, long n, const dc8_tap *taps, long count, \
        const char *const *fetch, long fetches) {                                                               \
        if (g->sw == 1) few_block_256(g, k, MM, VV, 0, bias, out, outPlane, oy, bx, n, taps, count, fetch, fetches); \
        else few_block_256(g, k, MM, VV, 1, bias, out, outPlane, oy, bx, n, taps, count, fetch, fetches);       \
    }
DC8_CASE(1, 1) DC8_CASE(1, 2) DC8_CASE(1, 3) DC8_CASE(1, 4) DC8_CASE(1, 5) DC8_CASE(1, 6)
DC8_CASE(2, 1) DC8_CASE(2, 2) DC8_CASE(2, 3) DC8_CASE(2, 4)
DC8_CASE(3, 1) DC8_CASE(3, 2) DC8_CASE(3, 3)
DC8_CASE(4, 1) DC8_CASE(4, 2) DC8_CASE(5, 1) DC8_CASE(5, 2) DC8_CASE(6, 1) DC8_CASE(6, 2)
static const few_block256_fn few_blocks_256[EK_CONV_FEW_MAX][DC8_MAXV] = {
    { few_block256_1_1, few_block256_1_2, few_block256_1_3, few_block256_1_4, few_block256_1_5, few_block256_1_6 },
    { few_block256_2_1, few_block256_2_2, few_block256_2_3, few_block256_2_4 },
    { few_block256_3_1, few_block256_3_2, few_block256_3_3 },
    { few_block256_4_1, few_block256_4_2 }, { few_block256_5_1, few_block256_5_2 }, { few_block256_6_1, few_block256_6_2 },
};

// Pixels p0 ..< p1 one by one with plain fused multiply-adds in the same order: only when the ring's memory
// cannot be had.
__attribute__((target("avx2,fma")))
static void conv_few_scalar(const ek_conv_source *g, const float *w, long m, const float *bias, float *out, long p0,
                            long p1) {
    long k = g->channels * g->kh * g->kw, outPlane = g->outH * g->outW;
    for (long p = p0; p < p1; p++) {
        long oy = p / g->outW, ox = p % g->outW;
        for (long o = 0; o < m; o++) {
            float a = 0;
            for (long c = 0; c < g->channels; c++) for (long ky = 0; ky < g->kh; ky++) {
                long iy = oy * g->sh - g->padTop + ky * g->dh;
                if (iy < 0 || iy >= g->height) continue;
                for (long kx = 0; kx < g->kw; kx++) {
                    long ix = ox * g->sw - g->padLeft + kx * g->dw;
                    float xv = ix >= 0 && ix < g->width ? g->x[(c * g->height + iy) * g->width + ix] : 0;
                    a = __builtin_fmaf(w[o * k + (c * g->kh + ky) * g->kw + kx], xv, a);
                }
            }
            out[o * outPlane + p] = a + (bias ? bias[o] : 0);
        }
    }
}

__attribute__((target("avx2,fma")))
static void conv_few_256(const ek_conv_source *g, const float *w, long m, const float *bias, float *out, long p0,
                         long p1) {
    const long V = DC8_V(m), span = 8 * V, C = g->channels, kh = g->kh;
    long k = C * kh * g->kw, outPlane = g->outH * g->outW;
    // The ring: R input rows per channel (the rows of one output row, and those it shares with the next, are
    // distinct mod R), each PW floats: column j holds x[iy, j − padLeft], zero outside the image and up to the
    // last column a whole block of the last output pixels reads.
    const long R = (kh - 1) * g->dh + g->sh;
    const long PW = ((g->outW + span - 1) * g->sw + (g->kw - 1) * g->dw + 8) & ~7L;
    const long ringFloats = C * R * PW;
    const long lines = (g->width * 4 + 63) / 64, fetchMax = (kh <= DC8_PENDING ? kh : 0) * C * lines;
    float *ring = calloc((size_t)ringFloats * 4 + (size_t)k * sizeof(dc8_tap) + (size_t)R * sizeof(long)
                         + (size_t)fetchMax * sizeof(char *) + (size_t)(2 * kh) * sizeof(long), 1);
    if (!ring) { conv_few_scalar(g, w, m, bias, out, p0, p1); return; }
    dc8_tap *taps = (dc8_tap *)(ring + ringFloats);   // this output row's taps, (ch, ky, kx) order
    long *held = (long *)(taps + k);                  // input row in each ring slot (−1: none)
    const char **fetch = (const char **)(held + R);   // lines of input rows two output rows ahead
    long *rowAt = (long *)(fetch + fetchMax), *kyOf = rowAt + kh;   // this output row's rows in the image
    for (long s = 0; s < R; s++) held[s] = -1;
    // Image columns copyFrom ..< copyFrom + copyCount go to ring columns from copyTo (all of them, unless a
    // negative or oversized padding, which conv2d does not pass, puts some outside the row).
    const long copyTo = g->padLeft > 0 ? g->padLeft : 0, copyFrom = copyTo - g->padLeft;
    long copyCount = g->width - copyFrom < PW - copyTo ? g->width - copyFrom : PW - copyTo;
    if (copyCount < 0) copyCount = 0;
    for (long p = p0; p < p1;) {
        long oy = p / g->outW, ox0 = p % g->outW;
        long seg = g->outW - ox0 < p1 - p ? g->outW - ox0 : p1 - p;
        // This row's input rows, copied unless there, and its taps (rows outside the image add nothing: none).
        long count = 0, used = 0;
        for (long ky = 0; ky < kh; ky++) {
            long iy = oy * g->sh - g->padTop + ky * g->dh;
            if (iy < 0 || iy >= g->height) continue;
            long slot = iy % R;
            if (held[slot] != iy) {
                held[slot] = iy;
                for (long c = 0; c < C; c++)
                    memcpy(ring + (c * R + slot) * PW + copyTo, g->x + (c * g->height + iy) * g->width + copyFrom,
                           (size_t)copyCount * 4);
            }
            rowAt[used] = slot * PW; kyOf[used++] = ky;
        }
        for (long c = 0; c < C; c++) {
            const float *rc = ring + c * R * PW;
            for (long u = 0; u < used; u++) {
                const float *row = rc + rowAt[u], *wr = w + (c * kh + kyOf[u]) * g->kw;
                for (long kx = 0; kx < g->kw; kx++) taps[count++] = (dc8_tap){ row + kx * g->dw, wr + kx };
            }
        }
        // The input rows output row oy + 2 adds (not in row oy + 1) are fetched during this row's arithmetic, so
        // that their copy two rows on reads L3, not memory (L2 cannot hold them: same sets).
        long fresh[DC8_PENDING], nfresh = 0;
        if (kh <= DC8_PENDING && oy + 2 < g->outH) {
            long base = (oy + 1) * g->sh - g->padTop;
            for (long ky = 0; ky < kh; ky++) {
                long iy = base + g->sh + ky * g->dh, d = iy - base;
                int inPrevious = d % g->dh == 0 && d / g->dh < kh;
                if (iy >= 0 && iy < g->height && !inPrevious) fresh[nfresh++] = iy;
            }
        }
        long fetches = 0;
        for (long q = 0; q < nfresh; q++)
            for (long c = 0; c < C; c++) {
                const char *src = (const char *)(g->x + (c * g->height + fresh[q]) * g->width);
                for (long i = 0; i < lines; i++) fetch[fetches++] = src + 64 * i;
            }
        const long blocks = (seg + span - 1) / span;
        for (long b = 0; b < blocks; b++) {
            long f0 = fetches * b / blocks, f1 = fetches * (b + 1) / blocks;
            long bx = ox0 + b * span, n = seg - b * span < span ? seg - b * span : span;
            few_blocks_256[m - 1][(n + 7) / 8 - 1](g, k, bias, out, outPlane, oy, bx, n, taps, count, fetch + f0,
                                                   f1 - f0);
        }
        p += seg;
    }
    free(ring);
}
#endif

int ek_conv_few(const ek_conv_source *src, const float *w, long m, const float *bias, float *out, long p0, long p1) {
#ifdef DC_X86
    int level = ek_kernel_level();
    if (level >= 2 && m >= 1 && m <= EK_CONV_FEW_MAX && src->kw <= DC_MAX_KW
        && src->outW * src->sw + src->kw * src->dw + src->width < (1L << 30)) {
        if (p1 > p0 && level == 3) conv_few_512(src, w, m, bias, out, p0, p1);
        else if (p1 > p0) conv_few_256(src, w, m, bias, out, p0, p1);
        return 1;
    }
#endif
    (void)src; (void)w; (void)m; (void)bias; (void)out; (void)p0; (void)p1;
    return 0;
}
