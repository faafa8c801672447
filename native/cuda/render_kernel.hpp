// The launcher of the image kernel (render_kernel.cu), callable from host C++ built without nvcc.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "image_phases.hpp"

namespace vatom {
namespace cuda {

// Most threads per block the kernel is built for (its __launch_bounds__).
constexpr int kMaxThreads = 1024;

// Renders images [p.begin, p.begin + p.count) into p.out: `grid` blocks of `threads` threads, each
// drawing images blockIdx.x, blockIdx.x + grid, ...; shared_bytes from work_layout(...).shared_bytes.
cudaError_t launch_render(const KernelParams& p, int grid, int threads, size_t shared_bytes, cudaStream_t stream);

// Allows launches with up to `bytes` of dynamic shared memory (above the default 48 KiB).
cudaError_t allow_render_shared_bytes(size_t bytes);

// The kernel's preferred shared-memory carveout, in percent of the SM's shared memory (0..100; -1: the
// driver's choice). The driver rounds it up to a configuration the GPU has.
cudaError_t set_render_carveout(int percent);

// Resident blocks per SM for a launch shape (cudaOccupancyMaxActiveBlocksPerMultiprocessor).
cudaError_t render_blocks_per_sm(int threads, size_t shared_bytes, int* blocks);

cudaError_t render_kernel_attributes(cudaFuncAttributes* attributes);

}  // namespace cuda
}  // namespace vatom
