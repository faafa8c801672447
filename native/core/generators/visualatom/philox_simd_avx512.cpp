// AVX-512 kernels (F, BW, VL, DQ, VBMI) of philox_simd.hpp. Only the functions between
// VATOM_TARGET_BEGIN and VATOM_TARGET_END are built for AVX-512 (simd_target.hpp); kernels_avx512()
// itself is plain code.
//
// Exactness: Philox is integer arithmetic (32x32->64 products by vpmuludq, xors, adds); the float math
// is lane-wise vcvtdq2ps, vmulps, vsubps, vaddps, vcvttps2dq and compares in the order of
// philox_image.hpp, and pnoise1f that of pnoise_simd.hpp, which give the bits of the scalar SSE
// instructions.
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
VATOM_TARGET_BEGIN(VATOM_TARGET_AVX512)
namespace {

// Philox4x32-10 of N chains of 8 blocks, one block per 64-bit lane: counter words in the low 32 bits
// of each lane (the high halves may hold garbage: vpmuludq reads only the low halves, and the result
// words are the low halves). Several chains at once, because one chain is a string of dependent
// multiplies that leaves the multiplier idle most of the time.
template <int N>
VATOM_INLINE void philox8xn(__m512i (&c0)[N], __m512i (&c1)[N], __m512i (&c2)[N], __m512i (&c3)[N], uint32_t k0,
                            uint32_t k1) {
  const __m512i m0 = _mm512_set1_epi64(0xD2511F53u), m1 = _mm512_set1_epi64(0xCD9E8D57u);
  for (int round = 0; round < 10; ++round) {
    const __m512i key0 = _mm512_set1_epi32(static_cast<int>(k0)), key1 = _mm512_set1_epi32(static_cast<int>(k1));
#pragma GCC unroll 4
    for (int n = 0; n < N; ++n) {
      const __m512i p0 = _mm512_mul_epu32(c0[n], m0);
      const __m512i p1 = _mm512_mul_epu32(c2[n], m1);
      c0[n] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), c1[n], key0, 0x96);
      c2[n] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), c3[n], key1, 0x96);
      c1[n] = p1;
      c3[n] = p0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// 8 blocks in 64-bit lanes to their 32 words in word order.
VATOM_INLINE void blocks_to_words(__m512i c0, __m512i c1, __m512i c2, __m512i c3, __m512i& lo, __m512i& hi) {
  const __m512i a = _mm512_mask_blend_epi32(0xAAAA, c0, _mm512_slli_epi64(c1, 32));
  const __m512i b = _mm512_mask_blend_epi32(0xAAAA, c2, _mm512_slli_epi64(c3, 32));
  lo = _mm512_permutex2var_epi64(a, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), b);
  hi = _mm512_permutex2var_epi64(a, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), b);
}

// The 32 words of blocks first .. first+7 of (cls, instance, orbit, purpose), in word order.
VATOM_INLINE void words32(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit, uint32_t purpose,
                          uint32_t first, __m512i& lo, __m512i& hi) {
  __m512i c0[1] = {_mm512_add_epi64(_mm512_set1_epi64(first), _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0))};
  __m512i c1[1] = {_mm512_set1_epi64(instance)}, c2[1] = {_mm512_set1_epi64(cls)};
  __m512i c3[1] = {_mm512_set1_epi64((orbit << 2) | purpose)};
  philox8xn<1>(c0, c1, c2, c3, key.k0, key.k1);
  blocks_to_words(c0[0], c1[0], c2[0], c3[0], lo, hi);
}

// word_to_noise_arg(w) in 16 lanes.
VATOM_INLINE __m512 noise_arg16(__m512i w) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8)), _mm512_set1_ps(5.9604644775390625e-04f));
}

VATOM_INLINE __m512 displace16(__m512 coord, __m512 p, __m512 eta, __m512 trig, __m512 bias) {
  return _mm512_sub_ps(coord, _mm512_mul_ps(trig, _mm512_sub_ps(_mm512_mul_ps(p, eta), bias)));
}

VATOM_INLINE __m512i truncate16(__m512 v) {
  __m512i r = _mm512_cvttps_epi32(v);
  r = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, _mm512_set1_ps(1073741824.0f), _CMP_GT_OQ), r,
                              _mm512_set1_epi32(1073741824));
  r = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v, _mm512_set1_ps(-1073741824.0f), _CMP_GT_OQ),
                              _mm512_set1_epi32(-1073741824), r);
  return r;
}

VATOM_INLINE void step16(const OrbitJob& j, int32_t v, __m512i wx, __m512i wy, __m512 eta, const PerlinGradRegs& g) {
  __m512 px, py;
  pnoise16x2(noise_arg16(wx), noise_arg16(wy), g, px, py);
  const __m512 bias = _mm512_load_ps(j.bias + v);
  const __m512 x = displace16(_mm512_load_ps(j.x + v), px, eta, _mm512_load_ps(j.cos_t + v), bias);
  const __m512 y = displace16(_mm512_load_ps(j.y + v), py, eta, _mm512_load_ps(j.sin_t + v), bias);
  _mm512_store_ps(j.x + v, x);
  _mm512_store_ps(j.y + v, y);
  _mm512_store_si512(j.ix + v, truncate16(x));
  _mm512_store_si512(j.iy + v, truncate16(y));
}

// 64 vertices (16 blocks of x words, 16 of y: four chains) per step, then 32 (two chains) for the rest;
// arrays are padded to kVertexPad == 32.
void orbit_avx512(const OrbitJob& j) {
  static_assert(kVertexPad % 32 == 0, "orbit_avx512 steps 32 vertices");
  const PerlinGradRegs g = perlin_grad_regs();
  const __m512 eta = _mm512_set1_ps(j.eta);
  const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i instance = _mm512_set1_epi64(j.instance), cls = _mm512_set1_epi64(j.cls);
  const __m512i cx = _mm512_set1_epi64((j.orbit << 2) | kPurposeNoiseX);
  const __m512i cy = _mm512_set1_epi64((j.orbit << 2) | kPurposeNoiseY);
  int32_t v = 0;
  for (; v + 32 < j.q; v += 64) {
    const uint32_t block = static_cast<uint32_t>(v) >> 2;
    const __m512i b0 = _mm512_add_epi64(_mm512_set1_epi64(block), lanes);
    const __m512i b1 = _mm512_add_epi64(_mm512_set1_epi64(block + 8), lanes);
    __m512i c0[4] = {b0, b1, b0, b1}, c1[4] = {instance, instance, instance, instance};
    __m512i c2[4] = {cls, cls, cls, cls}, c3[4] = {cx, cx, cy, cy};
    philox8xn<4>(c0, c1, c2, c3, j.key.k0, j.key.k1);
    __m512i wx[4], wy[4];
    blocks_to_words(c0[0], c1[0], c2[0], c3[0], wx[0], wx[1]);
    blocks_to_words(c0[1], c1[1], c2[1], c3[1], wx[2], wx[3]);
    blocks_to_words(c0[2], c1[2], c2[2], c3[2], wy[0], wy[1]);
    blocks_to_words(c0[3], c1[3], c2[3], c3[3], wy[2], wy[3]);
    step16(j, v, wx[0], wy[0], eta, g);
    step16(j, v + 16, wx[1], wy[1], eta, g);
    step16(j, v + 32, wx[2], wy[2], eta, g);
    step16(j, v + 48, wx[3], wy[3], eta, g);
  }
  if (v < j.q) {
    const __m512i b0 = _mm512_add_epi64(_mm512_set1_epi64(static_cast<uint32_t>(v) >> 2), lanes);
    __m512i c0[2] = {b0, b0}, c1[2] = {instance, instance}, c2[2] = {cls, cls}, c3[2] = {cx, cy};
    philox8xn<2>(c0, c1, c2, c3, j.key.k0, j.key.k1);
    __m512i wx[2], wy[2];
    blocks_to_words(c0[0], c1[0], c2[0], c3[0], wx[0], wx[1]);
    blocks_to_words(c0[1], c1[1], c2[1], c3[1], wy[0], wy[1]);
    step16(j, v, wx[0], wy[0], eta, g);
    step16(j, v + 16, wx[1], wy[1], eta, g);
  }
}

void words_avx512(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit, uint32_t purpose, int32_t blocks,
                  uint32_t* out) {
  int32_t b = 0;
  for (; b + 8 <= blocks; b += 8) {
    __m512i lo, hi;
    words32(key, cls, instance, orbit, purpose, static_cast<uint32_t>(b), lo, hi);
    _mm512_storeu_si512(out + 4 * b, lo);
    _mm512_storeu_si512(out + 4 * b + 16, hi);
  }
  for (; b < blocks; ++b) {
    const Philox4x32 r = philox_block(key, cls, instance, orbit, purpose, static_cast<uint32_t>(b));
    std::memcpy(out + 4 * b, r.v, sizeof r.v);
  }
}

// 32 words a step (n is a multiple of kVertexPad).
void noise_avx512(const uint32_t* w, int32_t n, float* out) {
  static_assert(kVertexPad % 32 == 0, "noise_avx512 steps 32 words");
  const PerlinGradRegs g = perlin_grad_regs();
  for (int32_t i = 0; i < n; i += 32) {
    __m512 pa, pb;
    pnoise16x2(noise_arg16(_mm512_loadu_si512(w + i)), noise_arg16(_mm512_loadu_si512(w + i + 16)), g, pa, pb);
    _mm512_storeu_ps(out + i, pa);
    _mm512_storeu_ps(out + i + 16, pb);
  }
}

void update_avx512(const float* p, int32_t n, float eta, const float* trig, const float* bias, float* coord) {
  const __m512 e = _mm512_set1_ps(eta);
  for (int32_t i = 0; i < n; i += 16) {
    _mm512_storeu_ps(coord + i, displace16(_mm512_loadu_ps(coord + i), _mm512_loadu_ps(p + i), e,
                                           _mm512_loadu_ps(trig + i), _mm512_loadu_ps(bias + i)));
  }
}

void truncate_avx512(const float* coord, int32_t n, int32_t* out) {
  for (int32_t i = 0; i < n; i += 16) _mm512_storeu_si512(out + i, truncate16(_mm512_loadu_ps(coord + i)));
}

VATOM_INLINE int32_t* compress_store(int32_t* out, __mmask16 m, __m512i v) {
  _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(m, v));
  return out + __builtin_popcount(m);
}

// Segments v -> v+1, 16 at a time: culled ones are dropped; those with both ends on the canvas walk
// in vector registers (the walk of draw_segment_inside_open, one segment per lane), kVectorSteps
// steps in a first pass and the rest of the longer ones in a second pass, 16 long segments at a time;
// the pixel offsets they reach are collected and then set. The others (clipped) go to draw_line_pil.
// All pixels of one call have one gray, so the order in which they are set does not matter.
void raster_avx512(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t* scratch) {
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
  const __m512i width = _mm512_set1_epi32(c.width), height = _mm512_set1_epi32(c.height);
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
  for (int32_t v = 0; v < q; v += 16) {
    const __m512i x0 = _mm512_loadu_si512(x + v), x1 = _mm512_loadu_si512(x + v + 1);
    const __m512i y0 = _mm512_loadu_si512(y + v), y1 = _mm512_loadu_si512(y + v + 1);
    const __m512i index = _mm512_add_epi32(_mm512_set1_epi32(v), lane);
    const __mmask16 valid = _mm512_cmplt_epi32_mask(index, _mm512_set1_epi32(q));
    const __mmask16 inside = valid & _mm512_cmplt_epu32_mask(x0, width) & _mm512_cmplt_epu32_mask(x1, width) &
                             _mm512_cmplt_epu32_mask(y0, height) & _mm512_cmplt_epu32_mask(y1, height);
    const __mmask16 culled = (_mm512_cmplt_epi32_mask(x0, zero) & _mm512_cmplt_epi32_mask(x1, zero)) |
                             (_mm512_cmplt_epi32_mask(y0, zero) & _mm512_cmplt_epi32_mask(y1, zero)) |
                             (_mm512_cmpge_epi32_mask(x0, width) & _mm512_cmpge_epi32_mask(x1, width)) |
                             (_mm512_cmpge_epi32_mask(y0, height) & _mm512_cmpge_epi32_mask(y1, height));
    pc = compress_store(pc, valid & ~inside & ~culled, index);
    if (!inside) continue;
    const __m512i dx = _mm512_sub_epi32(x1, x0), dy = _mm512_sub_epi32(y1, y0);
    const __m512i adx = _mm512_abs_epi32(dx), ady = _mm512_abs_epi32(dy);
    const __mmask16 steep = _mm512_cmple_epi32_mask(adx, ady);
    const __m512i major = _mm512_mask_blend_epi32(steep, adx, ady);
    const __m512i minor = _mm512_mask_blend_epi32(steep, ady, adx);
    const __m512i sx = _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(dx, zero), one, _mm512_set1_epi32(-1));
    const __m512i sy = _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(dy, zero), width, _mm512_sub_epi32(zero, width));
    const __m512i step_major = _mm512_mask_blend_epi32(steep, sx, sy);
    const __m512i step_minor = _mm512_mask_blend_epi32(steep, sy, sx);
    const __m512i two_major = _mm512_add_epi32(major, major), two_minor = _mm512_add_epi32(minor, minor);
    const __m512i count = _mm512_max_epi32(major, one);  // a single point still plots its start
    __m512i offset = _mm512_add_epi32(_mm512_mullo_epi32(y0, width), x0);
    __m512i e = _mm512_sub_epi32(two_minor, major);
    if (po > po_flush) {
      plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
      po = rs.offsets;
    }
    for (int i = 0; i < kVectorSteps; ++i) {
      po = compress_store(po, inside & _mm512_cmpgt_epi32_mask(count, _mm512_set1_epi32(i)), offset);
      const __mmask16 up = _mm512_cmpge_epi32_mask(e, zero);
      offset = _mm512_mask_add_epi32(offset, up, offset, step_minor);
      e = _mm512_mask_sub_epi32(e, up, e, two_major);
      e = _mm512_add_epi32(e, two_minor);
      offset = _mm512_add_epi32(offset, step_major);
    }
    const __mmask16 longer = inside & _mm512_cmpgt_epi32_mask(count, _mm512_set1_epi32(kVectorSteps));
    if (longer) {
      pl[0] = compress_store(pl[0], longer, offset);
      pl[1] = compress_store(pl[1], longer, e);
      pl[2] = compress_store(pl[2], longer, step_major);
      pl[3] = compress_store(pl[3], longer, step_minor);
      pl[4] = compress_store(pl[4], longer, two_major);
      pl[5] = compress_store(pl[5], longer, two_minor);
      pl[6] = compress_store(pl[6], longer, _mm512_sub_epi32(count, _mm512_set1_epi32(kVectorSteps)));
    }
  }
  // Second pass: the rest of the long segments, 16 at a time, until the longest of them ends.
  const int32_t longs = static_cast<int32_t>(pl[0] - rs.long_fields[0]);
  int32_t* const po_flush2 = rs.offsets + kRasterOffsets - 16;
  for (int32_t k = 0; k < longs; k += 16) {
    const __mmask16 valid = _mm512_cmplt_epi32_mask(_mm512_add_epi32(_mm512_set1_epi32(k), lane), _mm512_set1_epi32(longs));
    __m512i offset = _mm512_loadu_si512(rs.long_fields[0] + k);
    __m512i e = _mm512_loadu_si512(rs.long_fields[1] + k);
    const __m512i step_major = _mm512_loadu_si512(rs.long_fields[2] + k);
    const __m512i step_minor = _mm512_loadu_si512(rs.long_fields[3] + k);
    const __m512i two_major = _mm512_loadu_si512(rs.long_fields[4] + k);
    const __m512i two_minor = _mm512_loadu_si512(rs.long_fields[5] + k);
    const __m512i rest = _mm512_maskz_loadu_epi32(valid, rs.long_fields[6] + k);
    const int32_t steps = _mm512_reduce_max_epi32(rest);
    for (int32_t i = 0; i < steps; ++i) {
      if (po > po_flush2) {
        plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
        po = rs.offsets;
      }
      po = compress_store(po, _mm512_cmpgt_epi32_mask(rest, _mm512_set1_epi32(i)), offset);
      const __mmask16 up = _mm512_cmpge_epi32_mask(e, zero);
      offset = _mm512_mask_add_epi32(offset, up, offset, step_minor);
      e = _mm512_mask_sub_epi32(e, up, e, two_major);
      e = _mm512_add_epi32(e, two_minor);
      offset = _mm512_add_epi32(offset, step_major);
    }
  }
  plot_offsets(pixels, rs.offsets, static_cast<int32_t>(po - rs.offsets), gray);
  for (const int32_t* s = rs.clipped; s < pc; ++s) draw_line_pil(c, x[*s], y[*s], x[*s + 1], y[*s + 1], gray);
}

}  // namespace
VATOM_TARGET_END()

const Kernels& kernels_avx512() {
  static const Kernels k{Isa::Avx512, orbit_avx512, words_avx512, noise_avx512, update_avx512, truncate_avx512,
                         raster_avx512};
  return k;
}

#else

const Kernels& kernels_avx512() {
  static const Kernels k{Isa::Avx512, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  return k;
}

#endif

}  // namespace psimd
}  // namespace vatom
