#include "Winograd.h"
#include "EngineKernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#include "simd_helpers.h"
#define WINO_X86 1
#endif

// The vector width of the transforms: 16 (AVX-512: 16 tiles or channels at once), 8 (AVX2) or 0 (scalar).
static int wino_vector(void) {
#ifdef WINO_X86
    int level = ek_kernel_level();
    return level >= 3 ? 16 : (level == 2 ? 8 : 0);
#else
    return 0;
#endif
}

// Scalar transforms for any tile; on AVX-512 (AVX2), runs of 16 (8) tiles inside the image are transformed at once
// (tile columns are every other input column: even/odd lanes split with permutes).

static inline void wino_weights_one(float *u, long xiStride, const float *g) {
    float t[4][3];
    for (int j = 0; j < 3; j++) {   // G g: rows g0, (g0+g1+g2)/2, (g0−g1+g2)/2, g2
        // Same operation order as the vector version, so every CPU level gives the same transformed weights.
        float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j], s = g0 + g2;
        t[0][j] = g0;
        t[1][j] = 0.5f * (s + g1);
        t[2][j] = 0.5f * (s - g1);
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) {   // (G g) Gᵀ
        float a = t[i][0], b = t[i][1], d = t[i][2], s = a + d;
        float *ui = u + (i * 4) * xiStride;
        ui[0] = a;
        ui[xiStride] = 0.5f * (s + b);
        ui[2 * xiStride] = 0.5f * (s - b);
        ui[3 * xiStride] = d;
    }
}

#ifdef WINO_X86
// 16 consecutive input channels at once: their 3×3 kernels are 144 contiguous floats, read with 9 gathers.
__attribute__((target("avx512f")))
static void wino_weights_16(float *u, long xiStride, const float *g) {
    const __m512i idx = _mm512_set_epi32(135, 126, 117, 108, 99, 90, 81, 72, 63, 54, 45, 36, 27, 18, 9, 0);
    const __m512 half = _mm512_set1_ps(0.5f);
    __m512 t[4][3];
    for (int j = 0; j < 3; j++) {
        __m512 g0 = _mm512_i32gather_ps(idx, g + j, 4);
        __m512 g1 = _mm512_i32gather_ps(idx, g + 3 + j, 4);
        __m512 g2 = _mm512_i32gather_ps(idx, g + 6 + j, 4);
        __m512 s = _mm512_add_ps(g0, g2);
        t[0][j] = g0;
        t[1][j] = _mm512_mul_ps(half, _mm512_add_ps(s, g1));
        t[2][j] = _mm512_mul_ps(half, _mm512_sub_ps(s, g1));
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) {
        __m512 a = t[i][0], b = t[i][1], d = t[i][2];
        __m512 s = _mm512_add_ps(a, d);
        float *ui = u + (i * 4) * xiStride;
        _mm512_storeu_ps(ui, a);
        _mm512_storeu_ps(ui + xiStride, _mm512_mul_ps(half, _mm512_add_ps(s, b)));
        _mm512_storeu_ps(ui + 2 * xiStride, _mm512_mul_ps(half, _mm512_sub_ps(s, b)));
        _mm512_storeu_ps(ui + 3 * xiStride, d);
    }
}
#endif

#ifdef WINO_X86
// 8 consecutive input channels at once (AVX2): their 3×3 kernels are 72 contiguous floats, read with 9 gathers.
__attribute__((target("avx2,fma")))
static void wino_weights_8(float *u, long xiStride, const float *g) {
    const __m256i idx = _mm256_setr_epi32(0, 9, 18, 27, 36, 45, 54, 63);
    const __m256 half = _mm256_set1_ps(0.5f);
    __m256 t[4][3];
    for (int j = 0; j < 3; j++) {
        __m256 g0 = _mm256_i32gather_ps(g + j, idx, 4);
        __m256 g1 = _mm256_i32gather_ps(g + 3 + j, idx, 4);
        __m256 g2 = _mm256_i32gather_ps(g + 6 + j, idx, 4);
        __m256 s = _mm256_add_ps(g0, g2);
        t[0][j] = g0;
        t[1][j] = _mm256_mul_ps(half, _mm256_add_ps(s, g1));
        t[2][j] = _mm256_mul_ps(half, _mm256_sub_ps(s, g1));
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) {
        __m256 a = t[i][0], b = t[i][1], d = t[i][2];
        __m256 s = _mm256_add_ps(a, d);
        float *ui = u + (i * 4) * xiStride;
        _mm256_storeu_ps(ui, a);
        _mm256_storeu_ps(ui + xiStride, _mm256_mul_ps(half, _mm256_add_ps(s, b)));
        _mm256_storeu_ps(ui + 2 * xiStride, _mm256_mul_ps(half, _mm256_sub_ps(s, b)));
        _mm256_storeu_ps(ui + 3 * xiStride, d);
    }
}
#endif

void ek_wino_weights(float *U, long xiStride, const float *w, long inC, long o0, long o1) {
    int wide = wino_vector();
    (void)wide;   // only read on x86
    for (long o = o0; o < o1; o++) {
        long c = 0;
#ifdef WINO_X86
        if (wide == 16)
            for (; c + 16 <= inC; c += 16) wino_weights_16(U + o * inC + c, xiStride, w + (o * inC + c) * 9);
        if (wide == 8)
            for (; c + 8 <= inC; c += 8) wino_weights_8(U + o * inC + c, xiStride, w + (o * inC + c) * 9);
#endif
        for (; c < inC; c++) wino_weights_one(U + o * inC + c, xiStride, w + (o * inC + c) * 9);
    }
}

static inline void wino_input_tile(float *v, long xiStride, const float *xc, long H, long W, long iy0, long ix0) {
    float d[4][4];
    if (iy0 >= 0 && iy0 + 4 <= H && ix0 >= 0 && ix0 + 4 <= W) {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) d[i][j] = xc[(iy0 + i) * W + ix0 + j];
    } else {
        for (int i = 0; i < 4; i++) {
            long iy = iy0 + i;
            for (int j = 0; j < 4; j++) {
                long ix = ix0 + j;
                d[i][j] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? xc[iy * W + ix] : 0.0f;
            }
        }
    }
    float s[4][4];
    for (int j = 0; j < 4; j++) {   // Bᵀ d
        s[0][j] = d[0][j] - d[2][j];
        s[1][j] = d[1][j] + d[2][j];
        s[2][j] = d[2][j] - d[1][j];
        s[3][j] = d[1][j] - d[3][j];
    }
    for (int i = 0; i < 4; i++) {   // (Bᵀ d) B
        v[(i * 4 + 0) * xiStride] = s[i][0] - s[i][2];
        v[(i * 4 + 1) * xiStride] = s[i][1] + s[i][2];
        v[(i * 4 + 2) * xiStride] = s[i][2] - s[i][1];
        v[(i * 4 + 3) * xiStride] = s[i][1] - s[i][3];
    }
}

#ifdef WINO_X86
// 16 tiles whose 4 rows × 34 columns (from x0) lie inside the image.
__attribute__((target("avx512f")))
static void wino_input_16(float *v, long xiStride, const float *x0, long W) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    __m512 d[4][4];
    for (int i = 0; i < 4; i++) {
        const float *r = x0 + i * W;
        __m512 a = _mm512_loadu_ps(r), b = _mm512_loadu_ps(r + 16);
        __m512 a2 = _mm512_loadu_ps(r + 2), b2 = _mm512_loadu_ps(r + 18);
        d[i][0] = _mm512_permutex2var_ps(a, even, b);
        d[i][1] = _mm512_permutex2var_ps(a, odd, b);
        d[i][2] = _mm512_permutex2var_ps(a2, even, b2);
        d[i][3] = _mm512_permutex2var_ps(a2, odd, b2);
    }
    __m512 s[4][4];
    for (int j = 0; j < 4; j++) {
        s[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
        s[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
        s[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
        s[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; i++) {
        _mm512_storeu_ps(v + (i * 4 + 0) * xiStride, _mm512_sub_ps(s[i][0], s[i][2]));
        _mm512_storeu_ps(v + (i * 4 + 1) * xiStride, _mm512_add_ps(s[i][1], s[i][2]));
        _mm512_storeu_ps(v + (i * 4 + 2) * xiStride, _mm512_sub_ps(s[i][2], s[i][1]));
        _mm512_storeu_ps(v + (i * 4 + 3) * xiStride, _mm512_sub_ps(s[i][1], s[i][3]));
    }
}
#endif

#ifdef WINO_X86
// 8 tiles whose 4 rows × 18 columns (from x0) lie inside the image (AVX2; the same sums as `wino_input_tile`).
__attribute__((target("avx2,fma")))
static void wino_input_8(float *v, long xiStride, const float *x0, long W) {
    __m256 d[4][4];
    for (int i = 0; i < 4; i++) {
        const float *r = x0 + i * W;
        ek_even_odd_256(_mm256_loadu_ps(r), _mm256_loadu_ps(r + 8), &d[i][0], &d[i][1]);
        ek_even_odd_256(_mm256_loadu_ps(r + 2), _mm256_loadu_ps(r + 10), &d[i][2], &d[i][3]);
    }
    __m256 s[4][4];
    for (int j = 0; j < 4; j++) {
        s[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
        s[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
        s[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
        s[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(v + (i * 4 + 0) * xiStride, _mm256_sub_ps(s[i][0], s[i][2]));
        _mm256_storeu_ps(v + (i * 4 + 1) * xiStride, _mm256_add_ps(s[i][1], s[i][2]));
        _mm256_storeu_ps(v + (i * 4 + 2) * xiStride, _mm256_sub_ps(s[i][2], s[i][1]));
        _mm256_storeu_ps(v + (i * 4 + 3) * xiStride, _mm256_sub_ps(s[i][1], s[i][3]));
    }
}
#endif

void ek_wino_input(float *V, long ldv, long xiStride, const float *x, long imageStride, long H, long W, long pt,
                   long pl, long tilesX, long tilesPerImage, long t0, long t1, long c0, long c1) {
    int wide = wino_vector();
    (void)wide;   // only read on x86
    for (long c = c0; c < c1; c++) {
        float *vc = V + c * ldv;
        long t = t0;
        while (t < t1) {
            long img = t / tilesPerImage, ti = t % tilesPerImage;
            const float *xc = x + img * imageStride + c * H * W;
            long ty = ti / tilesX, tx = ti % tilesX;
            long iy0 = 2 * ty - pt, ix0 = 2 * tx - pl;
#ifdef WINO_X86
            if (wide == 16 && tx + 16 <= tilesX && t + 16 <= t1 && iy0 >= 0 && iy0 + 4 <= H && ix0 >= 0
                && ix0 + 34 <= W) {
                wino_input_16(vc + (t - t0), xiStride, xc + iy0 * W + ix0, W);
                t += 16;
                continue;
            }
            if (wide == 8 && tx + 8 <= tilesX && t + 8 <= t1 && iy0 >= 0 && iy0 + 4 <= H && ix0 >= 0
                && ix0 + 18 <= W) {
                wino_input_8(vc + (t - t0), xiStride, xc + iy0 * W + ix0, W);
                t += 8;
                continue;
            }
#endif
            wino_input_tile(vc + (t - t0), xiStride, xc, H, W, iy0, ix0);
            t++;
        }
    }
}

static inline void wino_output_tile(float *yo, const float *m, long xiStride, long outH, long outW, long oy, long ox,
                                    float b) {
    float s[2][4];
    for (int j = 0; j < 4; j++) {   // Aᵀ m
        float m0 = m[j * xiStride], m1 = m[(4 + j) * xiStride];
        float m2 = m[(8 + j) * xiStride], m3 = m[(12 + j) * xiStride];
        s[0][j] = m0 + m1 + m2;
        s[1][j] = m1 - m2 - m3;
    }
    for (int i = 0; i < 2; i++) {   // (Aᵀ m) A
        if (oy + i >= outH) break;
        float *row = yo + (oy + i) * outW + ox;
        row[0] = b + s[i][0] + s[i][1] + s[i][2];
        if (ox + 1 < outW) row[1] = b + s[i][1] - s[i][2] - s[i][3];
    }
}

#ifdef WINO_X86
// 16 tiles whose 2 output rows × 32 columns (from y0) lie inside the output.
__attribute__((target("avx512f")))
static void wino_output_16(float *y0, long outW, const float *m, long xiStride, float bias) {
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    __m512 b = _mm512_set1_ps(bias);
    __m512 s[2][4];
    for (int j = 0; j < 4; j++) {
        __m512 m0 = _mm512_loadu_ps(m + j * xiStride), m1 = _mm512_loadu_ps(m + (4 + j) * xiStride);
        __m512 m2 = _mm512_loadu_ps(m + (8 + j) * xiStride), m3 = _mm512_loadu_ps(m + (12 + j) * xiStride);
        s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    for (int i = 0; i < 2; i++) {
        __m512 e = _mm512_add_ps(b, _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]));
        __m512 o = _mm512_add_ps(b, _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]));
        float *row = y0 + i * outW;
        _mm512_storeu_ps(row, _mm512_permutex2var_ps(e, lo, o));
        _mm512_storeu_ps(row + 16, _mm512_permutex2var_ps(e, hi, o));
    }
}
#endif

#ifdef WINO_X86
// 8 tiles whose 2 output rows × 16 columns (from y0) lie inside the output (AVX2; the same sums as
// `wino_output_tile`).
__attribute__((target("avx2,fma")))
static void wino_output_8(float *y0, long outW, const float *m, long xiStride, float bias) {
    __m256 b = _mm256_set1_ps(bias);
    __m256 s[2][4];
    for (int j = 0; j < 4; j++) {
        __m256 m0 = _mm256_loadu_ps(m + j * xiStride), m1 = _mm256_loadu_ps(m + (4 + j) * xiStride);
        __m256 m2 = _mm256_loadu_ps(m + (8 + j) * xiStride), m3 = _mm256_loadu_ps(m + (12 + j) * xiStride);
        s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    for (int i = 0; i < 2; i++) {
        __m256 e = _mm256_add_ps(b, _mm256_add_ps(_mm256_add_ps(s[i][0], s[i][1]), s[i][2]));
        __m256 o = _mm256_add_ps(b, _mm256_sub_ps(_mm256_sub_ps(s[i][1], s[i][2]), s[i][3]));
        __m256 l, h;
        ek_interleave_256(e, o, &l, &h);
        float *row = y0 + i * outW;
        _mm256_storeu_ps(row, l);
        _mm256_storeu_ps(row + 8, h);
    }
}
#endif

void ek_wino_output(float *y, long imageStride, const float *M, long ldm, long xiStride, long outH, long outW,
                    long tilesX, long tilesPerImage, long t0, long t1, long o0, long o1, const float *bias) {
    int wide = wino_vector();
    (void)wide;   // only read on x86
    for (long o = o0; o < o1; o++) {
        float b = bias ? bias[o] : 0.0f;
        const float *mo = M + o * ldm;
        long t = t0;
        while (t < t1) {
            long img = t / tilesPerImage, ti = t % tilesPerImage;
            float *yo = y + img * imageStride + o * outH * outW;
            long oy = 2 * (ti / tilesX), tx = ti % tilesX, ox = 2 * tx;
#ifdef WINO_X86
            if (wide == 16 && tx + 16 <= tilesX && t + 16 <= t1 && oy + 2 <= outH && ox + 32 <= outW) {
                wino_output_16(yo + oy * outW + ox, outW, mo + (t - t0), xiStride, b);
                t += 16;
                continue;
            }
            if (wide == 8 && tx + 8 <= tilesX && t + 8 <= t1 && oy + 2 <= outH && ox + 16 <= outW) {
                wino_output_8(yo + oy * outW + ox, outW, mo + (t - t0), xiStride, b);
                t += 8;
                continue;
            }
#endif
            wino_output_tile(yo, mo + (t - t0), xiStride, outH, outW, oy, ox, b);
            t++;
        }
    }
}
