// What the x86 SIMD kernels (simd_lanes.hpp, pnoise_simd.hpp and the kernel templates of the generator
// families) share to be built for a target the rest of the build does not assume:
//
//   VATOM_X86_SIMD       1 where this build can emit AVX2 and AVX-512 code (GCC or Clang on x86-64,
//                        without -DVATOM_NO_SIMD); the kernel sets of a build without it are null.
//   VATOM_TARGET_BEGIN(VATOM_TARGET_AVX2) ... VATOM_TARGET_END()
//                        the functions between them are built for the target (AVX2 alone, or the
//                        AVX-512 subset F, BW, VL, DQ, VBMI that psimd::best_isa() asks for). No FMA
//                        either way (the target names none for AVX2, and the build has
//                        -ffp-contract=off).
//
// Every function between the markers must have internal linkage (an unnamed namespace), so that no
// inline function of a shared header is ever emitted with the target's instructions; the kernel
// tables (kernels_avx2(), ...) are plain code outside the markers.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(VATOM_NO_SIMD)
#define VATOM_X86_SIMD 1
#include <immintrin.h>
#else
#define VATOM_X86_SIMD 0
#endif

#define VATOM_TARGET_AVX2 "avx2"
#define VATOM_TARGET_AVX512 "avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi"

#define VATOM_PRAGMA(text) _Pragma(#text)
#if defined(__clang__)
#define VATOM_TARGET_BEGIN(isa) \
  VATOM_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define VATOM_TARGET_END() VATOM_PRAGMA(clang attribute pop)
#else
// GCC 12 reports the undefined vectors inside its own intrinsics (_mm*_undefined_*) as uninitialized.
#define VATOM_TARGET_BEGIN(isa) \
  VATOM_PRAGMA(GCC push_options) VATOM_PRAGMA(GCC target(isa)) VATOM_PRAGMA(GCC diagnostic push) \
  VATOM_PRAGMA(GCC diagnostic ignored "-Wmaybe-uninitialized")
#define VATOM_TARGET_END() VATOM_PRAGMA(GCC diagnostic pop) VATOM_PRAGMA(GCC pop_options)
#endif

// The vector helpers are inlined into the kernel loops whatever the compiler's inlining budget.
#define VATOM_INLINE inline __attribute__((always_inline))
