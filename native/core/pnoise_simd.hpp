// pnoise1f (pnoise.hpp) as the CPU kernels of both streams run it (philox_simd*.cpp on word_to_noise_arg
// of Philox words, reference_simd*.cpp on float(uniform(0, 10000)) of MT19937 words), with the
// gradients looked up in a table instead of perlin_grad1's branch on a random bit, which the CPU
// mispredicts half the time: in one lane, 4 lanes (SSE2), 8 lanes (AVX2) and two groups of 16 lanes
// (AVX-512).
//
// Exactness: every lane does pnoise1f's float operations in its order: q = floor(x) (exact for
// |x| < 2^31, by truncate-and-adjust, vroundps or vrndscaleps toward -inf), t = x - q, and perlin_blend's
// multiplies, subtractions and additions, one packed IEEE instruction each (no FMA, no approximations).
// The gradients are small integers, exact as bytes and as floats.
//
// Everything here has internal linkage: each translation unit has its own copy, and the vector
// functions are built for the target of their VATOM_TARGET_BEGIN region only (simd_target.hpp).
#pragma once
#include <cstdint>

#include "pnoise.hpp"
#include "simd_target.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#define VATOM_PNOISE_SSE2 1
#include <emmintrin.h>
#else
#define VATOM_PNOISE_SSE2 0
#endif

namespace vatom {
namespace {

// The gradients of the two ends of the cell of x, q = floor(x): grad(perm[q & 255]) and
// grad(perm[(q + 1) & 255]), grad being perlin_grad1. As floats for the scalar lookups, g0 and g1 by
// q & 255; as bytes for the vector ones, b[i] = grad(perm[i & 255]) for i up to 256 and a little
// beyond: vpgatherdd of 4 bytes at q & 255 (scale 1) has both in its low half, vpermi2b looks up the
// first 256 by the low byte of q and of q + 1.
struct PerlinGradTable {
  alignas(64) float g0[256];
  alignas(64) float g1[256];
  alignas(64) int8_t b[256 + 8];
};

PerlinGradTable make_perlin_grad_table() {
  PerlinGradTable t;
  for (int i = 0; i < 256; ++i) {
    t.g0[i] = perlin_grad1(kPerlinPerm[i]);
    t.g1[i] = perlin_grad1(kPerlinPerm[(i + 1) & 255]);
  }
  for (int i = 0; i < 256 + 8; ++i) t.b[i] = static_cast<int8_t>(t.g0[i & 255]);
  return t;
}

const PerlinGradTable kPerlinGrads = make_perlin_grad_table();

// pnoise1f(x), one lane.
inline float pnoise1f_table(float x) {
  const int q = perlin_floor(x);
  const float t = x - static_cast<float>(q);
  return perlin_blend(t, kPerlinGrads.g0[q & 255], kPerlinGrads.g1[q & 255]);
}

#if VATOM_PNOISE_SSE2
// pnoise1f(x) in 4 lanes with SSE2 (the x86-64 baseline: floor by truncate-and-adjust, the gradients
// loaded lane by lane).
inline __m128 pnoise4(__m128 x) {
  __m128i q = _mm_cvttps_epi32(x);
  q = _mm_add_epi32(q, _mm_castps_si128(_mm_cmpgt_ps(_mm_cvtepi32_ps(q), x)));  // -1 where above x
  const __m128 fl = _mm_cvtepi32_ps(q);
  alignas(16) int32_t i[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(i), _mm_and_si128(q, _mm_set1_epi32(255)));
  const PerlinGradTable& g = kPerlinGrads;
  const __m128 g0 = _mm_setr_ps(g.g0[i[0]], g.g0[i[1]], g.g0[i[2]], g.g0[i[3]]);
  const __m128 g1 = _mm_setr_ps(g.g1[i[0]], g.g1[i[1]], g.g1[i[2]], g.g1[i[3]]);
  const __m128 t = _mm_sub_ps(x, fl);
  __m128 u = _mm_mul_ps(t, _mm_set1_ps(6.0f));
  u = _mm_sub_ps(u, _mm_set1_ps(15.0f));
  u = _mm_mul_ps(t, u);
  u = _mm_add_ps(u, _mm_set1_ps(10.0f));
  const __m128 cube = _mm_mul_ps(_mm_mul_ps(t, t), t);
  const __m128 fade = _mm_mul_ps(cube, u);
  const __m128 a = _mm_mul_ps(g0, t);
  const __m128 b = _mm_mul_ps(g1, _mm_sub_ps(t, _mm_set1_ps(1.0f)));
  __m128 d = _mm_sub_ps(b, a);
  d = _mm_mul_ps(fade, d);
  const __m128 r = _mm_add_ps(a, d);
  return _mm_mul_ps(r, _mm_set1_ps(0.4f));
}
#endif

}  // namespace
}  // namespace vatom

#if VATOM_X86_SIMD
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX2)
namespace vatom {
namespace {

// pnoise1f(x) in 8 lanes, |x| < 2^31. One gather for both gradients of a lane (gathers are slow).
VATOM_INLINE __m256 pnoise8(__m256 x) {
  const __m256 fl = _mm256_round_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m256 t = _mm256_sub_ps(x, fl);
  const __m256i idx = _mm256_and_si256(_mm256_cvttps_epi32(fl), _mm256_set1_epi32(255));
  const __m256i pair = _mm256_i32gather_epi32(reinterpret_cast<const int*>(kPerlinGrads.b), idx, 1);
  const __m256 g0 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(pair, 24), 24));
  const __m256 g1 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(pair, 16), 24));
  __m256 u = _mm256_mul_ps(t, _mm256_set1_ps(6.0f));
  u = _mm256_sub_ps(u, _mm256_set1_ps(15.0f));
  u = _mm256_mul_ps(t, u);
  u = _mm256_add_ps(u, _mm256_set1_ps(10.0f));
  const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(t, t), t);
  const __m256 fade = _mm256_mul_ps(cube, u);
  const __m256 a = _mm256_mul_ps(g0, t);
  const __m256 b = _mm256_mul_ps(g1, _mm256_sub_ps(t, _mm256_set1_ps(1.0f)));
  __m256 d = _mm256_sub_ps(b, a);
  d = _mm256_mul_ps(fade, d);
  const __m256 r = _mm256_add_ps(a, d);
  return _mm256_mul_ps(r, _mm256_set1_ps(0.4f));
}

}  // namespace
}  // namespace vatom
VATOM_TARGET_END()

VATOM_TARGET_BEGIN(VATOM_TARGET_AVX512)
namespace vatom {
namespace {

// The 256 gradient bytes in four registers, loaded once per kernel call.
struct PerlinGradRegs {
  __m512i lo, hi, lo2, hi2;
};

VATOM_INLINE PerlinGradRegs perlin_grad_regs() {
  const int8_t* const b = kPerlinGrads.b;
  return PerlinGradRegs{_mm512_load_si512(b), _mm512_load_si512(b + 64), _mm512_load_si512(b + 128),
                        _mm512_load_si512(b + 192)};
}

// The gradients g0 = grad(perm[q & 255]) and g1 = grad(perm[(q + 1) & 255]) of two groups of 16 lanes
// in one lookup of 64 bytes: q_a, q_b, q_a + 1, q_b + 1 (mod 256). vpermi2b looks up 128 bytes by the
// low 7 bits, bit 7 picks the table half.
VATOM_INLINE void perlin_grads32(__m512i qa, __m512i qb, const PerlinGradRegs& g, __m512& g0a, __m512& g1a,
                                 __m512& g0b, __m512& g1b) {
  const __m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(qa)), _mm512_cvtepi32_epi8(qb), 1);
  const __m512i idx = _mm512_inserti64x4(_mm512_castsi256_si512(ab), _mm256_add_epi8(ab, _mm256_set1_epi8(1)), 1);
  const __m512i b = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), _mm512_permutex2var_epi8(g.lo, idx, g.hi),
                                           _mm512_permutex2var_epi8(g.lo2, idx, g.hi2));
  g0a = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_castsi512_si128(b)));
  g0b = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(b, 1)));
  g1a = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(b, 2)));
  g1b = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(b, 3)));
}

// perlin_blend in 16 lanes.
VATOM_INLINE __m512 perlin_blend16(__m512 t, __m512 g0, __m512 g1) {
  __m512 u = _mm512_mul_ps(t, _mm512_set1_ps(6.0f));
  u = _mm512_sub_ps(u, _mm512_set1_ps(15.0f));
  u = _mm512_mul_ps(t, u);
  u = _mm512_add_ps(u, _mm512_set1_ps(10.0f));
  const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(t, t), t);
  const __m512 fade = _mm512_mul_ps(cube, u);
  const __m512 a = _mm512_mul_ps(g0, t);
  const __m512 b = _mm512_mul_ps(g1, _mm512_sub_ps(t, _mm512_set1_ps(1.0f)));
  __m512 d = _mm512_sub_ps(b, a);
  d = _mm512_mul_ps(fade, d);
  const __m512 r = _mm512_add_ps(a, d);
  return _mm512_mul_ps(r, _mm512_set1_ps(0.4f));
}

// pnoise1f(x) of two groups of 16 lanes, |x| < 2^31 (two groups share one gradient lookup).
VATOM_INLINE void pnoise16x2(__m512 xa, __m512 xb, const PerlinGradRegs& g, __m512& pa, __m512& pb) {
  const __m512 fa = _mm512_roundscale_ps(xa, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 fb = _mm512_roundscale_ps(xb, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 g0a, g1a, g0b, g1b;
  perlin_grads32(_mm512_cvttps_epi32(fa), _mm512_cvttps_epi32(fb), g, g0a, g1a, g0b, g1b);
  pa = perlin_blend16(_mm512_sub_ps(xa, fa), g0a, g1a);
  pb = perlin_blend16(_mm512_sub_ps(xb, fb), g0b, g1b);
}

}  // namespace
}  // namespace vatom
VATOM_TARGET_END()
#endif
