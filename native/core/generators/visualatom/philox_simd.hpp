// Kernels of the CPU renderer of the default stream, in three builds: portable scalar C++, AVX2 and
// AVX-512 (x86-64, chosen at run time by CPU detection). All three compute exactly the words, floats and
// integers of philox_image.hpp: Philox is integer arithmetic, and the float math is the same IEEE
// add/sub/mul/convert operations in the same order, one lane per vertex (no FMA, no approximations), so
// the bytes of an image do not depend on which kernel ran. The AVX2 and AVX-512 sets are one template
// (philox_simd_kernels.hpp) over the lane traits of simd_lanes.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include "philox_stream.hpp"
#include "raster.hpp"

namespace vatom {
namespace psimd {

enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// The best kernel set this CPU runs; VATOM_SIMD=scalar|avx2|avx512 in the environment caps it (for
// tests and benchmarks).
Isa best_isa();
const char* isa_name(Isa isa);

// Vertex arrays (tables, coordinates) are padded to a multiple of kVertexPad, plus kVertexPad more
// entries, so kernels read and write whole vectors; padding lanes hold zeros.
constexpr int kVertexPad = 32;
inline int32_t padded_vertices(int32_t q) { return (q + kVertexPad - 1) / kVertexPad * kVertexPad + kVertexPad; }

// One orbit of one image: the x and y noise of every vertex from the Philox stream, the displacement
// x -= cos_t * ((pnoise * eta) - bias) (y with sin_t), and the truncated pixel coordinates.
struct OrbitJob {
  PhiloxKey key;
  uint32_t cls, instance, orbit;
  int32_t q;
  float eta;
  const float* cos_t;
  const float* sin_t;
  const float* bias;
  float* x;
  float* y;
  int32_t* ix;
  int32_t* iy;
};

// The fused orbit the renderer runs, and the same computation cut into stages, which the exactness
// fuzzer (test/native/exactness_fuzz.cpp) checks one by one against the scalar definitions.
struct Kernels {
  Isa isa;
  // Everything of one orbit, fused: what the renderer runs.
  void (*orbit)(const OrbitJob& job);
  // Words 0 .. 4*blocks-1 of (key, cls, instance, orbit, purpose), in word order.
  void (*words)(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit, uint32_t purpose,
                int32_t blocks, uint32_t* out);
  // out[i] = pnoise1f(word_to_noise_arg(w[i])), n a multiple of kVertexPad.
  void (*noise)(const uint32_t* w, int32_t n, float* out);
  // coord[i] = coord[i] - trig[i] * ((p[i] * eta) - bias[i]).
  void (*update)(const float* p, int32_t n, float eta, const float* trig, const float* bias, float* coord);
  // out[i] = truncate_coord(coord[i]).
  void (*truncate)(const float* coord, int32_t n, int32_t* out);
  // The closed polygon through (x[v], y[v]), v < q, in one gray: the pixels of draw_polygon_pil
  // (raster.hpp). x and y are padded arrays (the kernel may write x[q], y[q]); scratch holds
  // raster_scratch_ints(q) ints.
  void (*raster)(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t* scratch);
};

const Kernels& kernels(Isa isa);

// Per-ISA kernel sets; a set whose ISA this build cannot emit has a null `orbit`.
const Kernels& kernels_scalar();
const Kernels& kernels_avx2();
const Kernels& kernels_avx512();

// Steps of a segment the vector rasterizers take in their first pass over all segments; longer
// segments go on in a second pass over the long ones only.
constexpr int kVectorSteps = 8;
// Pixel offsets the vector rasterizers collect before they set them.
constexpr int32_t kRasterOffsets = 8192;

inline size_t raster_scratch_ints(int32_t q) {
  return static_cast<size_t>(kRasterOffsets) + 64 + 8 * static_cast<size_t>(padded_vertices(q) + 64);
}

// The parts of a vector rasterizer's scratch: offsets to set, the state of long segments (offset, error,
// major step, minor step, 2 major, 2 minor, steps left) and the clipped segments' indices.
struct RasterScratch {
  int32_t* offsets;
  int32_t* long_fields[7];
  int32_t* clipped;
  RasterScratch(int32_t* scratch, int32_t q) {
    const size_t stride = static_cast<size_t>(padded_vertices(q) + 64);
    offsets = scratch;
    int32_t* p = scratch + kRasterOffsets + 64;
    for (int f = 0; f < 7; ++f, p += stride) long_fields[f] = p;
    clipped = p;
  }
};

}  // namespace psimd

}  // namespace vatom
