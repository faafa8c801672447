// AVX2 kernels of reference_simd.hpp, 8 vertices a step: the doubles in two 4-lane halves, pnoise1 in 8
// float lanes. Only the functions between VATOM_TARGET_BEGIN and VATOM_TARGET_END are built for AVX2
// (simd_target.hpp).
//
// Exactness: lane-wise vcvtdq2pd (exact), vmulpd/vaddpd/vsubpd in the definition's order, vcvtpd2ps
// (round to nearest even, as static_cast<float>), the float pnoise1 of pnoise_simd.hpp, vcvtps2pd
// (exact) and vcvttpd2dq after clamping to truncate_coord's bounds (vmaxpd returns its second operand,
// the lower bound, for NaN, as truncate_coord does).
#include "reference_simd.hpp"

#include <cstdint>

#include "pnoise_simd.hpp"
#include "simd_target.hpp"

namespace vatom {
namespace rsimd {

#if VATOM_X86_SIMD
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX2)
namespace {

// uniform(0, 10000) of 4 vertices: r = (a * 2^26 + b) * 2^-53, u = 10000 * r (0.0 + u is u: u >= 0).
VATOM_INLINE __m256d uniform4(__m128i a, __m128i b) {
  const __m256d r = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(a), _mm256_set1_pd(67108864.0)),
                                                _mm256_cvtepi32_pd(b)),
                                  _mm256_set1_pd(1.0 / 9007199254740992.0));
  return _mm256_mul_pd(_mm256_set1_pd(10000.0), r);
}

// P = (((pnoise * coef) - coef) - wave1) - wave2 of vertices v .. v+7 from w[2v .. 2v+15]: lo has
// vertices v .. v+3, hi v+4 .. v+7.
VATOM_INLINE void noise8(const uint32_t* w, int32_t v, __m256d coef, const double* wave1, const double* wave2,
                         __m256d& lo, __m256d& hi) {
  // (a0 b0 a1 b1 a2 b2 a3 b3) -> (a0 a1 a2 a3 | b0 b1 b2 b3), likewise for vertices 4..7
  const __m256i even_odd = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i t0 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * v)), even_odd);
  const __m256i t1 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * v + 8)), even_odd);
  const __m256i a = _mm256_srli_epi32(_mm256_permute2x128_si256(t0, t1, 0x20), 5);
  const __m256i b = _mm256_srli_epi32(_mm256_permute2x128_si256(t0, t1, 0x31), 6);
  const __m256d u0 = uniform4(_mm256_castsi256_si128(a), _mm256_castsi256_si128(b));
  const __m256d u1 = uniform4(_mm256_extracti128_si256(a, 1), _mm256_extracti128_si256(b, 1));
  const __m256 x = _mm256_set_m128(_mm256_cvtpd_ps(u1), _mm256_cvtpd_ps(u0));
  const __m256 pn = pnoise8(x);
  const __m256d p0 = _mm256_cvtps_pd(_mm256_castps256_ps128(pn));
  const __m256d p1 = _mm256_cvtps_pd(_mm256_extractf128_ps(pn, 1));
  lo = _mm256_sub_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_mul_pd(p0, coef), coef), _mm256_load_pd(wave1 + v)),
                     _mm256_load_pd(wave2 + v));
  hi = _mm256_sub_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_mul_pd(p1, coef), coef), _mm256_load_pd(wave1 + v + 4)),
                     _mm256_load_pd(wave2 + v + 4));
}

VATOM_INLINE __m256d displace4(__m256d coord, __m256d p, __m256d lw, __m256d trig) {
  return _mm256_sub_pd(coord, _mm256_mul_pd(trig, _mm256_sub_pd(p, lw)));
}

// truncate_coord on 4 lanes: clamp to [-2^30, 2^30] (vmaxpd gives the bound for NaN), then truncate.
VATOM_INLINE __m128i truncate4(__m256d x) {
  const __m256d lo = _mm256_set1_pd(-1073741824.0), hi = _mm256_set1_pd(1073741824.0);
  return _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(x, lo), hi));
}

void orbit_avx2(const OrbitJob& j) {
  const __m256d coef = _mm256_set1_pd(j.coef), lw = _mm256_set1_pd(j.lw);
  for (int32_t v = 0; v < j.q; v += 8) {
    __m256d px0, px1, py0, py1;
    noise8(j.wx, v, coef, j.wave1, j.wave2, px0, px1);
    noise8(j.wy, v, coef, j.wave1, j.wave2, py0, py1);
    const __m256d x0 = displace4(_mm256_load_pd(j.x + v), px0, lw, _mm256_load_pd(j.cos_t + v));
    const __m256d x1 = displace4(_mm256_load_pd(j.x + v + 4), px1, lw, _mm256_load_pd(j.cos_t + v + 4));
    const __m256d y0 = displace4(_mm256_load_pd(j.y + v), py0, lw, _mm256_load_pd(j.sin_t + v));
    const __m256d y1 = displace4(_mm256_load_pd(j.y + v + 4), py1, lw, _mm256_load_pd(j.sin_t + v + 4));
    _mm256_store_pd(j.x + v, x0);
    _mm256_store_pd(j.x + v + 4, x1);
    _mm256_store_pd(j.y + v, y0);
    _mm256_store_pd(j.y + v + 4, y1);
    _mm256_store_si256(reinterpret_cast<__m256i*>(j.ix + v), _mm256_set_m128i(truncate4(x1), truncate4(x0)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(j.iy + v), _mm256_set_m128i(truncate4(y1), truncate4(y0)));
  }
}

void noise_avx2(const uint32_t* w, int32_t n, double coef, const double* wave1, const double* wave2, double* out) {
  const __m256d c = _mm256_set1_pd(coef);
  for (int32_t v = 0; v < n; v += 8) {
    __m256d lo, hi;
    noise8(w, v, c, wave1, wave2, lo, hi);
    _mm256_store_pd(out + v, lo);
    _mm256_store_pd(out + v + 4, hi);
  }
}

void move_avx2(const double* p, int32_t n, double lw, const double* trig, double* coord, int32_t* out) {
  const __m256d l = _mm256_set1_pd(lw);
  for (int32_t v = 0; v < n; v += 4) {
    const __m256d x = displace4(_mm256_load_pd(coord + v), _mm256_load_pd(p + v), l, _mm256_load_pd(trig + v));
    _mm256_store_pd(coord + v, x);
    _mm_store_si128(reinterpret_cast<__m128i*>(out + v), truncate4(x));
  }
}

}  // namespace
VATOM_TARGET_END()

const Kernels& kernels_avx2() {
  static const Kernels k{Isa::Avx2, orbit_avx2, noise_avx2, move_avx2};
  return k;
}

#else

const Kernels& kernels_avx2() {
  static const Kernels k{Isa::Avx2, nullptr, nullptr, nullptr};
  return k;
}

#endif

}  // namespace rsimd
}  // namespace vatom
