#include "EngineKernels.h"
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
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
#define EK_MASK(left) ((left) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (left)) - 1))

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
    __m512 z = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        long left = n - i;
        __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        __mmask16 neg = _mm512_cmp_ps_mask(v, z, _CMP_LT_OQ);
        v = _mm512_mask_mul_ps(v, neg, v, s);
        v = _mm512_mul_ps(v, g);
        v = _mm512_min_ps(_mm512_max_ps(v, l), h);
        _mm512_mask_storeu_ps(x + i, k, v);
    }
}

// ---------------------------------------------------------------- AVX2 + FMA
__attribute__((target("avx2,fma")))
static void fir_taps_256(float *dst, const float *src, const float *w, long taps, long n, int acc) {
    long m = 0;
    for (; m + 16 <= n; m += 16) {
        __m256 a0 = acc ? _mm256_loadu_ps(dst + m) : _mm256_setzero_ps();
        __m256 a1 = acc ? _mm256_loadu_ps(dst + m + 8) : _mm256_setzero_ps();
        for (long t = 0; t < taps; t++) {
            __m256 wt = _mm256_set1_ps(w[t]);
            a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(src + m + t), a0);
            a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(src + m + t + 8), a1);
        }
        _mm256_storeu_ps(dst + m, a0);
        _mm256_storeu_ps(dst + m + 8, a1);
    }
    if (m < n) fir_taps_base(dst + m, src + m, w, taps, n - m, acc);
}
__attribute__((target("avx2,fma")))
static void fir_rows_256(float *dst, const float *const *rows, const float *w, long taps, long n) {
    long m = 0;
    for (; m + 8 <= n; m += 8) {
        __m256 a = _mm256_setzero_ps();
        for (long t = 0; t < taps; t++) a = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), _mm256_loadu_ps(rows[t] + m), a);
        _mm256_storeu_ps(dst + m, a);
    }
    for (; m < n; m++) {
        float v = 0.0f;
        for (long t = 0; t < taps; t++) v += w[t] * rows[t][m];
        dst[m] = v;
    }
}

// exp for softmax: Cephes range reduction (x = n ln2 + r) and a degree-6 polynomial, 2^n built in the exponent.
__attribute__((target("avx512f")))
static inline __m512 exp_512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.442695041f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

__attribute__((target("avx512f")))
static void softmax_512(float *p, long n) {
    __m512 mx = _mm512_set1_ps(-__builtin_inff());
    for (long i = 0; i < n; i += 16) {
        long left = n - i;
        __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, p + i));
    }
    float m = _mm512_reduce_max_ps(mx);
    if (m == -__builtin_inff()) m = 0;
    __m512 vm = _mm512_set1_ps(m), sum = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        long left = n - i;
        __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512 e = exp_512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, p + i), vm));
        e = _mm512_maskz_mov_ps(k, e);
        sum = _mm512_add_ps(sum, e);
        _mm512_mask_storeu_ps(p + i, k, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (long i = 0; i < n; i += 16) {
        long left = n - i;
        __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        _mm512_mask_storeu_ps(p + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + i), inv));
    }
}
#endif

static void softmax_base(float *p, long n) {
    float m = -__builtin_inff();
    for (long i = 0; i < n; i++) m = p[i] > m ? p[i] : m;
    if (m == -__builtin_inff()) m = 0;
    float sum = 0;
    for (long i = 0; i < n; i++) { p[i] = __builtin_expf(p[i] - m); sum += p[i]; }
    float inv = 1.0f / sum;
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

__attribute__((target("avx512f")))
static void fir_down2_512(float *out, const float *x, const float *w, long taps, long n, int acc) {
    enum { CHUNK = 1024, MAXT = 64 };
    if (taps > 2 * MAXT) { fir_down2_base(out, x, w, taps, n, acc); return; }
    float ev[CHUNK + MAXT + 16], od[CHUNK + MAXT + 16], we[MAXT], wo[MAXT];
    long te = (taps + 1) / 2, to = taps / 2;
    for (long s = 0; s < te; s++) we[s] = w[2 * s];
    for (long s = 0; s < to; s++) wo[s] = w[2 * s + 1];
    for (long i0 = 0; i0 < n; i0 += CHUNK) {
        long c = n - i0 < CHUNK ? n - i0 : CHUNK;
        long le = c + te - 1, lo = to > 0 ? c + to - 1 : 0;
        // Values read: x[2(i0 + j)] for j < le and x[2(i0 + j) + 1] for j < lo.
        long count = 2 * le - 1 > 2 * lo ? 2 * le - 1 : 2 * lo;
        deinterleave_512(x + 2 * i0, count, ev, le, od, lo);
        fir_taps_512(out + i0, ev, we, te, c, acc);
        if (to > 0) fir_taps_512(out + i0, od, wo, to, c, 1);
    }
}
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

__attribute__((target("avx512f")))
static void linear_small_512(float *out, long ldo, const float *x, long ldx, long rows, const float *w, long k,
                             long o0, long o1, const float *bias) {
    switch (rows) {
    case 1: linear_small_1(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 2: linear_small_2(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 3: linear_small_3(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 4: linear_small_4(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 5: linear_small_5(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 6: linear_small_6(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    case 7: linear_small_7(out, ldo, x, ldx, w, k, o0, o1, bias); break;
    default: linear_small_8(out, ldo, x, ldx, w, k, o0, o1, bias); break;
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

void ek_lrelu_gain_clamp(float *x, long n, float slope, float gain, float lo, float hi) {
#ifdef EK_X86
    if (ek_kernel_level() == 3) { lrelu_512(x, n, slope, gain, lo, hi); return; }
#endif
    lrelu_base(x, n, slope, gain, lo, hi);
}

void ek_add_scalar(float *dst, const float *src, float b, long n) {
    for (long i = 0; i < n; i++) dst[i] = src[i] + b;
}

void ek_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

void ek_softmax_row(float *p, long n) {
#ifdef EK_X86
    if (ek_kernel_level() == 3) { softmax_512(p, n); return; }
#endif
    softmax_base(p, n);
}

void ek_fir_up2(float *out, long n, const float *x0, const float *w0, long t0,
                const float *x1, const float *w1, long t1, int accumulate) {
#ifdef EK_X86
    if (ek_kernel_level() == 3) { fir_up2_512(out, n, x0, w0, t0, x1, w1, t1, accumulate); return; }
#endif
    fir_up2_base(out, n, x0, w0, t0, x1, w1, t1, accumulate);
}

void ek_fir_down2(float *out, const float *x, const float *w, long taps, long n, int accumulate) {
#ifdef EK_X86
    if (ek_kernel_level() == 3) { fir_down2_512(out, x, w, taps, n, accumulate); return; }
#endif
    fir_down2_base(out, x, w, taps, n, accumulate);
}

int ek_linear_small(float *out, long ldo, const float *x, long ldx, long rows, const float *w, long k,
                    long o0, long o1, const float *bias) {
#ifdef EK_X86
    if (rows >= 1 && rows <= 8 && ek_kernel_level() == 3) {
        linear_small_512(out, ldo, x, ldx, rows, w, k, o0, o1, bias);
        return 1;
    }
#endif
    return 0;
}
