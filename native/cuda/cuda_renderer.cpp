// The CUDA renderer of the default stream (cuda_api.hpp): batches of images per launch on several
// streams, each batch copied back into a pinned buffer while the next renders, and from there into the
// caller's memory on the thread pool.
//
// Tuning, for benchmarks only (the bytes never depend on it), from the environment:
//   VATOM_CUDA_THREADS        threads per block (32..1024, default 256)
//   VATOM_CUDA_BAND_ROWS      canvas rows drawn in shared memory (default 0: the canvas is in global memory)
//   VATOM_CUDA_BLOCKS_PER_SM  at most this many blocks per SM (default 0: as many as fit)
//   VATOM_CUDA_BATCH          images per launch (default: two waves of resident blocks, at least 128 MiB)
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
#include "cuda_check.hpp"
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
  char s[768];
  std::snprintf(s, sizeof s,
                "device %d: %s, compute capability %d.%d, %d SMs, %.1f GiB memory (%d-bit bus, %d MHz), "
                "L2 %.0f MiB, shared memory %zu KiB per SM (%zu per block opt-in), SM clock %d MHz",
                device, p.name, p.major, p.minor, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1u << 30), p.memoryBusWidth, memory_khz / 1000,
                p.l2CacheSize / 1048576.0, p.sharedMemPerMultiprocessor / 1024, p.sharedMemPerBlockOptin / 1024,
                clock_khz / 1000);
  return s;
}

// Device memory that frees itself.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { if (p_) cudaFree(p_); }
  // Makes room for n bytes; contents are not kept.
  void reserve(size_t n) {
    if (n <= size_) return;
    if (p_) CUDA_CHECK(cudaFree(p_));
    p_ = nullptr;
    size_ = 0;
    CUDA_CHECK(cudaMalloc(&p_, n));
    size_ = n;
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
  void reserve(size_t n) {
    if (n <= size_) return;
    if (p_) CUDA_CHECK(cudaFreeHost(p_));
    p_ = nullptr;
    size_ = 0;
    CUDA_CHECK(cudaHostAlloc(&p_, n, cudaHostAllocDefault));
    size_ = n;
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
  int resident = 0;      // blocks resident on the whole device
  int64_t batch = 0;     // images per launch
};

class CudaRendererImpl final : public CudaRenderer {
 public:
  explicit CudaRendererImpl(const DatasetSpec& spec) : spec_(spec), stride_(cuda::image_stride(spec.config.image_size)) {
    if (spec.stream != StreamKind::Philox) {
      throw std::runtime_error(
          "the CUDA renderer draws the default stream (--rng philox) only: the reference stream is sequential "
          "and renders on the CPU (use --device cpu)");
    }
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) throw std::runtime_error(no_device_reason(status));
    threads_ = env_int("VATOM_CUDA_THREADS", 256, 32, cuda::kMaxThreads) / 32 * 32;
    band_rows_ = env_int("VATOM_CUDA_BAND_ROWS", 0, 0, 1 << 30);
    blocks_per_sm_ = env_int("VATOM_CUDA_BLOCKS_PER_SM", 0, 0, 64);
    batch_ = env_int("VATOM_CUDA_BATCH", 0, 0, 1 << 30);
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaGetDeviceProperties(&props_, 0));
    CUDA_CHECK(cudaFree(nullptr));  // creates the context now rather than in the first timed call
    cudaFuncAttributes attributes;
    const cudaError_t image = cuda::render_kernel_attributes(&attributes);
    if (image != cudaSuccess) {
      throw std::runtime_error(std::string("the CUDA kernels of this build cannot run on ") + describe(props_) +
                               ": " + cudaGetErrorString(image) +
                               " (rebuild with this GPU's architecture in CMAKE_CUDA_ARCHITECTURES)");
    }
    CUDA_CHECK(cuda::allow_render_shared_bytes(props_.sharedMemPerBlockOptin));
    for (int s = 0; s < kSlots; ++s) {
      CUDA_CHECK(cudaStreamCreateWithFlags(&streams_[s], cudaStreamNonBlocking));
      CUDA_CHECK(cudaEventCreateWithFlags(&copied_[s], cudaEventDisableTiming));
    }
  }

  ~CudaRendererImpl() override {
    for (int s = 0; s < kSlots; ++s) {
      if (streams_[s]) {
        cudaStreamSynchronize(streams_[s]);
        cudaStreamDestroy(streams_[s]);
      }
      if (copied_[s]) cudaEventDestroy(copied_[s]);
    }
  }

  void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) override {
    if (end <= begin) return;
    prepare(begin, end);
    const int64_t bytes = spec_.image_bytes();
    const int64_t batch = batch_for(end - begin);
    for (int s = 0; s < kSlots; ++s) pinned_[s].reserve(static_cast<size_t>(batch * bytes));
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

  double render_on_device(int64_t begin, int64_t end) override {
    if (end <= begin) return 0;
    prepare(begin, end);
    const int64_t batch = batch_for(end - begin);
    SyncOnExit sync(streams_);
    const auto started = std::chrono::steady_clock::now();
    int slot = 0;
    for (int64_t first = begin; first < end; first += batch, slot = (slot + 1) % kSlots) {
      launch(slot, first, std::min(batch, end - first));
    }
    for (int s = 0; s < kSlots; ++s) CUDA_CHECK(cudaStreamSynchronize(streams_[s]));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }

  std::string device_description() const override {
    char s[640];
    std::snprintf(s, sizeof s, "%s; %d threads/block, %d canvas rows in shared memory, vertex arrays in %s memory, "
                  "%d resident blocks, %lld images/launch",
                  describe(props_).c_str(), plan_.threads, plan_.band_rows, plan_.vertices_shared ? "shared" : "global",
                  plan_.resident, static_cast<long long>(plan_.batch));
    return plan_.qcap < 0 ? describe(props_) : std::string(s);
  }

  int64_t preferred_chunk_images() const override {
    const int64_t batch = plan_.qcap < 0 ? plan_for(spec_.config.vertices_max).batch : plan_.batch;
    return 4 * batch;
  }

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
    if (blocks_per_sm_ > 0) {
      const int64_t per_sm = static_cast<int64_t>(props_.sharedMemPerMultiprocessor);
      const int64_t reserved = static_cast<int64_t>(props_.reservedSharedMemPerBlock);
      const int64_t fewer = per_sm / (blocks_per_sm_ + 1) - reserved + 1;  // (fewer + reserved) * (b + 1) > per_sm
      shared = std::min(optin, std::max(shared, fewer));
    }
    p.shared_bytes = static_cast<size_t>(shared);
    int per_sm_blocks = 0;
    CUDA_CHECK(cuda::render_blocks_per_sm(p.threads, p.shared_bytes, &per_sm_blocks));
    if (per_sm_blocks < 1) {
      throw std::runtime_error("the CUDA kernel cannot be launched with " + std::to_string(p.threads) + " threads and " +
                               std::to_string(p.shared_bytes) + " bytes of shared memory per block");
    }
    p.resident = per_sm_blocks * props_.multiProcessorCount;
    // Two waves of resident blocks (the next batch's first blocks fill the SMs that the previous batch's
    // last wave leaves idle) and at least 128 MiB, but at most 512 MiB per batch (large images).
    const int64_t most = std::max<int64_t>(1, (512ll << 20) / stride_);
    p.batch = batch_ > 0 ? batch_ : std::min(most, std::max<int64_t>({2ll * p.resident, (128ll << 20) / stride_, 1}));
    return p;
  }

  // Images per launch for a call of `count` images: the plan's batch, or a third of a smaller call so
  // that its launches run side by side on the streams and its copies overlap them.
  int64_t batch_for(int64_t count) const {
    return std::max<int64_t>(1, std::min(plan_.batch, (count + kSlots - 1) / kSlots));
  }

  // Class tables on the device for images [begin, end), a plan for their vertex count, and buffers.
  void prepare(int64_t begin, int64_t end) {
    const cuda::ClassTables t = cuda::make_class_tables(spec_, begin, end);
    plan_ = plan_for(t.max_vertices);
    classes_.reserve(t.classes.size() * sizeof(cuda::DeviceClass));
    tables_.reserve(std::max<size_t>(t.tables.size(), 1) * sizeof(float));
    // Nothing is in flight here (every call ends synchronized); the copies are complete on return.
    CUDA_CHECK(cudaMemcpyAsync(classes_.data(), t.classes.data(), t.classes.size() * sizeof(cuda::DeviceClass),
                               cudaMemcpyHostToDevice, streams_[0]));
    if (!t.tables.empty()) {
      CUDA_CHECK(cudaMemcpyAsync(tables_.data(), t.tables.data(), t.tables.size() * sizeof(float),
                                 cudaMemcpyHostToDevice, streams_[0]));
    }
    CUDA_CHECK(cudaStreamSynchronize(streams_[0]));
    first_class_ = t.first_class;
    const int64_t batch = batch_for(end - begin);
    for (int s = 0; s < kSlots; ++s) {
      device_out_[s].reserve(static_cast<size_t>(batch * stride_));
      if (!plan_.vertices_shared) {
        scratch_[s].reserve(static_cast<size_t>(std::min<int64_t>(batch, plan_.resident) * plan_.vertex_bytes));
      }
    }
  }

  // Renders images [first, first + n) into slot s's device buffer on its stream.
  void launch(int s, int64_t first, int64_t n) {
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
    p.out = device_out_[s].data();
    int64_t grid = n;
    if (!plan_.vertices_shared) {
      grid = std::min<int64_t>(n, plan_.resident);
      p.scratch = scratch_[s].data();
      p.scratch_stride = plan_.vertex_bytes;
    }
    CUDA_CHECK(cuda::launch_render(p, static_cast<int>(grid), plan_.threads, plan_.shared_bytes, streams_[s]));
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
  int threads_ = 256, band_rows_ = 0, blocks_per_sm_ = 0, batch_ = 0;
  cudaDeviceProp props_{};
  Plan plan_;
  int64_t first_class_ = 0;
  cudaStream_t streams_[kSlots] = {};
  cudaEvent_t copied_[kSlots] = {};
  DeviceBuffer device_out_[kSlots], scratch_[kSlots], classes_, tables_;
  PinnedBuffer pinned_[kSlots];
};

}  // namespace

CudaInfo cuda_info() {
  CudaInfo info;
  info.compiled = true;
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
  char versions[96];
  std::snprintf(versions, sizeof versions, "CUDA driver %d.%d, runtime %d.%d", driver / 1000, driver % 1000 / 10,
                runtime / 1000, runtime % 1000 / 10);
  info.details += versions;
  return info;
}

std::unique_ptr<CudaRenderer> make_cuda_renderer(const DatasetSpec& spec) {
  return std::make_unique<CudaRendererImpl>(spec);
}

}  // namespace vatom
