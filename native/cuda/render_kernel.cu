// The image kernel: one thread block per image, the phases of image_phases.hpp between block barriers.
#include "render_kernel.hpp"

#include "pnoise.hpp"

namespace vatom {
namespace cuda {

namespace {

__constant__ uint8_t c_perlin_perm[256] = VATOM_PERLIN_PERM;

__global__ void __launch_bounds__(kMaxThreads) render_images(const KernelParams p) {
  extern __shared__ uint4 shared_words[];
  uint8_t* const shared = reinterpret_cast<uint8_t*>(shared_words);
  const int t = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  const WorkLayout l =
      work_layout(p.qcap, static_cast<int64_t>(p.band_rows) * p.size, p.scratch == nullptr);
  uint8_t* const vertex_area =
      p.scratch ? p.scratch + static_cast<int64_t>(blockIdx.x) * p.scratch_stride : shared + l.vertices;
  for (int i = t; i < 256; i += threads) shared[l.perm + i] = c_perlin_perm[i];
  for (int64_t image = blockIdx.x; image < p.count; image += gridDim.x) {
    const ImageWork w = image_work(p, image, shared, l, vertex_area);
    __syncthreads();  // the table is loaded; the previous image's finish is done
    phase_setup(w, t, threads);
    for (int32_t k0 = 0; k0 < w.orbits; k0 += kChunkOrbits) {
      phase_words(w, k0, t, threads);
      __syncthreads();
      const int32_t kend = w.orbits - k0 < kChunkOrbits ? w.orbits : k0 + kChunkOrbits;
      for (int32_t k = k0; k < kend; ++k) {
        phase_update(w, k, t, threads);
        __syncthreads();
        phase_raster(w, k, t, threads);
      }
    }
    __syncthreads();
    phase_finish(w, t, threads);
  }
}

}  // namespace

cudaError_t launch_render(const KernelParams& p, int grid, int threads, size_t shared_bytes, cudaStream_t stream) {
  render_images<<<grid, threads, shared_bytes, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t allow_render_shared_bytes(size_t bytes) {
  return cudaFuncSetAttribute(render_images, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
}

cudaError_t render_blocks_per_sm(int threads, size_t shared_bytes, int* blocks) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, render_images, threads, shared_bytes);
}

cudaError_t render_kernel_attributes(cudaFuncAttributes* attributes) {
  return cudaFuncGetAttributes(attributes, render_images);
}

}  // namespace cuda
}  // namespace vatom
