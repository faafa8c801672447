// The vector kernels of reference_simd.hpp, one control flow for every instruction set: a template over
// the lane traits of simd_lanes.hpp, kLanes vertices a step (their doubles in two halves, pnoise1 in
// float lanes). reference_simd_avx2.cpp and reference_simd_avx512.cpp include it inside their
// VATOM_TARGET_BEGIN region, after every header it uses and after their uniform_args(L, w)
// (float(uniform(0, 10000)) of kLanes vertices from their 2 kLanes MT19937 words: the one step whose
// instructions differ by set), so each set compiles it once with its own instructions.
//
// Exactness: lane-wise multiply and subtract in double in the definition's order, convert to float
// (round to nearest even, as static_cast<float>), the float pnoise1 of pnoise_simd.hpp, convert to
// double (exact) and truncate after clamping to truncate_coord's bounds (max returns its second
// operand, the lower bound, for NaN, as truncate_coord does).
#pragma once

namespace vatom {
namespace rsimd {
namespace {

template <class L>
struct ReferenceVectorKernels {
  using F = typename L::F;
  using D = typename L::D;
  using HalfI = typename L::HalfI;
  static constexpr int kLanes = L::kLanes;
  static constexpr int kHalf = L::kLanes / 2;  // double lanes
  static_assert(psimd::kVertexPad % (2 * kLanes) == 0, "the kernels step whole vectors of padded vertices");

  // P = (((pnoise * coef) - coef) - wave1) - wave2 of vertices v .. v + kLanes - 1 in double: lo has the
  // first half of them, hi the second.
  static VATOM_INLINE void terms(F pn, int32_t v, D coef, const double* wave1, const double* wave2, D& lo, D& hi) {
    const D p0 = L::low_to_double(pn), p1 = L::high_to_double(pn);
    lo = L::sub(L::sub(L::sub(L::mul(p0, coef), coef), L::load(wave1 + v)), L::load(wave2 + v));
    hi = L::sub(L::sub(L::sub(L::mul(p1, coef), coef), L::load(wave1 + v + kHalf)), L::load(wave2 + v + kHalf));
  }

  static VATOM_INLINE D displace(D coord, D p, D lw, D trig) { return L::sub(coord, L::mul(trig, L::sub(p, lw))); }

  static VATOM_INLINE HalfI truncate_coords(D x) {
    return L::truncate(L::min(L::max(x, L::set1d(-1073741824.0)), L::set1d(1073741824.0)));
  }

  static void orbit(const OrbitJob& j) {
    const typename L::Grads g = L::grads();
    const D coef = L::set1d(j.coef), lw = L::set1d(j.lw);
    for (int32_t v = 0; v < j.q; v += kLanes) {
      F pnx, pny;
      L::pnoise2(uniform_args(L{}, j.wx + 2 * v), uniform_args(L{}, j.wy + 2 * v), g, pnx, pny);
      D px0, px1, py0, py1;
      terms(pnx, v, coef, j.wave1, j.wave2, px0, px1);
      terms(pny, v, coef, j.wave1, j.wave2, py0, py1);
      const D x0 = displace(L::load(j.x + v), px0, lw, L::load(j.cos_t + v));
      const D x1 = displace(L::load(j.x + v + kHalf), px1, lw, L::load(j.cos_t + v + kHalf));
      const D y0 = displace(L::load(j.y + v), py0, lw, L::load(j.sin_t + v));
      const D y1 = displace(L::load(j.y + v + kHalf), py1, lw, L::load(j.sin_t + v + kHalf));
      L::store(j.x + v, x0);
      L::store(j.x + v + kHalf, x1);
      L::store(j.y + v, y0);
      L::store(j.y + v + kHalf, y1);
      L::store(static_cast<void*>(j.ix + v), L::join(truncate_coords(x0), truncate_coords(x1)));
      L::store(static_cast<void*>(j.iy + v), L::join(truncate_coords(y0), truncate_coords(y1)));
    }
  }

  // Two vectors of vertices a step (the arrays are padded to a multiple of kVertexPad).
  static void noise(const uint32_t* w, int32_t n, double coef, const double* wave1, const double* wave2, double* out) {
    const typename L::Grads g = L::grads();
    const D c = L::set1d(coef);
    for (int32_t v = 0; v < n; v += 2 * kLanes) {
      F pa, pb;
      L::pnoise2(uniform_args(L{}, w + 2 * v), uniform_args(L{}, w + 2 * (v + kLanes)), g, pa, pb);
      D p0, p1, p2, p3;
      terms(pa, v, c, wave1, wave2, p0, p1);
      terms(pb, v + kLanes, c, wave1, wave2, p2, p3);
      L::store(out + v, p0);
      L::store(out + v + kHalf, p1);
      L::store(out + v + kLanes, p2);
      L::store(out + v + kLanes + kHalf, p3);
    }
  }

  static void move(const double* p, int32_t n, double lw, const double* trig, double* coord, int32_t* out) {
    const D l = L::set1d(lw);
    for (int32_t v = 0; v < n; v += kHalf) {
      const D x = displace(L::load(coord + v), L::load(p + v), l, L::load(trig + v));
      L::store(coord + v, x);
      L::store(out + v, truncate_coords(x));
    }
  }

  static Kernels table(Isa isa) { return Kernels{isa, orbit, noise, move}; }
};

}  // namespace
}  // namespace rsimd
}  // namespace vatom
