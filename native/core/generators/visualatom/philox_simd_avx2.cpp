// The AVX2 kernel set of philox_simd.hpp: philox_simd_kernels.hpp on simd_lanes.hpp's Avx2 traits
// (4 Philox blocks, 8 float lanes, 8 segments a vector), with AVX2's shuffle of blocks to words.
#include "philox_simd.hpp"

#include <cstdint>
#include <cstring>

#include "philox_image.hpp"
#include "raster_simd.hpp"
#include "simd_lanes.hpp"

#if VATOM_X86_SIMD
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX2)
namespace vatom {
namespace psimd {
namespace {

// 4 blocks in 64-bit lanes (c0..c3 of each) to their 16 words in word order.
VATOM_INLINE void blocks_to_words(Avx2, __m256i c0, __m256i c1, __m256i c2, __m256i c3, __m256i& lo, __m256i& hi) {
  const __m256i a = _mm256_blend_epi32(c0, _mm256_slli_epi64(c1, 32), 0xAA);  // w0 w1 of blocks 0..3
  const __m256i b = _mm256_blend_epi32(c2, _mm256_slli_epi64(c3, 32), 0xAA);  // w2 w3
  const __m256i l = _mm256_unpacklo_epi64(a, b);  // blocks 0, 2
  const __m256i h = _mm256_unpackhi_epi64(a, b);  // blocks 1, 3
  lo = _mm256_permute2x128_si256(l, h, 0x20);
  hi = _mm256_permute2x128_si256(l, h, 0x31);
}

}  // namespace
}  // namespace psimd
}  // namespace vatom
#include "philox_simd_kernels.hpp"
VATOM_TARGET_END()
#endif

namespace vatom {
namespace psimd {

const Kernels& kernels_avx2() {
#if VATOM_X86_SIMD
  static const Kernels k = PhiloxVectorKernels<Avx2>::table(Isa::Avx2);
#else
  static const Kernels k{Isa::Avx2, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
#endif
  return k;
}

}  // namespace psimd
}  // namespace vatom
