// AVX-512 kernels (F, BW, VL, DQ, VBMI: the set psimd::best_isa() asks for) of reference_simd.hpp,
// 16 vertices a step: the doubles in two 8-lane halves, pnoise1 in 16 float lanes. Only the functions
// between push_options and pop_options are built for AVX-512, and all of them have internal linkage, so
// no inline function of a shared header is ever emitted with AVX-512 instructions.
//
// Exactness: lane-wise vcvtqq2pd (exact: the values are below 2^53), vmulpd/vsubpd in the
// definition's order, vcvtpd2ps (round to nearest even, as static_cast<float>), the float pnoise1 of
// pnoise.hpp (floor by vrndscaleps, vmulps/vsubps/vaddps), vcvtps2pd (exact) and vcvttpd2dq after
// clamping to truncate_coord's bounds.
#include "reference_simd.hpp"

#include <cstdint>

#include "pnoise.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(VATOM_NO_SIMD)
#define VATOM_HAVE_AVX512 1
#include <immintrin.h>
#endif

namespace vatom {
namespace rsimd {

#if VATOM_HAVE_AVX512
namespace {

// Gradients of pnoise1 by permutation index as bytes: grad(perm[i]) (grad(perm[(i + 1) & 255]) is the
// entry at i + 1).
struct GradBytes {
  alignas(64) int8_t g[256];
};

GradBytes make_grad_bytes() {
  GradBytes t;
  for (int i = 0; i < 256; ++i) t.g[i] = static_cast<int8_t>(perlin_grad1(kPerlinPerm[i]));
  return t;
}

const GradBytes kGrad = make_grad_bytes();

}  // namespace

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")
// GCC 12 reports the undefined vectors inside its own intrinsics (_mm*_undefined_*) as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

#define VATOM_INLINE inline __attribute__((always_inline))

struct GradRegs {
  __m512i lo, hi, lo2, hi2;
};

VATOM_INLINE GradRegs grad_regs() {
  return GradRegs{_mm512_load_si512(kGrad.g), _mm512_load_si512(kGrad.g + 64), _mm512_load_si512(kGrad.g + 128),
                  _mm512_load_si512(kGrad.g + 192)};
}

// The pnoise1 gradients g0 = grad(perm[q & 255]) and g1 = grad(perm[(q + 1) & 255]) of two groups of 16
// lanes in one lookup of 64 bytes: q_a, q_b, q_a + 1, q_b + 1 (mod 256). vpermi2b looks up 128 bytes by
// the low 7 bits, bit 7 picks the table half.
VATOM_INLINE void grads32(__m512i qa, __m512i qb, const GradRegs& g, __m512& g0a, __m512& g1a, __m512& g0b,
                          __m512& g1b) {
  const __m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(qa)), _mm512_cvtepi32_epi8(qb), 1);
  const __m512i idx = _mm512_inserti64x4(_mm512_castsi256_si512(ab), _mm256_add_epi8(ab, _mm256_set1_epi8(1)), 1);
  const __m512i b = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), _mm512_permutex2var_epi8(g.lo, idx, g.hi),
                                           _mm512_permutex2var_epi8(g.lo2, idx, g.hi2));
  g0a = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_castsi512_si128(b)));
  g0b = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(b, 1)));
  g1a = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(b, 2)));
  g1b = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm512_extracti32x4_epi32(b, 3)));
}

// perlin_blend (pnoise.hpp) in 16 lanes.
VATOM_INLINE __m512 blend16(__m512 t, __m512 g0, __m512 g1) {
  __m512 u = _mm512_mul_ps(t, _mm512_set1_ps(6.0f));
  u = _mm512_sub_ps(u, _mm512_set1_ps(15.0f));
  u = _mm512_mul_ps(t, u);
  u = _mm512_add_ps(u, _mm512_set1_ps(10.0f));
  const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(t, t), t);
  const __m512 fade = _mm512_mul_ps(cube, u);
  const __m512 a = _mm512_mul_ps(g0, t);
  const __m512 b = _mm512_mul_ps(g1, _mm512_sub_ps(t, _mm512_set1_ps(1.0f)));
  __m512 d = _mm512_sub_ps(b, a);
  d = _mm512_mul_ps(fade, d);
  const __m512 r = _mm512_add_ps(a, d);
  return _mm512_mul_ps(r, _mm512_set1_ps(0.4f));
}

// pnoise1f(x) of two groups of 16 lanes, x in [0, 2^31).
VATOM_INLINE void pnoise32(__m512 xa, __m512 xb, const GradRegs& g, __m512& pa, __m512& pb) {
  // floorf(x), exact (vrndscaleps toward -inf), and its integer (exact: |x| < 2^31).
  const __m512 fa = _mm512_roundscale_ps(xa, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 fb = _mm512_roundscale_ps(xb, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 g0a, g1a, g0b, g1b;
  grads32(_mm512_cvttps_epi32(fa), _mm512_cvttps_epi32(fb), g, g0a, g1a, g0b, g1b);
  pa = blend16(_mm512_sub_ps(xa, fa), g0a, g1a);
  pb = blend16(_mm512_sub_ps(xb, fb), g0b, g1b);
}

// uniform(0, 10000) of 8 vertices from their 16 words (64-bit lane l holds word 2l low, 2l + 1 high):
// a = w1 >> 5, b = w2 >> 6, r = (a * 2^26 + b) * 2^-53, u = 10000 * r (0.0 + u is u: u >= 0).
// a * 2^26 + b is exact in double (below 2^53), so it is formed as the integer (a << 26) | b and
// converted once (exact).
VATOM_INLINE __m512d uniform8(__m512i w) {
  // (w << 32) >> 11 puts w1 at bits 21..52: a << 26 in bits 26..52, and w1's low 5 bits in 21..25,
  // which b (w >> 38, 26 bits) replaces: a bit select (ternary logic 0xD8: c ? b : a).
  const __m512i hi = _mm512_srli_epi64(_mm512_slli_epi64(w, 32), 11);
  const __m512i i = _mm512_ternarylogic_epi64(hi, _mm512_srli_epi64(w, 38), _mm512_set1_epi64((1 << 26) - 1), 0xD8);
  const __m512d r = _mm512_mul_pd(_mm512_cvtepi64_pd(i), _mm512_set1_pd(1.0 / 9007199254740992.0));
  return _mm512_mul_pd(_mm512_set1_pd(10000.0), r);
}

// float(uniform(0, 10000)) of vertices v .. v+15 from w[2v .. 2v+31] (vcvtpd2ps: nearest even).
VATOM_INLINE __m512 noise_arg16(const uint32_t* w, int32_t v) {
  const __m512d u0 = uniform8(_mm512_loadu_si512(w + 2 * v));
  const __m512d u1 = uniform8(_mm512_loadu_si512(w + 2 * v + 16));
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(u0)), _mm512_cvtpd_ps(u1), 1);
}

// P = (((pnoise * coef) - coef) - wave1) - wave2 of vertices v .. v+15 in double: lo has vertices
// v .. v+7, hi v+8 .. v+15.
VATOM_INLINE void terms16(__m512 pn, int32_t v, __m512d coef, const double* wave1, const double* wave2, __m512d& lo,
                          __m512d& hi) {
  const __m512d p0 = _mm512_cvtps_pd(_mm512_castps512_ps256(pn));
  const __m512d p1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(pn, 1));
  lo = _mm512_sub_pd(_mm512_sub_pd(_mm512_sub_pd(_mm512_mul_pd(p0, coef), coef), _mm512_load_pd(wave1 + v)),
                     _mm512_load_pd(wave2 + v));
  hi = _mm512_sub_pd(_mm512_sub_pd(_mm512_sub_pd(_mm512_mul_pd(p1, coef), coef), _mm512_load_pd(wave1 + v + 8)),
                     _mm512_load_pd(wave2 + v + 8));
}

VATOM_INLINE __m512d displace8(__m512d coord, __m512d p, __m512d lw, __m512d trig) {
  return _mm512_sub_pd(coord, _mm512_mul_pd(trig, _mm512_sub_pd(p, lw)));
}

// truncate_coord on 8 lanes: clamp to [-2^30, 2^30] (vmaxpd returns its second operand, the lower
// bound, for NaN, as truncate_coord), then truncate.
VATOM_INLINE __m256i truncate8(__m512d x) {
  const __m512d lo = _mm512_set1_pd(-1073741824.0), hi = _mm512_set1_pd(1073741824.0);
  return _mm512_cvttpd_epi32(_mm512_min_pd(_mm512_max_pd(x, lo), hi));
}

void orbit_avx512(const OrbitJob& j) {
  const GradRegs g = grad_regs();
  const __m512d coef = _mm512_set1_pd(j.coef), lw = _mm512_set1_pd(j.lw);
  for (int32_t v = 0; v < j.q; v += 16) {
    __m512 pnx, pny;
    pnoise32(noise_arg16(j.wx, v), noise_arg16(j.wy, v), g, pnx, pny);
    __m512d px0, px1, py0, py1;
    terms16(pnx, v, coef, j.wave1, j.wave2, px0, px1);
    terms16(pny, v, coef, j.wave1, j.wave2, py0, py1);
    const __m512d x0 = displace8(_mm512_load_pd(j.x + v), px0, lw, _mm512_load_pd(j.cos_t + v));
    const __m512d x1 = displace8(_mm512_load_pd(j.x + v + 8), px1, lw, _mm512_load_pd(j.cos_t + v + 8));
    const __m512d y0 = displace8(_mm512_load_pd(j.y + v), py0, lw, _mm512_load_pd(j.sin_t + v));
    const __m512d y1 = displace8(_mm512_load_pd(j.y + v + 8), py1, lw, _mm512_load_pd(j.sin_t + v + 8));
    _mm512_store_pd(j.x + v, x0);
    _mm512_store_pd(j.x + v + 8, x1);
    _mm512_store_pd(j.y + v, y0);
    _mm512_store_pd(j.y + v + 8, y1);
    _mm512_store_si512(j.ix + v, _mm512_inserti64x4(_mm512_castsi256_si512(truncate8(x0)), truncate8(x1), 1));
    _mm512_store_si512(j.iy + v, _mm512_inserti64x4(_mm512_castsi256_si512(truncate8(y0)), truncate8(y1), 1));
  }
}

// 32 vertices a step (the arrays are padded to a multiple of 32).
void noise_avx512(const uint32_t* w, int32_t n, double coef, const double* wave1, const double* wave2, double* out) {
  static_assert(psimd::kVertexPad % 32 == 0, "noise_avx512 steps 32 vertices");
  const GradRegs g = grad_regs();
  const __m512d c = _mm512_set1_pd(coef);
  for (int32_t v = 0; v < n; v += 32) {
    __m512 pa, pb;
    pnoise32(noise_arg16(w, v), noise_arg16(w, v + 16), g, pa, pb);
    __m512d p0, p1, p2, p3;
    terms16(pa, v, c, wave1, wave2, p0, p1);
    terms16(pb, v + 16, c, wave1, wave2, p2, p3);
    _mm512_store_pd(out + v, p0);
    _mm512_store_pd(out + v + 8, p1);
    _mm512_store_pd(out + v + 16, p2);
    _mm512_store_pd(out + v + 24, p3);
  }
}

void move_avx512(const double* p, int32_t n, double lw, const double* trig, double* coord, int32_t* out) {
  const __m512d l = _mm512_set1_pd(lw);
  for (int32_t v = 0; v < n; v += 8) {
    const __m512d x = displace8(_mm512_load_pd(coord + v), _mm512_load_pd(p + v), l, _mm512_load_pd(trig + v));
    _mm512_store_pd(coord + v, x);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + v), truncate8(x));
  }
}

}  // namespace

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

const Kernels& kernels_avx512() {
  static const Kernels k{Isa::Avx512, orbit_avx512, noise_avx512, move_avx512};
  return k;
}

#else

const Kernels& kernels_avx512() {
  static const Kernels k{Isa::Avx512, nullptr, nullptr, nullptr};
  return k;
}

#endif

}  // namespace rsimd
}  // namespace vatom
