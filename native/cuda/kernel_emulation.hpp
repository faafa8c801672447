// render_kernel.cu's kernel run on the host: the blocks one after another, each phase for all threads of
// a block before the next phase (the barriers), so the results are the kernel's whatever the order of
// threads within a phase. For the checks that need no GPU (emulation_check.cpp, mock_runtime_check.cpp).
#pragma once
#include <cstring>
#include <vector>

#include "image_phases.hpp"
#include "pnoise.hpp"

namespace vatom {
namespace cuda {

// p.out, p.classes, p.tables and p.scratch are host pointers; reverse runs each phase's threads last to first.
inline void emulate_kernel(const KernelParams& p, int grid, int threads, bool reverse) {
  const WorkLayout l = work_layout(p.qcap, static_cast<int64_t>(p.band_rows) * p.size, p.scratch == nullptr);
  const int T = threads;
  auto each_thread = [&](auto&& body) {
    if (reverse) {
      for (int t = T - 1; t >= 0; --t) body(t);
    } else {
      for (int t = 0; t < T; ++t) body(t);
    }
  };
  std::vector<uint64_t> shared_words(static_cast<size_t>(l.shared_bytes / 8 + 2));
  for (int b = 0; b < grid; ++b) {
    std::fill(shared_words.begin(), shared_words.end(), 0x3C3C3C3C3C3C3C3Cull);  // shared memory starts undefined
    uint8_t* shared = reinterpret_cast<uint8_t*>(shared_words.data());
    uint8_t* vertex_area = p.scratch ? p.scratch + b * p.scratch_stride : shared + l.vertices;
    std::memcpy(shared + l.perm, kPerlinPerm, 256);
    for (int64_t image = b; image < p.count; image += grid) {
      const ImageWork w = image_work(p, image, shared, l, vertex_area);
      each_thread([&](int t) { phase_setup(w, t, T); });
      for (int32_t k0 = 0; k0 < w.orbits; k0 += kChunkOrbits) {
        each_thread([&](int t) { phase_words(w, k0, t, T); });
        const int32_t kend = w.orbits - k0 < kChunkOrbits ? w.orbits : k0 + kChunkOrbits;
        for (int32_t k = k0; k < kend; ++k) {
          each_thread([&](int t) { phase_update(w, k, t, T); });
          each_thread([&](int t) { phase_raster(w, k, t, T); });
        }
      }
      each_thread([&](int t) { phase_finish(w, t, T); });
    }
  }
}

}  // namespace cuda
}  // namespace vatom
