// The portable scalar kernels of philox_simd.hpp and the run-time choice of a kernel set.
#include "philox_simd.hpp"

#include <cstdlib>
#include <cstring>

#include "philox_image.hpp"
#include "pnoise_simd.hpp"

namespace vatom {
namespace psimd {

namespace {

// philox_displace (philox_image.hpp) with the gradients from a table (pnoise_simd.hpp).
inline float displace_table(float coord, uint32_t noise_word, float eta, float trig, float bias) {
  const float p = pnoise1f_table(word_to_noise_arg(noise_word));
  return coord - trig * ((p * eta) - bias);
}

void words_scalar(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit, uint32_t purpose,
                  int32_t blocks, uint32_t* out) {
  for (int32_t b = 0; b < blocks; ++b) {
    const Philox4x32 r = philox_block(key, cls, instance, orbit, purpose, static_cast<uint32_t>(b));
    out[4 * b] = r.v[0];
    out[4 * b + 1] = r.v[1];
    out[4 * b + 2] = r.v[2];
    out[4 * b + 3] = r.v[3];
  }
}

void noise_scalar(const uint32_t* w, int32_t n, float* out) {
  for (int32_t i = 0; i < n; ++i) out[i] = pnoise1f_table(word_to_noise_arg(w[i]));
}

void update_scalar(const float* p, int32_t n, float eta, const float* trig, const float* bias, float* coord) {
  for (int32_t i = 0; i < n; ++i) coord[i] = coord[i] - trig[i] * ((p[i] * eta) - bias[i]);
}

void truncate_scalar(const float* coord, int32_t n, int32_t* out) {
  for (int32_t i = 0; i < n; ++i) out[i] = truncate_coord(coord[i]);
}

void orbit_scalar(const OrbitJob& j) {
  const int32_t q = j.q;
  for (int32_t v0 = 0; v0 < q; v0 += 4) {
    const uint32_t block = static_cast<uint32_t>(v0) >> 2;
    const Philox4x32 nx = philox_block(j.key, j.cls, j.instance, j.orbit, kPurposeNoiseX, block);
    const Philox4x32 ny = philox_block(j.key, j.cls, j.instance, j.orbit, kPurposeNoiseY, block);
    const int32_t lanes = q - v0 < 4 ? q - v0 : 4;
    for (int32_t l = 0; l < lanes; ++l) {
      const int32_t v = v0 + l;
      j.x[v] = displace_table(j.x[v], nx.v[l], j.eta, j.cos_t[v], j.bias[v]);
      j.y[v] = displace_table(j.y[v], ny.v[l], j.eta, j.sin_t[v], j.bias[v]);
      j.ix[v] = truncate_coord(j.x[v]);
      j.iy[v] = truncate_coord(j.y[v]);
    }
  }
}

// draw_polygon_pil in two passes: the segments sorted, without branches, into those with both ends on
// the canvas and those to clip (culled ones dropped), then each list drawn.
void raster_scalar(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t* scratch) {
  x[q] = x[0];
  y[q] = y[0];
  const RasterScratch rs(scratch, q);
  int32_t* const inside = rs.long_fields[0];
  int32_t* const clipped = rs.clipped;
  int32_t ni = 0, nc = 0;
  const unsigned w = static_cast<unsigned>(c.width), h = static_cast<unsigned>(c.height);
  for (int32_t v = 0; v < q; ++v) {
    const int32_t x0 = x[v], y0 = y[v], x1 = x[v + 1], y1 = y[v + 1];
    const bool in = (static_cast<unsigned>(x0) < w) & (static_cast<unsigned>(x1) < w) &
                    (static_cast<unsigned>(y0) < h) & (static_cast<unsigned>(y1) < h);
    const bool culled = ((x0 & x1) < 0) | ((y0 & y1) < 0) | ((x0 >= c.width) & (x1 >= c.width)) |
                        ((y0 >= c.height) & (y1 >= c.height));
    inside[ni] = v;
    ni += in;
    clipped[nc] = v;
    nc += !in & !culled;
  }
  for (int32_t k = 0; k < ni; ++k) {
    const int32_t v = inside[k];
    draw_segment_inside_open(c, x[v], y[v], x[v + 1], y[v + 1], gray);
  }
  for (int32_t k = 0; k < nc; ++k) {
    const int32_t v = clipped[k];
    draw_line_pil(c, x[v], y[v], x[v + 1], y[v + 1], gray);
  }
}

}  // namespace

const Kernels& kernels_scalar() {
  static const Kernels k{Isa::Scalar, orbit_scalar, words_scalar, noise_scalar, update_scalar, truncate_scalar,
                         raster_scalar};
  return k;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

Isa best_isa() {
  static const Isa best = [] {
    Isa isa = Isa::Scalar;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (kernels_avx2().orbit && __builtin_cpu_supports("avx2")) isa = Isa::Avx2;
    if (kernels_avx512().orbit && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vbmi")) {
      isa = Isa::Avx512;
    }
#endif
    if (const char* cap = std::getenv("VATOM_SIMD")) {
      if (std::strcmp(cap, "scalar") == 0) isa = Isa::Scalar;
      else if (std::strcmp(cap, "avx2") == 0 && isa == Isa::Avx512) isa = Isa::Avx2;
    }
    return isa;
  }();
  return best;
}

const Kernels& kernels(Isa isa) {
  if (isa == Isa::Avx512 && kernels_avx512().orbit) return kernels_avx512();
  if (isa >= Isa::Avx2 && kernels_avx2().orbit) return kernels_avx2();
  return kernels_scalar();
}

}  // namespace psimd
}  // namespace vatom
