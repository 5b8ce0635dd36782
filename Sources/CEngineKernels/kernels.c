#include "EngineKernels.h"
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#include "simd_helpers.h"
#define EK_X86 1
#endif

// ---------------------------------------------------------------- baseline (any CPU; clang vectorises)
static void fir_taps_base(float *dst, const float *src, const float *w, long taps, long n, int acc) {
    for (long m = 0; m < n; m++) {
        float v = acc ? dst[m] : 0.0f;
        for (long t = 0; t < taps; t++) v += w[t] * src[m + t];
        dst[m] = v;
    }
}
static void fir_rows_base(float *dst, const float *const *rows, const float *w, long taps, long n) {
    for (long m = 0; m < n; m++) {
        float v = 0.0f;
        for (long t = 0; t < taps; t++) v += w[t] * rows[t][m];
        dst[m] = v;
    }
}
static void lrelu_base(float *x, long n, float slope, float gain, float lo, float hi) {
    for (long i = 0; i < n; i++) {
        float v = x[i];
        v = (v >= 0 ? v : v * slope) * gain;
        x[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

static void fir_down2_base(float *out, const float *x, const float *w, long taps, long n, int acc);

#ifdef EK_X86
// ---------------------------------------------------------------- AVX-512

// Four independent accumulators per step hide the FMA latency (the filters are short: 2-12 taps).
__attribute__((target("avx512f")))
static void fir_taps_512(float *dst, const float *src, const float *w, long taps, long n, int acc) {
    long m = 0;
    for (; m + 64 <= n; m += 64) {
        __m512 a0, a1, a2, a3;
        if (acc) { a0 = _mm512_loadu_ps(dst + m); a1 = _mm512_loadu_ps(dst + m + 16); a2 = _mm512_loadu_ps(dst + m + 32); a3 = _mm512_loadu_ps(dst + m + 48); }
        else { a0 = a1 = a2 = a3 = _mm512_setzero_ps(); }
        for (long t = 0; t < taps; t++) {
            __m512 wt = _mm512_set1_ps(w[t]);
            const float *s = src + m + t;
            a0 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s), a0);
            a1 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 16), a1);
            a2 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 32), a2);
            a3 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 48), a3);
        }
        _mm512_storeu_ps(dst + m, a0); _mm512_storeu_ps(dst + m + 16, a1);
        _mm512_storeu_ps(dst + m + 32, a2); _mm512_storeu_ps(dst + m + 48, a3);
    }
    if (m < n) {
        // The last < 64 outputs: up to four masked blocks, still four independent chains.
        long left = n - m;
        __mmask16 k0 = EK_MASK(left), k1 = left > 16 ? EK_MASK(left - 16) : 0;
        __mmask16 k2 = left > 32 ? EK_MASK(left - 32) : 0, k3 = left > 48 ? EK_MASK(left - 48) : 0;
        __m512 a0, a1, a2, a3;
        if (acc) {
            a0 = _mm512_maskz_loadu_ps(k0, dst + m); a1 = _mm512_maskz_loadu_ps(k1, dst + m + 16);
            a2 = _mm512_maskz_loadu_ps(k2, dst + m + 32); a3 = _mm512_maskz_loadu_ps(k3, dst + m + 48);
        } else { a0 = a1 = a2 = a3 = _mm512_setzero_ps(); }
        for (long t = 0; t < taps; t++) {
            __m512 wt = _mm512_set1_ps(w[t]);
            const float *s = src + m + t;
            a0 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k0, s), a0);
            a1 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k1, s + 16), a1);
            a2 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k2, s + 32), a2);
            a3 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k3, s + 48), a3);
        }
        _mm512_mask_storeu_ps(dst + m, k0, a0); _mm512_mask_storeu_ps(dst + m + 16, k1, a1);
        _mm512_mask_storeu_ps(dst + m + 32, k2, a2); _mm512_mask_storeu_ps(dst + m + 48, k3, a3);
    }
}
__attribute__((target("avx512f")))
static void fir_rows_512(float *dst, const float *const *rows, const float *w, long taps, long n) {
    long m = 0;
    for (; m + 64 <= n; m += 64) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (long t = 0; t < taps; t++) {
            __m512 wt = _mm512_set1_ps(w[t]);
            const float *r = rows[t] + m;
            a0 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(r), a0);
            a1 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(r + 16), a1);
            a2 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(r + 32), a2);
            a3 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(r + 48), a3);
        }
        _mm512_storeu_ps(dst + m, a0); _mm512_storeu_ps(dst + m + 16, a1);
        _mm512_storeu_ps(dst + m + 32, a2); _mm512_storeu_ps(dst + m + 48, a3);
    }
    if (m < n) {
        long left = n - m;
        __mmask16 k0 = EK_MASK(left), k1 = left > 16 ? EK_MASK(left - 16) : 0;
        __mmask16 k2 = left > 32 ? EK_MASK(left - 32) : 0, k3 = left > 48 ? EK_MASK(left - 48) : 0;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (long t = 0; t < taps; t++) {
            __m512 wt = _mm512_set1_ps(w[t]);
            const float *r = rows[t] + m;
            a0 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k0, r), a0);
            a1 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k1, r + 16), a1);
            a2 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k2, r + 32), a2);
            a3 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k3, r + 48), a3);
        }
        _mm512_mask_storeu_ps(dst + m, k0, a0); _mm512_mask_storeu_ps(dst + m + 16, k1, a1);
        _mm512_mask_storeu_ps(dst + m + 32, k2, a2); _mm512_mask_storeu_ps(dst + m + 48, k3, a3);
    }
}
__attribute__((target("avx512f")))
static void lrelu_512(float *x, long n, float slope, float gain, float lo, float hi) {
    __m512 s = _mm512_set1_ps(slope), g = _mm512_set1_ps(gain), l = _mm512_set1_ps(lo), h = _mm512_set1_ps(hi);
    for (long i = 0; i < n; i += 16) {
        __mmask16 k = EK_MASK(n - i);
        _mm512_mask_storeu_ps(x + i, k, ek_lrelu_gain_clamp_512(_mm512_maskz_loadu_ps(k, x + i), s, g, l, h));
    }
}

// ---------------------------------------------------------------- AVX2 + FMA
// The same loops as the AVX-512 kernels with 8-float vectors: each output sums in the same order, so results
// match them bit for bit. Tails load through masks (vmaskmovps never touches masked-out lanes) and store with
// ek_store_part_256 (simd_helpers.h: masked stores are microcoded and slow on AMD).

// Eight independent accumulators (32 outputs) per step: Zen 3 keeps two FMAs of latency 4 in flight.
__attribute__((target("avx2,fma")))
static void fir_taps_256(float *dst, const float *src, const float *w, long taps, long n, int acc) {
    long m = 0;
    for (; m + 32 <= n; m += 32) {
        __m256 a0, a1, a2, a3;
        if (acc) { a0 = _mm256_loadu_ps(dst + m); a1 = _mm256_loadu_ps(dst + m + 8); a2 = _mm256_loadu_ps(dst + m + 16); a3 = _mm256_loadu_ps(dst + m + 24); }
        else { a0 = a1 = a2 = a3 = _mm256_setzero_ps(); }
        for (long t = 0; t < taps; t++) {
            __m256 wt = _mm256_set1_ps(w[t]);
            const float *s = src + m + t;
            a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s), a0);
            a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 8), a1);
            a2 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 16), a2);
            a3 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 24), a3);
        }
        _mm256_storeu_ps(dst + m, a0); _mm256_storeu_ps(dst + m + 8, a1);
        _mm256_storeu_ps(dst + m + 16, a2); _mm256_storeu_ps(dst + m + 24, a3);
    }
    // The last < 32 outputs: masked vectors of 8 (lanes past n neither read nor written).
    for (; m < n; m += 8) {
        long left = n - m;
        __m256i k = EK_MASK8(left);
        __m256 a = acc ? _mm256_maskload_ps(dst + m, k) : _mm256_setzero_ps();
        for (long t = 0; t < taps; t++) a = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), _mm256_maskload_ps(src + m + t, k), a);
        ek_store_part_256(dst + m, a, left);
    }
}
__attribute__((target("avx2,fma")))
static void fir_rows_256(float *dst, const float *const *rows, const float *w, long taps, long n) {
    long m = 0;
    for (; m + 32 <= n; m += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (long t = 0; t < taps; t++) {
            __m256 wt = _mm256_set1_ps(w[t]);
            const float *r = rows[t] + m;
            a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(r), a0);
            a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(r + 8), a1);
            a2 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(r + 16), a2);
            a3 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(r + 24), a3);
        }
        _mm256_storeu_ps(dst + m, a0); _mm256_storeu_ps(dst + m + 8, a1);
        _mm256_storeu_ps(dst + m + 16, a2); _mm256_storeu_ps(dst + m + 24, a3);
    }
    for (; m < n; m += 8) {
        long left = n - m;
        __m256i k = EK_MASK8(left);
        __m256 a = _mm256_setzero_ps();
        for (long t = 0; t < taps; t++) a = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), _mm256_maskload_ps(rows[t] + m, k), a);
        ek_store_part_256(dst + m, a, left);
    }
}
__attribute__((target("avx2,fma")))
static void lrelu_256(float *x, long n, float slope, float gain, float lo, float hi) {
    __m256 s = _mm256_set1_ps(slope), g = _mm256_set1_ps(gain), l = _mm256_set1_ps(lo), h = _mm256_set1_ps(hi);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, ek_lrelu_gain_clamp_256(_mm256_loadu_ps(x + i), s, g, l, h));
    if (i < n) ek_store_part_256(x + i, ek_lrelu_gain_clamp_256(ek_load_part_256(x + i, n - i), s, g, l, h), n - i);
}

// exp's constants, one set for every level (the kernels give the same values): clamp range, log2(e), ln 2 in
// two parts (Cody–Waite) and the degree-6 polynomial.
#define EK_EXP_LO (-87.3f)
// 2^n for integral n in [−126, 0] (the inputs are x − max ≤ 0, so no upper clamp): n + 127 sits in the low
// mantissa bits of n + (2^23 + 127), exactly; shifting them into the exponent field drops the rest.
#define EK_EXP_BIAS 8388735.0f
#define EK_EXP_LOG2E 1.442695041f
#define EK_EXP_LN2_HI 0.693359375f
#define EK_EXP_LN2_LO 2.12194440e-4f
#define EK_EXP_P0 1.9875691500e-4f
#define EK_EXP_P1 1.3981999507e-3f
#define EK_EXP_P2 8.3334519073e-3f
#define EK_EXP_P3 4.1665795894e-2f
#define EK_EXP_P4 1.6666665459e-1f
#define EK_EXP_P5 5.0000001201e-1f

// exp for softmax: Cephes range reduction (x = n ln2 + r) and a degree-6 polynomial, 2^n built in the exponent.
// Only for x ≤ 0 (or NaN, which becomes the lower clamp): the softmax's x − max.
__attribute__((target("avx512f")))
static inline __m512 exp_512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(EK_EXP_LO));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EK_EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EK_EXP_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(EK_EXP_LN2_LO), r);
    __m512 p = _mm512_set1_ps(EK_EXP_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EK_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EK_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EK_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EK_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EK_EXP_P5));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_castps_si512(_mm512_add_ps(n, _mm512_set1_ps(EK_EXP_BIAS))), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

// exp(x − max) in place, returning the sum. Unmasked main loops with independent accumulators (masked loads
// and a single max/sum chain made the old loop about twice as slow), one masked step for the tail.
__attribute__((target("avx512f")))
static float exp_shifted_512(float *p, long n) {
    long full = n & ~31L;
    __m512 m0 = _mm512_set1_ps(-__builtin_inff()), m1 = m0;
    for (long i = 0; i < full; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(p + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(p + i + 16));
    }
    for (long i = full; i < n; i += 16) {
        __mmask16 k = EK_MASK(n - i);
        m0 = _mm512_mask_max_ps(m0, k, m0, _mm512_maskz_loadu_ps(k, p + i));
    }
    float m = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    if (m == -__builtin_inff()) m = 0;
    __m512 vm = _mm512_set1_ps(m), s0 = _mm512_setzero_ps(), s1 = s0;
    for (long i = 0; i < full; i += 32) {
        __m512 e0 = exp_512(_mm512_sub_ps(_mm512_loadu_ps(p + i), vm));
        __m512 e1 = exp_512(_mm512_sub_ps(_mm512_loadu_ps(p + i + 16), vm));
        s0 = _mm512_add_ps(s0, e0); s1 = _mm512_add_ps(s1, e1);
        _mm512_storeu_ps(p + i, e0); _mm512_storeu_ps(p + i + 16, e1);
    }
    for (long i = full; i < n; i += 16) {
        __mmask16 k = EK_MASK(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, exp_512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, p + i), vm)));
        s0 = _mm512_add_ps(s0, e);
        _mm512_mask_storeu_ps(p + i, k, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f")))
static void scale_512(float *p, long n, float f) {
    __m512 v = _mm512_set1_ps(f);
    long i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(p + i, _mm512_mul_ps(_mm512_loadu_ps(p + i), v));
    if (i < n) {
        __mmask16 k = EK_MASK(n - i);
        _mm512_mask_storeu_ps(p + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + i), v));
    }
}

__attribute__((target("avx512f")))
static void softmax_512(float *p, long n) {
    scale_512(p, n, 1.0f / exp_shifted_512(p, n));
}

// The same exp with 8-float vectors (same reduction and polynomial: bit-identical values).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 exp_256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(EK_EXP_LO));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EK_EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EK_EXP_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(EK_EXP_LN2_LO), r);
    __m256 p = _mm256_set1_ps(EK_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EK_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EK_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EK_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EK_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EK_EXP_P5));
    __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_castps_si256(_mm256_add_ps(n, _mm256_set1_ps(EK_EXP_BIAS))), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"), always_inline))
static inline float hmax_256(__m256 v) {
    __m128 q = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_max_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_max_ss(q, _mm_movehdup_ps(q)));
}
__attribute__((target("avx2,fma"), always_inline))
static inline float hsum_256(__m256 v) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

// exp_shifted_512 with 8-float vectors: four accumulators per pass (the exp chain is long, the max and sum
// chains short), one masked step per vector of the tail. Only the sum's order differs (8 lanes, not 16).
__attribute__((target("avx2,fma")))
static float exp_shifted_256(float *p, long n) {
    long full = n & ~31L;
    const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
    __m256 m0 = ninf, m1 = m0, m2 = m0, m3 = m0;
    for (long i = 0; i < full; i += 32) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(p + i));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(p + i + 8));
        m2 = _mm256_max_ps(m2, _mm256_loadu_ps(p + i + 16));
        m3 = _mm256_max_ps(m3, _mm256_loadu_ps(p + i + 24));
    }
    for (long i = full; i < n; i += 8) {
        __m256i k = EK_MASK8(n - i);   // masked-out lanes read nothing and count as −∞
        m0 = _mm256_max_ps(m0, _mm256_blendv_ps(ninf, _mm256_maskload_ps(p + i, k), _mm256_castsi256_ps(k)));
    }
    float m = hmax_256(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
    if (m == -__builtin_inff()) m = 0;
    __m256 vm = _mm256_set1_ps(m), s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (long i = 0; i < full; i += 32) {
        __m256 e0 = exp_256(_mm256_sub_ps(_mm256_loadu_ps(p + i), vm));
        __m256 e1 = exp_256(_mm256_sub_ps(_mm256_loadu_ps(p + i + 8), vm));
        __m256 e2 = exp_256(_mm256_sub_ps(_mm256_loadu_ps(p + i + 16), vm));
        __m256 e3 = exp_256(_mm256_sub_ps(_mm256_loadu_ps(p + i + 24), vm));
        s0 = _mm256_add_ps(s0, e0); s1 = _mm256_add_ps(s1, e1); s2 = _mm256_add_ps(s2, e2); s3 = _mm256_add_ps(s3, e3);
        _mm256_storeu_ps(p + i, e0); _mm256_storeu_ps(p + i + 8, e1);
        _mm256_storeu_ps(p + i + 16, e2); _mm256_storeu_ps(p + i + 24, e3);
    }
    for (long i = full; i < n; i += 8) {
        __m256i k = EK_MASK8(n - i);
        __m256 e = _mm256_and_ps(exp_256(_mm256_sub_ps(_mm256_maskload_ps(p + i, k), vm)), _mm256_castsi256_ps(k));
        s0 = _mm256_add_ps(s0, e);
        ek_store_part_256(p + i, e, n - i);
    }
    return hsum_256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

__attribute__((target("avx2,fma")))
static void scale_256(float *p, long n, float f) {
    __m256 v = _mm256_set1_ps(f);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(p + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), v));
    if (i < n) ek_store_part_256(p + i, _mm256_mul_ps(_mm256_maskload_ps(p + i, EK_MASK8(n - i)), v), n - i);
}

__attribute__((target("avx2,fma")))
static void softmax_256(float *p, long n) {
    scale_256(p, n, 1.0f / exp_shifted_256(p, n));
}
#endif

static float exp_shifted_base(float *p, long n) {
    float m = -__builtin_inff();
    for (long i = 0; i < n; i++) m = p[i] > m ? p[i] : m;
    if (m == -__builtin_inff()) m = 0;
    float sum = 0;
    for (long i = 0; i < n; i++) { p[i] = __builtin_expf(p[i] - m); sum += p[i]; }
    return sum;
}

static void softmax_base(float *p, long n) {
    float inv = 1.0f / exp_shifted_base(p, n);
    for (long i = 0; i < n; i++) p[i] *= inv;
}

#ifdef EK_X86
__attribute__((target("avx512f")))
static void fir_up2_512(float *out, long n, const float *x0, const float *w0, long t0,
                        const float *x1, const float *w1, long t1, int acc) {
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    long m = 0;
    for (; 2 * (m + 32) <= n; m += 32) {
        __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
        for (long t = 0; t < t0; t++) {
            __m512 wt = _mm512_set1_ps(w0[t]);
            a = _mm512_fmadd_ps(wt, _mm512_loadu_ps(x0 + m + t), a);
            c = _mm512_fmadd_ps(wt, _mm512_loadu_ps(x0 + m + t + 16), c);
        }
        for (long t = 0; t < t1; t++) {
            __m512 wt = _mm512_set1_ps(w1[t]);
            b = _mm512_fmadd_ps(wt, _mm512_loadu_ps(x1 + m + t), b);
            d = _mm512_fmadd_ps(wt, _mm512_loadu_ps(x1 + m + t + 16), d);
        }
        __m512 l0 = _mm512_permutex2var_ps(a, lo, b), h0 = _mm512_permutex2var_ps(a, hi, b);
        __m512 l1 = _mm512_permutex2var_ps(c, lo, d), h1 = _mm512_permutex2var_ps(c, hi, d);
        if (acc) {
            l0 = _mm512_add_ps(l0, _mm512_loadu_ps(out + 2 * m)); h0 = _mm512_add_ps(h0, _mm512_loadu_ps(out + 2 * m + 16));
            l1 = _mm512_add_ps(l1, _mm512_loadu_ps(out + 2 * m + 32)); h1 = _mm512_add_ps(h1, _mm512_loadu_ps(out + 2 * m + 48));
        }
        _mm512_storeu_ps(out + 2 * m, l0); _mm512_storeu_ps(out + 2 * m + 16, h0);
        _mm512_storeu_ps(out + 2 * m + 32, l1); _mm512_storeu_ps(out + 2 * m + 48, h1);
    }
    // Remaining outputs (< 64) in blocks of 16 per phase, masked: phase 0 has ceil(left/2), phase 1 floor(left/2).
    for (; 2 * m < n; m += 16) {
        long left = n - 2 * m;
        long c0 = (left + 1) / 2, c1 = left / 2;
        __mmask16 k0 = EK_MASK(c0), k1 = EK_MASK(c1);
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        for (long t = 0; t < t0; t++) a = _mm512_fmadd_ps(_mm512_set1_ps(w0[t]), _mm512_maskz_loadu_ps(k0, x0 + m + t), a);
        for (long t = 0; t < t1; t++) b = _mm512_fmadd_ps(_mm512_set1_ps(w1[t]), _mm512_maskz_loadu_ps(k1, x1 + m + t), b);
        __m512 l = _mm512_permutex2var_ps(a, lo, b), h = _mm512_permutex2var_ps(a, hi, b);
        __mmask16 kl = EK_MASK(left), kh = left > 16 ? EK_MASK(left - 16) : (__mmask16)0;
        if (acc) {
            l = _mm512_add_ps(l, _mm512_maskz_loadu_ps(kl, out + 2 * m));
            h = _mm512_add_ps(h, _mm512_maskz_loadu_ps(kh, out + 2 * m + 16));
        }
        _mm512_mask_storeu_ps(out + 2 * m, kl, l);
        _mm512_mask_storeu_ps(out + 2 * m + 16, kh, h);
    }
}

// Decimation by 2 as polyphase: split x into even and odd samples once (vector permutes), then
// out = FIR(even, w[0::2]) + FIR(odd, w[1::2]) with the plain contiguous kernel.
__attribute__((target("avx512f")))
static void deinterleave_512(const float *x, long count, float *ev, long le, float *od, long lo) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (long j = 0; j < le || j < lo; j += 16) {
        long left = count - 2 * j;   // source values still available from x + 2j
        __mmask16 ka = EK_MASK(left > 0 ? left : 0), kb = left > 16 ? EK_MASK(left - 16) : (__mmask16)0;
        __m512 a = _mm512_maskz_loadu_ps(ka, x + 2 * j), b = _mm512_maskz_loadu_ps(kb, x + 2 * j + 16);
        if (j < le) _mm512_mask_storeu_ps(ev + j, EK_MASK(le - j), _mm512_permutex2var_ps(a, even, b));
        if (j < lo) _mm512_mask_storeu_ps(od + j, EK_MASK(lo - j), _mm512_permutex2var_ps(a, odd, b));
    }
}

// Decimation by 2 as two contiguous FIRs (even taps over even samples, odd taps over odd ones), in chunks whose
// polyphase split stays on the stack; the same sums in the same order at every level.
#define EK_FIR_DOWN2(SUFFIX, TARGET)                                                                            \
    __attribute__((target(TARGET)))                                                                             \
    static void fir_down2_##SUFFIX(float *out, const float *x, const float *w, long taps, long n, int acc) {    \
        enum { CHUNK = 1024, MAXT = 64 };                                                                       \
        if (taps > 2 * MAXT) { fir_down2_base(out, x, w, taps, n, acc); return; }                               \
        float ev[CHUNK + MAXT + 16], od[CHUNK + MAXT + 16], we[MAXT], wo[MAXT];                                 \
        long te = (taps + 1) / 2, to = taps / 2;                                                                \
        for (long s = 0; s < te; s++) we[s] = w[2 * s];                                                         \
        for (long s = 0; s < to; s++) wo[s] = w[2 * s + 1];                                                     \
        for (long i0 = 0; i0 < n; i0 += CHUNK) {                                                                \
            long c = n - i0 < CHUNK ? n - i0 : CHUNK;                                                           \
            long le = c + te - 1, lo = to > 0 ? c + to - 1 : 0;                                                 \
            /* Values read: x[2(i0 + j)] for j < le and x[2(i0 + j) + 1] for j < lo. */                         \
            long count = 2 * le - 1 > 2 * lo ? 2 * le - 1 : 2 * lo;                                             \
            deinterleave_##SUFFIX(x + 2 * i0, count, ev, le, od, lo);                                           \
            fir_taps_##SUFFIX(out + i0, ev, we, te, c, acc);                                                    \
            if (to > 0) fir_taps_##SUFFIX(out + i0, od, wo, to, c, 1);                                          \
        }                                                                                                       \
    }

EK_FIR_DOWN2(512, "avx512f")

// fir_up2_512 with 8-float vectors: per step 32 outputs of each phase (eight chains), interleaved by
// ek_interleave_256; the tail in masked vectors of 8 per phase.

__attribute__((target("avx2,fma")))
static void fir_up2_256(float *out, long n, const float *x0, const float *w0, long t0,
                        const float *x1, const float *w1, long t1, int acc) {
    long m = 0;
    for (; 2 * (m + 32) <= n; m += 32) {
        __m256 a[4], b[4];
        for (int v = 0; v < 4; v++) { a[v] = _mm256_setzero_ps(); b[v] = _mm256_setzero_ps(); }
        for (long t = 0; t < t0; t++) {
            __m256 wt = _mm256_set1_ps(w0[t]);
            for (int v = 0; v < 4; v++) a[v] = _mm256_fmadd_ps(wt, _mm256_loadu_ps(x0 + m + t + 8 * v), a[v]);
        }
        for (long t = 0; t < t1; t++) {
            __m256 wt = _mm256_set1_ps(w1[t]);
            for (int v = 0; v < 4; v++) b[v] = _mm256_fmadd_ps(wt, _mm256_loadu_ps(x1 + m + t + 8 * v), b[v]);
        }
        for (int v = 0; v < 4; v++) {
            __m256 l, h;
            float *o = out + 2 * m + 16 * v;
            ek_interleave_256(a[v], b[v], &l, &h);
            if (acc) { l = _mm256_add_ps(l, _mm256_loadu_ps(o)); h = _mm256_add_ps(h, _mm256_loadu_ps(o + 8)); }
            _mm256_storeu_ps(o, l); _mm256_storeu_ps(o + 8, h);
        }
    }
    // Remaining outputs (< 64) in blocks of 8 per phase, masked: phase 0 has ceil(left/2), phase 1 floor(left/2).
    for (; 2 * m < n; m += 8) {
        long left = n - 2 * m;
        __m256i k0 = EK_MASK8((left + 1) / 2), k1 = EK_MASK8(left / 2);
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps(), l, h;
        for (long t = 0; t < t0; t++) a = _mm256_fmadd_ps(_mm256_set1_ps(w0[t]), _mm256_maskload_ps(x0 + m + t, k0), a);
        for (long t = 0; t < t1; t++) b = _mm256_fmadd_ps(_mm256_set1_ps(w1[t]), _mm256_maskload_ps(x1 + m + t, k1), b);
        ek_interleave_256(a, b, &l, &h);
        float *o = out + 2 * m;
        if (acc) {
            l = _mm256_add_ps(l, _mm256_maskload_ps(o, EK_MASK8(left)));
            h = _mm256_add_ps(h, _mm256_maskload_ps(o + 8, EK_MASK8(left - 8)));
        }
        ek_store_part_256(o, l, left);
        if (left > 8) ek_store_part_256(o + 8, h, left - 8);
    }
}

__attribute__((target("avx2,fma")))
static void deinterleave_256(const float *x, long count, float *ev, long le, float *od, long lo) {
    for (long j = 0; j < le || j < lo; j += 8) {
        long left = count - 2 * j;   // source values still available from x + 2j
        __m256 a = ek_load_part_256(x + 2 * j, left > 0 ? left : 0), b = _mm256_setzero_ps(), e, o;
        if (left > 8) b = ek_load_part_256(x + 2 * j + 8, left - 8);
        ek_even_odd_256(a, b, &e, &o);
        if (j < le) ek_store_part_256(ev + j, e, le - j);
        if (j < lo) ek_store_part_256(od + j, o, lo - j);
    }
}

EK_FIR_DOWN2(256, "avx2,fma")
#endif

static void fir_up2_base(float *out, long n, const float *x0, const float *w0, long t0,
                         const float *x1, const float *w1, long t1, int acc) {
    for (long i = 0; i < n; i++) {
        long j = i / 2;
        const float *x = (i & 1) ? x1 : x0;
        const float *w = (i & 1) ? w1 : w0;
        long tt = (i & 1) ? t1 : t0;
        float v = 0;
        for (long t = 0; t < tt; t++) v += w[t] * x[j + t];
        out[i] = acc ? out[i] + v : v;
    }
}

static void fir_down2_base(float *out, const float *x, const float *w, long taps, long n, int acc) {
    for (long i = 0; i < n; i++) {
        float v = 0;
        for (long t = 0; t < taps; t++) v += w[t] * x[2 * i + t];
        out[i] = acc ? out[i] + v : v;
    }
}

#ifdef EK_X86
// Inlined once per row count (1...8) so the accumulator arrays live in registers.
__attribute__((target("avx512f"), always_inline))
static inline void linear_small_body(float *out, long ldo, const float *x, long ldx, const long rows, const float *w, long k,
                                     long o0, long o1, const float *bias) {
    long o = o0;
    for (; o + 2 <= o1; o += 2) {
        __m512 a[8], b[8];
        for (long r = 0; r < 8; r++) { a[r] = _mm512_setzero_ps(); b[r] = _mm512_setzero_ps(); }
        const float *w0 = w + o * k, *w1 = w0 + k;
        for (long i = 0; i < k; i += 16) {
            __mmask16 m = EK_MASK(k - i);
            __m512 v0 = _mm512_maskz_loadu_ps(m, w0 + i), v1 = _mm512_maskz_loadu_ps(m, w1 + i);
            for (long r = 0; r < rows; r++) {
                __m512 xv = _mm512_maskz_loadu_ps(m, x + r * ldx + i);
                a[r] = _mm512_fmadd_ps(xv, v0, a[r]);
                b[r] = _mm512_fmadd_ps(xv, v1, b[r]);
            }
        }
        float c0 = bias ? bias[o] : 0.0f, c1 = bias ? bias[o + 1] : 0.0f;
        for (long r = 0; r < rows; r++) {
            out[r * ldo + o] = _mm512_reduce_add_ps(a[r]) + c0;
            out[r * ldo + o + 1] = _mm512_reduce_add_ps(b[r]) + c1;
        }
    }
    for (; o < o1; o++) {
        __m512 a[8];
        for (long r = 0; r < 8; r++) a[r] = _mm512_setzero_ps();
        const float *w0 = w + o * k;
        for (long i = 0; i < k; i += 16) {
            __mmask16 m = EK_MASK(k - i);
            __m512 v0 = _mm512_maskz_loadu_ps(m, w0 + i);
            for (long r = 0; r < rows; r++) a[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + r * ldx + i), v0, a[r]);
        }
        for (long r = 0; r < rows; r++) out[r * ldo + o] = _mm512_reduce_add_ps(a[r]) + (bias ? bias[o] : 0.0f);
    }
}

#define EK_LINEAR_SMALL(R) \
    __attribute__((target("avx512f"))) static void linear_small_##R(float *out, long ldo, const float *x, long ldx, \
        const float *w, long k, long o0, long o1, const float *bias) { \
        linear_small_body(out, ldo, x, ldx, R, w, k, o0, o1, bias); }
EK_LINEAR_SMALL(1) EK_LINEAR_SMALL(2) EK_LINEAR_SMALL(3) EK_LINEAR_SMALL(4)
EK_LINEAR_SMALL(5) EK_LINEAR_SMALL(6) EK_LINEAR_SMALL(7) EK_LINEAR_SMALL(8)

// Sums of 16 vectors at once (lane j of the result = horizontal sum of v[j]): pairwise unpack/shuffle steps,
// about 2 operations per sum instead of 8 for separate reductions.
__attribute__((target("avx512f"), always_inline))
static inline __m512 sum16(const __m512 *v) {
    __m512 u[4];
    for (int g = 0; g < 4; g++) {
        const __m512 *q = v + 4 * g;
        __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(q[0], q[1]), _mm512_unpackhi_ps(q[0], q[1]));
        __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(q[2], q[3]), _mm512_unpackhi_ps(q[2], q[3]));
        u[g] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
    }
    // u[g] holds, per 128-bit chunk, partial sums of v[4g..4g+3]; add the four chunks.
    __m512 x0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x44), _mm512_shuffle_f32x4(u[0], u[1], 0xEE));
    __m512 x1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x44), _mm512_shuffle_f32x4(u[2], u[3], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x0, x1, 0x88), _mm512_shuffle_f32x4(x0, x1, 0xDD));
}

// One step of 16 inputs for four outputs × R rows. `mask` is all ones in the main loop (plain loads: masked
// loads there cost a third of the speed) and covers the tail in the one masked step.
__attribute__((target("avx512f"), always_inline))
static inline void linear_tile4_step(__m512 *a, const float *x, long ldx, const long R, const float *w0, long k,
                                     long i, const int masked, __mmask16 mask) {
    const float *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
#define EK_LOAD(p) (masked ? _mm512_maskz_loadu_ps(mask, (p)) : _mm512_loadu_ps(p))
    __m512 v0 = EK_LOAD(w0 + i), v1 = EK_LOAD(w1 + i), v2 = EK_LOAD(w2 + i), v3 = EK_LOAD(w3 + i);
    for (long r = 0; r < R; r++) {
        __m512 xv = EK_LOAD(x + r * ldx + i);
        a[r] = _mm512_fmadd_ps(xv, v0, a[r]);
        a[4 + r] = _mm512_fmadd_ps(xv, v1, a[4 + r]);
        a[8 + r] = _mm512_fmadd_ps(xv, v2, a[8 + r]);
        a[12 + r] = _mm512_fmadd_ps(xv, v3, a[12 + r]);
    }
#undef EK_LOAD
}

// Four outputs × R (≤ 4) rows: 4 weight and R input loads feed 4R multiply-adds per 16 inputs.
__attribute__((target("avx512f"), always_inline))
static inline void linear_tile4(float *out, long ldo, const float *x, long ldx, const long R, const float *w, long k,
                                long o, const float *bias) {
    __m512 a[16];
    for (int j = 0; j < 16; j++) a[j] = _mm512_setzero_ps();
    const float *w0 = w + o * k;
    long full = k & ~15L;
    for (long i = 0; i < full; i += 16) linear_tile4_step(a, x, ldx, R, w0, k, i, 0, 0xFFFF);
    if (full < k) linear_tile4_step(a, x, ldx, R, w0, k, full, 1, EK_MASK(k - full));
    float s[16];
    _mm512_storeu_ps(s, sum16(a));
    for (long q = 0; q < 4; q++) {
        float b = bias ? bias[o + q] : 0.0f;
        for (long r = 0; r < R; r++) out[r * ldo + o + q] = s[4 * q + r] + b;
    }
}

#define EK_LINEAR_TILE(R) \
    __attribute__((target("avx512f"))) static void linear_tile4_##R(float *out, long ldo, const float *x, long ldx, \
        const float *w, long k, long o, const float *bias) { linear_tile4(out, ldo, x, ldx, R, w, k, o, bias); }
EK_LINEAR_TILE(1) EK_LINEAR_TILE(2) EK_LINEAR_TILE(3) EK_LINEAR_TILE(4)

static void linear_small_512(float *out, long ldo, const float *x, long ldx, long rows, const float *w, long k,
                             long o0, long o1, const float *bias) {
    long o = o0;
    // Blocks of 4 outputs; their weight rows stay in L1 while every group of ≤ 4 input rows uses them.
    for (; o + 4 <= o1; o += 4) {
        for (long r0 = 0; r0 < rows; r0 += 4) {
            float *d = out + r0 * ldo;
            const float *xr = x + r0 * ldx;
            switch (rows - r0 >= 4 ? 4 : rows - r0) {
            case 1: linear_tile4_1(d, ldo, xr, ldx, w, k, o, bias); break;
            case 2: linear_tile4_2(d, ldo, xr, ldx, w, k, o, bias); break;
            case 3: linear_tile4_3(d, ldo, xr, ldx, w, k, o, bias); break;
            default: linear_tile4_4(d, ldo, xr, ldx, w, k, o, bias); break;
            }
        }
    }
    if (o == o1) return;
    switch (rows) {   // the last < 4 outputs
    case 1: linear_small_1(out, ldo, x, ldx, w, k, o, o1, bias); break;
    case 2: linear_small_2(out, ldo, x, ldx, w, k, o, o1, bias); break;
    case 3: linear_small_3(out, ldo, x, ldx, w, k, o, o1, bias); break;
    case 4: linear_small_4(out, ldo, x, ldx, w, k, o, o1, bias); break;
    case 5: linear_small_5(out, ldo, x, ldx, w, k, o, o1, bias); break;
    case 6: linear_small_6(out, ldo, x, ldx, w, k, o, o1, bias); break;
    case 7: linear_small_7(out, ldo, x, ldx, w, k, o, o1, bias); break;
    default: linear_small_8(out, ldo, x, ldx, w, k, o, o1, bias); break;
    }
}

// ---------------------------------------------------------------- small-batch linear, AVX2 + FMA
// Lane j of the result: the sum of v[j]'s lanes (v[j] zero where j ≥ count), by pairwise horizontal adds.
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 sum8_256(const __m256 *v) {
    __m256 t0 = _mm256_hadd_ps(v[0], v[1]), t1 = _mm256_hadd_ps(v[2], v[3]);
    __m256 t2 = _mm256_hadd_ps(v[4], v[5]), t3 = _mm256_hadd_ps(v[6], v[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);   // per 128-bit half: sums of v0..3, v4..7
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// NO outputs × R rows (NO·R ≤ 8 accumulators, 8 independent chains when full): per 8 inputs NO weight and R input
// loads feed NO·R multiply-adds; the weight rows stream once per group of R rows. The last < 8 inputs load masked.
__attribute__((target("avx2,fma"), always_inline))
static inline void linear_tile_256(float *out, long ldo, const float *x, long ldx, const int R, const float *w,
                                   long k, long o, const int NO, const float *bias) {
    __m256 a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
    const float *w0 = w + o * k;
    long full = k & ~7L, i = 0;
    for (; i < full; i += 8) {
        __m256 wv[8];
        for (int q = 0; q < NO; q++) wv[q] = _mm256_loadu_ps(w0 + q * k + i);
        for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_loadu_ps(x + r * ldx + i);
            for (int q = 0; q < NO; q++) a[q * R + r] = _mm256_fmadd_ps(xv, wv[q], a[q * R + r]);
        }
    }
    if (i < k) {
        __m256i m = EK_MASK8(k - i);
        __m256 wv[8];
        for (int q = 0; q < NO; q++) wv[q] = _mm256_maskload_ps(w0 + q * k + i, m);
        for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_maskload_ps(x + r * ldx + i, m);
            for (int q = 0; q < NO; q++) a[q * R + r] = _mm256_fmadd_ps(xv, wv[q], a[q * R + r]);
        }
    }
    float s[8];
    _mm256_storeu_ps(s, sum8_256(a));
    for (int q = 0; q < NO; q++) {
        float b = bias ? bias[o + q] : 0.0f;
        for (int r = 0; r < R; r++) out[r * ldo + o + q] = s[q * R + r] + b;
    }
}

// Per row count R (1 ... 8): tiles of 8 / R outputs, then single outputs.
#define EK_LINEAR_256(R, NO)                                                                                   \
    __attribute__((target("avx2,fma"))) static void linear_rows_256_##R(float *out, long ldo, const float *x,  \
        long ldx, const float *w, long k, long o0, long o1, const float *bias) {                             \
        long o = o0;                                                                                          \
        for (; o + NO <= o1; o += NO) linear_tile_256(out, ldo, x, ldx, R, w, k, o, NO, bias);                \
        for (; o < o1; o++) linear_tile_256(out, ldo, x, ldx, R, w, k, o, 1, bias);                           \
    }
EK_LINEAR_256(1, 8) EK_LINEAR_256(2, 4) EK_LINEAR_256(3, 2) EK_LINEAR_256(4, 2)
EK_LINEAR_256(5, 1) EK_LINEAR_256(6, 1) EK_LINEAR_256(7, 1) EK_LINEAR_256(8, 1)

__attribute__((target("avx2,fma")))
static void linear_small_256(float *out, long ldo, const float *x, long ldx, long rows, const float *w, long k,
                             long o0, long o1, const float *bias) {
    switch (rows) {
    case 1: linear_rows_256_1(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 2: linear_rows_256_2(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 3: linear_rows_256_3(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 4: linear_rows_256_4(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 5: linear_rows_256_5(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 6: linear_rows_256_6(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 7: linear_rows_256_7(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    default: linear_rows_256_8(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    }
}
#endif

static int level = -1;

int ek_kernel_level(void) {
    if (level < 0) {
#ifdef EK_X86
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx512f") ? 3 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 2 : 1);
#else
        level = 1;
#endif
    }
    return level;
}

void ek_fir_taps(float *dst, const float *src, const float *w, long taps, long n, int accumulate) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { fir_taps_512(dst, src, w, taps, n, accumulate); return; }
    if (l == 2) { fir_taps_256(dst, src, w, taps, n, accumulate); return; }
#endif
    fir_taps_base(dst, src, w, taps, n, accumulate);
}

void ek_fir_rows(float *dst, const float *const *rows, const float *w, long taps, long n) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { fir_rows_512(dst, rows, w, taps, n); return; }
    if (l == 2) { fir_rows_256(dst, rows, w, taps, n); return; }
#endif
    fir_rows_base(dst, rows, w, taps, n);
}

// tanh as a rational function of x (odd degree-13 numerator over even degree-6 denominator, the minimax fit
// Eigen uses), clamped at ±7.905 where it reaches ±1 in float; tiny |x| return x. Within 5 ulp (2.8e-7
// absolute) of tanh; glibc's scalar tanhf is within 1 ulp but ~30× slower here. Written as a plain loop that
// clang vectorises for each target.
#define EK_TANH_CLAMP 7.90531110763549805f
#define EK_TANH_LOOP                                                                                   \
    for (long i = 0; i < n; i++) {                                                                     \
        float x = src[i];                                                                              \
        float c = x > EK_TANH_CLAMP ? EK_TANH_CLAMP : (x < -EK_TANH_CLAMP ? -EK_TANH_CLAMP : x);      \
        float x2 = c * c;                                                                              \
        float p = -2.76076847742355e-16f;                                                              \
        p = __builtin_fmaf(p, x2, 2.00018790482477e-13f);                                              \
        p = __builtin_fmaf(p, x2, -8.60467152213735e-11f);                                             \
        p = __builtin_fmaf(p, x2, 5.12229709037114e-08f);                                              \
        p = __builtin_fmaf(p, x2, 1.48572235717979e-05f);                                              \
        p = __builtin_fmaf(p, x2, 6.37261928875436e-04f);                                              \
        p = __builtin_fmaf(p, x2, 4.89352455891786e-03f);                                              \
        float q = 1.19825839466702e-06f;                                                               \
        q = __builtin_fmaf(q, x2, 1.18534705686654e-04f);                                              \
        q = __builtin_fmaf(q, x2, 2.26843463243900e-03f);                                              \
        q = __builtin_fmaf(q, x2, 4.89352518554385e-03f);                                              \
        float r = p * c / q;                                                                           \
        dst[i] = __builtin_fabsf(x) < 0.0004f ? x : r;                                                 \
    }

#ifdef EK_X86
__attribute__((target("avx512f")))
static void tanh_512(float *dst, const float *src, long n) { EK_TANH_LOOP }
__attribute__((target("avx2,fma")))
static void tanh_256(float *dst, const float *src, long n) { EK_TANH_LOOP }
#endif

void ek_tanh(float *dst, const float *src, long n) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { tanh_512(dst, src, n); return; }
    if (l == 2) { tanh_256(dst, src, n); return; }
#endif
    for (long i = 0; i < n; i++) dst[i] = __builtin_tanhf(src[i]);
}

void ek_lrelu_gain_clamp(float *x, long n, float slope, float gain, float lo, float hi) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { lrelu_512(x, n, slope, gain, lo, hi); return; }
    if (l == 2) { lrelu_256(x, n, slope, gain, lo, hi); return; }
#endif
    lrelu_base(x, n, slope, gain, lo, hi);
}

#ifdef EK_X86
// Stride 2: the even lanes of two source vectors, permuted into one. The second load is masked so it never
// reads past src[2·(n−1)].
__attribute__((target("avx512f")))
static void gather2_512(float *dst, const float *src, long n) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (long i = 0; i < n; i += 16) {
        long left = n - i, span = 2 * (left < 16 ? left : 16) - 1;  // source floats this step needs
        const float *s = src + 2 * i;
        __m512 lo = _mm512_maskz_loadu_ps(EK_MASK(span), s);
        __m512 hi = span > 16 ? _mm512_maskz_loadu_ps(EK_MASK(span - 16), s + 16) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(dst + i, EK_MASK(left), _mm512_permutex2var_ps(lo, even, hi));
    }
}
#endif

void ek_gather_strided(float *dst, const float *src, long n, long stride) {
#ifdef EK_X86
    if (stride == 2 && ek_kernel_level() == 3) { gather2_512(dst, src, n); return; }
#endif
    for (long i = 0; i < n; i++) dst[i] = src[i * stride];
}

void ek_add_scalar(float *dst, const float *src, float b, long n) {
    for (long i = 0; i < n; i++) dst[i] = src[i] + b;
}

#ifdef EK_X86
// Stride 2: each 16 sources go to the even lanes of two destination vectors (expand-loads put them there).
__attribute__((target("avx512f")))
static void scatter_add2_512(float *dst, const float *src, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        float *d = dst + 2 * i;
        __m512 lo = _mm512_maskz_expandloadu_ps(0x5555, src + i);
        __m512 hi = _mm512_maskz_expandloadu_ps(0x5555, src + i + 8);
        _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), lo));
        // The last destination vector may end one float past the final target: mask that lane.
        __mmask16 last = (i + 16 == n) ? (__mmask16)0x7FFF : (__mmask16)0xFFFF;
        _mm512_mask_storeu_ps(d + 16, last, _mm512_add_ps(_mm512_maskz_loadu_ps(last, d + 16), hi));
    }
    for (; i < n; i++) dst[2 * i] += src[i];
}
#endif

void ek_col2im(float *out, const float *col, long ld, long inH, long inW, long kh, long kw, long sh, long sw,
               long dh, long dw, long pt, long pl, long outH, long outW, long c0, long c1) {
#ifdef EK_X86
    int wide = ek_kernel_level() == 3;
#else
    int wide = 0;
#endif
    for (long co = c0; co < c1; co++) {
        float *dst = out + co * outH * outW;
        for (long ky = 0; ky < kh; ky++) {
            for (long kx = 0; kx < kw; kx++) {
                const float *src = col + ((co * kh + ky) * kw + kx) * ld;
                long shift = kx * dw - pl;
                // ix range with 0 <= ix·sw + shift < outW.
                long lo = shift >= 0 ? 0 : (-shift + sw - 1) / sw;
                long hi = outW - shift <= 0 ? 0 : (outW - shift + sw - 1) / sw;
                if (hi > inW) hi = inW;
                if (lo >= hi) continue;
                long n = hi - lo;
                for (long iy = 0; iy < inH; iy++) {
                    long oy = iy * sh - pt + ky * dh;
                    if (oy < 0 || oy >= outH) continue;
                    const float *s = src + iy * inW + lo;
                    float *d = dst + oy * outW + shift + lo * sw;
                    // Short runs (DCGAN's 4- and 8-wide planes) inline; long ones through the vector paths.
#ifdef EK_X86
                    if (wide && n >= 16 && sw == 2) { scatter_add2_512(d, s, n); continue; }
#endif
                    if (sw == 1) { for (long i = 0; i < n; i++) d[i] += s[i]; }
                    else { for (long i = 0; i < n; i++) d[i * sw] += s[i]; }
                }
            }
        }
    }
}

void ek_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

float ek_exp_shifted_row(float *p, long n) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) return exp_shifted_512(p, n);
    if (l == 2) return exp_shifted_256(p, n);
#endif
    return exp_shifted_base(p, n);
}

void ek_softmax_row(float *p, long n) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { softmax_512(p, n); return; }
    if (l == 2) { softmax_256(p, n); return; }
#endif
    softmax_base(p, n);
}

void ek_fir_up2(float *out, long n, const float *x0, const float *w0, long t0,
                const float *x1, const float *w1, long t1, int accumulate) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { fir_up2_512(out, n, x0, w0, t0, x1, w1, t1, accumulate); return; }
    if (l == 2) { fir_up2_256(out, n, x0, w0, t0, x1, w1, t1, accumulate); return; }
#endif
    fir_up2_base(out, n, x0, w0, t0, x1, w1, t1, accumulate);
}

void ek_deinterleave(const float *x, long count, float *even, long ne, float *odd, long no) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { deinterleave_512(x, count, even, ne, odd, no); return; }
    if (l == 2) { deinterleave_256(x, count, even, ne, odd, no); return; }
#endif
    for (long j = 0; j < ne; j++) even[j] = 2 * j < count ? x[2 * j] : 0;
    for (long j = 0; j < no; j++) odd[j] = 2 * j + 1 < count ? x[2 * j + 1] : 0;
}

void ek_fir_down2(float *out, const float *x, const float *w, long taps, long n, int accumulate) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (l == 3) { fir_down2_512(out, x, w, taps, n, accumulate); return; }
    if (l == 2) { fir_down2_256(out, x, w, taps, n, accumulate); return; }
#endif
    fir_down2_base(out, x, w, taps, n, accumulate);
}

int ek_linear_small(float *out, long ldo, const float *x, long ldx, long rows, const float *w, long k,
                    long o0, long o1, const float *bias) {
#ifdef EK_X86
    int l = ek_kernel_level();
    if (rows >= 1 && rows <= 8 && l == 3) {
        linear_small_512(out, ldo, x, ldx, rows, w, k, o0, o1, bias);
        return 1;
    }
    if (rows >= 1 && rows <= 8 && l == 2) {
        linear_small_256(out, ldo, x, ldx, rows, w, k, o0, o1, bias);
        return 1;
    }
#endif
    return 0;
}

// ---------------------------------------------------------------- filtered leaky ReLU, up 2 / down 2
// The whole plane runs in one call so the intermediate never leaves L1/L2. Mid rows are kept with their
// columns split as [even | odd]: the vertical passes and the activation act per column and do not care about
// the order, the x up-pass writes each phase contiguously (no interleave), and the x down-pass becomes two
// contiguous FIRs (even taps over even columns + odd taps over odd columns, no strided reads).
// Rows go in pairs: two output rows of a vertical pass share most input rows (one load feeds two FMAs), and two
// rows of a horizontal pass give twice the independent FMA chains of one short row.

// d0 = act(sum_t w0[t] * rows[t][..]) and, when d1, d1 = act(sum_t w1[t] * rows[t][..]); zero weights may be
// skipped; act = {slope, gain, lo, hi} or NULL.
typedef void (*flrelu_rows_fn)(float *d0, float *d1, const float *const *rows, const float *w0, const float *w1,
                               long taps, long n, const float *act);
// For nr (1 or 2) rows r (inputs xs apart, outputs ds apart): d0 = FIR(x0, w0) (n0 outputs) and
// d1 = FIR(x1, w1) (n1); with d1 == NULL, d0 = FIR(x0, w0) + FIR(x1, w1) (n0 outputs). |n0 − n1| ≤ 1.
typedef void (*flrelu_taps2_fn)(float *d0, float *d1, long ds, const float *x0, const float *x1, long xs,
                                const float *w0, long t0, long n0, const float *w1, long t1, long n1, int nr);

// The baseline row and tap passes of the fused kernel, built from the plain FIR kernels.
#define EK_FLRELU_PASSES(SUFFIX) \
    static void flrelu_rows_##SUFFIX(float *d0, float *d1, const float *const *rows, const float *w0, \
                                          const float *w1, long taps, long n, const float *act) { \
        fir_rows_##SUFFIX(d0, rows, w0, taps, n); \
        if (act) lrelu_base(d0, n, act[0], act[1], act[2], act[3]); \
        if (!d1) return; \
        fir_rows_##SUFFIX(d1, rows, w1, taps, n); \
        if (act) lrelu_base(d1, n, act[0], act[1], act[2], act[3]); \
    } \
    static void flrelu_taps2_##SUFFIX(float *d0, float *d1, long ds, const float *x0, const float *x1, long xs, \
                                           const float *w0, long t0, long n0, const float *w1, long t1, long n1, \
                                           int nr) { \
        for (int r = 0; r < nr; r++) { \
            fir_taps_##SUFFIX(d0 + r * ds, x0 + r * xs, w0, t0, n0, 0); \
            if (d1) fir_taps_##SUFFIX(d1 + r * ds, x1 + r * xs, w1, t1, n1, 0); \
            else fir_taps_##SUFFIX(d0 + r * ds, x1 + r * xs, w1, t1, n0, 1); \
        } \
    }

EK_FLRELU_PASSES(base)

#ifdef EK_X86

__attribute__((target("avx512f"), always_inline))
static inline __m512 flrelu_act_512(__m512 v, const float *act) {
    return ek_lrelu_gain_clamp_512(v, _mm512_set1_ps(act[0]), _mm512_set1_ps(act[1]), _mm512_set1_ps(act[2]),
                                   _mm512_set1_ps(act[3]));
}

// Up to 128 columns of both output rows in registers (16 accumulators); inlined per vector count so only the
// last vector needs a mask (one mask register: with eight live masks clang shuffles k-registers).
__attribute__((target("avx512f"), always_inline))
static inline void flrelu_rows_block(float *d0, float *d1, const float *const *rows, const float *w0, const float *w1,
                                     long taps, long m, const int nv, __mmask16 kt, const float *act) {
    __m512 a[8], b[8];
    for (int v = 0; v < nv; v++) { a[v] = _mm512_setzero_ps(); b[v] = _mm512_setzero_ps(); }
    for (long t = 0; t < taps; t++) {
        const float *r = rows[t] + m;
        __m512 x[8];
        for (int v = 0; v < nv - 1; v++) x[v] = _mm512_loadu_ps(r + 16 * v);
        x[nv - 1] = _mm512_maskz_loadu_ps(kt, r + 16 * (nv - 1));
        if (w0[t] != 0) {
            __m512 wt = _mm512_set1_ps(w0[t]);
            for (int v = 0; v < nv; v++) a[v] = _mm512_fmadd_ps(wt, x[v], a[v]);
        }
        if (w1[t] != 0) {
            __m512 wt = _mm512_set1_ps(w1[t]);
            for (int v = 0; v < nv; v++) b[v] = _mm512_fmadd_ps(wt, x[v], b[v]);
        }
    }
    if (act && act[1] == 1 && act[0] >= 0 && act[0] <= 1) {
        // gain folded into the weights (flrelu_tables): lrelu is max(v, slope·v), then the clamp
        __m512 s = _mm512_set1_ps(act[0]), lo = _mm512_set1_ps(act[2]), hi = _mm512_set1_ps(act[3]);
        for (int v = 0; v < nv; v++) {
            a[v] = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_max_ps(a[v], _mm512_mul_ps(a[v], s))));
            b[v] = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_max_ps(b[v], _mm512_mul_ps(b[v], s))));
        }
    } else if (act) {
        for (int v = 0; v < nv; v++) { a[v] = flrelu_act_512(a[v], act); b[v] = flrelu_act_512(b[v], act); }
    }
    for (int v = 0; v < nv - 1; v++) _mm512_storeu_ps(d0 + m + 16 * v, a[v]);
    _mm512_mask_storeu_ps(d0 + m + 16 * (nv - 1), kt, a[nv - 1]);
    if (!d1) return;
    for (int v = 0; v < nv - 1; v++) _mm512_storeu_ps(d1 + m + 16 * v, b[v]);
    _mm512_mask_storeu_ps(d1 + m + 16 * (nv - 1), kt, b[nv - 1]);
}

__attribute__((target("avx512f")))
static void flrelu_rows_512(float *d0, float *d1, const float *const *rows, const float *w0, const float *w1,
                            long taps, long n, const float *act) {
    float zero[EK_FLRELU_MAX_TAPS + 2] = {0};
    if (!d1) w1 = zero;
    for (long m = 0; m < n; m += 128) {
        long left = n - m, nv = left >= 128 ? 8 : (left + 15) / 16;
        __mmask16 kt = EK_MASK(left - 16 * (nv - 1));
        switch (nv) {
        case 1: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 1, kt, act); break;
        case 2: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 2, kt, act); break;
        case 3: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 3, kt, act); break;
        case 4: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 4, kt, act); break;
        case 5: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 5, kt, act); break;
        case 6: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 6, kt, act); break;
        case 7: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 7, kt, act); break;
        default: flrelu_rows_block(d0, d1, rows, w0, w1, taps, m, 8, kt, act); break;
        }
    }
}

// acc[r][v] += FIR(x + r·xs, w) over `taps` taps for nr rows of nv vectors (the last one masked by k).
__attribute__((target("avx512f"), always_inline))
static inline void flrelu_taps_acc(__m512 acc[2][4], const float *x0, long xs, const float *w, long taps, __mmask16 k,
                                   const int nv, const int nr) {
    for (long t = 0; t < taps; t++) {
        __m512 wt = _mm512_set1_ps(w[t]);
        for (int r = 0; r < nr; r++) {
            const float *x = x0 + r * xs + t;
            for (int v = 0; v < nv - 1; v++) acc[r][v] = _mm512_fmadd_ps(wt, _mm512_loadu_ps(x + 16 * v), acc[r][v]);
            acc[r][nv - 1] = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(k, x + 16 * (nv - 1)), acc[r][nv - 1]);
        }
    }
}

// Both phases of nr rows at once: up to sixteen independent chains for rows of ≤ 64 outputs per phase.
__attribute__((target("avx512f"), always_inline))
static inline void flrelu_taps2_block(float *d0, float *d1, long ds, const float *x0, const float *x1, long xs,
                                      const float *w0, long t0, __mmask16 k0, const float *w1, long t1, __mmask16 k1,
                                      const int nv, const int nr) {
    __m512 a[2][4], b[2][4];
    for (int r = 0; r < nr; r++) for (int v = 0; v < nv; v++) { a[r][v] = _mm512_setzero_ps(); b[r][v] = _mm512_setzero_ps(); }
    flrelu_taps_acc(a, x0, xs, w0, t0, k0, nv, nr);
    flrelu_taps_acc(b, x1, xs, w1, t1, k1, nv, nr);
    for (int r = 0; r < nr; r++) {
        float *e0 = d0 + r * ds;
        if (d1) {
            float *e1 = d1 + r * ds;
            for (int v = 0; v < nv - 1; v++) { _mm512_storeu_ps(e0 + 16 * v, a[r][v]); _mm512_storeu_ps(e1 + 16 * v, b[r][v]); }
            _mm512_mask_storeu_ps(e0 + 16 * (nv - 1), k0, a[r][nv - 1]);
            _mm512_mask_storeu_ps(e1 + 16 * (nv - 1), k1, b[r][nv - 1]);
        } else {
            for (int v = 0; v < nv - 1; v++) _mm512_storeu_ps(e0 + 16 * v, _mm512_add_ps(a[r][v], b[r][v]));
            _mm512_mask_storeu_ps(e0 + 16 * (nv - 1), k0, _mm512_add_ps(a[r][nv - 1], b[r][nv - 1]));
        }
    }
}

// The x up-pass when both phases read one 64-byte-aligned row (phase 1 from d samples later) and every window
// lies within 16 samples of an aligned vector: each input vector is loaded once, aligned, and window k is a
// valignd of it and the next (immediate shift), shared by tap k of phase 0 (weight u0[k]) and tap k − d of
// phase 1 (u1[k]; zero where a phase has no such tap). The shifted loads of the plain kernel almost all split a
// cache line; this takes about half the time. Inlined per window count so the shifts are immediates. Reads
// whole vectors, up to 16 floats past a row's last window (the scratch continues there).
__attribute__((target("avx512f"), always_inline))
static inline void flrelu_upx_rows(float *d0, float *d1, long ds, const float *x, long xs, const float *u0,
                                   const float *u1, long n0, long n1, int nr, const int kmax) {
    const long n = n0 > n1 ? n0 : n1;
    for (int r = 0; r < nr; r++) {
        for (long m = 0; m < n; m += 16) {
            const __m512i lo = _mm512_load_si512((const void *)(x + r * xs + m));
            const __m512i hi = _mm512_load_si512((const void *)(x + r * xs + m + 16));
            __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
#define EK_UPX_STEP(K)                                                                                              \
            if (K < kmax) {                                                                                         \
                __m512 win = _mm512_castsi512_ps(K == 0 ? lo : K == 16 ? hi : _mm512_alignr_epi32(hi, lo, (K) & 15)); \
                a = _mm512_fmadd_ps(_mm512_set1_ps(u0[K]), win, a);                                                 \
                b = _mm512_fmadd_ps(_mm512_set1_ps(u1[K]), win, b);                                                 \
            }
            EK_UPX_STEP(0) EK_UPX_STEP(1) EK_UPX_STEP(2) EK_UPX_STEP(3) EK_UPX_STEP(4) EK_UPX_STEP(5)
            EK_UPX_STEP(6) EK_UPX_STEP(7) EK_UPX_STEP(8) EK_UPX_STEP(9) EK_UPX_STEP(10) EK_UPX_STEP(11)
            EK_UPX_STEP(12) EK_UPX_STEP(13) EK_UPX_STEP(14) EK_UPX_STEP(15) EK_UPX_STEP(16)
#undef EK_UPX_STEP
            float *e0 = d0 + r * ds + m, *e1 = d1 + r * ds + m;
            if (n0 - m >= 16) _mm512_storeu_ps(e0, a); else if (n0 > m) _mm512_mask_storeu_ps(e0, EK_MASK(n0 - m), a);
            if (n1 - m >= 16) _mm512_storeu_ps(e1, b); else if (n1 > m) _mm512_mask_storeu_ps(e1, EK_MASK(n1 - m), b);
        }
    }
}

__attribute__((target("avx512f")))
static void flrelu_upx_512(float *d0, float *d1, long ds, const float *x, long xs, const float *w0, long t0, long n0,
                           const float *w1, long t1, long n1, long d, int nr) {
    float u0[17] = {0}, u1[17] = {0};
    for (long t = 0; t < t0; t++) u0[t] = w0[t];
    for (long t = 0; t < t1; t++) u1[t + d] = w1[t];
    const long kmax = t0 > d + t1 ? t0 : d + t1;
    if (kmax <= 4) flrelu_upx_rows(d0, d1, ds, x, xs, u0, u1, n0, n1, nr, 4);
    else if (kmax <= 7) flrelu_upx_rows(d0, d1, ds, x, xs, u0, u1, n0, n1, nr, 7);
    else if (kmax <= 9) flrelu_upx_rows(d0, d1, ds, x, xs, u0, u1, n0, n1, nr, 9);
    else flrelu_upx_rows(d0, d1, ds, x, xs, u0, u1, n0, n1, nr, 17);
}

#define EK_TAPS2_CASE(NV, NR) flrelu_taps2_block(d0 + m, d1 ? d1 + m : NULL, ds, x0 + m, x1 + m, xs, w0, t0, k0, w1, t1, k1, NV, NR)
__attribute__((target("avx512f")))
static void flrelu_taps2_512(float *d0, float *d1, long ds, const float *x0, const float *x1, long xs,
                             const float *w0, long t0, long n0, const float *w1, long t1, long n1, int nr) {
    if (!d1) n1 = n0;
    long n = n0 > n1 ? n0 : n1;
    if (d1 && (unsigned long)x0 % 64 == 0 && xs % 16 == 0 && x1 >= x0 && t0 <= 17 && (x1 - x0) + t1 <= 17) {
        flrelu_upx_512(d0, d1, ds, x0, xs, w0, t0, n0, w1, t1, n1, x1 - x0, nr);
        return;
    }
    for (long m = 0; m < n; m += 64) {
        long nv = n - m >= 64 ? 4 : (n - m + 15) / 16;
        long l0 = n0 - m - 16 * (nv - 1), l1 = n1 - m - 16 * (nv - 1);
        __mmask16 k0 = l0 > 0 ? EK_MASK(l0) : (__mmask16)0, k1 = l1 > 0 ? EK_MASK(l1) : (__mmask16)0;
        switch (nv * 2 + nr - 1) {
        case 2: EK_TAPS2_CASE(1, 1); break;
        case 3: EK_TAPS2_CASE(1, 2); break;
        case 4: EK_TAPS2_CASE(2, 1); break;
        case 5: EK_TAPS2_CASE(2, 2); break;
        case 6: EK_TAPS2_CASE(3, 1); break;
        case 7: EK_TAPS2_CASE(3, 2); break;
        case 8: EK_TAPS2_CASE(4, 1); break;
        default: EK_TAPS2_CASE(4, 2); break;
        }
    }
}
#undef EK_TAPS2_CASE

// ---------------------------------------------------------------- the passes with AVX2 + FMA
// The AVX-512 passes with 8-float vectors and half the accumulators in flight (16 ymm registers): every
// output sums the same terms in the same order, so the results are the same.

__attribute__((target("avx2,fma"), always_inline))
static inline __m256 flrelu_act_256(__m256 v, const float *act) {
    return ek_lrelu_gain_clamp_256(v, _mm256_set1_ps(act[0]), _mm256_set1_ps(act[1]), _mm256_set1_ps(act[2]),
                                   _mm256_set1_ps(act[3]));
}

// Up to 48 columns of both output rows in registers (12 accumulators); the last vector loads masked by kt
// (`left` of its lanes live). One load feeds both rows; zero weights are skipped as in flrelu_rows_block.
__attribute__((target("avx2,fma"), always_inline))
static inline void flrelu_rows_block256(float *d0, float *d1, const float *const *rows, const float *w0,
                                        const float *w1, long taps, long m, const int nv, __m256i kt, long left,
                                        const float *act) {
    __m256 a[6], b[6];
    for (int v = 0; v < nv; v++) { a[v] = _mm256_setzero_ps(); b[v] = _mm256_setzero_ps(); }
#define EK_ROW_LOAD(v) ((v) < nv - 1 ? _mm256_loadu_ps(r + 8 * (v)) : _mm256_maskload_ps(r + 8 * (v), kt))
    for (long t = 0; t < taps; t++) {
        const float *r = rows[t] + m;
        const int u0 = w0[t] != 0, u1 = w1[t] != 0;
        __m256 wa = _mm256_set1_ps(w0[t]), wb = _mm256_set1_ps(w1[t]);
        if (u0 && u1) {
            for (int v = 0; v < nv; v++) {
                __m256 x = EK_ROW_LOAD(v);
                a[v] = _mm256_fmadd_ps(wa, x, a[v]);
                b[v] = _mm256_fmadd_ps(wb, x, b[v]);
            }
        } else if (u0) {
            for (int v = 0; v < nv; v++) a[v] = _mm256_fmadd_ps(wa, EK_ROW_LOAD(v), a[v]);
        } else if (u1) {
            for (int v = 0; v < nv; v++) b[v] = _mm256_fmadd_ps(wb, EK_ROW_LOAD(v), b[v]);
        }
    }
#undef EK_ROW_LOAD
    if (act && act[1] == 1 && act[0] >= 0 && act[0] <= 1) {
        // gain folded into the weights (flrelu_tables): lrelu is max(v, slope·v), then the clamp
        __m256 s = _mm256_set1_ps(act[0]), lo = _mm256_set1_ps(act[2]), hi = _mm256_set1_ps(act[3]);
        for (int v = 0; v < nv; v++) {
            a[v] = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_max_ps(a[v], _mm256_mul_ps(a[v], s))));
            b[v] = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_max_ps(b[v], _mm256_mul_ps(b[v], s))));
        }
    } else if (act) {
        for (int v = 0; v < nv; v++) { a[v] = flrelu_act_256(a[v], act); b[v] = flrelu_act_256(b[v], act); }
    }
    for (int v = 0; v < nv - 1; v++) _mm256_storeu_ps(d0 + m + 8 * v, a[v]);
    ek_store_part_256(d0 + m + 8 * (nv - 1), a[nv - 1], left);
    if (!d1) return;
    for (int v = 0; v < nv - 1; v++) _mm256_storeu_ps(d1 + m + 8 * v, b[v]);
    ek_store_part_256(d1 + m + 8 * (nv - 1), b[nv - 1], left);
}

__attribute__((target("avx2,fma")))
static void flrelu_rows_256(float *d0, float *d1, const float *const *rows, const float *w0, const float *w1,
                            long taps, long n, const float *act) {
    float zero[EK_FLRELU_MAX_TAPS + 2] = {0};
    if (!d1) w1 = zero;
    for (long m = 0; m < n; m += 48) {
        long left = n - m, nv = left >= 48 ? 6 : (left + 7) / 8, last = left - 8 * (nv - 1);
        __m256i kt = EK_MASK8(last);
        switch (nv) {
        case 1: flrelu_rows_block256(d0, d1, rows, w0, w1, taps, m, 1, kt, last, act); break;
        case 2: flrelu_rows_block256(d0, d1, rows, w0, w1, taps, m, 2, kt, last, act); break;
        case 3: flrelu_rows_block256(d0, d1, rows, w0, w1, taps, m, 3, kt, last, act); break;
        case 4: flrelu_rows_block256(d0, d1, rows, w0, w1, taps, m, 4, kt, last, act); break;
        case 5: flrelu_rows_block256(d0, d1, rows, w0, w1, taps, m, 5, kt, last, act); break;
        default: flrelu_rows_block256(d0, d1, rows, w0, w1, taps, m, 6, kt, last, act); break;
        }
    }
}

// One phase of nr (≤ 2) rows, nv (≤ 4) vectors: d (+)= FIR(x, w) with `left` outputs in the last vector
// (its loads masked by k). With `add`, d holds the other phase's sum: d + this is the AVX-512 kernel's a + b.
__attribute__((target("avx2,fma"), always_inline))
static inline void flrelu_taps_block256(float *d, long ds, const float *x, long xs, const float *w, long taps,
                                        __m256i k, long left, const int nv, const int nr, const int add) {
    __m256 a[2][4];
    for (int r = 0; r < nr; r++) for (int v = 0; v < nv; v++) a[r][v] = _mm256_setzero_ps();
    for (long t = 0; t < taps; t++) {
        __m256 wt = _mm256_set1_ps(w[t]);
        for (int r = 0; r < nr; r++) {
            const float *s = x + r * xs + t;
            for (int v = 0; v < nv - 1; v++) a[r][v] = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 8 * v), a[r][v]);
            a[r][nv - 1] = _mm256_fmadd_ps(wt, _mm256_maskload_ps(s + 8 * (nv - 1), k), a[r][nv - 1]);
        }
    }
    for (int r = 0; r < nr; r++) {
        float *e = d + r * ds;
        for (int v = 0; v < nv - 1; v++)
            _mm256_storeu_ps(e + 8 * v, add ? _mm256_add_ps(_mm256_loadu_ps(e + 8 * v), a[r][v]) : a[r][v]);
        float *l = e + 8 * (nv - 1);
        ek_store_part_256(l, add ? _mm256_add_ps(_mm256_maskload_ps(l, k), a[r][nv - 1]) : a[r][nv - 1], left);
    }
}

#define EK_TAPS_CASE(NV, NR, ADD) flrelu_taps_block256(d + m, ds, x + m, xs, w, taps, k, left, NV, NR, ADD)
__attribute__((target("avx2,fma")))
static void flrelu_fir_256(float *d, long ds, const float *x, long xs, const float *w, long taps, long n, int nr,
                           int add) {
    for (long m = 0; m < n; m += 32) {
        long nv = n - m >= 32 ? 4 : (n - m + 7) / 8, left = n - m - 8 * (nv - 1);
        __m256i k = EK_MASK8(left);
        switch ((nv - 1) * 4 + (nr - 1) * 2 + (add ? 1 : 0)) {
        case 0: EK_TAPS_CASE(1, 1, 0); break;
        case 1: EK_TAPS_CASE(1, 1, 1); break;
        case 2: EK_TAPS_CASE(1, 2, 0); break;
        case 3: EK_TAPS_CASE(1, 2, 1); break;
        case 4: EK_TAPS_CASE(2, 1, 0); break;
        case 5: EK_TAPS_CASE(2, 1, 1); break;
        case 6: EK_TAPS_CASE(2, 2, 0); break;
        case 7: EK_TAPS_CASE(2, 2, 1); break;
        case 8: EK_TAPS_CASE(3, 1, 0); break;
        case 9: EK_TAPS_CASE(3, 1, 1); break;
        case 10: EK_TAPS_CASE(3, 2, 0); break;
        case 11: EK_TAPS_CASE(3, 2, 1); break;
        case 12: EK_TAPS_CASE(4, 1, 0); break;
        case 13: EK_TAPS_CASE(4, 1, 1); break;
        case 14: EK_TAPS_CASE(4, 2, 0); break;
        default: EK_TAPS_CASE(4, 2, 1); break;
        }
    }
}
#undef EK_TAPS_CASE

// The phases one after the other (one phase's accumulators fit the registers, two do not).
__attribute__((target("avx2,fma")))
static void flrelu_taps2_256(float *d0, float *d1, long ds, const float *x0, const float *x1, long xs,
                             const float *w0, long t0, long n0, const float *w1, long t1, long n1, int nr) {
    flrelu_fir_256(d0, ds, x0, xs, w0, t0, n0, nr, 0);
    if (d1) flrelu_fir_256(d1, ds, x1, xs, w1, t1, n1, nr, 0);
    else flrelu_fir_256(d0, ds, x1, xs, w1, t1, n0, nr, 1);
}
#endif

#define EK_ROUND16(n) (((n) + 15) & ~15L)

// Scratch layout (floats; every part starts on a 64-byte boundary): per pair of mid rows its input rows and
// both rows' weights (built once per call), two padded input rows, the x-upsampled input rows, a ring of
// K + 3 mid rows, two vertically decimated rows.
typedef struct {
    long pairs, span, ws, ps;   // mid-row pairs, input rows per pair (≤ ty + 1), row strides
    long tables, xp, tmp, ring, drow, total;
} flrelu_layout;

static flrelu_layout flrelu_layout_of(const ek_flrelu_plan *p) {
    flrelu_layout l;
    l.pairs = (p->midH + 1) / 2; l.span = p->ty + 1;
    l.ws = EK_ROUND16(p->midW); l.ps = EK_ROUND16(p->paddedX) + 16;   // + 16: room to align x0
    l.tables = 0;
    l.xp = EK_ROUND16(l.pairs * (4 * l.span + 2));   // per pair: row pointers (2 floats each), w0, w1, count
    l.tmp = l.xp + 2 * l.ps;
    l.ring = l.tmp + p->inH * l.ws;
    l.drow = l.ring + (p->tdy + 3) * l.ws;
    l.total = l.drow + 2 * l.ws;
    return l;
}

long ek_flrelu_scratch(const ek_flrelu_plan *p) { return flrelu_layout_of(p).total; }

// Up, y: mid rows 2j and 2j + 1 read the same input rows but for one; list them once (as pointers into the
// x-upsampled rows) with both rows' weights (rows outside the input, and rows both weights skip, are dropped).
static void flrelu_tables(const ek_flrelu_plan *p, const flrelu_layout *l, float *scratch) {
    float *tab = scratch + l->tables;
    // lrelu(v)·gain = lrelu(v·gain) for gain > 0: the gain rides on the weights (one multiply less per value)
    const float g = p->gain > 0 ? p->gain : 1;
    for (long j = 0; j < l->pairs; j++) {
        float *e = tab + j * (4 * l->span + 2);   // even offset: the pointers are 8-byte aligned
        const float **rows = (const float **)e;
        float *w0 = e + 2 * l->span, *w1 = w0 + l->span;
        const long r = 2 * j, two = r + 1 < p->midH;
        const long f0 = p->yFirst[r], f1 = two ? p->yFirst[r + 1] : f0;
        const float *v0 = p->wy + p->yPhase[r] * p->ty, *v1 = two ? p->wy + p->yPhase[r + 1] * p->ty : v0;
        long lo = f0 < f1 ? f0 : f1, hi = (f0 > f1 ? f0 : f1) + p->ty, n = 0;
        if (lo < 0) lo = 0;
        if (hi > p->inH) hi = p->inH;
        for (long y = lo; y < hi && n < l->span; y++) {
            float a = y >= f0 && y < f0 + p->ty ? v0[y - f0] : 0;
            float b = two && y >= f1 && y < f1 + p->ty ? v1[y - f1] : 0;
            if (a == 0 && b == 0) continue;
            rows[n] = scratch + l->tmp + y * l->ws; w0[n] = a * g; w1[n] = b * g; n++;
        }
        e[4 * l->span] = (float)n;
    }
}

static void flrelu_plane(const ek_flrelu_plan *p, const flrelu_layout *l, const float *src, float bias, float *dst,
                         float *scratch, flrelu_rows_fn rows, flrelu_taps2_fn taps2) {
    const long W = p->midW, WS = l->ws, PS = l->ps, nE = (W + 1) / 2, nO = W / 2;
    const long K = p->tdy, R = K + 3;
    float *xp = scratch + l->xp, *tmp = scratch + l->tmp, *ring = scratch + l->ring, *drow = scratch + l->drow;
    const float *tab = scratch + l->tables;
    const float act[4] = {p->slope, p->gain > 0 ? 1 : p->gain, p->lo, p->hi};
    float we[EK_FLRELU_MAX_TAPS], wo[EK_FLRELU_MAX_TAPS];
    const long te = (p->tdx + 1) / 2, to = p->tdx / 2;
    for (long s = 0; s < te; s++) we[s] = p->wdx[2 * s];
    for (long s = 0; s < to; s++) wo[s] = p->wdx[2 * s + 1];

    // Up, x: only the input rows some mid row reads (yFirst is increasing), two at a time.
    long rowLo = p->yFirst[0], rowHi = p->yFirst[p->midH - 1] + p->ty;
    if (rowLo < 0) rowLo = 0;
    if (rowHi > p->inH) rowHi = p->inH;
    // Each padded row starts so that its even-phase window (x0) is 64-byte aligned (see flrelu_upx_rows).
    xp += (16 - p->x0 % 16) % 16;
    for (long i = 0; i < 2 * PS - 16; i++) xp[i] = 0;
    for (long y = rowLo; y < rowHi; y += 2) {
        int nr = y + 1 < rowHi ? 2 : 1;
        for (int r = 0; r < nr; r++) {
            const float *s = src + (y + r) * p->inW;
            float *d = xp + r * PS + p->marginX;
            for (long i = 0; i < p->inW; i++) d[i] = s[i] + bias;
        }
        taps2(tmp + y * WS, tmp + y * WS + nE, WS, xp + p->x0, xp + p->x1, PS, p->wx0, p->tx0, nE, p->wx1, p->tx1, nO, nr);
    }

    // Mid rows are made in pairs (2j, 2j + 1), on demand, into a ring of R = K + 3 rows (row r in slot r % R).
    // Output rows i, i+1 read mid rows 2i ..< 2i + K + 2; at most one more row is made than they need.
    const float *ringp[2 * (EK_FLRELU_MAX_TAPS + 3)];
    float w0[EK_FLRELU_MAX_TAPS + 2], w1[EK_FLRELU_MAX_TAPS + 2];
    for (long r = 0; r < 2 * R; r++) ringp[r] = ring + (r < R ? r : r - R) * WS;
    // Down, y: mid rows 2i + t with taps wdy[t] (output row i) and wdy[t − 2] (row i + 1).
    for (long t = 0; t < K + 2; t++) { w0[t] = t < K ? p->wdy[t] : 0; w1[t] = t >= 2 ? p->wdy[t - 2] : 0; }
    long made = 0, slot = 0, first = 0;   // slot: ring slot of mid row `made`; first: of mid row 2i (no divisions)
    for (long i = 0; i < p->outH; i += 2) {
        const int pair = i + 1 < p->outH;
        const long need = 2 * i + K + (pair ? 2 : 0);
        for (; made < need; made += 2) {
            const float *e = tab + (made / 2) * (4 * l->span + 2);
            const long n = (long)e[4 * l->span];
            float *r0 = ring + slot * WS;
            slot = slot + 1 == R ? 0 : slot + 1;
            rows(r0, made + 1 < p->midH ? ring + slot * WS : NULL, (const float *const *)e, e + 2 * l->span,
                 e + 3 * l->span, n, W, act);
            slot = slot + 1 == R ? 0 : slot + 1;
        }
        // Down, y then x.
        rows(drow, pair ? drow + WS : NULL, ringp + first, w0, w1, K + (pair ? 2 : 0), W, NULL);
        for (first += 4; first >= R; first -= R) {}
        taps2(dst + i * p->outW, NULL, p->outW, drow, drow + nE, WS, we, te, p->outW, wo, to, 0, pair ? 2 : 1);
    }
}

void ek_flrelu_up2_down2(const ek_flrelu_plan *plan, const float *src, float *dst, const float *bias, long channels,
                         long p0, long p1, float *scratch) {
    flrelu_rows_fn rows = flrelu_rows_base;
    flrelu_taps2_fn taps2 = flrelu_taps2_base;
#ifdef EK_X86
    int level = ek_kernel_level();
    if (level == 3) { rows = flrelu_rows_512; taps2 = flrelu_taps2_512; }
    if (level == 2) { rows = flrelu_rows_256; taps2 = flrelu_taps2_256; }
#endif
    flrelu_layout l = flrelu_layout_of(plan);
    flrelu_tables(plan, &l, scratch);
    const long inPlane = plan->inH * plan->inW, outPlane = plan->outH * plan->outW;
    for (long q = p0; q < p1; q++)
        flrelu_plane(plan, &l, src + q * inPlane, bias ? bias[q % channels] : 0, dst + q * outPlane, scratch, rows, taps2);
}
