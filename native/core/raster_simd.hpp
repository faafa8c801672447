// What the vector polygon rasterizer (PhiloxVectorKernels::raster) uses besides its vector code: setting
// the pixels at the offsets it collects. Internal linkage, like everything the kernels inline
// (simd_target.hpp).
#pragma once
#include <cstdint>

namespace vatom {
namespace psimd {
namespace {

// Sets pixels[offsets[i]] = gray for i < n. All offsets of one call have one gray, so their order does
// not matter.
inline void plot_offsets(uint8_t* pixels, const int32_t* offsets, int32_t n, uint8_t gray) {
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    pixels[offsets[i]] = gray;
    pixels[offsets[i + 1]] = gray;
    pixels[offsets[i + 2]] = gray;
    pixels[offsets[i + 3]] = gray;
    pixels[offsets[i + 4]] = gray;
    pixels[offsets[i + 5]] = gray;
    pixels[offsets[i + 6]] = gray;
    pixels[offsets[i + 7]] = gray;
  }
  for (; i < n; ++i) pixels[offsets[i]] = gray;
}

}  // namespace
}  // namespace psimd
}  // namespace vatom
