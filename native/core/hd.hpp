// Shared host/device qualifiers: the same inline math runs in the CPU renderer and in CUDA kernels,
// so there is exactly one definition of an image.
#pragma once

#if defined(__CUDACC__)
#define VATOM_HD __host__ __device__ __forceinline__
#else
#define VATOM_HD inline
#endif
