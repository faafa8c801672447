// The check of CudaRenderer::render_to_device shared by the stand-in runtime's checks
// (mock_runtime_check.cpp) and the GPU's (device_check.cpp): calls queued back to back on a caller's
// stream (or the default stream) into caller device memory, aligned (the kernel writes there) or not (a
// pitched copy through the renderer's buffer), synchronized only at the end; then each range is copied
// back and compared with the CPU renderer's bytes.
#pragma once
#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cuda_api.hpp"
#include "dataset.hpp"
#include "generators/visualatom/visualatom.hpp"
#include "thread_pool.hpp"

namespace vatom {

// The first image (dataset index) whose bytes differ from the CPU's, or -1.
inline int64_t render_to_device_mismatch(const DatasetSpec& spec, cudaStream_t stream,
                                         const std::vector<std::pair<int64_t, int64_t>>& ranges, int misalign,
                                         ThreadPool& pool) {
  auto check = [](cudaError_t status, const char* what) {
    if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  };
  std::unique_ptr<CudaRenderer> gpu = make_cuda_renderer(spec);
  std::unique_ptr<ImageRenderer> cpu = make_philox_renderer(spec);
  const int64_t bytes = spec.image_bytes();
  std::vector<uint8_t*> buffers;
  for (const auto& r : ranges) {
    void* p = nullptr;
    check(cudaMalloc(&p, static_cast<size_t>((r.second - r.first) * bytes + misalign)), "cudaMalloc");
    buffers.push_back(static_cast<uint8_t*>(p));
    gpu->render_to_device(r.first, r.second, buffers.back() + misalign, stream);
  }
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  int64_t first_bad = -1;
  for (size_t k = 0; k < ranges.size(); ++k) {
    const int64_t n = ranges[k].second - ranges[k].first;
    std::vector<uint8_t> a(static_cast<size_t>(n * bytes)), b(static_cast<size_t>(n * bytes));
    cpu->render(ranges[k].first, ranges[k].second, a.data(), pool);
    check(cudaMemcpy(b.data(), buffers[k] + misalign, b.size(), cudaMemcpyDeviceToHost), "cudaMemcpy");
    for (int64_t i = 0; i < n && first_bad < 0; ++i) {
      if (std::memcmp(a.data() + i * bytes, b.data() + i * bytes, static_cast<size_t>(bytes)) != 0) {
        first_bad = ranges[k].first + i;
      }
    }
    cudaFree(buffers[k]);
  }
  return first_bad;
}

}  // namespace vatom
