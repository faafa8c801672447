// vatom-cuda-device-check: on a GPU, CudaRenderer::render_to_device (what the C ABI's
// vatom_render_range_device and Python's Renderer.render_range_cuda use) against the CPU renderer,
// through render_to_device_check.hpp, the same check the stand-in runtime passes. bench/gpu-check.sh
// runs it.
//
//   vatom-cuda-device-check     prints "N passed, N failed", exit 1 on a failure or a CUDA error
#include <cuda_runtime.h>

#include <cstdio>
#include <exception>
#include <string>

#include "render_to_device_check.hpp"

namespace {

vatom::DatasetSpec make_spec(int32_t size, int32_t qmin, int32_t qmax, int32_t kmin, int32_t kmax, int64_t classes,
                             int64_t instances, uint64_t seed, int64_t start_class) {
  vatom::DatasetSpec s;
  s.config.image_size = size;
  s.config.vertices_min = qmin;
  s.config.vertices_max = qmax;
  s.config.orbits_min = kmin;
  s.config.orbits_max = kmax;
  s.seed = seed;
  s.start_class = start_class;
  s.classes = classes;
  s.instances = instances;
  s.params = vatom::philox_class_params(s.config, s.seed, s.start_class, s.classes);
  return s;
}

}  // namespace

int main() {
  int passed = 0, failed = 0;
  try {
    const vatom::CudaInfo info = vatom::cuda_info();
    if (info.devices == 0) throw std::runtime_error("no usable GPU: " + info.error);
    vatom::ThreadPool pool(8);
    cudaStream_t caller = nullptr;
    const cudaError_t status = cudaStreamCreateWithFlags(&caller, cudaStreamNonBlocking);
    if (status != cudaSuccess) throw std::runtime_error(std::string("cudaStreamCreate: ") + cudaGetErrorString(status));
    const vatom::DatasetSpec paper = make_spec(512, 200, 1000, 1, 200, 10, 300, 0, 0);
    const vatom::DatasetSpec odd = make_spec(37, 3, 40, 1, 30, 7, 6, 5, 1000);
    const struct {
      const char* name;
      const vatom::DatasetSpec& spec;
      cudaStream_t stream;
      std::vector<std::pair<int64_t, int64_t>> ranges;
      int misalign;
    } cases[] = {
        {"paper preset, 3 calls on the caller's stream, aligned", paper, caller, {{0, 1000}, {500, 2200}, {2900, 3000}}, 0},
        {"paper preset, 2 calls on the caller's stream, 1 byte off alignment", paper, caller, {{0, 700}, {900, 2000}}, 1},
        {"size 37, classes 1000+, 2 calls on the default stream", odd, nullptr, {{0, 20}, {5, 42}}, 0},
    };
    for (const auto& c : cases) {
      const int64_t bad = vatom::render_to_device_mismatch(c.spec, c.stream, c.ranges, c.misalign, pool);
      std::printf("%s render_to_device, %s%s\n", bad < 0 ? "ok  " : "FAIL", c.name,
                  bad < 0 ? "" : (": first differing image " + std::to_string(bad)).c_str());
      (bad < 0 ? passed : failed) += 1;
    }
    cudaStreamDestroy(caller);
  } catch (const std::exception& e) {
    std::printf("FAIL %s\n", e.what());
    ++failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
