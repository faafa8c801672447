// The image kernel: image_phases.hpp's render_block with __syncthreads() as the block barrier.
#include "render_kernel.hpp"

#include "pnoise.hpp"

namespace vatom {
namespace cuda {

namespace {

__constant__ uint8_t c_perlin_perm[256] = VATOM_PERLIN_PERM;

// The block barrier of image_phases.hpp's render_block on the device.
struct BlockBarrier {
  __device__ __forceinline__ void sync(BarrierSite) const { __syncthreads(); }
  __device__ __forceinline__ void between() const {}
};

__global__ void __launch_bounds__(kMaxThreads) render_images(const KernelParams p) {
  extern __shared__ uint4 shared_words[];
  BlockBarrier barrier;
  render_block(p, reinterpret_cast<uint8_t*>(shared_words), c_perlin_perm, blockIdx.x, gridDim.x,
               static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x), barrier);
}

}  // namespace

cudaError_t launch_render(const KernelParams& p, int grid, int threads, size_t shared_bytes, cudaStream_t stream) {
  render_images<<<grid, threads, shared_bytes, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t allow_render_shared_bytes(size_t bytes) {
  return cudaFuncSetAttribute(render_images, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
}

cudaError_t set_render_carveout(int percent) {
  return cudaFuncSetAttribute(render_images, cudaFuncAttributePreferredSharedMemoryCarveout, percent);
}

cudaError_t render_blocks_per_sm(int threads, size_t shared_bytes, int* blocks) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, render_images, threads, shared_bytes);
}

cudaError_t render_kernel_attributes(cudaFuncAttributes* attributes) {
  return cudaFuncGetAttributes(attributes, render_images);
}

}  // namespace cuda
}  // namespace vatom
