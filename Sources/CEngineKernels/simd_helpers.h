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

// The 8-float form of ek_lrelu_gain_clamp_512 (same operations, same results).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 ek_lrelu_gain_clamp_256(__m256 v, __m256 slope, __m256 gain, __m256 lo, __m256 hi) {
    __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    v = _mm256_mul_ps(_mm256_blendv_ps(v, _mm256_mul_ps(v, slope), neg), gain);
    return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}
#endif
#endif
