// The baseline kernels of reference_simd.hpp ("scalar": SSE2 on x86-64, where it is part of the base
// ISA, plain C++ elsewhere or with -DVATOM_REFERENCE_SSE2=0) and the choice of a kernel set.
#include "reference_simd.hpp"

#include "cpython_random.hpp"
#include "pnoise_simd.hpp"
#include "raster.hpp"

#ifndef VATOM_REFERENCE_SSE2
#define VATOM_REFERENCE_SSE2 VATOM_PNOISE_SSE2
#endif

namespace vatom {
namespace rsimd {

namespace {

// The definition, one vertex: P of uniform(0, 10000) drawn from words w1, w2.
inline double noise_term(uint32_t w1, uint32_t w2, double coef, double wave1, double wave2) {
  const double r = CPythonRandom::words_to_double(w1, w2);
  const double u = 0.0 + 10000.0 * r;
  const double pn = static_cast<double>(pnoise1f_table(static_cast<float>(u)));
  return (((pn * coef) - coef) - wave1) - wave2;
}

[[maybe_unused]] void noise_plain(const uint32_t* w, int32_t n, double coef, const double* wave1,
                                  const double* wave2, double* out) {
  for (int32_t v = 0; v < n; ++v) out[v] = noise_term(w[2 * v], w[2 * v + 1], coef, wave1[v], wave2[v]);
}

[[maybe_unused]] void move_plain(const double* p, int32_t n, double lw, const double* trig, double* coord,
                                 int32_t* out) {
  for (int32_t v = 0; v < n; ++v) {
    coord[v] = coord[v] - (trig[v] * (p[v] - lw));
    out[v] = truncate_coord(coord[v]);
  }
}

[[maybe_unused]] void orbit_plain(const OrbitJob& j) {
  for (int32_t v = 0; v < j.q; ++v) {
    const double px = noise_term(j.wx[2 * v], j.wx[2 * v + 1], j.coef, j.wave1[v], j.wave2[v]);
    const double py = noise_term(j.wy[2 * v], j.wy[2 * v + 1], j.coef, j.wave1[v], j.wave2[v]);
    j.x[v] = j.x[v] - (j.cos_t[v] * (px - j.lw));
    j.y[v] = j.y[v] - (j.sin_t[v] * (py - j.lw));
    j.ix[v] = truncate_coord(j.x[v]);
    j.iy[v] = truncate_coord(j.y[v]);
  }
}

#if VATOM_REFERENCE_SSE2
// P of vertices v .. v+3 from their 8 words, as noise_term lane by lane. u = 10000 * random() is in
// [0, 10000), so 0.0 + u is u.
inline void noise4(const uint32_t* w, int32_t v, __m128d coef, const double* wave1, const double* wave2,
                   __m128d& p01, __m128d& p23) {
  const __m128d two26 = _mm_set1_pd(67108864.0), inv53 = _mm_set1_pd(1.0 / 9007199254740992.0);
  const __m128d scale = _mm_set1_pd(10000.0);
  // words (a0 b0 a1 b1) (a2 b2 a3 b3) -> a = (a0..a3) >> 5, b = (b0..b3) >> 6
  const __m128i w0 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * v)), _MM_SHUFFLE(3, 1, 2, 0));
  const __m128i w1 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * v + 4)), _MM_SHUFFLE(3, 1, 2, 0));
  const __m128i a = _mm_srli_epi32(_mm_unpacklo_epi64(w0, w1), 5);
  const __m128i b = _mm_srli_epi32(_mm_unpackhi_epi64(w0, w1), 6);
  const __m128d r01 = _mm_mul_pd(_mm_add_pd(_mm_mul_pd(_mm_cvtepi32_pd(a), two26), _mm_cvtepi32_pd(b)), inv53);
  const __m128d r23 = _mm_mul_pd(_mm_add_pd(_mm_mul_pd(_mm_cvtepi32_pd(_mm_srli_si128(a, 8)), two26),
                                            _mm_cvtepi32_pd(_mm_srli_si128(b, 8))), inv53);
  const __m128d u01 = _mm_mul_pd(scale, r01), u23 = _mm_mul_pd(scale, r23);
  const __m128 pn = pnoise4(_mm_movelh_ps(_mm_cvtpd_ps(u01), _mm_cvtpd_ps(u23)));
  const __m128d pn01 = _mm_cvtps_pd(pn), pn23 = _mm_cvtps_pd(_mm_movehl_ps(pn, pn));
  p01 = _mm_sub_pd(_mm_sub_pd(_mm_sub_pd(_mm_mul_pd(pn01, coef), coef), _mm_load_pd(wave1 + v)), _mm_load_pd(wave2 + v));
  p23 = _mm_sub_pd(_mm_sub_pd(_mm_sub_pd(_mm_mul_pd(pn23, coef), coef), _mm_load_pd(wave1 + v + 2)),
                   _mm_load_pd(wave2 + v + 2));
}

// truncate_coord on two lanes: clamp to [-2^30, 2^30] (maxpd returns its second operand, the bound,
// for NaN), then truncate.
inline __m128i truncate2(__m128d x) {
  const __m128d lo = _mm_set1_pd(-1073741824.0), hi = _mm_set1_pd(1073741824.0);
  return _mm_cvttpd_epi32(_mm_min_pd(_mm_max_pd(x, lo), hi));
}

// coord - trig * (p - lw) on two lanes.
inline __m128d displace2(__m128d coord, __m128d p, __m128d lw, __m128d trig) {
  return _mm_sub_pd(coord, _mm_mul_pd(trig, _mm_sub_pd(p, lw)));
}

// The SSE2 kernels run whole groups of 4 vertices (the arrays are padded).
void noise_sse2(const uint32_t* w, int32_t n, double coef, const double* wave1, const double* wave2, double* out) {
  const __m128d c = _mm_set1_pd(coef);
  for (int32_t v = 0; v < n; v += 4) {
    __m128d p01, p23;
    noise4(w, v, c, wave1, wave2, p01, p23);
    _mm_store_pd(out + v, p01);
    _mm_store_pd(out + v + 2, p23);
  }
}

void move_sse2(const double* p, int32_t n, double lw, const double* trig, double* coord, int32_t* out) {
  const __m128d l = _mm_set1_pd(lw);
  for (int32_t v = 0; v < n; v += 2) {
    const __m128d x = displace2(_mm_load_pd(coord + v), _mm_load_pd(p + v), l, _mm_load_pd(trig + v));
    _mm_store_pd(coord + v, x);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + v), truncate2(x));
  }
}

void orbit_sse2(const OrbitJob& j) {
  const __m128d c = _mm_set1_pd(j.coef), l = _mm_set1_pd(j.lw);
  for (int32_t v = 0; v < j.q; v += 4) {
    __m128d px01, px23, py01, py23;
    noise4(j.wx, v, c, j.wave1, j.wave2, px01, px23);
    noise4(j.wy, v, c, j.wave1, j.wave2, py01, py23);
    const __m128d x01 = displace2(_mm_load_pd(j.x + v), px01, l, _mm_load_pd(j.cos_t + v));
    const __m128d x23 = displace2(_mm_load_pd(j.x + v + 2), px23, l, _mm_load_pd(j.cos_t + v + 2));
    const __m128d y01 = displace2(_mm_load_pd(j.y + v), py01, l, _mm_load_pd(j.sin_t + v));
    const __m128d y23 = displace2(_mm_load_pd(j.y + v + 2), py23, l, _mm_load_pd(j.sin_t + v + 2));
    _mm_store_pd(j.x + v, x01);
    _mm_store_pd(j.x + v + 2, x23);
    _mm_store_pd(j.y + v, y01);
    _mm_store_pd(j.y + v + 2, y23);
    _mm_store_si128(reinterpret_cast<__m128i*>(j.ix + v), _mm_unpacklo_epi64(truncate2(x01), truncate2(x23)));
    _mm_store_si128(reinterpret_cast<__m128i*>(j.iy + v), _mm_unpacklo_epi64(truncate2(y01), truncate2(y23)));
  }
}
#endif

}  // namespace

const Kernels& kernels_scalar() {
#if VATOM_REFERENCE_SSE2
  static const Kernels k{Isa::Scalar, orbit_sse2, noise_sse2, move_sse2};
#else
  static const Kernels k{Isa::Scalar, orbit_plain, noise_plain, move_plain};
#endif
  return k;
}

const Kernels& kernels(Isa isa) {
  if (isa == Isa::Avx512 && kernels_avx512().orbit) return kernels_avx512();
  if (isa >= Isa::Avx2 && kernels_avx2().orbit) return kernels_avx2();
  return kernels_scalar();
}

}  // namespace rsimd
}  // namespace vatom
