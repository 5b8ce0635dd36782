// Private AVX-512 and AVX2 helpers shared by the engine's C kernels (not part of the module's public headers).
#ifndef ENGINE_SIMD_HELPERS_H
#define ENGINE_SIMD_HELPERS_H
#if defined(__x86_64__)
#include <immintrin.h>

// Lanes 0 ..< left of a 16-float vector (all 16 when left ≥ 16).
#define EK_MASK(left) ((left) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (left)) - 1))

// clamp(lrelu(v, slope) · gain, lo, hi), bounds first: max/min return their second operand when one is NaN,
// so NaN passes through as in torch.
__attribute__((target("avx512f"), always_inline))
static inline __m512 ek_lrelu_gain_clamp_512(__m512 v, __m512 slope, __m512 gain, __m512 lo, __m512 hi) {
    __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    v = _mm512_mul_ps(_mm512_mask_mul_ps(v, neg, v, slope), gain);
    return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
}

// AVX2 has no mask registers: masked loads and stores take a vector whose lanes are all ones (taken) or zero.
// EK_MASK8(left): lanes 0 ..< left of an 8-float vector (all 8 when left ≥ 8, none when left ≤ 0), read from a
// window of a constant table.
static const int ek_mask8_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
#define EK_MASK8(left) _mm256_loadu_si256((const __m256i *)(ek_mask8_table + 8 - ((left) >= 8 ? 8 : (left) <= 0 ? 0 : (left))))

// Stores lanes 0 ..< left (all 8 when left ≥ 8) of v at p: halves, pairs and singles, nothing past p + left
// (masked stores are microcoded and slow on AMD).
__attribute__((target("avx2,fma"), always_inline))
static inline void ek_store_part_256(float *p, __m256 v, long left) {
    if (left >= 8) { _mm256_storeu_ps(p, v); return; }
    __m128 q = _mm256_castps256_ps128(v);
    if (left >= 4) { _mm_storeu_ps(p, q); q = _mm256_extractf128_ps(v, 1); p += 4; left -= 4; }
    if (left >= 2) { _mm_storel_pi((__m64 *)p, q); q = _mm_movehl_ps(q, q); p += 2; left -= 2; }
    if (left >= 1) _mm_store_ss(p, q);
}

// Lanes 0 ..< left of p (zero beyond; all 8 when left ≥ 8 — a plain load then). Masked-out lanes are not read.
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 ek_load_part_256(const float *p, long left) {
    return left >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, EK_MASK8(left));
}

// a0 b0 a1 b1 … a3 b3 (l) and a4 b4 … a7 b7 (h): two phases interleaved.
__attribute__((target("avx2,fma"), always_inline))
static inline void ek_interleave_256(__m256 a, __m256 b, __m256 *l, __m256 *h) {
    __m256 u = _mm256_unpacklo_ps(a, b), v = _mm256_unpackhi_ps(a, b);   // a0 b0 a1 b1 | a4 b4 a5 b5, …
    *l = _mm256_permute2f128_ps(u, v, 0x20);
    *h = _mm256_permute2f128_ps(u, v, 0x31);
}

// The even samples of two 8-float vectors (x0 … x15): x0 x2 … x14 (stride 2).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 ek_even_256(__m256 a, __m256 b) {
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   // x0 x2 x8 x10 | x4 x6 x12 x14
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Even and odd samples of two 8-float vectors (x0 … x15) as x0 x2 … x14 and x1 x3 … x15.
__attribute__((target("avx2,fma"), always_inline))
static inline void ek_even_odd_256(__m256 a, __m256 b, __m256 *even, __m256 *odd) {
    *even = ek_even_256(a, b);
    __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

// The 8-float form of ek_lrelu_gain_clamp_512 (same operations, same results).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 ek_lrelu_gain_clamp_256(__m256 v, __m256 slope, __m256 gain, __m256 lo, __m256 hi) {
    __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    v = _mm256_mul_ps(_mm256_blendv_ps(v, _mm256_mul_ps(v, slope), neg), gain);
    return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}
#endif
#endif
