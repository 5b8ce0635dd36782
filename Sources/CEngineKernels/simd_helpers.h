// Private AVX-512 helpers shared by the engine's C kernels (not part of the module's public headers).
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
#endif
#endif
