// AVX2 kernels of reference_simd.hpp, 8 vertices a step: the doubles in two 4-lane halves, pnoise1 in 8
// float lanes. Only the functions between push_options and pop_options are built for AVX2, all of them
// with internal linkage, so no inline function of a shared header is ever emitted with AVX2
// instructions. No FMA: the target is "avx2" alone and the build has -ffp-contract=off.
//
// Exactness: lane-wise vcvtdq2pd (exact), vmulpd/vaddpd/vsubpd in the definition's order, vcvtpd2ps
// (round to nearest even, as static_cast<float>), the float pnoise1 of pnoise.hpp (floor by vroundps,
// gradients gathered from a table of small integers, converted exactly), vcvtps2pd (exact) and
// vcvttpd2dq after clamping to truncate_coord's bounds (vmaxpd returns its second operand, the lower
// bound, for NaN, as truncate_coord does).
#include "reference_simd.hpp"

#include <cstdint>

#include "pnoise.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(VATOM_NO_SIMD)
#define VATOM_HAVE_AVX2 1
#include <immintrin.h>
#endif

namespace vatom {
namespace rsimd {

#if VATOM_HAVE_AVX2
namespace {

// pnoise1 gradients by permutation index as byte pairs: entry i = grad(perm[i]) | grad(perm[(i + 1) & 255]) << 8,
// so that one 32-bit gather (scale 2) at i fetches both in its low half (gathers are slow: one, not
// two). Entry 256 pads the read at 255.
struct GradPairs {
  alignas(64) uint16_t e[264];
};

GradPairs make_grad_pairs() {
  GradPairs t{};
  for (int i = 0; i < 256; ++i) {
    const uint8_t g0 = static_cast<uint8_t>(static_cast<int8_t>(perlin_grad1(kPerlinPerm[i])));
    const uint8_t g1 = static_cast<uint8_t>(static_cast<int8_t>(perlin_grad1(kPerlinPerm[(i + 1) & 255])));
    t.e[i] = static_cast<uint16_t>(g0 | (g1 << 8));
  }
  return t;
}

const GradPairs kGrad = make_grad_pairs();

}  // namespace

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
// GCC 12 reports the undefined vectors inside its own intrinsics (_mm*_undefined_*) as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

#define VATOM_INLINE inline __attribute__((always_inline))

// pnoise1f(x) in 8 lanes (pnoise.hpp), x in [0, 2^31).
VATOM_INLINE __m256 pnoise8(__m256 x) {
  // floorf(x), exact (vroundps toward -inf), and its integer (exact: |x| < 2^31).
  const __m256 fl = _mm256_round_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m256 t = _mm256_sub_ps(x, fl);
  const __m256i idx = _mm256_and_si256(_mm256_cvttps_epi32(fl), _mm256_set1_epi32(255));
  const __m256i pair = _mm256_i32gather_epi32(reinterpret_cast<const int*>(kGrad.e), idx, 2);
  const __m256 g0 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(pair, 24), 24));
  const __m256 g1 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(pair, 16), 24));
  __m256 u = _mm256_mul_ps(t, _mm256_set1_ps(6.0f));
  u = _mm256_sub_ps(u, _mm256_set1_ps(15.0f));
  u = _mm256_mul_ps(t, u);
  u = _mm256_add_ps(u, _mm256_set1_ps(10.0f));
  const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(t, t), t);
  const __m256 fade = _mm256_mul_ps(cube, u);
  const __m256 a = _mm256_mul_ps(g0, t);
  const __m256 b = _mm256_mul_ps(g1, _mm256_sub_ps(t, _mm256_set1_ps(1.0f)));
  __m256 d = _mm256_sub_ps(b, a);
  d = _mm256_mul_ps(fade, d);
  const __m256 r = _mm256_add_ps(a, d);
  return _mm256_mul_ps(r, _mm256_set1_ps(0.4f));
}

// uniform(0, 10000) of 4 vertices: r = (a * 2^26 + b) * 2^-53, u = 10000 * r (0.0 + u is u: u >= 0).
VATOM_INLINE __m256d uniform4(__m128i a, __m128i b) {
  const __m256d r = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(a), _mm256_set1_pd(67108864.0)),
                                                _mm256_cvtepi32_pd(b)),
                                  _mm256_set1_pd(1.0 / 9007199254740992.0));
  return _mm256_mul_pd(_mm256_set1_pd(10000.0), r);
}

// P = (((pnoise * coef) - coef) - wave1) - wave2 of vertices v .. v+7 from w[2v .. 2v+15]: lo has
// vertices v .. v+3, hi v+4 .. v+7.
VATOM_INLINE void noise8(const uint32_t* w, int32_t v, __m256d coef, const double* wave1, const double* wave2,
                         __m256d& lo, __m256d& hi) {
  // (a0 b0 a1 b1 a2 b2 a3 b3) -> (a0 a1 a2 a3 | b0 b1 b2 b3), likewise for vertices 4..7
  const __m256i even_odd = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i t0 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * v)), even_odd);
  const __m256i t1 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * v + 8)), even_odd);
  const __m256i a = _mm256_srli_epi32(_mm256_permute2x128_si256(t0, t1, 0x20), 5);
  const __m256i b = _mm256_srli_epi32(_mm256_permute2x128_si256(t0, t1, 0x31), 6);
  const __m256d u0 = uniform4(_mm256_castsi256_si128(a), _mm256_castsi256_si128(b));
  const __m256d u1 = uniform4(_mm256_extracti128_si256(a, 1), _mm256_extracti128_si256(b, 1));
  const __m256 x = _mm256_set_m128(_mm256_cvtpd_ps(u1), _mm256_cvtpd_ps(u0));
  const __m256 pn = pnoise8(x);
  const __m256d p0 = _mm256_cvtps_pd(_mm256_castps256_ps128(pn));
  const __m256d p1 = _mm256_cvtps_pd(_mm256_extractf128_ps(pn, 1));
  lo = _mm256_sub_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_mul_pd(p0, coef), coef), _mm256_load_pd(wave1 + v)),
                     _mm256_load_pd(wave2 + v));
  hi = _mm256_sub_pd(_mm256_sub_pd(_mm256_sub_pd(_mm256_mul_pd(p1, coef), coef), _mm256_load_pd(wave1 + v + 4)),
                     _mm256_load_pd(wave2 + v + 4));
}

VATOM_INLINE __m256d displace4(__m256d coord, __m256d p, __m256d lw, __m256d trig) {
  return _mm256_sub_pd(coord, _mm256_mul_pd(trig, _mm256_sub_pd(p, lw)));
}

// truncate_coord on 4 lanes: clamp to [-2^30, 2^30] (vmaxpd gives the bound for NaN), then truncate.
VATOM_INLINE __m128i truncate4(__m256d x) {
  const __m256d lo = _mm256_set1_pd(-1073741824.0), hi = _mm256_set1_pd(1073741824.0);
  return _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(x, lo), hi));
}

void orbit_avx2(const OrbitJob& j) {
  const __m256d coef = _mm256_set1_pd(j.coef), lw = _mm256_set1_pd(j.lw);
  for (int32_t v = 0; v < j.q; v += 8) {
    __m256d px0, px1, py0, py1;
    noise8(j.wx, v, coef, j.wave1, j.wave2, px0, px1);
    noise8(j.wy, v, coef, j.wave1, j.wave2, py0, py1);
    const __m256d x0 = displace4(_mm256_load_pd(j.x + v), px0, lw, _mm256_load_pd(j.cos_t + v));
    const __m256d x1 = displace4(_mm256_load_pd(j.x + v + 4), px1, lw, _mm256_load_pd(j.cos_t + v + 4));
    const __m256d y0 = displace4(_mm256_load_pd(j.y + v), py0, lw, _mm256_load_pd(j.sin_t + v));
    const __m256d y1 = displace4(_mm256_load_pd(j.y + v + 4), py1, lw, _mm256_load_pd(j.sin_t + v + 4));
    _mm256_store_pd(j.x + v, x0);
    _mm256_store_pd(j.x + v + 4, x1);
    _mm256_store_pd(j.y + v, y0);
    _mm256_store_pd(j.y + v + 4, y1);
    _mm256_store_si256(reinterpret_cast<__m256i*>(j.ix + v), _mm256_set_m128i(truncate4(x1), truncate4(x0)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(j.iy + v), _mm256_set_m128i(truncate4(y1), truncate4(y0)));
  }
}

void noise_avx2(const uint32_t* w, int32_t n, double coef, const double* wave1, const double* wave2, double* out) {
  const __m256d c = _mm256_set1_pd(coef);
  for (int32_t v = 0; v < n; v += 8) {
    __m256d lo, hi;
    noise8(w, v, c, wave1, wave2, lo, hi);
    _mm256_store_pd(out + v, lo);
    _mm256_store_pd(out + v + 4, hi);
  }
}

void move_avx2(const double* p, int32_t n, double lw, const double* trig, double* coord, int32_t* out) {
  const __m256d l = _mm256_set1_pd(lw);
  for (int32_t v = 0; v < n; v += 4) {
    const __m256d x = displace4(_mm256_load_pd(coord + v), _mm256_load_pd(p + v), l, _mm256_load_pd(trig + v));
    _mm256_store_pd(coord + v, x);
    _mm_store_si128(reinterpret_cast<__m128i*>(out + v), truncate4(x));
  }
}

}  // namespace

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

const Kernels& kernels_avx2() {
  static const Kernels k{Isa::Avx2, orbit_avx2, noise_avx2, move_avx2};
  return k;
}

#else

const Kernels& kernels_avx2() {
  static const Kernels k{Isa::Avx2, nullptr, nullptr, nullptr};
  return k;
}

#endif

}  // namespace rsimd
}  // namespace vatom
