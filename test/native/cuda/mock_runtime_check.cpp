// vatom-cuda-mock-check: the CUDA renderer's host code (cuda_renderer.cpp: batching, streams, events,
// pinned buffers, 2-D copies, class tables, launch plans, failure handling) run against the stand-in CUDA
// runtime of mock_runtime.hpp, in which "device memory" is host memory, every stream is a worker thread
// that runs its operations in order after random delays, and a kernel launch runs the emulated kernel
// (kernel_emulation.hpp). The images must equal the CPU renderer's: a missing wait or a buffer reused
// too early shows up as wrong bytes. Then the failures a GPU can have: a driver older than the runtime,
// device or pinned memory that runs short (smaller batches, same bytes) or out, a launch that fails, a
// kernel that faults; each must be a std::runtime_error with a message that says what happened. Needs
// the CUDA headers, not a GPU; the real kernel is checked on a GPU by bench/gpu-check.sh.
//
//   vatom-cuda-mock-check     prints "N passed, N failed", exit 1 on a failure
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda_api.hpp"
#include "dataset.hpp"
#include "generators/visualatom/visualatom.hpp"
#include "mock_runtime.hpp"
#include "render_to_device_check.hpp"
#include "thread_pool.hpp"

// ---- The checks.

namespace {

using namespace vatom;

int passed = 0, failed = 0;

void report(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  (ok ? passed : failed) += 1;
}

DatasetSpec make_spec(int32_t size, int32_t qmin, int32_t qmax, int32_t kmin, int32_t kmax, int64_t classes,
                      int64_t instances, uint64_t seed, int32_t start_pos, int64_t start_class) {
  DatasetSpec s;
  s.config.image_size = size;
  s.config.vertices_min = qmin;
  s.config.vertices_max = qmax;
  s.config.orbits_min = kmin;
  s.config.orbits_max = kmax;
  if (start_pos >= 0) s.config.start_pos = start_pos;
  s.seed = seed;
  s.start_class = start_class;
  s.classes = classes;
  s.instances = instances;
  s.params = philox_class_params(s.config, s.seed, s.start_class, s.classes);
  return s;
}

struct Env {
  const char* threads;
  const char* band;
  const char* blocks;
  const char* batch;
};

void set_env(const Env& e) {
  setenv("VATOM_CUDA_THREADS", e.threads, 1);
  setenv("VATOM_CUDA_BAND_ROWS", e.band, 1);
  setenv("VATOM_CUDA_BLOCKS_PER_SM", e.blocks, 1);
  setenv("VATOM_CUDA_BATCH", e.batch, 1);
}

// Renders `ranges` (consecutive calls on one renderer) on the mock and on the CPU.
void check(const std::string& name, const DatasetSpec& spec, const Env& env,
           const std::vector<std::pair<int64_t, int64_t>>& ranges, ThreadPool& pool) {
  set_env(env);
  const int launches_before = mock::launches(), copies_before = mock::copies_2d();
  std::unique_ptr<CudaRenderer> gpu = make_cuda_renderer(spec);
  std::unique_ptr<ImageRenderer> cpu = make_philox_renderer(spec);
  const int64_t bytes = spec.image_bytes();
  int64_t first_bad = -1, images = 0;
  for (const auto& r : ranges) {
    const int64_t n = r.second - r.first;
    std::vector<uint8_t> a(static_cast<size_t>(n * bytes)), b(static_cast<size_t>(n * bytes), 0x77);
    cpu->render(r.first, r.second, a.data(), pool);
    gpu->render(r.first, r.second, b.data(), pool);
    gpu->render_on_device(r.first, r.second);
    for (int64_t i = 0; i < n && first_bad < 0; ++i) {
      if (std::memcmp(a.data() + i * bytes, b.data() + i * bytes, static_cast<size_t>(bytes)) != 0) first_bad = r.first + i;
    }
    images += n;
  }
  char what[512];
  std::snprintf(what, sizeof what, "%s: %lld images in %zu calls, %d launches, %d 2-D copies [%s]%s", name.c_str(),
                static_cast<long long>(images), ranges.size(), mock::launches() - launches_before,
                mock::copies_2d() - copies_before,
                gpu->device_description().c_str(),
                first_bad < 0 ? "" : (" first differing image " + std::to_string(first_bad)).c_str());
  report(first_bad < 0, what);
}

}  // namespace

void report_render_to_device(const std::string& name, const DatasetSpec& spec, cudaStream_t stream,
                             const std::vector<std::pair<int64_t, int64_t>>& ranges, int misalign, ThreadPool& pool) {
  set_env({"", "", "", "3"});
  const int64_t bad = render_to_device_mismatch(spec, stream, ranges, misalign, pool);
  report(bad < 0, "render_to_device, " + name + (bad < 0 ? "" : ": first differing image " + std::to_string(bad)));
}

// What make_cuda_renderer and one render call throw (empty: nothing) under the faults in force.
// (A CudaOutOfMemory says so: "[CudaOutOfMemory] " before its message.)
std::string failure_of(const DatasetSpec& spec, int64_t begin, int64_t end, ThreadPool& pool, bool on_device = false) {
  try {
    std::unique_ptr<CudaRenderer> gpu = make_cuda_renderer(spec);
    std::vector<uint8_t> out(static_cast<size_t>((end - begin) * spec.image_bytes()));
    if (on_device) gpu->render_on_device(begin, end);
    else gpu->render(begin, end, out.data(), pool);
  } catch (const CudaOutOfMemory& e) {
    return std::string("[CudaOutOfMemory] ") + e.what();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& part : parts) {
    if (text.find(part) == std::string::npos) return false;
  }
  return true;
}

void report_failure(const std::string& what, const std::string& message, const std::vector<std::string>& parts) {
  report(contains(message, parts), what + ": \"" + message + "\"");
}

void check_failures(const DatasetSpec& paper, ThreadPool& pool) {
  set_env({"", "", "", ""});
  bool cancelled = false;
  try {
    std::unique_ptr<CudaRenderer> gpu = make_cuda_renderer(paper);
    std::vector<uint8_t> out(static_cast<size_t>(4 * paper.image_bytes()));
    gpu->cancel();
    gpu->render(0, 4, out.data(), pool);
  } catch (const Cancelled&) {
    cancelled = true;
  } catch (const std::exception&) {
  }
  report(cancelled, "a cancelled render throws Cancelled itself, not a wrapped error");
  mock::reset();
  mock::faults().driver_version = 12080;
  const CudaInfo info = cuda_info();
  report(info.devices == 0 && contains(info.error, {"CUDA 12.8", "runtime 13.0", "driver"}),
         "a driver older than the runtime: cuda_info reports no usable device: \"" + info.error + "\"");
  report_failure("a driver older than the runtime is refused up front", failure_of(paper, 0, 4, pool),
                 {"NVIDIA driver supports CUDA 12.8", "older than this build's CUDA runtime 13.0"});
  mock::reset();
  mock::faults().driver_version = 0;
  report_failure("no driver at all", failure_of(paper, 0, 4, pool), {"no NVIDIA driver"});

  // 20 images of 256 KiB: batches of 7 (a third of the call); device buffers of 2 images at most.
  mock::reset();
  mock::faults().malloc_limit = 2 * 512 * 512;
  check("device memory for 2 images per batch only (batches shrink, same bytes)", paper, {"", "", "", ""}, {{0, 20}}, pool);
  mock::reset();
  mock::faults().pinned_limit = 3 * 512 * 512;
  check("pinned memory for 3 images per batch only (batches shrink, same bytes)", paper, {"", "", "", ""}, {{0, 20}, {4, 9}},
        pool);
  mock::reset();
  mock::faults().malloc_limit = 100000;  // the class tables fit, not one image
  report_failure("no device memory even for one image", failure_of(paper, 0, 20, pool),
                 {"[CudaOutOfMemory] the GPU renderer failed on images [0, 20): out of memory", "one image", "GiB free"});
  mock::reset();
  mock::faults().launch_error = 2;
  report_failure("a launch that fails", failure_of(paper, 0, 20, pool),
                 {"images [0, 20)", "cudaErrorLaunchOutOfResources", "launch_render"});
  mock::reset();
  mock::faults().kernel_fault = 1;
  report_failure("a kernel that faults (rendering into host memory)", failure_of(paper, 0, 20, pool),
                 {"images [0, 20)", "cudaErrorIllegalAddress", "an illegal memory access"});
  mock::reset();
  mock::faults().kernel_fault = 3;
  report_failure("a kernel that faults (rendering into device memory)", failure_of(paper, 3, 20, pool, true),
                 {"images [3, 20)", "cudaErrorIllegalAddress"});
  mock::reset();
}

int main() {
  ThreadPool pool(4);
  const CudaInfo info = cuda_info();
  report(info.compiled && info.devices == 1 && info.names == "mock device (host emulation)",
         "cuda_info: compiled " + std::to_string(info.compiled) + ", " + std::to_string(info.devices) + " device(s): " +
             info.details);
  const DatasetSpec paper = make_spec(512, 200, 1000, 1, 200, 4, 5, 0, -1, 0);
  check("paper preset, default tuning", paper, {"", "", "", ""}, {{0, 20}}, pool);
  check("paper preset, batches of 3, 64 threads", paper, {"64", "0", "0", "3"}, {{0, 20}, {3, 11}, {19, 20}}, pool);
  check("paper preset, band of 300 rows, 1024 threads, 1 block/SM, batches of 2", paper, {"1024", "300", "1", "2"},
        {{5, 17}}, pool);
  const DatasetSpec odd = make_spec(37, 3, 40, 1, 30, 7, 6, 5, 30, 1000);
  check("size 37 (pitched copies), classes 1000+, batches of 4", odd, {"96", "0", "0", "4"}, {{0, 42}, {13, 29}}, pool);
  check("size 37, whole canvas in shared memory, batches of 5", odd, {"32", "37", "2", "5"}, {{1, 40}}, pool);
  const DatasetSpec many = make_spec(96, 5000, 6000, 2, 3, 3, 3, 9, 20, 0);
  check("q 5000..6000 (vertex arrays in global scratch), batches of 2", many, {"256", "0", "0", "2"}, {{0, 9}}, pool);
  DatasetSpec reference = paper;
  reference.stream = StreamKind::Reference;
  bool refused = false;
  try {
    make_cuda_renderer(reference);
  } catch (const std::exception& e) {
    refused = std::string(e.what()).find("reference stream") != std::string::npos;
  }
  report(refused, "the reference stream is refused with a message that names it");
  set_env({"2000", "", "", ""});
  bool bad_env = false;
  try {
    make_cuda_renderer(paper);
  } catch (const std::exception& e) {
    bad_env = std::string(e.what()).find("VATOM_CUDA_THREADS") != std::string::npos;
  }
  report(bad_env, "a bad VATOM_CUDA_THREADS is refused with a message that names it");
  cudaStream_t caller = nullptr;
  cudaStreamCreateWithFlags(&caller, cudaStreamNonBlocking);
  report_render_to_device("paper preset, 3 calls on the caller's stream, aligned (the kernel writes there)", paper, caller,
                         {{0, 7}, {3, 11}, {12, 20}}, 0, pool);
  report_render_to_device("paper preset, 2 calls on the caller's stream, 1 byte off alignment (pitched copies)", paper,
                         caller, {{0, 7}, {9, 20}}, 1, pool);
  report_render_to_device("size 37, classes 1000+, 2 calls on the default stream", odd, nullptr, {{0, 20}, {5, 42}}, 0,
                         pool);
  cudaStreamDestroy(caller);
  check_failures(paper, pool);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
