// vatom-cuda-mock-check: the CUDA renderer's host code (cuda_renderer.cpp: batching, streams, events,
// pinned buffers, 2-D copies, class tables, launch plans) run against a stand-in for the CUDA runtime in
// which "device memory" is host memory, every stream is a worker thread that runs its operations in
// order after random delays, and a kernel launch runs the emulated kernel (kernel_emulation.hpp). The
// images must equal the CPU renderer's. A missing wait or a buffer reused too early shows up as wrong
// bytes. Needs the CUDA headers, not a GPU; the real kernel is checked on a GPU by bench/gpu-check.sh.
//
//   vatom-cuda-mock-check     prints "N passed, N failed", exit 1 on a failure
#include <cuda_runtime.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cuda_api.hpp"
#include "kernel_emulation.hpp"
#include "render_kernel.hpp"

// ---- The stand-in runtime.

struct CUstream_st {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  bool busy = false, stop = false;
  std::mt19937 rng{std::random_device{}()};
  std::thread worker;

  CUstream_st() {
    worker = std::thread([this] {
      for (;;) {
        std::function<void()> task;
        {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [this] { return stop || !queue.empty(); });
          if (queue.empty()) return;
          task = std::move(queue.front());
          queue.pop_front();
          busy = true;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
        task();
        {
          std::lock_guard<std::mutex> lock(m);
          busy = false;
        }
        cv.notify_all();
      }
    });
  }
  ~CUstream_st() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    worker.join();
  }
  void push(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(m);
      queue.push_back(std::move(f));
    }
    cv.notify_all();
  }
  void wait_idle() {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [this] { return queue.empty() && !busy; });
  }
};

struct CUevent_st {
  std::mutex m;
  std::condition_variable cv;
  uint64_t recorded = 0, done = 0;
};

namespace {

int launches = 0, copies_2d = 0;
std::mutex counters;

cudaDeviceProp mock_props() {
  cudaDeviceProp p;
  std::memset(&p, 0, sizeof p);
  std::snprintf(p.name, sizeof p.name, "mock device (host emulation)");
  p.major = 9;
  p.minor = 0;
  p.multiProcessorCount = 3;
  p.totalGlobalMem = 80ull << 30;
  p.sharedMemPerBlockOptin = 232448;
  p.sharedMemPerMultiprocessor = 233472;
  p.reservedSharedMemPerBlock = 1024;
  p.l2CacheSize = 50 << 20;
  p.memoryBusWidth = 5120;
  return p;
}

}  // namespace

extern "C" {

cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) { *count = 1; return cudaSuccess; }
cudaError_t CUDARTAPI cudaSetDevice(int) { return cudaSuccess; }
cudaError_t CUDARTAPI cudaGetDeviceProperties(cudaDeviceProp* prop, int) { *prop = mock_props(); return cudaSuccess; }
cudaError_t CUDARTAPI cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  *value = attr == cudaDevAttrClockRate ? 1980000 : attr == cudaDevAttrMemoryClockRate ? 2619000 : 0;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t CUDARTAPI cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
const char* CUDARTAPI cudaGetErrorName(cudaError_t) { return "cudaErrorMock"; }
const char* CUDARTAPI cudaGetErrorString(cudaError_t) { return "mock error"; }
cudaError_t CUDARTAPI cudaGetLastError(void) { return cudaSuccess; }
cudaError_t CUDARTAPI cudaMalloc(void** p, size_t n) {
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  std::memset(*p, 0xEE, n);  // device memory starts undefined
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t CUDARTAPI cudaFree(void* p) { std::free(p); return cudaSuccess; }
cudaError_t CUDARTAPI cudaHostAlloc(void** p, size_t n, unsigned int) {
  *p = std::aligned_alloc(4096, (n + 4095) / 4096 * 4096);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t CUDARTAPI cudaFreeHost(void* p) { std::free(p); return cudaSuccess; }
cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) { *s = new CUstream_st; return cudaSuccess; }
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t s) { s->wait_idle(); return cudaSuccess; }
cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) { *e = new CUevent_st; return cudaSuccess; }
cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(e->m);
    target = ++e->recorded;
  }
  s->push([e, target] {
    {
      std::lock_guard<std::mutex> lock(e->m);
      if (e->done < target) e->done = target;
    }
    e->cv.notify_all();
  });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t e) {
  std::unique_lock<std::mutex> lock(e->m);
  const uint64_t target = e->recorded;
  e->cv.wait(lock, [e, target] { return e->done >= target; });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t s) {
  s->push([=] { std::memcpy(dst, src, n); });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                                        size_t height, cudaMemcpyKind, cudaStream_t s) {
  {
    std::lock_guard<std::mutex> lock(counters);
    ++copies_2d;
  }
  s->push([=] {
    for (size_t r = 0; r < height; ++r) {
      std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
    }
  });
  return cudaSuccess;
}

}  // extern "C"

// ---- The launcher of render_kernel.cu, on the stand-in.

namespace vatom {
namespace cuda {

cudaError_t launch_render(const KernelParams& p, int grid, int threads, size_t shared_bytes, cudaStream_t stream) {
  const WorkLayout l = work_layout(p.qcap, static_cast<int64_t>(p.band_rows) * p.size, p.scratch == nullptr);
  if (grid < 1 || threads < 1 || threads > kMaxThreads || static_cast<int64_t>(shared_bytes) < l.shared_bytes ||
      shared_bytes > mock_props().sharedMemPerBlockOptin) {
    std::fprintf(stderr, "bad launch: grid %d threads %d shared %zu (needs %lld)\n", grid, threads, shared_bytes,
                 static_cast<long long>(l.shared_bytes));
    return cudaErrorInvalidValue;
  }
  {
    std::lock_guard<std::mutex> lock(counters);
    ++launches;
  }
  stream->push([=] { emulate_kernel(p, grid, threads, static_cast<uint64_t>(p.begin) * 7919 + grid, 2); });
  return cudaSuccess;
}

cudaError_t allow_render_shared_bytes(size_t) { return cudaSuccess; }

cudaError_t render_blocks_per_sm(int threads, size_t shared_bytes, int* blocks) {
  const cudaDeviceProp p = mock_props();
  int b = 2048 / threads;
  const int by_shared = static_cast<int>(p.sharedMemPerMultiprocessor / (shared_bytes + p.reservedSharedMemPerBlock));
  if (by_shared < b) b = by_shared;
  *blocks = b < 32 ? b : 32;
  return cudaSuccess;
}

cudaError_t render_kernel_attributes(cudaFuncAttributes* a) {
  std::memset(a, 0, sizeof *a);
  return cudaSuccess;
}

}  // namespace cuda
}  // namespace vatom

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
  const int launches_before = launches, copies_before = copies_2d;
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
                static_cast<long long>(images), ranges.size(), launches - launches_before, copies_2d - copies_before,
                gpu->device_description().c_str(),
                first_bad < 0 ? "" : (" first differing image " + std::to_string(first_bad)).c_str());
  report(first_bad < 0, what);
}

}  // namespace

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
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
