// A stand-in for the CUDA runtime (mock_runtime.cpp), linked instead of libcudart into the programs that
// check the CUDA renderer's host code on machines without a GPU: "device memory" is host memory, every
// stream is a worker thread that runs its operations in order after random delays, a kernel launch runs
// the emulated kernel (kernel_emulation.hpp), and failures can be injected, from the checks (faults())
// or from the environment (VATOM_MOCK_CUDA, for vatom-native-mock):
//   VATOM_MOCK_CUDA=driver=12080,malloc-limit=1000000,pinned-limit=1000000,launch-error=2,kernel-fault=3
#pragma once
#include <cstdint>
#include <string>

namespace mock {

struct Faults {
  int driver_version = 13000;  // what cudaDriverGetVersion reports (the runtime is 13.0)
  int64_t malloc_limit = -1;   // cudaMalloc of more bytes fails with cudaErrorMemoryAllocation; -1: none
  int64_t pinned_limit = -1;   // the same for cudaHostAlloc
  int launch_error = -1;       // the launch with this number (from 1, counted since reset()) fails at once (cudaErrorLaunchOutOfResources)
  int kernel_fault = -1;       // the kernel of this launch faults: an illegal address, reported (sticky) by the
                               // next synchronization and every CUDA call after it
};

// The faults in force; set before making a renderer. Starts from VATOM_MOCK_CUDA.
Faults& faults();
// Back to no faults, a healthy "device" (clears a sticky error) and launches counted from 0.
void reset();

// Counters for the checks' reports.
int launches();
int copies_2d();

}  // namespace mock
