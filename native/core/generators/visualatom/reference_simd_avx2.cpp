// The AVX2 kernel set of reference_simd.hpp: reference_simd_kernels.hpp on simd_lanes.hpp's Avx2 traits
// (8 vertices a step), with AVX2's conversion of MT19937 words to noise arguments.
#include "reference_simd.hpp"

#include <cstdint>

#include "simd_lanes.hpp"

#if VATOM_X86_SIMD
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX2)
namespace vatom {
namespace rsimd {
namespace {

// uniform(0, 10000) of 4 vertices: r = (a * 2^26 + b) * 2^-53, u = 10000 * r (0.0 + u is u: u >= 0).
VATOM_INLINE __m256d uniform4(__m128i a, __m128i b) {
  const __m256d r = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(a), _mm256_set1_pd(67108864.0)),
                                                _mm256_cvtepi32_pd(b)),
                                  _mm256_set1_pd(1.0 / 9007199254740992.0));
  return _mm256_mul_pd(_mm256_set1_pd(10000.0), r);
}

// float(uniform(0, 10000)) of 8 vertices from their words w[0 .. 15] (a = w1 >> 5, b = w2 >> 6;
// vcvtpd2ps: nearest even).
VATOM_INLINE __m256 uniform_args(Avx2, const uint32_t* w) {
  // (a0 b0 a1 b1 a2 b2 a3 b3) -> (a0 a1 a2 a3 | b0 b1 b2 b3), likewise for vertices 4..7
  const __m256i even_odd = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i t0 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)), even_odd);
  const __m256i t1 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 8)), even_odd);
  const __m256i a = _mm256_srli_epi32(_mm256_permute2x128_si256(t0, t1, 0x20), 5);
  const __m256i b = _mm256_srli_epi32(_mm256_permute2x128_si256(t0, t1, 0x31), 6);
  const __m256d u0 = uniform4(_mm256_castsi256_si128(a), _mm256_castsi256_si128(b));
  const __m256d u1 = uniform4(_mm256_extracti128_si256(a, 1), _mm256_extracti128_si256(b, 1));
  return _mm256_set_m128(_mm256_cvtpd_ps(u1), _mm256_cvtpd_ps(u0));
}

}  // namespace
}  // namespace rsimd
}  // namespace vatom
#include "reference_simd_kernels.hpp"
VATOM_TARGET_END()
#endif

namespace vatom {
namespace rsimd {

const Kernels& kernels_avx2() {
#if VATOM_X86_SIMD
  static const Kernels k = ReferenceVectorKernels<Avx2>::table(Isa::Avx2);
#else
  static const Kernels k{Isa::Avx2, nullptr, nullptr, nullptr};
#endif
  return k;
}

}  // namespace rsimd
}  // namespace vatom
