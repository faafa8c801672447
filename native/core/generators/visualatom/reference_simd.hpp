// Kernels of the reference stream's CPU renderer (reference_renderer.cpp), per orbit: the noise of every
// vertex from its two MT19937 words, the vertex update and the truncated pixel coordinates. Three
// builds, chosen like the default stream's (philox_simd.hpp: psimd::best_isa(), VATOM_SIMD=scalar|avx2
// caps it): "scalar" is baseline x86-64 code (SSE2 where the build has it, plain C++ otherwise), AVX2
// and AVX-512 are one template (reference_simd_kernels.hpp) compiled for each target and picked at
// run time.
//
// Exactness: every lane does the scalar definition's
// IEEE operations in its order, on the same types: random() = (a * 2^26 + b) * 2^-53 and
// u = 10000 * random() in double, x = float(u) (round to nearest even, the MXCSR default), pnoise1 in
// float (gradients from a table, floor by truncate-and-adjust), then in double
// P = (((pnoise * coef) - coef) - 0.5 sin(a n1)) - 0.5 sin(a n2), coord = coord - trig * (P - lw), and
// truncate_coord. Packed mul/add/sub/convert instructions round exactly as the scalar ones; no FMA
// (separate intrinsics, -ffp-contract=off), no approximations.
#pragma once
#include <cstddef>
#include <cstdint>

#include "philox_simd.hpp"

namespace vatom {

namespace rsimd {

using psimd::Isa;

// Vertex arrays (tables, coordinates) hold psimd::padded_vertices(q) entries, 64-byte aligned, and the
// word arrays of one axis twice that: the kernels read and write whole vectors past q. Padding lanes
// of the tables are zero; what the kernels compute in padding lanes is never used.
inline int32_t padded_vertices(int32_t q) { return psimd::padded_vertices(q); }

// One orbit of one image. wx[2v], wx[2v + 1] are the two words of vertex v's x uniform (the first 2q
// words of the orbit after its gray), wy those of its y uniform (the next 2q).
struct OrbitJob {
  const uint32_t* wx;
  const uint32_t* wy;
  int32_t q;
  double coef;  // the class's noise coefficient
  double lw;    // the class's line width
  const double* cos_t;
  const double* sin_t;
  const double* wave1;  // 0.5 sin(a_v n1)
  const double* wave2;  // 0.5 sin(a_v n2)
  double* x;
  double* y;
  int32_t* ix;
  int32_t* iy;
};

struct Kernels {
  Isa isa;
  // Everything of one orbit but its gray, words and pixels, fused: what the renderer runs.
  void (*orbit)(const OrbitJob& job);
  // The stages one by one, which the exactness fuzzer checks: out[v] = P of the uniform of words
  // w[2v], w[2v + 1], for v < n ...
  void (*noise)(const uint32_t* w, int32_t n, double coef, const double* wave1, const double* wave2, double* out);
  // ... and coord[v] = coord[v] - trig[v] * (p[v] - lw), out[v] = truncate_coord(coord[v]).
  void (*move)(const double* p, int32_t n, double lw, const double* trig, double* coord, int32_t* out);
};

// The kernel set of an ISA (the best available one at or below it).
const Kernels& kernels(Isa isa);

const Kernels& kernels_scalar();
// A set whose ISA this build cannot emit has a null `orbit`.
const Kernels& kernels_avx2();
const Kernels& kernels_avx512();

}  // namespace rsimd

}  // namespace vatom
