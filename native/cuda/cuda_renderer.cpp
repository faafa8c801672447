// The CUDA renderer of the default stream (cuda_api.hpp): batches of images per launch on several
// streams, each batch copied back into a pinned buffer while the next renders, and from there into the
// caller's memory on the thread pool.
//
// Tuning, for benchmarks only (the bytes never depend on it), from the environment:
//   VATOM_CUDA_THREADS        threads per block (32..1024, default 256)
//   VATOM_CUDA_BAND_ROWS      canvas rows drawn in shared memory (default 0: the canvas is in global memory)
//   VATOM_CUDA_BLOCKS_PER_SM  at most this many blocks per SM (default 0: as many as fit)
//   VATOM_CUDA_BATCH          images per launch (default: two waves of resident blocks, at least 128 MiB)
//   VATOM_CUDA_CARVEOUT       shared-memory carveout in percent (-1: the driver's choice; default: what
//                             the resident blocks need, so that their number never depends on the driver)
//
// Failures: every CUDA error becomes a std::runtime_error naming the images, the call and the error (the
// callers turn it into a message and an exit status); a device or pinned allocation that fails halves
// the batch until it fits, and says so when even one image does not.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "class_tables.hpp"
#include "cuda_api.hpp"
#include "cuda_status.hpp"
#include "render_kernel.hpp"

namespace vatom {

namespace {

using cuda::KernelParams;
using cuda::WorkLayout;

constexpr int kSlots = 3;  // batches in flight: rendering, copying back, being copied out on the host

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (*end != '\0' || v < lo || v > hi) {
    throw std::runtime_error(std::string("Expected an integer from ") + std::to_string(lo) + " to " +
                             std::to_string(hi) + " for " + name + " but received " + s);
  }
  return static_cast<int>(v);
}

// Why cudaGetDeviceCount found no device, in words a user can act on.
std::string no_device_reason(cudaError_t status) {
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  const std::string version = std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
  switch (status) {
    case cudaSuccess:
    case cudaErrorNoDevice:
      return "no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)";
    case cudaErrorInsufficientDriver:
      return "no NVIDIA driver was found, or it is older than this build's CUDA runtime " + version +
             " (cudaErrorInsufficientDriver)";
    default:
      return std::string("CUDA cannot start: ") + cudaGetErrorName(status) + ": " + cudaGetErrorString(status);
  }
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

// Why this process's driver cannot run this build's CUDA runtime, or "". A driver of the same major
// version but an older minor one runs it (CUDA minor version compatibility).
std::string driver_problem() {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  if (driver == 0) return "no NVIDIA driver is installed: libcuda.so was not found, so CUDA cannot start";
  if (driver / 1000 < runtime / 1000) {
    return "the NVIDIA driver supports CUDA " + version_text(driver) + ", older than this build's CUDA runtime " +
           version_text(runtime) + ": install a driver for CUDA " + version_text(runtime) +
           " or later (nvidia-smi shows the driver's CUDA version), or rebuild with an older CUDA toolkit";
  }
  return "";
}

std::string describe(const cudaDeviceProp& p) {
  char s[96];
  std::snprintf(s, sizeof s, " (sm_%d%d, %d SMs, %.1f GiB)", p.major, p.minor, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1u << 30));
  return p.name + std::string(s);
}

std::string details(int device, const cudaDeviceProp& p) {
  int clock_khz = 0, memory_khz = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, device);
  char bus[32] = "unknown";
  if (cudaDeviceGetPCIBusId(bus, sizeof bus, device) != cudaSuccess) std::snprintf(bus, sizeof bus, "unknown");
  char s[768];
  std::snprintf(s, sizeof s,
                "device %d: %s, compute capability %d.%d, %d SMs, %.1f GiB memory (%d-bit bus, %d MHz), "
                "L2 %.0f MiB, shared memory %zu KiB per SM (%zu per block opt-in), SM clock %d MHz (maximum), "
                "PCI bus %s",
                device, p.name, p.major, p.minor, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1u << 30), p.memoryBusWidth, memory_khz / 1000,
                p.l2CacheSize / 1048576.0, p.sharedMemPerMultiprocessor / 1024, p.sharedMemPerBlockOptin / 1024,
                clock_khz / 1000, bus);
  return s;
}

// Device memory that frees itself.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { if (p_) cudaFree(p_); }
  // Makes room for n bytes (contents are not kept); on failure the buffer is empty.
  cudaError_t try_reserve(size_t n) {
    if (n <= size_) return cudaSuccess;
    if (p_) CUDA_CHECK(cudaFree(p_));
    p_ = nullptr;
    size_ = 0;
    const cudaError_t status = cudaMalloc(&p_, n);
    if (status != cudaSuccess) {
      p_ = nullptr;
      return status;
    }
    size_ = n;
    return cudaSuccess;
  }
  void reserve(size_t n) { CUDA_CHECK(try_reserve(n)); }
  void release() {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    size_ = 0;
  }
  uint8_t* data() const { return static_cast<uint8_t*>(p_); }

 private:
  void* p_ = nullptr;
  size_t size_ = 0;
};

// Page-locked host memory (device-to-host copies at full speed, asynchronously).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { if (p_) cudaFreeHost(p_); }
  cudaError_t try_reserve(size_t n) {
    if (n <= size_) return cudaSuccess;
    if (p_) CUDA_CHECK(cudaFreeHost(p_));
    p_ = nullptr;
    size_ = 0;
    const cudaError_t status = cudaHostAlloc(&p_, n, cudaHostAllocDefault);
    if (status != cudaSuccess) {
      p_ = nullptr;
      return status;
    }
    size_ = n;
    return cudaSuccess;
  }
  void release() {
    if (p_) cudaFreeHost(p_);
    p_ = nullptr;
    size_ = 0;
  }
  uint8_t* data() const { return static_cast<uint8_t*>(p_); }

 private:
  void* p_ = nullptr;
  size_t size_ = 0;
};

// How the kernel is launched for a given vertex capacity.
struct Plan {
  int32_t qcap = -1;
  int threads = 0;
  int band_rows = 0;
  bool vertices_shared = true;
  size_t shared_bytes = 0;
  int64_t vertex_bytes = 0;
  int blocks_per_sm = 0;
  int carveout = -1;     // percent, or -1: the driver's choice
  int resident = 0;      // blocks resident on the whole device
  int64_t batch = 0;     // images per launch
};

bool out_of_memory(cudaError_t status) {
  return status == cudaErrorMemoryAllocation;
}

class CudaRendererImpl final : public CudaRenderer {
 public:
  explicit CudaRendererImpl(const DatasetSpec& spec) : spec_(spec), stride_(cuda::image_stride(spec.config.image_size)) {
    if (spec.stream != StreamKind::Philox) {
      throw std::runtime_error(
          "the CUDA renderer draws the default stream (--rng philox) only: the reference stream is sequential "
          "and renders on the CPU (use --device cpu)");
    }
    const std::string driver = driver_problem();
    if (!driver.empty()) throw std::runtime_error(driver);
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) throw std::runtime_error(no_device_reason(status));
    threads_ = env_int("VATOM_CUDA_THREADS", 256, 32, cuda::kMaxThreads) / 32 * 32;
    band_rows_ = env_int("VATOM_CUDA_BAND_ROWS", 0, 0, 1 << 30);
    blocks_per_sm_ = env_int("VATOM_CUDA_BLOCKS_PER_SM", 0, 0, 64);
    batch_ = env_int("VATOM_CUDA_BATCH", 0, 0, 1 << 30);
    carveout_ = env_int("VATOM_CUDA_CARVEOUT", -2, -1, 100);
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaGetDeviceProperties(&props_, 0));
    CUDA_CHECK(cudaFree(nullptr));  // creates the context now rather than in the first timed call
    cudaFuncAttributes attributes;
    const cudaError_t image = cuda::render_kernel_attributes(&attributes);
    if (image != cudaSuccess) {
      int runtime = 0;
      cudaRuntimeGetVersion(&runtime);
      throw std::runtime_error(std::string("the CUDA kernels of this build cannot run on ") + describe(props_) +
                               ": " + cudaGetErrorName(image) + ": " + cudaGetErrorString(image) +
                               " (rebuild with this GPU's architecture in CMAKE_CUDA_ARCHITECTURES, or update the "
                               "driver: a GPU newer than the build compiles its PTX, which needs a driver for CUDA " +
                               version_text(runtime) + " or later)");
    }
    CUDA_CHECK(cuda::allow_render_shared_bytes(props_.sharedMemPerBlockOptin));
    for (int s = 0; s < kSlots; ++s) {
      CUDA_CHECK(cudaStreamCreateWithFlags(&streams_[s], cudaStreamNonBlocking));
      CUDA_CHECK(cudaEventCreateWithFlags(&copied_[s], cudaEventDisableTiming));
    }
    CUDA_CHECK(cudaEventCreateWithFlags(&caller_done_, cudaEventDisableTiming));
    // The batch follows from the dataset's largest vertex count, so that buffers keep their size from
    // call to call (a range's own plan only changes the launch shape).
    batch_images_ = plan_for(spec.config.vertices_max).batch;
  }

  ~CudaRendererImpl() override {
    for (int s = 0; s < kSlots; ++s) {
      if (streams_[s]) {
        cudaStreamSynchronize(streams_[s]);
        cudaStreamDestroy(streams_[s]);
      }
      if (copied_[s]) cudaEventDestroy(copied_[s]);
    }
    if (caller_done_) {
      if (caller_pending_) cudaEventSynchronize(caller_done_);
      cudaEventDestroy(caller_done_);
    }
  }

  void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) override {
    if (end <= begin) return;
    with_context(begin, end, [&] { render_to_host(begin, end, out, pool); });
  }

  double render_on_device(int64_t begin, int64_t end) override {
    if (end <= begin) return 0;
    double seconds = 0;
    with_context(begin, end, [&] {
      prepare(begin, end, false);
      const int64_t batch = batch_for(end - begin);
      SyncOnExit sync(streams_);
      const auto started = std::chrono::steady_clock::now();
      int slot = 0;
      for (int64_t first = begin; first < end; first += batch, slot = (slot + 1) % kSlots) {
        launch(slot, first, std::min(batch, end - first));
      }
      for (int s = 0; s < kSlots; ++s) CUDA_CHECK(cudaStreamSynchronize(streams_[s]));
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    });
    return seconds;
  }

  void render_to_device(int64_t begin, int64_t end, uint8_t* out, void* stream) override {
    if (end <= begin) return;
    with_context(begin, end, [&] {
      cudaStream_t caller = static_cast<cudaStream_t>(stream);
      prepare(begin, end, false);
      // Until the work queued here is done, the class tables and buffers are the caller stream's: the
      // next prepare() waits for this event, also after a failure half-way.
      struct RecordOnExit {
        CudaRendererImpl& r;
        cudaStream_t stream;
        ~RecordOnExit() { r.caller_pending_ = cudaEventRecord(r.caller_done_, stream) == cudaSuccess; }
      } record{*this, caller};
      const int64_t bytes = spec_.image_bytes();
      // The kernel's vector stores want 16-byte aligned image starts; otherwise batches go through the
      // renderer's own buffer and a pitched copy on the caller's stream.
      const bool direct = stride_ == bytes && reinterpret_cast<uintptr_t>(out) % 16 == 0;
      const int64_t batch = batch_for(end - begin);
      for (int64_t first = begin; first < end; first += batch) {
        const int64_t n = std::min(batch, end - first);
        uint8_t* target = out + (first - begin) * bytes;
        launch_into(first, n, direct ? target : device_out_[0].data(), scratch_[0].data(), caller);
        if (!direct) {
          CUDA_CHECK(cudaMemcpy2DAsync(target, static_cast<size_t>(bytes), device_out_[0].data(),
                                       static_cast<size_t>(stride_), static_cast<size_t>(bytes), static_cast<size_t>(n),
                                       cudaMemcpyDeviceToDevice, caller));
        }
      }
    });
  }

  double copy_bandwidth(int64_t bytes, int repeats) override {
    if (bytes <= 0 || repeats < 1) return 0;
    DeviceBuffer device;
    PinnedBuffer host;
    device.reserve(static_cast<size_t>(bytes));
    CUDA_CHECK(host.try_reserve(static_cast<size_t>(bytes)));
    CUDA_CHECK(cudaMemsetAsync(device.data(), 0, static_cast<size_t>(bytes), streams_[0]));
    auto copy = [&] {
      CUDA_CHECK(cudaMemcpyAsync(host.data(), device.data(), static_cast<size_t>(bytes), cudaMemcpyDeviceToHost,
                                 streams_[0]));
      CUDA_CHECK(cudaStreamSynchronize(streams_[0]));
    };
    copy();
    const auto started = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) copy();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return static_cast<double>(bytes) * repeats / s;
  }

  std::string device_description() const override {
    char s[768];
    std::snprintf(s, sizeof s,
                  "%s; %d threads/block, %d canvas rows in shared memory, vertex arrays in %s memory, %zu bytes of "
                  "shared memory per block, carveout %s, %d blocks/SM (%d resident), %lld images/launch%s",
                  describe(props_).c_str(), plan_.threads, plan_.band_rows, plan_.vertices_shared ? "shared" : "global",
                  plan_.shared_bytes,
                  plan_.carveout < 0 ? "driver's choice" : (std::to_string(plan_.carveout) + "%").c_str(),
                  plan_.blocks_per_sm, plan_.resident, static_cast<long long>(batch_images_),
                  memory_limited_ ? " (fewer than planned: device or pinned memory ran short)" : "");
    return plan_.qcap < 0 ? describe(props_) : std::string(s);
  }

  int64_t preferred_chunk_images() const override { return 4 * batch_images_; }

 private:
  // Waits for the streams when a render call ends, also by an exception, so that no copy into a
  // buffer outlives the call that owns it.
  struct SyncOnExit {
    cudaStream_t* streams;
    explicit SyncOnExit(cudaStream_t* s) : streams(s) {}
    ~SyncOnExit() {
      for (int s = 0; s < kSlots; ++s) cudaStreamSynchronize(streams[s]);
    }
  };

  static std::string where(int64_t begin, int64_t end) {
    return "the GPU renderer failed on images [" + std::to_string(begin) + ", " + std::to_string(end) + "): ";
  }

  // Runs body; a failure becomes a std::runtime_error that names the images as well (a cancellation
  // stays a Cancelled, running out of memory a CudaOutOfMemory or std::bad_alloc).
  template <class Body>
  void with_context(int64_t begin, int64_t end, Body&& body) {
    try {
      body();
    } catch (const Cancelled&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const CudaOutOfMemory& e) {
      throw CudaOutOfMemory(where(begin, end) + e.what());
    } catch (const std::exception& e) {
      throw std::runtime_error(where(begin, end) + e.what());
    }
  }

  void render_to_host(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) {
    prepare(begin, end, true);
    const int64_t bytes = spec_.image_bytes();
    const int64_t batch = batch_for(end - begin);
    struct InFlight {
      int64_t first = 0, count = 0;
    } in_flight[kSlots];
    SyncOnExit sync(streams_);
    // Waits for slot s's batch and copies it from the pinned buffer to `out`.
    auto collect = [&](int s) {
      if (in_flight[s].count == 0) return;
      CUDA_CHECK(cudaEventSynchronize(copied_[s]));
      copy_out(out + (in_flight[s].first - begin) * bytes, pinned_[s].data(), in_flight[s].count * bytes, pool);
      in_flight[s].count = 0;
    };
    int slot = 0;
    for (int64_t first = begin; first < end; first += batch, slot = (slot + 1) % kSlots) {
      throw_if_cancelled();  // between batches: a batch in flight finishes (SyncOnExit waits for it)
      collect(slot);
      const int64_t n = std::min(batch, end - first);
      launch(slot, first, n);
      if (stride_ == bytes) {
        CUDA_CHECK(cudaMemcpyAsync(pinned_[slot].data(), device_out_[slot].data(), static_cast<size_t>(n * bytes),
                                   cudaMemcpyDeviceToHost, streams_[slot]));
      } else {
        CUDA_CHECK(cudaMemcpy2DAsync(pinned_[slot].data(), static_cast<size_t>(bytes), device_out_[slot].data(),
                                     static_cast<size_t>(stride_), static_cast<size_t>(bytes), static_cast<size_t>(n),
                                     cudaMemcpyDeviceToHost, streams_[slot]));
      }
      CUDA_CHECK(cudaEventRecord(copied_[slot], streams_[slot]));
      in_flight[slot] = InFlight{first, n};
    }
    for (int k = 0; k < kSlots; ++k) collect((slot + k) % kSlots);
  }

  Plan plan_for(int32_t max_vertices) const {
    Plan p;
    p.qcap = (std::max(max_vertices, 4) + 3) / 4 * 4;
    p.threads = threads_;
    const int64_t size = spec_.config.image_size;
    const int64_t optin = static_cast<int64_t>(props_.sharedMemPerBlockOptin);
    const WorkLayout bare = cuda::work_layout(p.qcap, 0, false);
    p.vertex_bytes = bare.vertex_bytes;
    p.vertices_shared = bare.shared_bytes + bare.vertex_bytes <= optin;
    const int64_t room = optin - bare.shared_bytes - (p.vertices_shared ? bare.vertex_bytes : 0);
    p.band_rows = static_cast<int>(std::min<int64_t>({static_cast<int64_t>(band_rows_), size, room / size}));
    // The band's rounding to 16 bytes must fit too.
    while (p.band_rows > 0 &&
           cuda::work_layout(p.qcap, p.band_rows * size, p.vertices_shared).shared_bytes > optin) {
      --p.band_rows;
    }
    int64_t shared = cuda::work_layout(p.qcap, p.band_rows * size, p.vertices_shared).shared_bytes;
    const int64_t per_sm = static_cast<int64_t>(props_.sharedMemPerMultiprocessor);
    const int64_t reserved = static_cast<int64_t>(props_.reservedSharedMemPerBlock);
    if (blocks_per_sm_ > 0) {
      const int64_t fewer = per_sm / (blocks_per_sm_ + 1) - reserved + 1;  // (fewer + reserved) * (b + 1) > per_sm
      shared = std::min(optin, std::max(shared, fewer));
    }
    p.shared_bytes = static_cast<size_t>(shared);
    // Blocks per SM with all of the SM's shared memory, then the carveout those blocks need: so their
    // number is this plan's and not the driver's choice, and the rest stays L1 cache.
    CUDA_CHECK(cuda::set_render_carveout(100));
    int most_blocks = 0;
    CUDA_CHECK(cuda::render_blocks_per_sm(p.threads, p.shared_bytes, &most_blocks));
    if (most_blocks < 1) {
      throw std::runtime_error("the CUDA kernel cannot be launched with " + std::to_string(p.threads) + " threads and " +
                               std::to_string(p.shared_bytes) + " bytes of shared memory per block");
    }
    if (carveout_ >= -1) {
      p.carveout = carveout_;
    } else {
      const int64_t needed = most_blocks * (shared + reserved);
      p.carveout = static_cast<int>(std::min<int64_t>(100, (100 * needed + per_sm - 1) / std::max<int64_t>(per_sm, 1)));
    }
    CUDA_CHECK(cuda::set_render_carveout(p.carveout));
    CUDA_CHECK(cuda::render_blocks_per_sm(p.threads, p.shared_bytes, &p.blocks_per_sm));
    if (p.blocks_per_sm < 1) p.blocks_per_sm = 1;
    p.resident = p.blocks_per_sm * props_.multiProcessorCount;
    // Two waves of resident blocks (the next batch's first blocks fill the SMs that the previous batch's
    // last wave leaves idle) and at least 128 MiB, but at most 512 MiB per batch (large images).
    const int64_t most = std::max<int64_t>(1, (512ll << 20) / stride_);
    p.batch = batch_ > 0 ? batch_ : std::min(most, std::max<int64_t>({2ll * p.resident, (128ll << 20) / stride_, 1}));
    return p;
  }

  // Images per launch for a call of `count` images: the batch, or a third of a smaller call so that its
  // launches run side by side on the streams and its copies overlap them.
  int64_t batch_for(int64_t count) const {
    return std::max<int64_t>(1, std::min(batch_images_, (count + kSlots - 1) / kSlots));
  }

  // Class tables on the device for images [begin, end), a plan for their vertex count, and buffers
  // (pinned host buffers too when `to_host`).
  void prepare(int64_t begin, int64_t end, bool to_host) {
    const cuda::ClassTables t = cuda::make_class_tables(spec_, begin, end);
    if (caller_pending_) {
      CUDA_CHECK(cudaEventSynchronize(caller_done_));
      caller_pending_ = false;
    }
    plan_ = plan_for(t.max_vertices);
    const cudaError_t status = classes_.try_reserve(t.classes.size() * sizeof(cuda::DeviceClass));
    throw_unless_allocated(status == cudaSuccess ? tables_.try_reserve(std::max<size_t>(t.tables.size(), 1) * sizeof(float))
                                                 : status,
                           "the class tables");
    // Nothing is in flight here (every call ends synchronized); the copies are complete on return.
    CUDA_CHECK(cudaMemcpyAsync(classes_.data(), t.classes.data(), t.classes.size() * sizeof(cuda::DeviceClass),
                               cudaMemcpyHostToDevice, streams_[0]));
    if (!t.tables.empty()) {
      CUDA_CHECK(cudaMemcpyAsync(tables_.data(), t.tables.data(), t.tables.size() * sizeof(float),
                                 cudaMemcpyHostToDevice, streams_[0]));
    }
    CUDA_CHECK(cudaStreamSynchronize(streams_[0]));
    first_class_ = t.first_class;
    reserve_batches(end - begin, to_host);
  }

  // Throws a message that says what did not fit and how much device memory is free, unless status is
  // cudaSuccess.
  static void throw_unless_allocated(cudaError_t status, const char* what) {
    if (status == cudaSuccess) return;
    if (!out_of_memory(status)) CUDA_CHECK(status);
    cudaGetLastError();  // an allocation failure is not sticky: clear it
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    char s[512];
    std::snprintf(s, sizeof s,
                  "out of memory: %s could not be allocated (device memory, and pinned host memory for copies back); "
                  "the GPU has %.1f of %.1f GiB free. Free memory on the GPU or the host, or render smaller images",
                  what, free_bytes / 1073741824.0, total_bytes / 1073741824.0);
    throw CudaOutOfMemory(s);
  }

  // Buffers for batches of a call of `count` images; halves the batch while an allocation fails for
  // want of memory.
  void reserve_batches(int64_t count, bool to_host) {
    for (;;) {
      const int64_t batch = batch_for(count);
      cudaError_t status = cudaSuccess;
      for (int s = 0; s < kSlots && status == cudaSuccess; ++s) {
        status = device_out_[s].try_reserve(static_cast<size_t>(batch * stride_));
        if (status == cudaSuccess && !plan_.vertices_shared) {
          status = scratch_[s].try_reserve(static_cast<size_t>(std::min<int64_t>(batch, plan_.resident) * plan_.vertex_bytes));
        }
        if (status == cudaSuccess && to_host) {
          status = pinned_[s].try_reserve(static_cast<size_t>(batch * spec_.image_bytes()));
        }
      }
      if (status == cudaSuccess) return;
      if (batch <= 1 || !out_of_memory(status)) throw_unless_allocated(status, "buffers for even one image per batch");
      cudaGetLastError();  // an allocation failure is not sticky: clear it
      // Free what this attempt got before trying smaller buffers.
      for (int s = 0; s < kSlots; ++s) {
        device_out_[s].release();
        scratch_[s].release();
        pinned_[s].release();
      }
      batch_images_ = std::max<int64_t>(1, batch / 2);
      memory_limited_ = true;
    }
  }

  // Renders images [first, first + n) into slot s's device buffer on its stream.
  void launch(int s, int64_t first, int64_t n) { launch_into(first, n, device_out_[s].data(), scratch_[s].data(), streams_[s]); }

  // Renders images [first, first + n) into `out` (images stride_ apart) on `stream`; `scratch` holds the
  // vertex arrays when they do not fit in shared memory.
  void launch_into(int64_t first, int64_t n, uint8_t* out, uint8_t* scratch, cudaStream_t stream) {
    KernelParams p{};
    p.key = philox_key(spec_.seed);
    p.count = static_cast<int32_t>(n);
    p.size = spec_.config.image_size;
    p.begin = first;
    p.instances = spec_.instances;
    p.first_class = first_class_;
    p.image_stride = stride_;
    p.start_pos = spec_.config.start_pos;
    p.band_rows = plan_.band_rows;
    p.qcap = plan_.qcap;
    p.classes = reinterpret_cast<const cuda::DeviceClass*>(classes_.data());
    p.tables = reinterpret_cast<const float*>(tables_.data());
    p.out = out;
    int64_t grid = n;
    if (!plan_.vertices_shared) {
      grid = std::min<int64_t>(n, plan_.resident);
      p.scratch = scratch;
      p.scratch_stride = plan_.vertex_bytes;
    }
    CUDA_CHECK(cuda::launch_render(p, static_cast<int>(grid), plan_.threads, plan_.shared_bytes, stream));
  }

  // dst <- src, n bytes, in pieces on the pool.
  static void copy_out(uint8_t* dst, const uint8_t* src, int64_t n, ThreadPool& pool) {
    constexpr int64_t kPiece = 4 << 20;
    pool.parallel_for((n + kPiece - 1) / kPiece, [&](int64_t i, int) {
      const int64_t at = i * kPiece;
      std::memcpy(dst + at, src + at, static_cast<size_t>(std::min(kPiece, n - at)));
    });
  }

  const DatasetSpec& spec_;
  const int64_t stride_;
  int threads_ = 256, band_rows_ = 0, blocks_per_sm_ = 0, batch_ = 0, carveout_ = -2;
  int64_t batch_images_ = 1;     // images per launch at most
  bool memory_limited_ = false;  // batch_images_ was halved for want of memory
  cudaDeviceProp props_{};
  Plan plan_;
  int64_t first_class_ = 0;
  cudaStream_t streams_[kSlots] = {};
  cudaEvent_t copied_[kSlots] = {};
  cudaEvent_t caller_done_ = nullptr;  // recorded on the caller's stream after render_to_device's work
  bool caller_pending_ = false;        // that work may still be running
  DeviceBuffer device_out_[kSlots], scratch_[kSlots], classes_, tables_;
  PinnedBuffer pinned_[kSlots];
};

}  // namespace

CudaInfo cuda_info() {
  CudaInfo info;
  info.compiled = true;
  const std::string problem = driver_problem();
  if (!problem.empty()) {
    info.error = problem;
    return info;
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();  // not sticky: clear it
    info.error = no_device_reason(status);
    return info;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) continue;
    if (!info.names.empty()) info.names += "; ";
    info.names += p.name;
    info.details += details(d, p) + "\n";
  }
  info.devices = count;
  info.details += "CUDA driver " + version_text(driver) + ", runtime " + version_text(runtime) +
                  (driver < runtime ? " (an older driver of the same major version: CUDA minor version compatibility)" : "");
  return info;
}

std::unique_ptr<CudaRenderer> make_cuda_renderer(const DatasetSpec& spec) {
  return std::make_unique<CudaRendererImpl>(spec);
}

}  // namespace vatom
