// The AVX-512 kernel set (F, BW, VL, DQ, VBMI: the set psimd::best_isa() asks for) of
// reference_simd.hpp: reference_simd_kernels.hpp on simd_lanes.hpp's Avx512 traits (16 vertices a
// step), with AVX-512's conversion of MT19937 words to noise arguments.
#include "reference_simd.hpp"

#include <cstdint>

#include "simd_lanes.hpp"

#if VATOM_X86_SIMD
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX512)
namespace vatom {
namespace rsimd {
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

// float(uniform(0, 10000)) of 16 vertices from their words w[0 .. 31] (vcvtpd2ps: nearest even).
VATOM_INLINE __m512 uniform_args(Avx512, const uint32_t* w) {
  const __m512d u0 = uniform8(_mm512_loadu_si512(w));
  const __m512d u1 = uniform8(_mm512_loadu_si512(w + 16));
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(u0)), _mm512_cvtpd_ps(u1), 1);
}

}  // namespace
}  // namespace rsimd
}  // namespace vatom
#include "reference_simd_kernels.hpp"
VATOM_TARGET_END()
#endif

namespace vatom {
namespace rsimd {

const Kernels& kernels_avx512() {
#if VATOM_X86_SIMD
  static const Kernels k = ReferenceVectorKernels<Avx512>::table(Isa::Avx512);
#else
  static const Kernels k{Isa::Avx512, nullptr, nullptr, nullptr};
#endif
  return k;
}

}  // namespace rsimd
}  // namespace vatom
