// cuda_api.hpp for builds without CUDA (CMake with VATOM_CUDA off, binding.gyp): no device, no renderer.
// CMakeLists.txt compiles this file only when VATOM_CUDA is off; native/cuda/ implements the API otherwise.
#include <stdexcept>

#include "cuda_api.hpp"

namespace vatom {

namespace {
const char* const kNoCuda =
    "this build of vatom-fast has no CUDA support (nvcc was not found when it was built, or CUDA was "
    "turned off with VATOM_CUDA=OFF / VATOM_NO_CUDA=1)";
}

CudaInfo cuda_info() {
  CudaInfo info;
  info.error = kNoCuda;
  return info;
}

std::unique_ptr<CudaRenderer> make_cuda_renderer(const DatasetSpec&) { throw std::runtime_error(kNoCuda); }

}  // namespace vatom
