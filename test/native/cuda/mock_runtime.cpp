// The stand-in CUDA runtime of mock_runtime.hpp.
#include "mock_runtime.hpp"

#include <cuda_runtime.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "kernel_emulation.hpp"
#include "render_kernel.hpp"

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

// The legacy default stream (a null cudaStream_t).
CUstream_st* stream_or_default(cudaStream_t s) {
  static CUstream_st default_stream;
  return s ? s : &default_stream;
}

struct CUevent_st {
  std::mutex m;
  std::condition_variable cv;
  uint64_t recorded = 0, done = 0;
};

namespace {

int launch_count = 0, copy_2d_count = 0;
std::mutex counters;
std::atomic<cudaError_t> sticky{cudaSuccess};  // a kernel fault poisons the context, as on a GPU

mock::Faults from_environment() {
  mock::Faults f;
  const char* s = std::getenv("VATOM_MOCK_CUDA");
  std::string spec = s ? s : "";
  size_t at = 0;
  while (at < spec.size()) {
    size_t comma = spec.find(',', at);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = spec.substr(at, comma - at);
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    const long long value = eq == std::string::npos ? 1 : std::atoll(item.c_str() + eq + 1);
    if (name == "driver") f.driver_version = static_cast<int>(value);
    else if (name == "malloc-limit") f.malloc_limit = value;
    else if (name == "pinned-limit") f.pinned_limit = value;
    else if (name == "launch-error") f.launch_error = static_cast<int>(value);
    else if (name == "kernel-fault") f.kernel_fault = static_cast<int>(value);
    else {
      std::fprintf(stderr, "VATOM_MOCK_CUDA: unknown fault %s\n", name.c_str());
      std::exit(2);
    }
    at = comma + 1;
  }
  return f;
}

// Operations queued behind a fault report it instead of running.
cudaError_t status_now() { return sticky.load(); }

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

namespace mock {
Faults& faults() {
  static Faults f = from_environment();
  return f;
}
void reset() {
  faults() = Faults{};
  sticky = cudaSuccess;
  std::lock_guard<std::mutex> lock(counters);
  launch_count = 0;
}
int launches() {
  std::lock_guard<std::mutex> lock(counters);
  return launch_count;
}
int copies_2d() {
  std::lock_guard<std::mutex> lock(counters);
  return copy_2d_count;
}
}  // namespace mock

extern "C" {

cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) { *count = 1; return cudaSuccess; }
cudaError_t CUDARTAPI cudaSetDevice(int) { return cudaSuccess; }
cudaError_t CUDARTAPI cudaGetDeviceProperties(cudaDeviceProp* prop, int) { *prop = mock_props(); return cudaSuccess; }
cudaError_t CUDARTAPI cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  *value = attr == cudaDevAttrClockRate ? 1980000 : attr == cudaDevAttrMemoryClockRate ? 2619000 : 0;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaDeviceGetPCIBusId(char* id, int length, int) {
  std::snprintf(id, static_cast<size_t>(length), "0000:00:00.0");
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaDriverGetVersion(int* v) { *v = mock::faults().driver_version; return cudaSuccess; }
cudaError_t CUDARTAPI cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
const char* CUDARTAPI cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    default: return "cudaErrorUnknown";
  }
}
const char* CUDARTAPI cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorInvalidValue: return "invalid argument";
    default: return "unknown error";
  }
}
cudaError_t CUDARTAPI cudaGetLastError(void) { return status_now(); }
cudaError_t CUDARTAPI cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = 1ull << 30;
  *total_bytes = mock_props().totalGlobalMem;
  return status_now();
}
cudaError_t CUDARTAPI cudaMalloc(void** p, size_t n) {
  if (status_now() != cudaSuccess) return status_now();
  const int64_t limit = mock::faults().malloc_limit;
  if (limit >= 0 && static_cast<int64_t>(n) > limit) {
    *p = nullptr;
    return cudaErrorMemoryAllocation;
  }
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  if (!*p) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xEE, n);  // device memory starts undefined
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaFree(void* p) { std::free(p); return status_now(); }
cudaError_t CUDARTAPI cudaHostAlloc(void** p, size_t n, unsigned int) {
  if (status_now() != cudaSuccess) return status_now();
  const int64_t limit = mock::faults().pinned_limit;
  if (limit >= 0 && static_cast<int64_t>(n) > limit) {
    *p = nullptr;
    return cudaErrorMemoryAllocation;
  }
  *p = std::aligned_alloc(4096, (n + 4095) / 4096 * 4096);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t CUDARTAPI cudaFreeHost(void* p) { std::free(p); return cudaSuccess; }
cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) { *s = new CUstream_st; return cudaSuccess; }
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t s) { stream_or_default(s)->wait_idle(); return status_now(); }
cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) { *e = new CUevent_st; return cudaSuccess; }
cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (status_now() != cudaSuccess) return status_now();
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(e->m);
    target = ++e->recorded;
  }
  stream_or_default(s)->push([e, target] {
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
  return status_now();
}
cudaError_t CUDARTAPI cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t s) {
  if (status_now() != cudaSuccess) return status_now();
  stream_or_default(s)->push([=] { std::memset(p, value, n); });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  if (status_now() != cudaSuccess) return status_now();
  std::memcpy(dst, src, n);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t s) {
  if (status_now() != cudaSuccess) return status_now();
  stream_or_default(s)->push([=] {
    if (status_now() == cudaSuccess) std::memcpy(dst, src, n);
  });
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                                        size_t height, cudaMemcpyKind, cudaStream_t s) {
  if (status_now() != cudaSuccess) return status_now();
  {
    std::lock_guard<std::mutex> lock(counters);
    ++copy_2d_count;
  }
  stream_or_default(s)->push([=] {
    if (status_now() != cudaSuccess) return;
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
  if (status_now() != cudaSuccess) return status_now();
  const WorkLayout l = work_layout(p.qcap, static_cast<int64_t>(p.band_rows) * p.size, p.scratch == nullptr);
  if (grid < 1 || threads < 1 || threads > kMaxThreads || static_cast<int64_t>(shared_bytes) < l.shared_bytes ||
      shared_bytes > mock_props().sharedMemPerBlockOptin) {
    std::fprintf(stderr, "bad launch: grid %d threads %d shared %zu (needs %lld)\n", grid, threads, shared_bytes,
                 static_cast<long long>(l.shared_bytes));
    return cudaErrorInvalidValue;
  }
  int number;
  {
    std::lock_guard<std::mutex> lock(counters);
    number = ++launch_count;
  }
  if (number == mock::faults().launch_error) return cudaErrorLaunchOutOfResources;
  const bool fault = number == mock::faults().kernel_fault;
  stream_or_default(stream)->push([=] {
    if (status_now() != cudaSuccess) return;
    if (fault) {
      sticky = cudaErrorIllegalAddress;
      return;
    }
    try {
      emulate_kernel(p, grid, threads, static_cast<uint64_t>(p.begin) * 7919 + grid, 2);
    } catch (const std::exception& e) {  // barrier divergence: as a kernel that fails on a GPU
      std::fprintf(stderr, "mock CUDA runtime: %s\n", e.what());
      sticky = cudaErrorLaunchFailure;
    }
  });
  return cudaSuccess;
}

cudaError_t set_render_carveout(int percent) {
  return percent >= -1 && percent <= 100 ? cudaSuccess : cudaErrorInvalidValue;
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

