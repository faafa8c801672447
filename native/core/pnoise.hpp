// 1-D Perlin noise exactly as noise.pnoise1 (package `noise` 1.2.3, octaves 1, repeat 1024, base 0):
// float32 throughout, every operation rounded to float, no FMA.
#pragma once
#include <cstdint>
#include "hd.hpp"

namespace vatom {

// Ken Perlin's reference permutation. repeat=1024 and base=0 reduce to `& 255` on it.
#define VATOM_PERLIN_PERM                                                                              \
  {151, 160, 137, 91,  90,  15,  131, 13,  201, 95,  96,  53,  194, 233, 7,   225, 140, 36,  103, 30,  \
   69,  142, 8,   99,  37,  240, 21,  10,  23,  190, 6,   148, 247, 120, 234, 75,  0,   26,  197, 62,  \
   94,  252, 219, 203, 117, 35,  11,  32,  57,  177, 33,  88,  237, 149, 56,  87,  174, 20,  125, 136, \
   171, 168, 68,  175, 74,  165, 71,  134, 139, 48,  27,  166, 77,  146, 158, 231, 83,  111, 229, 122, \
   60,  211, 133, 230, 220, 105, 92,  41,  55,  46,  245, 40,  244, 102, 143, 54,  65,  25,  63,  161, \
   1,   216, 80,  73,  209, 76,  132, 187, 208, 89,  18,  169, 200, 196, 135, 130, 116, 188, 159, 86,  \
   164, 100, 109, 198, 173, 186, 3,   64,  52,  217, 226, 250, 124, 123, 5,   202, 38,  147, 118, 126, \
   255, 82,  85,  212, 207, 206, 59,  227, 47,  16,  58,  17,  182, 189, 28,  42,  223, 183, 170, 213, \
   119, 248, 152, 2,   44,  154, 163, 70,  221, 153, 101, 155, 167, 43,  172, 9,   129, 22,  39,  253, \
   19,  98,  108, 110, 79,  113, 224, 232, 178, 185, 112, 104, 218, 246, 97,  228, 251, 34,  242, 193, \
   238, 210, 144, 12,  191, 179, 162, 241, 81,  51,  145, 235, 249, 14,  239, 107, 49,  192, 214, 31,  \
   181, 199, 106, 157, 184, 84,  204, 176, 115, 121, 50,  45,  127, 4,   150, 254, 138, 236, 205, 93,  \
   222, 114, 67,  29,  24,  72,  243, 141, 128, 195, 78,  66,  215, 61,  156, 180}

constexpr uint8_t kPerlinPerm[256] = VATOM_PERLIN_PERM;

// Gradient of the 1-D noise: hash bit 3 selects -1 (not -(h&7)-1), else (h&7)+1.
VATOM_HD float perlin_grad1(uint32_t hash) {
  return (hash & 8u) ? -1.0f : static_cast<float>((hash & 7u) + 1u);
}

// The noise at offset t in [0, 1) between lattice points with gradients g0 and g1, operation for
// operation as _perlin.c: fade(t) = t^3 (t (6t - 15) + 10), then lerp(fade, g0 t, g1 (t - 1)) * 0.4.
VATOM_HD float perlin_blend(float t, float g0, float g1) {
  float u = t * 6.0f;
  u = u - 15.0f;
  u = t * u;
  u = u + 10.0f;
  const float cube = (t * t) * t;
  const float fade = cube * u;
  const float a = g0 * t;
  const float b = g1 * (t - 1.0f);
  float d = b - a;
  d = fade * d;
  const float r = a + d;
  return r * 0.4f;
}

// floorf without libm: truncate, then step down for negative non-integers (exact for |x| < 2^31).
VATOM_HD int perlin_floor(float x) {
  const int q = static_cast<int>(x);
  return static_cast<float>(q) > x ? q - 1 : q;
}

// pnoise1 of a float argument; the reference's double argument is first rounded with static_cast<float>.
VATOM_HD float pnoise1f(float x, const uint8_t* perm) {
  const int q = perlin_floor(x);
  const float t = x - static_cast<float>(q);
  return perlin_blend(t, perlin_grad1(perm[q & 255]), perlin_grad1(perm[(q + 1) & 255]));
}

VATOM_HD float pnoise1f(float x) { return pnoise1f(x, kPerlinPerm); }

}  // namespace vatom
