// CUDA_CHECK(call): throws std::runtime_error naming the call, the file and the line when a CUDA runtime
// call fails. Host code only.
#pragma once
#include <cuda_runtime.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace vatom {
namespace cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  const char* slash = std::strrchr(file, '/');
  throw std::runtime_error(std::string("CUDA error: ") + call + " failed at " + (slash ? slash + 1 : file) + ":" +
                           std::to_string(line) +
                           ": " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

}  // namespace cuda
}  // namespace vatom

#define CUDA_CHECK(call)                                                                  \
  do {                                                                                    \
    const cudaError_t vatom_cuda_status_ = (call);                                        \
    if (vatom_cuda_status_ != cudaSuccess)                                                \
      ::vatom::cuda::throw_cuda_error(vatom_cuda_status_, #call, __FILE__, __LINE__);     \
  } while (0)
