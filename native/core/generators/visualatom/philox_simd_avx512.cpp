// The AVX-512 kernel set (F, BW, VL, DQ, VBMI) of philox_simd.hpp: philox_simd_kernels.hpp on
// simd_lanes.hpp's Avx512 traits (8 Philox blocks, 16 float lanes, 16 segments a vector), with
// AVX-512's shuffle of blocks to words.
#include "philox_simd.hpp"

#include <cstdint>
#include <cstring>

#include "philox_image.hpp"
#include "raster_simd.hpp"
#include "simd_lanes.hpp"

#if VATOM_X86_SIMD
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX512)
namespace vatom {
namespace psimd {
namespace {

// 8 blocks in 64-bit lanes (c0..c3 of each) to their 32 words in word order.
VATOM_INLINE void blocks_to_words(Avx512, __m512i c0, __m512i c1, __m512i c2, __m512i c3, __m512i& lo, __m512i& hi) {
  const __m512i a = _mm512_mask_blend_epi32(0xAAAA, c0, _mm512_slli_epi64(c1, 32));
  const __m512i b = _mm512_mask_blend_epi32(0xAAAA, c2, _mm512_slli_epi64(c3, 32));
  lo = _mm512_permutex2var_epi64(a, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), b);
  hi = _mm512_permutex2var_epi64(a, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), b);
}

}  // namespace
}  // namespace psimd
}  // namespace vatom
#include "philox_simd_kernels.hpp"
VATOM_TARGET_END()
#endif

namespace vatom {
namespace psimd {

const Kernels& kernels_avx512() {
#if VATOM_X86_SIMD
  static const Kernels k = PhiloxVectorKernels<Avx512>::table(Isa::Avx512);
#else
  static const Kernels k{Isa::Avx512, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
#endif
  return k;
}

}  // namespace psimd
}  // namespace vatom
