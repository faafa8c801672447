// One image of the default stream, as host/device inline code: the CPU renderer and the CUDA kernels
// both call these, so a dataset's bytes do not depend on the device.
#pragma once
#include <cstdint>
#include "generator_config.hpp"
#include "detmath.hpp"
#include "hd.hpp"
#include "philox_stream.hpp"
#include "pnoise.hpp"
#include "raster.hpp"

namespace vatom {

// Per-vertex constants of a class: cos and sin of the vertex angle, and the orbit-invariant part of the
// displacement, eta + 0.5 sin(t n1) + 0.5 sin(t n2) + lw, so one orbit moves a vertex by
// cos_t * (pnoise * eta - bias) (the design's N - lw, with its constant terms summed once in double).
VATOM_HD void philox_vertex_constants(const ClassParams& p, int32_t v, float& cos_t, float& sin_t,
                                      float& bias) {
  const SinCos t = det_sincos_turns(v, p.vertices);
  const double wave1 = det_sincos_turns(static_cast<int64_t>(v) * p.freq1, p.vertices).s;
  const double wave2 = det_sincos_turns(static_cast<int64_t>(v) * p.freq2, p.vertices).s;
  cos_t = static_cast<float>(t.c);
  sin_t = static_cast<float>(t.s);
  bias = static_cast<float>(((p.noise + 0.5 * wave1) + 0.5 * wave2) + p.line_width);
}

// Centre coordinate (S + randint(-start_pos, start_pos)) / 2 from one word.
VATOM_HD float philox_centre(uint32_t w, int32_t image_size, int32_t start_pos) {
  return static_cast<float>(image_size + word_to_int(w, -start_pos, start_pos)) * 0.5f;
}

// One orbit's displacement of one vertex coordinate; `trig` is cos_t for x and sin_t for y. `perm` is
// the Perlin permutation (device code passes its own copy of kPerlinPerm).
VATOM_HD float philox_displace(float coord, uint32_t noise_word, float eta, float trig, float bias,
                               const uint8_t* perm) {
  const float p = pnoise1f(word_to_noise_arg(noise_word), perm);
  return coord - trig * ((p * eta) - bias);
}

VATOM_HD float philox_displace(float coord, uint32_t noise_word, float eta, float trig, float bias) {
  return philox_displace(coord, noise_word, eta, trig, bias, kPerlinPerm);
}

}  // namespace vatom
