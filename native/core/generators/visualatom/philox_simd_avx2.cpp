// AVX2 kernels of philox_simd.hpp, the same algorithms as philox_simd_avx512.cpp in 256-bit vectors
// (4 Philox blocks, 8 float lanes, 8 segments at a time; the compress of AVX-512 done with a
// permutation table). Only the functions between VATOM_TARGET_BEGIN and VATOM_TARGET_END are built for
// AVX2 (simd_target.hpp); kernels_avx2() itself is plain code.
#include "philox_simd.hpp"

#include <cstdint>
#include <cstring>

#include "philox_image.hpp"
#include "pnoise_simd.hpp"
#include "raster_simd.hpp"
#include "simd_target.hpp"

namespace vatom {
namespace psimd {

#if VATOM_X86_SIMD
namespace {

// Compress permutations: for an 8-bit lane mask, the indices of its set lanes in order, 3 bits each.
struct CompressTable {
  uint32_t packed[256];
};

CompressTable make_compress_table() {
  CompressTable t;
  for (int m = 0; m < 256; ++m) {
    uint32_t p = 0;
    int k = 0;
    for (int lane = 0; lane < 8; ++lane) {
      if (m & (1 << lane)) p |= static_cast<uint32_t>(lane) << (4 * k++);
    }
    t.packed[m] = p;
  }
  return t;
}

const CompressTable kCompress = make_compress_table();

}  // namespace

VATOM_TARGET_BEGIN(VATOM_TARGET_AVX2)
namespace {

// pnoise1f(word_to_noise_arg(w)) in 8 lanes.
VATOM_INLINE __m256 noise8(__m256i w) {
  return pnoise8(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 8)), _mm256_set1_ps(5.9604644775390625e-04f)));
}

VATOM_INLINE __m256 displace8(__m256 coord, __m256 p, __m256 eta, __m256 trig, __m256 bias) {
  return _mm256_sub_ps(coord, _mm256_mul_ps(trig, _mm256_sub_ps(_mm256_mul_ps(p, eta), bias)));
}

VATOM_INLINE __m256i truncate8(__m256 v) {
  __m256i r = _mm256_cvttps_epi32(v);
  const __m256 hi = _mm256_cmp_ps(v, _mm256_set1_ps(1073741824.0f), _CMP_GT_OQ);
  r = _mm256_blendv_epi8(r, _mm256_set1_epi32(1073741824), _mm256_castps_si256(hi));
  const __m256 not_lo = _mm256_cmp_ps(v, _mm256_set1_ps(-1073741824.0f), _CMP_GT_OQ);
  r = _mm256_blendv_epi8(_mm256_set1_epi32(-1073741824), r, _mm256_castps_si256(not_lo));
  return r;
}

// Philox4x32-10 of N chains of 4 blocks, one block per 64-bit lane: counter words in the low 32 bits
// of each lane (the high halves may hold garbage: vpmuludq reads only the low halves, and the result
// words are the low halves). Several chains at once, because one chain is a string of dependent
// multiplies that leaves the multiplier idle most of the time.
template <int N>
VATOM_INLINE void philox4xn(__m256i (&c0)[N], __m256i (&c1)[N], __m256i (&c2)[N], __m256i (&c3)[N], uint32_t k0,
                            uint32_t k1) {
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53u), m1 = _mm256_set1_epi64x(0xCD9E8D57u);
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0)), key1 = _mm256_set1_epi32(static_cast<int>(k1));
#pragma GCC unroll 4
    for (int n = 0; n < N; ++n) {
      const __m256i p0 = _mm256_mul_epu32(c0[n], m0);
      const __m256i p1 = _mm256_mul_epu32(c2[n], m1);
      c0[n] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1[n]), key0);
      c2[n] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3[n]), key1);
      c1[n] = p1;
      c3[n] = p0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// Blocks in 64-bit lanes (c0..c3 of 4 blocks) to their 16 words in word order.
VATOM_INLINE void blocks_to_words(__m256i c0, __m256i c1, __m256i c2, __m256i c3, __m256i& lo, __m256i& hi) {
  const __m256i a = _mm256_blend_epi32(c0, _mm256_slli_epi64(c1, 32), 0xAA);  // w0 w1 of blocks 0..3
  const __m256i b = _mm256_blend_epi32(c2, _mm256_slli_epi64(c3, 32), 0xAA);  // w2 w3
  const __m256i l = _mm256_unpacklo_epi64(a, b);  // blocks 0, 2
  const __m256i h = _mm256_unpackhi_epi64(a, b);  // blocks 1, 3
  lo = _mm256_permute2x128_si256(l, h, 0x20);
  hi = _mm256_permute2x128_si256(l, h, 0x31);
}

// The 16 words of blocks first .. first+3 of (cls, instance, orbit, purpose), in word order.
VATOM_INLINE void words16(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit, uint32_t purpose,
                          uint32_t first, __m256i& lo, __m256i& hi) {
  __m256i c0[1] = {_mm256_add_epi64(_mm256_set1_epi64x(first), _mm256_set_epi64x(3, 2, 1, 0))};
  __m256i c1[1] = {_mm256_set1_epi64x(instance)}, c2[1] = {_mm256_set1_epi64x(cls)};
  __m256i c3[1] = {_mm256_set1_epi64x((orbit << 2) | purpose)};
  philox4xn<1>(c0, c1, c2, c3, key.k0, key.k1);
  blocks_to_words(c0[0], c1[0], c2[0], c3[0], lo, hi);
}

VATOM_INLINE void step8(const OrbitJob& j, int32_t v, __m256i wx, __m256i wy, __m256 eta) {
  const __m256 bias = _mm256_load_ps(j.bias + v);
  const __m256 x = displace8(_mm256_load_ps(j.x + v), noise8(wx), eta, _mm256_load_ps(j.cos_t + v), bias);
  const __m256 y = displace8(_mm256_load_ps(j.y + v), noise8(wy), eta, _mm256_load_ps(j.sin_t + v), bias);
  _mm256_store_ps(j.x + v, x);
  _mm256_store_ps(j.y + v, y);
  _mm256_store_si256(reinterpret_cast<__m256i*>(j.ix + v), truncate8(x));
  _mm256_store_si256(reinterpret_cast<__m256i*>(j.iy + v), truncate8(y));
}

// 32 vertices (8 blocks of x words, 8 of y) per step; arrays are padded to kVertexPad == 32.
void orbit_avx2(const OrbitJob& j) {
  static_assert(kVertexPad % 32 == 0, "orbit_avx2 steps 32 vertices");
  const __m256 eta = _mm256_set1_ps(j.eta);
  const __m256i lanes = _mm256_set_epi64x(3, 2, 1, 0);
  const __m256i instance = _mm256_set1_epi64x(j.instance), cls = _mm256_set1_epi64x(j.cls);
  const __m256i cx = _mm256_set1_epi64x((j.orbit << 2) | kPurposeNoiseX);
  const __m256i cy = _mm256_set1_epi64x((j.orbit << 2) | kPurposeNoiseY);
  for (int32_t v = 0; v < j.q; v += 32) {
    const uint32_t block = static_cast<uint32_t>(v) >> 2;
    const __m256i b0 = _mm256_add_epi64(_mm256_set1_epi64x(block), lanes);
    const __m256i b1 = _mm256_add_epi64(_mm256_set1_epi64x(block + 4), lanes);
    __m256i c0[4] = {b0, b1, b0, b1}, c1[4] = {instance, instance, instance, instance};
    __m256i c2[4] = {cls, cls, cls, cls}, c3[4] = {cx, cx, cy, cy};
    philox4xn<4>(c0, c1, c2, c3, j.key.k0, j.key.k1);
    __m256i wx[4], wy[4];
    blocks_to_words(c0[0], c1[0], c2[0], c3[0], wx[0], wx[1]);
    blocks_to_words(c0[1], c1[1], c2[1], c3[1], wx[2], wx[3]);
    blocks_to_words(c0[2], c1[2], c2[2], c3[2], wy[0], wy[1]);
    blocks_to_words(c0[3], c1[3], c2[3], c3[3], wy[2], wy[3]);
    step8(j, v, wx[0], wy[0], eta);
    step8(j, v + 8, wx[1], wy[1], eta);
    step8(j, v + 16, wx[2], wy[2], eta);
    step8(j, v + 24, wx[3], wy[3], eta);
  }
}

void words_avx2(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit, uint32_t purpose, int32_t blocks,
                uint32_t* out) {
  int32_t b = 0;
  for (; b + 4 <= blocks; b += 4) {
    __m256i lo, hi;
    words16(key, cls, instance, orbit, purpose, static_cast<uint32_t>(b), lo, hi);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 * b), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 * b + 8), hi);
  }
  for (; b < blocks; ++b) {
    const Philox4x32 r = philox_block(key, cls, instance, orbit, purpose, static_cast<uint32_t>(b));
    std::memcpy(out + 4 * b, r.v, sizeof r.v);
  }
}

void noise_avx2(const uint32_t* w, int32_t n, float* out) {
  for (int32_t i = 0; i < n; i += 8) {
    _mm256_storeu_ps(out + i, noise8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))));
  }
}

void update_avx2(const float* p, int32_t n, float eta, const float* trig, const float* bias, float* coord) {
  const __m256 e = _mm256_set1_ps(eta);
  for (int32_t i = 0; i < n; i += 8) {
    _mm256_storeu_ps(coord + i, displace8(_mm256_loadu_ps(coord + i), _mm256_loadu_ps(p + i), e,
                                          _mm256_loadu_ps(trig + i), _mm256_loadu_ps(bias + i)));
  }
}

void truncate_avx2(const float* coord, int32_t n, int32_t* out) {
  for (int32_t i = 0; i < n; i += 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), truncate8(_mm256_loadu_ps(coord + i)));
  }
}

VATOM_INLINE int mask8(__m256i m) { return _mm256_movemask_ps(_mm256_castsi256_ps(m)); }

// Stores the lanes of v selected by the 8-bit mask m, in order, at out; returns the end.
VATOM_INLINE int32_t* compress_store(int32_t* out, int m, __m256i v) {
  const __m256i perm = _mm256_and_si256(
      _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(kCompress.packed[m])), _mm256_set_epi32(28, 24, 20, 16, 12, 8, 4, 0)),
      _mm256_set1_epi32(7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permutevar8x32_epi32(v, perm));
  return out + __builtin_popcount(static_cast<unsigned>(m));
}

// Unsigned a < b, b_s being b with its sign bit flipped: signed compares with the sign bits flipped.
VATOM_INLINE __m256i below(__m256i a, __m256i b_s, __m256i sign) {
  return _mm256_cmpgt_epi32(b_s, _mm256_xor_si256(a, sign));
}

VATOM_INLINE __m256i load8(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// raster_avx512 (see there) with 8 segments at a time.
void raster_avx2(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t* scratch) {
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
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i width = _mm256_set1_epi32(c.width), height = _mm256_set1_epi32(c.height);
  const __m256i width_s = _mm256_xor_si256(width, sign), height_s = _mm256_xor_si256(height, sign);
  const __m256i width_m1 = _mm256_set1_epi32(c.width - 1), height_m1 = _mm256_set1_epi32(c.height - 1);
  const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1), minus_one = _mm256_set1_epi32(-1);
  for (int32_t v = 0; v < q; v += 8) {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + v));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + v + 1));
    const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + v));
    const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + v + 1));
    const __m256i index = _mm256_add_epi32(_mm256_set1_epi32(v), lane);
    const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32(q), index);
    const __m256i inside_v = _mm256_and_si256(
        _mm256_and_si256(valid, _mm256_and_si256(below(x0, width_s, sign), below(x1, width_s, sign))),
        _mm256_and_si256(below(y0, height_s, sign), below(y1, height_s, sign)));
    const __m256i culled_v = _mm256_or_si256(
        _mm256_or_si256(_mm256_and_si256(_mm256_cmpgt_epi32(zero, x0), _mm256_cmpgt_epi32(zero, x1)),
                        _mm256_and_si256(_mm256_cmpgt_epi32(zero, y0), _mm256_cmpgt_epi32(zero, y1))),
        _mm256_or_si256(_mm256_and_si256(_mm256_cmpgt_epi32(x0, width_m1), _mm256_cmpgt_epi32(x1, width_m1)),
                        _mm256_and_si256(_mm256_cmpgt_epi32(y0, height_m1), _mm256_cmpgt_epi32(y1, height_m1))));
    const int inside = mask8(inside_v);
    pc = compress_store(pc, mask8(valid) & ~inside & ~mask8(culled_v), index);
    if (!inside) continue;
    const __m256i dx = _mm256_sub_epi32(x1, x0), dy = _mm256_sub_epi32(y1, y0);
    const __m256i adx = _mm256_abs_epi32(dx), ady = _mm256_abs_epi32(dy);
    const __m256i steep = _mm256_xor_si256(_mm256_cmpgt_epi32(adx, ady), minus_one);  // adx <= ady
    const __m256i major = _mm256_blendv_epi8(adx, ady, steep);
    const __m256i minor = _mm256_blendv_epi8(ady, adx, steep);
    const __m256i sx = _mm256_blendv_epi8(one, minus_one, _mm256_cmpgt_epi32(zero, dx));
    const __m256i sy = _mm256_blendv_epi8(width, _mm256_sub_epi32(zero, width), _mm256_cmpgt_epi32(zero, dy));
    const __m256i step_major = _mm256_blendv_epi8(sx, sy, steep);
    const __m256i step_minor = _mm256_blendv_epi8(sy, sx, steep);
    const __m256i two_major = _mm256_add_epi32(major, major), two_minor = _mm256_add_epi32(minor, minor);
    const __m256i count = _mm256_and_si256(_mm256_max_epi32(major, one), inside_v);  // 0 for other lanes
    __m256i offset = _mm256_add_epi32(_mm256_mullo_epi32(y0, width), x0);
    __m256i e = _mm256_sub_epi32(two_minor, major);
    if (po > po_flush) {
      plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
      po = rs.offsets;
    }
    for (int i = 0; i < kVectorSteps; ++i) {
      po = compress_store(po, mask8(_mm256_cmpgt_epi32(count, _mm256_set1_epi32(i))), offset);
      const __m256i up = _mm256_cmpgt_epi32(e, minus_one);  // e >= 0
      offset = _mm256_add_epi32(offset, _mm256_and_si256(up, step_minor));
      e = _mm256_sub_epi32(e, _mm256_and_si256(up, two_major));
      e = _mm256_add_epi32(e, two_minor);
      offset = _mm256_add_epi32(offset, step_major);
    }
    const int longer = mask8(_mm256_cmpgt_epi32(count, _mm256_set1_epi32(kVectorSteps)));
    if (longer) {
      pl[0] = compress_store(pl[0], longer, offset);
      pl[1] = compress_store(pl[1], longer, e);
      pl[2] = compress_store(pl[2], longer, step_major);
      pl[3] = compress_store(pl[3], longer, step_minor);
      pl[4] = compress_store(pl[4], longer, two_major);
      pl[5] = compress_store(pl[5], longer, two_minor);
      pl[6] = compress_store(pl[6], longer, _mm256_sub_epi32(count, _mm256_set1_epi32(kVectorSteps)));
    }
  }
  const int32_t longs = static_cast<int32_t>(pl[0] - rs.long_fields[0]);
  int32_t* const po_flush2 = rs.offsets + kRasterOffsets - 16;
  for (int32_t k = 0; k < longs; k += 8) {
    const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32(longs), _mm256_add_epi32(_mm256_set1_epi32(k), lane));
    __m256i offset = load8(rs.long_fields[0] + k), e = load8(rs.long_fields[1] + k);
    const __m256i step_major = load8(rs.long_fields[2] + k), step_minor = load8(rs.long_fields[3] + k);
    const __m256i two_major = load8(rs.long_fields[4] + k), two_minor = load8(rs.long_fields[5] + k);
    const __m256i rest = _mm256_and_si256(load8(rs.long_fields[6] + k), valid);
    __m256i m = _mm256_max_epi32(rest, _mm256_permute2x128_si256(rest, rest, 0x01));
    m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, 0x4E));
    m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, 0xB1));
    const int32_t steps = _mm256_cvtsi256_si32(m);
    for (int32_t i = 0; i < steps; ++i) {
      if (po > po_flush2) {
        plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
        po = rs.offsets;
      }
      po = compress_store(po, mask8(_mm256_cmpgt_epi32(rest, _mm256_set1_epi32(i))), offset);
      const __m256i up = _mm256_cmpgt_epi32(e, minus_one);
      offset = _mm256_add_epi32(offset, _mm256_and_si256(up, step_minor));
      e = _mm256_sub_epi32(e, _mm256_and_si256(up, two_major));
      e = _mm256_add_epi32(e, two_minor);
      offset = _mm256_add_epi32(offset, step_major);
    }
  }
  plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
  for (const int32_t* s = rs.clipped; s < pc; ++s) draw_line_pil(c, x[*s], y[*s], x[*s + 1], y[*s + 1], gray);
}

}  // namespace
VATOM_TARGET_END()

const Kernels& kernels_avx2() {
  static const Kernels k{Isa::Avx2, orbit_avx2, words_avx2, noise_avx2, update_avx2, truncate_avx2, raster_avx2};
  return k;
}

#else

const Kernels& kernels_avx2() {
  static const Kernels k{Isa::Avx2, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  return k;
}

#endif

}  // namespace psimd
}  // namespace vatom
