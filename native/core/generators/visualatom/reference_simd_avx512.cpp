// AVX-512 kernels (F, BW, VL, DQ, VBMI: the set psimd::best_isa() asks for) of reference_simd.hpp,
// 16 vertices a step: the doubles in two 8-lane halves, pnoise1 in 16 float lanes. Only the functions
// between VATOM_TARGET_BEGIN and VATOM_TARGET_END are built for AVX-512 (simd_target.hpp).
//
// Exactness: lane-wise vcvtqq2pd (exact: the values are below 2^53), vmulpd/vsubpd in the
// definition's order, vcvtpd2ps (round to nearest even, as static_cast<float>), the float pnoise1 of
// pnoise_simd.hpp, vcvtps2pd (exact) and vcvttpd2dq after clamping to truncate_coord's bounds.
#include "reference_simd.hpp"

#include <cstdint>

#include "pnoise_simd.hpp"
#include "simd_target.hpp"

namespace vatom {
namespace rsimd {

#if VATOM_X86_SIMD
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX512)
namespace {

// uniform(0, 10000) of 8 vertices from their 16 words (64-bit lane l holds word 2l low, 2l + 1 high):
// a = w1 >> 5, b = w2 >> 6, r = (a * 2^26 + b) * 2^-53, u = 10000 * r (0.0 + u is u: u >= 0).
// a * 2^26 + b is exact in double (below 2^53), so it is formed as the integer (a << 26) | b and
// converted once (exact).
VATOM_INLINE __m512d uniform8(__m512i w) {
  // (w << 32) >> 11 puts w1 at bits 21..52: a << 26 in bits 26..52, and w1's low 5 bits in 21..25,
  // which b (w >> 38, 26 bits) replaces: a bit select (ternary logic 0xD8: c ? b : a).
  const __m512i hi = _mm512_srli_epi64(_mm512_slli_epi64(w, 32), 11);
  const __m512i i = _mm512_ternarylogic_epi64(hi, _mm512_srli_epi64(w, 38), _mm512_set1_epi64((1 << 26) - 1), 0xD8);
  const __m512d r = _mm512_mul_pd(_mm512_cvtepi64_pd(i), _mm512_set1_pd(1.0 / 9007199254740992.0));
  return _mm512_mul_pd(_mm512_set1_pd(10000.0), r);
}

// float(uniform(0, 10000)) of vertices v .. v+15 from w[2v .. 2v+31] (vcvtpd2ps: nearest even).
VATOM_INLINE __m512 noise_arg16(const uint32_t* w, int32_t v) {
  const __m512d u0 = uniform8(_mm512_loadu_si512(w + 2 * v));
  const __m512d u1 = uniform8(_mm512_loadu_si512(w + 2 * v + 16));
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(u0)), _mm512_cvtpd_ps(u1), 1);
}

// P = (((pnoise * coef) - coef) - wave1) - wave2 of vertices v .. v+15 in double: lo has vertices
// v .. v+7, hi v+8 .. v+15.
VATOM_INLINE void terms16(__m512 pn, int32_t v, __m512d coef, const double* wave1, const double* wave2, __m512d& lo,
                          __m512d& hi) {
  const __m512d p0 = _mm512_cvtps_pd(_mm512_castps512_ps256(pn));
  const __m512d p1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(pn, 1));
  lo = _mm512_sub_pd(_mm512_sub_pd(_mm512_sub_pd(_mm512_mul_pd(p0, coef), coef), _mm512_load_pd(wave1 + v)),
                     _mm512_load_pd(wave2 + v));
  hi = _mm512_sub_pd(_mm512_sub_pd(_mm512_sub_pd(_mm512_mul_pd(p1, coef), coef), _mm512_load_pd(wave1 + v + 8)),
                     _mm512_load_pd(wave2 + v + 8));
}

VATOM_INLINE __m512d displace8(__m512d coord, __m512d p, __m512d lw, __m512d trig) {
  return _mm512_sub_pd(coord, _mm512_mul_pd(trig, _mm512_sub_pd(p, lw)));
}

// truncate_coord on 8 lanes: clamp to [-2^30, 2^30] (vmaxpd returns its second operand, the lower
// bound, for NaN, as truncate_coord), then truncate.
VATOM_INLINE __m256i truncate8(__m512d x) {
  const __m512d lo = _mm512_set1_pd(-1073741824.0), hi = _mm512_set1_pd(1073741824.0);
  return _mm512_cvttpd_epi32(_mm512_min_pd(_mm512_max_pd(x, lo), hi));
}

void orbit_avx512(const OrbitJob& j) {
  const PerlinGradRegs g = perlin_grad_regs();
  const __m512d coef = _mm512_set1_pd(j.coef), lw = _mm512_set1_pd(j.lw);
  for (int32_t v = 0; v < j.q; v += 16) {
    __m512 pnx, pny;
    pnoise16x2(noise_arg16(j.wx, v), noise_arg16(j.wy, v), g, pnx, pny);
    __m512d px0, px1, py0, py1;
    terms16(pnx, v, coef, j.wave1, j.wave2, px0, px1);
    terms16(pny, v, coef, j.wave1, j.wave2, py0, py1);
    const __m512d x0 = displace8(_mm512_load_pd(j.x + v), px0, lw, _mm512_load_pd(j.cos_t + v));
    const __m512d x1 = displace8(_mm512_load_pd(j.x + v + 8), px1, lw, _mm512_load_pd(j.cos_t + v + 8));
    const __m512d y0 = displace8(_mm512_load_pd(j.y + v), py0, lw, _mm512_load_pd(j.sin_t + v));
    const __m512d y1 = displace8(_mm512_load_pd(j.y + v + 8), py1, lw, _mm512_load_pd(j.sin_t + v + 8));
    _mm512_store_pd(j.x + v, x0);
    _mm512_store_pd(j.x + v + 8, x1);
    _mm512_store_pd(j.y + v, y0);
    _mm512_store_pd(j.y + v + 8, y1);
    _mm512_store_si512(j.ix + v, _mm512_inserti64x4(_mm512_castsi256_si512(truncate8(x0)), truncate8(x1), 1));
    _mm512_store_si512(j.iy + v, _mm512_inserti64x4(_mm512_castsi256_si512(truncate8(y0)), truncate8(y1), 1));
  }
}

// 32 vertices a step (the arrays are padded to a multiple of 32).
void noise_avx512(const uint32_t* w, int32_t n, double coef, const double* wave1, const double* wave2, double* out) {
  static_assert(psimd::kVertexPad % 32 == 0, "noise_avx512 steps 32 vertices");
  const PerlinGradRegs g = perlin_grad_regs();
  const __m512d c = _mm512_set1_pd(coef);
  for (int32_t v = 0; v < n; v += 32) {
    __m512 pa, pb;
    pnoise16x2(noise_arg16(w, v), noise_arg16(w, v + 16), g, pa, pb);
    __m512d p0, p1, p2, p3;
    terms16(pa, v, c, wave1, wave2, p0, p1);
    terms16(pb, v + 16, c, wave1, wave2, p2, p3);
    _mm512_store_pd(out + v, p0);
    _mm512_store_pd(out + v + 8, p1);
    _mm512_store_pd(out + v + 16, p2);
    _mm512_store_pd(out + v + 24, p3);
  }
}

void move_avx512(const double* p, int32_t n, double lw, const double* trig, double* coord, int32_t* out) {
  const __m512d l = _mm512_set1_pd(lw);
  for (int32_t v = 0; v < n; v += 8) {
    const __m512d x = displace8(_mm512_load_pd(coord + v), _mm512_load_pd(p + v), l, _mm512_load_pd(trig + v));
    _mm512_store_pd(coord + v, x);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + v), truncate8(x));
  }
}

}  // namespace
VATOM_TARGET_END()

const Kernels& kernels_avx512() {
  static const Kernels k{Isa::Avx512, orbit_avx512, noise_avx512, move_avx512};
  return k;
}

#else

const Kernels& kernels_avx512() {
  static const Kernels k{Isa::Avx512, nullptr, nullptr, nullptr};
  return k;
}

#endif

}  // namespace rsimd
}  // namespace vatom
