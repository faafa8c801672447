// The GPU renderer as the rest of the native code sees it. A build with CUDA (CMake option VATOM_CUDA)
// implements this in native/cuda/; every other build links native/core/cuda_stub.cpp, which reports
// "no CUDA support" and refuses to make a renderer. No CUDA header is needed to use it.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include "dataset.hpp"

namespace vatom {

struct CudaInfo {
  bool compiled = false;  // this build has the CUDA renderer
  int devices = 0;        // CUDA devices usable now (0 without a driver or a GPU)
  std::string names;      // device names, "; " between them
  std::string details;    // one line per device (name, compute capability, SMs, memory, clocks, PCI bus),
                          // then the driver's and the runtime's CUDA versions
  std::string error;      // why devices is 0, when it is
};

// What the GPU renderer throws when device or pinned memory does not hold even one image's buffers.
class CudaOutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Never throws.
CudaInfo cuda_info();

// Renders the default (philox) stream on CUDA device 0, byte for byte as the CPU renderer.
class CudaRenderer : public ImageRenderer {
 public:
  // ImageRenderer::render: images [begin, end) into host memory `out`; batches overlap rendering with
  // device-to-host copies, and the copy out of pinned buffers runs on `pool`.

  // Renders images [begin, end) into device memory only (nothing is copied back), for throughput
  // measurements; returns the wall-clock seconds from the first launch to the end of the last kernel.
  virtual double render_on_device(int64_t begin, int64_t end) = 0;
  // Renders images [begin, end) into device memory `out` on device 0 (image i at out + (i - begin) *
  // image_bytes, packed, any alignment) on the caller's CUDA stream `stream` (a cudaStream_t; null: the
  // legacy default stream), and returns once the work is queued: work queued on that stream afterwards
  // sees the images, nothing passes through host memory. The renderer's next call waits for this work.
  virtual void render_to_device(int64_t begin, int64_t end, uint8_t* out, void* stream) = 0;
  // Raw device-to-host copy speed into pinned host memory, bytes per second: one untimed copy of `bytes`,
  // then `repeats` timed ones. It bounds render() apart from the kernel (a PCIe link, not the GPU).
  virtual double copy_bandwidth(int64_t bytes, int repeats) = 0;
  // The device, as "NAME (sm_XY, N SMs, M GiB)".
  virtual std::string device_description() const = 0;
  // How many images one render() call should cover to keep the device busy (several launch waves
  // and at least two batches in flight); smaller calls work but leave the device partly idle.
  virtual int64_t preferred_chunk_images() const = 0;
};

// Throws std::runtime_error with a message a user can act on: a build without CUDA support, no usable
// device, a driver older than the CUDA runtime, or the reference stream (sequential, it renders on the
// CPU only). Every CUDA failure later, in a render call, is a std::runtime_error too, naming the images,
// the call and the error; running out of device or pinned memory first makes the batches smaller.
std::unique_ptr<CudaRenderer> make_cuda_renderer(const DatasetSpec& spec);

}  // namespace vatom
