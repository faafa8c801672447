// Lane traits of the x86 vector kernels: the operations the kernels' one control flow needs, on the
// vectors of one instruction set. Avx2 has 8 int32/float lanes (4 double), Avx512 16 (8 double). A
// kernel is a template over these traits, defined inside the instruction set's VATOM_TARGET_BEGIN
// region of its own translation unit, so each set compiles it once with its own instructions.
//
// Masks: Avx2's are vectors (all ones per selected lane), Avx512's are k registers; the kernels only
// combine them with m_and, m_or and m_andnot and use them through select, keep, add_if, sub_if and
// compress_store, which take the same instructions the hand-written kernels of each set took.
//
// Exactness: each float or double operation is one packed IEEE instruction (no FMA: separate
// intrinsics and -ffp-contract=off), so a lane gives the bits of the scalar code.
#pragma once
#include <cstdint>

#include "pnoise_simd.hpp"
#include "simd_target.hpp"

#if VATOM_X86_SIMD
namespace vatom {
namespace {

// Compress permutations for Avx2: for an 8-bit lane mask, the indices of its set lanes in order, 4 bits
// each.
struct CompressTable {
  uint32_t packed[256] = {};
};

constexpr CompressTable make_compress_table() {
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

constexpr CompressTable kCompress = make_compress_table();

}  // namespace
}  // namespace vatom

VATOM_TARGET_BEGIN(VATOM_TARGET_AVX2)
namespace vatom {
namespace {

struct Avx2 {
  static constexpr int kLanes = 8;
  using I = __m256i;
  using F = __m256;
  using D = __m256d;
  using M = __m256i;
  using HalfI = __m128i;  // the int32 lanes of one D
  struct Grads {};

  // int32 lanes
  static VATOM_INLINE I set1(int32_t x) { return _mm256_set1_epi32(x); }
  static VATOM_INLINE I zero() { return _mm256_setzero_si256(); }
  static VATOM_INLINE I lane_index() { return _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0); }
  static VATOM_INLINE I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static VATOM_INLINE I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static VATOM_INLINE I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static VATOM_INLINE I abs(I a) { return _mm256_abs_epi32(a); }
  static VATOM_INLINE I max(I a, I b) { return _mm256_max_epi32(a, b); }
  template <int N>
  static VATOM_INLINE I srli(I a) { return _mm256_srli_epi32(a, N); }
  static VATOM_INLINE I loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static VATOM_INLINE void storeu(void* p, I v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
  static VATOM_INLINE void store(void* p, I v) { _mm256_store_si256(static_cast<__m256i*>(p), v); }
  static VATOM_INLINE int32_t reduce_max(I v) {
    __m256i m = _mm256_max_epi32(v, _mm256_permute2x128_si256(v, v, 0x01));
    m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, 0x4E));
    m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, 0xB1));
    return _mm256_cvtsi256_si32(m);
  }

  // Comparisons and masks
  static VATOM_INLINE M gt(I a, I b) { return _mm256_cmpgt_epi32(a, b); }
  static VATOM_INLINE M lt(I a, I b) { return _mm256_cmpgt_epi32(b, a); }
  static VATOM_INLINE M le(I a, I b) { return _mm256_xor_si256(_mm256_cmpgt_epi32(a, b), _mm256_set1_epi32(-1)); }
  // Unsigned a < bound: signed compares with the sign bits flipped, the bound's flipped once.
  struct Below {
    I flipped;
  };
  static VATOM_INLINE Below below_bound(I bound) { return Below{_mm256_xor_si256(bound, sign())}; }
  static VATOM_INLINE M below(I a, Below b) { return _mm256_cmpgt_epi32(b.flipped, _mm256_xor_si256(a, sign())); }
  static VATOM_INLINE M m_and(M a, M b) { return _mm256_and_si256(a, b); }
  static VATOM_INLINE M m_or(M a, M b) { return _mm256_or_si256(a, b); }
  static VATOM_INLINE M m_andnot(M a, M b) { return _mm256_andnot_si256(b, a); }  // a and not b
  static VATOM_INLINE bool any(M m) { return bits(m) != 0; }
  static VATOM_INLINE I select(M m, I if_true, I if_false) { return _mm256_blendv_epi8(if_false, if_true, m); }
  static VATOM_INLINE I keep(I v, M m) { return _mm256_and_si256(v, m); }  // 0 in the lanes outside m
  static VATOM_INLINE I add_if(I v, M m, I d) { return _mm256_add_epi32(v, _mm256_and_si256(m, d)); }
  static VATOM_INLINE I sub_if(I v, M m, I d) { return _mm256_sub_epi32(v, _mm256_and_si256(m, d)); }
  // Stores the lanes of v selected by m, in order, at out; returns the end.
  static VATOM_INLINE int32_t* compress_store(int32_t* out, M m, I v) {
    const int b = bits(m);
    const __m256i perm = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(kCompress.packed[b])), _mm256_set_epi32(28, 24, 20, 16, 12, 8, 4, 0)),
        _mm256_set1_epi32(7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permutevar8x32_epi32(v, perm));
    return out + __builtin_popcount(static_cast<unsigned>(b));
  }

  // 64-bit lanes (Philox: one block per lane, its counter words in the low halves)
  static VATOM_INLINE I set1_64(uint64_t x) { return _mm256_set1_epi64x(static_cast<long long>(x)); }
  static VATOM_INLINE I lane_index_64() { return _mm256_set_epi64x(3, 2, 1, 0); }
  static VATOM_INLINE I add_64(I a, I b) { return _mm256_add_epi64(a, b); }
  static VATOM_INLINE I mul_32x32_64(I a, I b) { return _mm256_mul_epu32(a, b); }
  static VATOM_INLINE I high_32(I a) { return _mm256_srli_epi64(a, 32); }
  static VATOM_INLINE I xor3(I a, I b, I c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }

  // float lanes
  static VATOM_INLINE F set1f(float x) { return _mm256_set1_ps(x); }
  static VATOM_INLINE F to_float(I a) { return _mm256_cvtepi32_ps(a); }
  static VATOM_INLINE I truncate(F a) { return _mm256_cvttps_epi32(a); }
  static VATOM_INLINE F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static VATOM_INLINE F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static VATOM_INLINE M gt(F a, F b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static VATOM_INLINE F load(const float* p) { return _mm256_load_ps(p); }
  static VATOM_INLINE F loadu(const float* p) { return _mm256_loadu_ps(p); }
  static VATOM_INLINE void store(float* p, F v) { _mm256_store_ps(p, v); }
  static VATOM_INLINE void storeu(float* p, F v) { _mm256_storeu_ps(p, v); }
  // pnoise1f of two vectors of lanes.
  static VATOM_INLINE Grads grads() { return Grads{}; }
  static VATOM_INLINE void pnoise2(F a, F b, const Grads&, F& pa, F& pb) {
    pa = pnoise8(a);
    pb = pnoise8(b);
  }

  // double lanes (half as many)
  static VATOM_INLINE D set1d(double x) { return _mm256_set1_pd(x); }
  static VATOM_INLINE D mul(D a, D b) { return _mm256_mul_pd(a, b); }
  static VATOM_INLINE D sub(D a, D b) { return _mm256_sub_pd(a, b); }
  static VATOM_INLINE D min(D a, D b) { return _mm256_min_pd(a, b); }
  static VATOM_INLINE D max(D a, D b) { return _mm256_max_pd(a, b); }
  static VATOM_INLINE D load(const double* p) { return _mm256_load_pd(p); }
  static VATOM_INLINE void store(double* p, D v) { _mm256_store_pd(p, v); }
  static VATOM_INLINE D low_to_double(F a) { return _mm256_cvtps_pd(_mm256_castps256_ps128(a)); }
  static VATOM_INLINE D high_to_double(F a) { return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)); }
  static VATOM_INLINE HalfI truncate(D a) { return _mm256_cvttpd_epi32(a); }
  static VATOM_INLINE I join(HalfI lo, HalfI hi) { return _mm256_set_m128i(hi, lo); }
  static VATOM_INLINE void store(int32_t* p, HalfI v) { _mm_store_si128(reinterpret_cast<__m128i*>(p), v); }

 private:
  static VATOM_INLINE I sign() { return _mm256_set1_epi32(static_cast<int>(0x80000000u)); }
  static VATOM_INLINE int bits(M m) { return _mm256_movemask_ps(_mm256_castsi256_ps(m)); }
};

}  // namespace
}  // namespace vatom
VATOM_TARGET_END()

VATOM_TARGET_BEGIN(VATOM_TARGET_AVX512)
namespace vatom {
namespace {

struct Avx512 {
  static constexpr int kLanes = 16;
  using I = __m512i;
  using F = __m512;
  using D = __m512d;
  using M = __mmask16;
  using HalfI = __m256i;
  using Grads = PerlinGradRegs;

  static VATOM_INLINE I set1(int32_t x) { return _mm512_set1_epi32(x); }
  static VATOM_INLINE I zero() { return _mm512_setzero_si512(); }
  static VATOM_INLINE I lane_index() { return _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0); }
  static VATOM_INLINE I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static VATOM_INLINE I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static VATOM_INLINE I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static VATOM_INLINE I abs(I a) { return _mm512_abs_epi32(a); }
  static VATOM_INLINE I max(I a, I b) { return _mm512_max_epi32(a, b); }
  template <int N>
  static VATOM_INLINE I srli(I a) { return _mm512_srli_epi32(a, N); }
  static VATOM_INLINE I loadu(const void* p) { return _mm512_loadu_si512(p); }
  static VATOM_INLINE void storeu(void* p, I v) { _mm512_storeu_si512(p, v); }
  static VATOM_INLINE void store(void* p, I v) { _mm512_store_si512(p, v); }
  static VATOM_INLINE int32_t reduce_max(I v) { return _mm512_reduce_max_epi32(v); }

  static VATOM_INLINE M gt(I a, I b) { return _mm512_cmpgt_epi32_mask(a, b); }
  static VATOM_INLINE M lt(I a, I b) { return _mm512_cmplt_epi32_mask(a, b); }
  static VATOM_INLINE M le(I a, I b) { return _mm512_cmple_epi32_mask(a, b); }
  struct Below {
    I bound;
  };
  static VATOM_INLINE Below below_bound(I bound) { return Below{bound}; }
  static VATOM_INLINE M below(I a, Below b) { return _mm512_cmplt_epu32_mask(a, b.bound); }
  static VATOM_INLINE M m_and(M a, M b) { return a & b; }
  static VATOM_INLINE M m_or(M a, M b) { return a | b; }
  static VATOM_INLINE M m_andnot(M a, M b) { return a & ~b; }
  static VATOM_INLINE bool any(M m) { return m != 0; }
  static VATOM_INLINE I select(M m, I if_true, I if_false) { return _mm512_mask_blend_epi32(m, if_false, if_true); }
  static VATOM_INLINE I keep(I v, M m) { return _mm512_maskz_mov_epi32(m, v); }
  static VATOM_INLINE I add_if(I v, M m, I d) { return _mm512_mask_add_epi32(v, m, v, d); }
  static VATOM_INLINE I sub_if(I v, M m, I d) { return _mm512_mask_sub_epi32(v, m, v, d); }
  static VATOM_INLINE int32_t* compress_store(int32_t* out, M m, I v) {
    _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(m, v));
    return out + __builtin_popcount(m);
  }

  static VATOM_INLINE I set1_64(uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
  static VATOM_INLINE I lane_index_64() { return _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0); }
  static VATOM_INLINE I add_64(I a, I b) { return _mm512_add_epi64(a, b); }
  static VATOM_INLINE I mul_32x32_64(I a, I b) { return _mm512_mul_epu32(a, b); }
  static VATOM_INLINE I high_32(I a) { return _mm512_srli_epi64(a, 32); }
  static VATOM_INLINE I xor3(I a, I b, I c) { return _mm512_ternarylogic_epi64(a, b, c, 0x96); }

  static VATOM_INLINE F set1f(float x) { return _mm512_set1_ps(x); }
  static VATOM_INLINE F to_float(I a) { return _mm512_cvtepi32_ps(a); }
  static VATOM_INLINE I truncate(F a) { return _mm512_cvttps_epi32(a); }
  static VATOM_INLINE F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static VATOM_INLINE F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static VATOM_INLINE M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static VATOM_INLINE F load(const float* p) { return _mm512_load_ps(p); }
  static VATOM_INLINE F loadu(const float* p) { return _mm512_loadu_ps(p); }
  static VATOM_INLINE void store(float* p, F v) { _mm512_store_ps(p, v); }
  static VATOM_INLINE void storeu(float* p, F v) { _mm512_storeu_ps(p, v); }
  // The 256 gradient bytes in registers, loaded once per kernel call; two vectors share one lookup.
  static VATOM_INLINE Grads grads() { return perlin_grad_regs(); }
  static VATOM_INLINE void pnoise2(F a, F b, const Grads& g, F& pa, F& pb) { pnoise16x2(a, b, g, pa, pb); }

  static VATOM_INLINE D set1d(double x) { return _mm512_set1_pd(x); }
  static VATOM_INLINE D mul(D a, D b) { return _mm512_mul_pd(a, b); }
  static VATOM_INLINE D sub(D a, D b) { return _mm512_sub_pd(a, b); }
  static VATOM_INLINE D min(D a, D b) { return _mm512_min_pd(a, b); }
  static VATOM_INLINE D max(D a, D b) { return _mm512_max_pd(a, b); }
  static VATOM_INLINE D load(const double* p) { return _mm512_load_pd(p); }
  static VATOM_INLINE void store(double* p, D v) { _mm512_store_pd(p, v); }
  static VATOM_INLINE D low_to_double(F a) { return _mm512_cvtps_pd(_mm512_castps512_ps256(a)); }
  static VATOM_INLINE D high_to_double(F a) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)); }
  static VATOM_INLINE HalfI truncate(D a) { return _mm512_cvttpd_epi32(a); }
  static VATOM_INLINE I join(HalfI lo, HalfI hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
  static VATOM_INLINE void store(int32_t* p, HalfI v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
};

}  // namespace
}  // namespace vatom
VATOM_TARGET_END()
#endif
