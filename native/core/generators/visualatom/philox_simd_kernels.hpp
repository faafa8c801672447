// The vector kernels of philox_simd.hpp, one control flow for every instruction set: a template over
// the lane traits of simd_lanes.hpp. philox_simd_avx2.cpp and philox_simd_avx512.cpp include it inside
// their VATOM_TARGET_BEGIN region, after every header it uses and after their
// blocks_to_words(L, c0, c1, c2, c3, lo, hi) (Philox blocks in 64-bit lanes to their words in word
// order: the one step whose shuffles differ by set), so each set compiles it once with its own
// instructions.
//
// Exactness: Philox is integer arithmetic (32x32->64 products, xors, adds); the float math is lane-wise
// convert, multiply, subtract, truncate and compare in the order of philox_image.hpp, and pnoise1f
// that of pnoise_simd.hpp, which give the bits of the scalar SSE instructions.
#pragma once

namespace vatom {
namespace psimd {
namespace {

template <class L>
struct PhiloxVectorKernels {
  using I = typename L::I;
  using F = typename L::F;
  using M = typename L::M;
  static constexpr int kLanes = L::kLanes;           // 32-bit lanes: words, floats, segments
  static constexpr int kBlocks = L::kLanes / 2;      // Philox blocks of one vector, one per 64-bit lane
  static constexpr int kChainWords = 2 * L::kLanes;  // the words of one chain of kBlocks blocks
  static_assert(kVertexPad % kChainWords == 0, "the kernels step whole chains of padded vertices");

  // Philox4x32-10 of N chains of kBlocks blocks: counter words in the low 32 bits of each 64-bit lane
  // (the high halves may hold garbage: the 32x32->64 multiply reads only the low halves, and the result
  // words are the low halves). Several chains at once, because one chain is a string of dependent
  // multiplies that leaves the multiplier idle most of the time.
  template <int N>
  static VATOM_INLINE void philox(I (&c0)[N], I (&c1)[N], I (&c2)[N], I (&c3)[N], uint32_t k0, uint32_t k1) {
    const I m0 = L::set1_64(0xD2511F53u), m1 = L::set1_64(0xCD9E8D57u);
    for (int round = 0; round < 10; ++round) {
      const I key0 = L::set1(static_cast<int32_t>(k0)), key1 = L::set1(static_cast<int32_t>(k1));
#pragma GCC unroll 4
      for (int n = 0; n < N; ++n) {
        const I p0 = L::mul_32x32_64(c0[n], m0);
        const I p1 = L::mul_32x32_64(c2[n], m1);
        c0[n] = L::xor3(L::high_32(p1), c1[n], key0);
        c2[n] = L::xor3(L::high_32(p0), c3[n], key1);
        c1[n] = p1;
        c3[n] = p0;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
  }

  // word_to_noise_arg(w) lane by lane.
  static VATOM_INLINE F noise_arg(I w) {
    return L::mul(L::to_float(L::template srli<8>(w)), L::set1f(5.9604644775390625e-04f));
  }

  static VATOM_INLINE F displace(F coord, F p, F eta, F trig, F bias) {
    return L::sub(coord, L::mul(trig, L::sub(L::mul(p, eta), bias)));
  }

  // truncate_coord lane by lane.
  static VATOM_INLINE I truncate_coords(F v) {
    I r = L::truncate(v);
    r = L::select(L::gt(v, L::set1f(1073741824.0f)), L::set1(1073741824), r);
    return L::select(L::gt(v, L::set1f(-1073741824.0f)), r, L::set1(-1073741824));
  }

  static VATOM_INLINE void step(const OrbitJob& j, int32_t v, I wx, I wy, F eta, const typename L::Grads& g) {
    F px, py;
    L::pnoise2(noise_arg(wx), noise_arg(wy), g, px, py);
    const F bias = L::load(j.bias + v);
    const F x = displace(L::load(j.x + v), px, eta, L::load(j.cos_t + v), bias);
    const F y = displace(L::load(j.y + v), py, eta, L::load(j.sin_t + v), bias);
    L::store(j.x + v, x);
    L::store(j.y + v, y);
    L::store(j.ix + v, truncate_coords(x));
    L::store(j.iy + v, truncate_coords(y));
  }

  // Two chains of x words and two of y (2 kChainWords vertices) a step, then one of each for the rest.
  static void orbit(const OrbitJob& j) {
    const typename L::Grads g = L::grads();
    const F eta = L::set1f(j.eta);
    const I lanes = L::lane_index_64();
    const I instance = L::set1_64(j.instance), cls = L::set1_64(j.cls);
    const I cx = L::set1_64((j.orbit << 2) | kPurposeNoiseX);
    const I cy = L::set1_64((j.orbit << 2) | kPurposeNoiseY);
    int32_t v = 0;
    for (; v + kChainWords < j.q; v += 2 * kChainWords) {
      const uint32_t block = static_cast<uint32_t>(v) >> 2;
      const I b0 = L::add_64(L::set1_64(block), lanes);
      const I b1 = L::add_64(L::set1_64(block + kBlocks), lanes);
      I c0[4] = {b0, b1, b0, b1}, c1[4] = {instance, instance, instance, instance};
      I c2[4] = {cls, cls, cls, cls}, c3[4] = {cx, cx, cy, cy};
      philox<4>(c0, c1, c2, c3, j.key.k0, j.key.k1);
      I wx[4], wy[4];
      blocks_to_words(L{}, c0[0], c1[0], c2[0], c3[0], wx[0], wx[1]);
      blocks_to_words(L{}, c0[1], c1[1], c2[1], c3[1], wx[2], wx[3]);
      blocks_to_words(L{}, c0[2], c1[2], c2[2], c3[2], wy[0], wy[1]);
      blocks_to_words(L{}, c0[3], c1[3], c2[3], c3[3], wy[2], wy[3]);
      step(j, v, wx[0], wy[0], eta, g);
      step(j, v + kLanes, wx[1], wy[1], eta, g);
      step(j, v + 2 * kLanes, wx[2], wy[2], eta, g);
      step(j, v + 3 * kLanes, wx[3], wy[3], eta, g);
    }
    if (v < j.q) {
      const I b0 = L::add_64(L::set1_64(static_cast<uint32_t>(v) >> 2), lanes);
      I c0[2] = {b0, b0}, c1[2] = {instance, instance}, c2[2] = {cls, cls}, c3[2] = {cx, cy};
      philox<2>(c0, c1, c2, c3, j.key.k0, j.key.k1);
      I wx[2], wy[2];
      blocks_to_words(L{}, c0[0], c1[0], c2[0], c3[0], wx[0], wx[1]);
      blocks_to_words(L{}, c0[1], c1[1], c2[1], c3[1], wy[0], wy[1]);
      step(j, v, wx[0], wy[0], eta, g);
      step(j, v + kLanes, wx[1], wy[1], eta, g);
    }
  }

  static void words(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit, uint32_t purpose,
                    int32_t blocks, uint32_t* out) {
    int32_t b = 0;
    for (; b + kBlocks <= blocks; b += kBlocks) {
      I c0[1] = {L::add_64(L::set1_64(static_cast<uint32_t>(b)), L::lane_index_64())};
      I c1[1] = {L::set1_64(instance)}, c2[1] = {L::set1_64(cls)};
      I c3[1] = {L::set1_64((orbit << 2) | purpose)};
      philox<1>(c0, c1, c2, c3, key.k0, key.k1);
      I lo, hi;
      blocks_to_words(L{}, c0[0], c1[0], c2[0], c3[0], lo, hi);
      L::storeu(out + 4 * b, lo);
      L::storeu(out + 4 * b + kLanes, hi);
    }
    for (; b < blocks; ++b) {
      const Philox4x32 r = philox_block(key, cls, instance, orbit, purpose, static_cast<uint32_t>(b));
      std::memcpy(out + 4 * b, r.v, sizeof r.v);
    }
  }

  // Two vectors a step (n is a multiple of kVertexPad).
  static void noise(const uint32_t* w, int32_t n, float* out) {
    const typename L::Grads g = L::grads();
    for (int32_t i = 0; i < n; i += 2 * kLanes) {
      F pa, pb;
      L::pnoise2(noise_arg(L::loadu(w + i)), noise_arg(L::loadu(w + i + kLanes)), g, pa, pb);
      L::storeu(out + i, pa);
      L::storeu(out + i + kLanes, pb);
    }
  }

  static void update(const float* p, int32_t n, float eta, const float* trig, const float* bias, float* coord) {
    const F e = L::set1f(eta);
    for (int32_t i = 0; i < n; i += kLanes) {
      L::storeu(coord + i, displace(L::loadu(coord + i), L::loadu(p + i), e, L::loadu(trig + i), L::loadu(bias + i)));
    }
  }

  static void truncate(const float* coord, int32_t n, int32_t* out) {
    for (int32_t i = 0; i < n; i += kLanes) L::storeu(out + i, truncate_coords(L::loadu(coord + i)));
  }

  // One step of kLanes Bresenham walks (one segment per lane): the offset moves along the major axis,
  // and along the minor one where the error is not negative.
  static VATOM_INLINE void walk(I& offset, I& e, I step_major, I step_minor, I two_major, I two_minor, I minus_one) {
    const M up = L::gt(e, minus_one);
    offset = L::add_if(offset, up, step_minor);
    e = L::sub_if(e, up, two_major);
    e = L::add(e, two_minor);
    offset = L::add(offset, step_major);
  }

  // Segments v -> v+1, kLanes at a time: culled ones are dropped; those with both ends on the canvas
  // walk in vector registers (the walk of draw_segment_inside_open, one segment per lane), kVectorSteps
  // steps in a first pass and the rest of the longer ones in a second pass, kLanes long segments at a
  // time; the pixel offsets they reach are collected and then set. The others (clipped) go to
  // draw_line_pil. All pixels of one call have one gray, so the order in which they are set does not
  // matter.
  static void raster(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t* scratch) {
    if (static_cast<int64_t>(c.width) * c.height > INT32_MAX) {  // pixel offsets are 32-bit lanes
      draw_polygon_pil(c, x, y, q, gray);
      return;
    }
    x[q] = x[0];
    y[q] = y[0];
    const RasterScratch rs(scratch, q);
    uint8_t* const pixels = c.pixels;
    int32_t* po = rs.offsets;
    int32_t* const po_flush = rs.offsets + kRasterOffsets - 16 * kVectorSteps;
    int32_t* pl[7];
    for (int f = 0; f < 7; ++f) pl[f] = rs.long_fields[f];
    int32_t* pc = rs.clipped;
    const I width = L::set1(c.width), height = L::set1(c.height);
    const typename L::Below width_bound = L::below_bound(width), height_bound = L::below_bound(height);
    const I width_m1 = L::set1(c.width - 1), height_m1 = L::set1(c.height - 1);
    const I lane = L::lane_index();
    const I zero = L::zero(), one = L::set1(1), minus_one = L::set1(-1);
    for (int32_t v = 0; v < q; v += kLanes) {
      const I x0 = L::loadu(x + v), x1 = L::loadu(x + v + 1);
      const I y0 = L::loadu(y + v), y1 = L::loadu(y + v + 1);
      const I index = L::add(L::set1(v), lane);
      const M valid = L::lt(index, L::set1(q));
      const M inside = L::m_and(
          L::m_and(valid, L::m_and(L::below(x0, width_bound), L::below(x1, width_bound))),
          L::m_and(L::below(y0, height_bound), L::below(y1, height_bound)));
      const M culled = L::m_or(
          L::m_or(L::m_and(L::lt(x0, zero), L::lt(x1, zero)), L::m_and(L::lt(y0, zero), L::lt(y1, zero))),
          L::m_or(L::m_and(L::gt(x0, width_m1), L::gt(x1, width_m1)),
                  L::m_and(L::gt(y0, height_m1), L::gt(y1, height_m1))));
      pc = L::compress_store(pc, L::m_andnot(valid, L::m_or(inside, culled)), index);
      if (!L::any(inside)) continue;
      const I dx = L::sub(x1, x0), dy = L::sub(y1, y0);
      const I adx = L::abs(dx), ady = L::abs(dy);
      const M steep = L::le(adx, ady);
      const I major = L::select(steep, ady, adx);
      const I minor = L::select(steep, adx, ady);
      const I sx = L::select(L::lt(dx, zero), minus_one, one);
      const I sy = L::select(L::lt(dy, zero), L::sub(zero, width), width);
      const I step_major = L::select(steep, sy, sx);
      const I step_minor = L::select(steep, sx, sy);
      const I two_major = L::add(major, major), two_minor = L::add(minor, minor);
      // A single point still plots its start; lanes not inside count 0.
      const I count = L::keep(L::max(major, one), inside);
      I offset = L::add(L::mullo(y0, width), x0);
      I e = L::sub(two_minor, major);
      if (po > po_flush) {
        plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
        po = rs.offsets;
      }
      for (int i = 0; i < kVectorSteps; ++i) {
        po = L::compress_store(po, L::gt(count, L::set1(i)), offset);
        walk(offset, e, step_major, step_minor, two_major, two_minor, minus_one);
      }
      const M longer = L::gt(count, L::set1(kVectorSteps));
      if (L::any(longer)) {
        pl[0] = L::compress_store(pl[0], longer, offset);
        pl[1] = L::compress_store(pl[1], longer, e);
        pl[2] = L::compress_store(pl[2], longer, step_major);
        pl[3] = L::compress_store(pl[3], longer, step_minor);
        pl[4] = L::compress_store(pl[4], longer, two_major);
        pl[5] = L::compress_store(pl[5], longer, two_minor);
        pl[6] = L::compress_store(pl[6], longer, L::sub(count, L::set1(kVectorSteps)));
      }
    }
    // Second pass: the rest of the long segments, kLanes at a time, until the longest of them ends.
    const int32_t longs = static_cast<int32_t>(pl[0] - rs.long_fields[0]);
    int32_t* const po_flush2 = rs.offsets + kRasterOffsets - 16;
    for (int32_t k = 0; k < longs; k += kLanes) {
      const M valid = L::lt(L::add(L::set1(k), lane), L::set1(longs));
      I offset = L::loadu(rs.long_fields[0] + k), e = L::loadu(rs.long_fields[1] + k);
      const I step_major = L::loadu(rs.long_fields[2] + k), step_minor = L::loadu(rs.long_fields[3] + k);
      const I two_major = L::loadu(rs.long_fields[4] + k), two_minor = L::loadu(rs.long_fields[5] + k);
      const I rest = L::keep(L::loadu(rs.long_fields[6] + k), valid);
      const int32_t steps = L::reduce_max(rest);
      for (int32_t i = 0; i < steps; ++i) {
        if (po > po_flush2) {
          plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
          po = rs.offsets;
        }
        po = L::compress_store(po, L::gt(rest, L::set1(i)), offset);
        walk(offset, e, step_major, step_minor, two_major, two_minor, minus_one);
      }
    }
    plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
    for (const int32_t* s = rs.clipped; s < pc; ++s) draw_line_pil(c, x[*s], y[*s], x[*s + 1], y[*s + 1], gray);
  }

  static Kernels table(Isa isa) { return Kernels{isa, orbit, words, noise, update, truncate, raster}; }
};

}  // namespace
}  // namespace psimd
}  // namespace vatom
