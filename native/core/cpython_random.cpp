#include "cpython_random.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define VATOM_MT_SSE2 1
#endif
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#define VATOM_MT_AVX2 1
#endif

namespace vatom {
namespace {

constexpr uint32_t kMatrixA = 0x9908B0DFu;
constexpr uint32_t kUpper = 0x80000000u;
constexpr uint32_t kLower = 0x7FFFFFFFu;
constexpr int kN = MtState::kN;
constexpr int kM = 397;

inline uint32_t twist_one(uint32_t cur, uint32_t next, uint32_t far) {
  const uint32_t y = (cur & kUpper) | (next & kLower);
  return far ^ (y >> 1) ^ ((0u - (y & 1u)) & kMatrixA);
}

// Reference order: k = 0..623 in place. For k < 227 the far word mt[k + 397] is still old; for
// 227 <= k < 623 it is mt[k - 227], already new; k = 623 pairs with the new mt[0].
void twist_scalar(uint32_t* mt) {
  int k = 0;
  for (; k < kN - kM; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM]);
  for (; k < kN - 1; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM - kN]);
  mt[kN - 1] = twist_one(mt[kN - 1], mt[0], mt[kM - 1]);
}

#if defined(VATOM_MT_SSE2)
inline __m128i twist4_sse2(__m128i cur, __m128i next, __m128i far) {
  const __m128i upper = _mm_set1_epi32(static_cast<int>(kUpper));
  const __m128i lower = _mm_set1_epi32(static_cast<int>(kLower));
  const __m128i one = _mm_set1_epi32(1);
  const __m128i matrix = _mm_set1_epi32(static_cast<int>(kMatrixA));
  const __m128i y = _mm_or_si128(_mm_and_si128(cur, upper), _mm_and_si128(next, lower));
  const __m128i odd = _mm_cmpeq_epi32(_mm_and_si128(y, one), one);
  return _mm_xor_si128(_mm_xor_si128(far, _mm_srli_epi32(y, 1)), _mm_and_si128(odd, matrix));
}

// Vectors of 4: the loads of a vector happen before its store, and no vector reads a word that an
// earlier vector of the same loop stored except at distance 227 (already final), so this equals the
// scalar order.
void twist_sse2(uint32_t* mt) {
  int k = 0;
  for (; k + 4 <= kN - kM; k += 4) {
    const __m128i cur = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + k));
    const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + k + 1));
    const __m128i far = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + k + kM));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(mt + k), twist4_sse2(cur, next, far));
  }
  for (; k < kN - kM; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM]);
  for (; k + 4 <= kN - 1; k += 4) {
    const __m128i cur = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + k));
    const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + k + 1));
    const __m128i far = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + k + kM - kN));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(mt + k), twist4_sse2(cur, next, far));
  }
  for (; k < kN - 1; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM - kN]);
  mt[kN - 1] = twist_one(mt[kN - 1], mt[0], mt[kM - 1]);
}
#endif

#if defined(VATOM_MT_AVX2)
// Integer-only code compiled for AVX2 and chosen at run time; no floating point is involved.
__attribute__((target("avx2"))) inline __m256i twist8_avx2(__m256i cur, __m256i next, __m256i far) {
  const __m256i upper = _mm256_set1_epi32(static_cast<int>(kUpper));
  const __m256i lower = _mm256_set1_epi32(static_cast<int>(kLower));
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i matrix = _mm256_set1_epi32(static_cast<int>(kMatrixA));
  const __m256i y = _mm256_or_si256(_mm256_and_si256(cur, upper), _mm256_and_si256(next, lower));
  const __m256i odd = _mm256_cmpeq_epi32(_mm256_and_si256(y, one), one);
  return _mm256_xor_si256(_mm256_xor_si256(far, _mm256_srli_epi32(y, 1)), _mm256_and_si256(odd, matrix));
}

__attribute__((target("avx2"))) void twist_avx2(uint32_t* mt) {
  int k = 0;
  for (; k + 8 <= kN - kM; k += 8) {
    const __m256i cur = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mt + k));
    const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mt + k + 1));
    const __m256i far = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mt + k + kM));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(mt + k), twist8_avx2(cur, next, far));
  }
  for (; k < kN - kM; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM]);
  for (; k + 8 <= kN - 1; k += 8) {
    const __m256i cur = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mt + k));
    const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mt + k + 1));
    const __m256i far = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mt + k + kM - kN));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(mt + k), twist8_avx2(cur, next, far));
  }
  for (; k < kN - 1; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM - kN]);
  mt[kN - 1] = twist_one(mt[kN - 1], mt[0], mt[kM - 1]);
}
#endif

#if defined(VATOM_MT_AVX2)
// GCC 12 reports the undefined vectors inside its own AVX-512 intrinsics (_mm512_undefined_*) as
// uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// AVX-512 F (integer only), 16 words a vector; the same order argument as twist_sse2 (distance 227 >= 16).
__attribute__((target("avx512f"))) inline __m512i twist16_avx512(__m512i cur, __m512i next, __m512i far) {
  // y = (cur & upper) | (next & lower): a bit select with the upper mask (ternary logic 0xE4: c ? a : b).
  const __m512i y = _mm512_ternarylogic_epi32(cur, next, _mm512_set1_epi32(static_cast<int>(kUpper)), 0xE4);
  const __m512i r = _mm512_xor_si512(far, _mm512_srli_epi32(y, 1));
  const __mmask16 odd = _mm512_test_epi32_mask(y, _mm512_set1_epi32(1));
  return _mm512_mask_xor_epi32(r, odd, r, _mm512_set1_epi32(static_cast<int>(kMatrixA)));
}

__attribute__((target("avx512f"))) void twist_avx512(uint32_t* mt) {
  int k = 0;
  for (; k + 16 <= kN - kM; k += 16) {
    const __m512i cur = _mm512_loadu_si512(mt + k);
    const __m512i next = _mm512_loadu_si512(mt + k + 1);
    const __m512i far = _mm512_loadu_si512(mt + k + kM);
    _mm512_storeu_si512(mt + k, twist16_avx512(cur, next, far));
  }
  for (; k < kN - kM; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM]);
  for (; k + 16 <= kN - 1; k += 16) {
    const __m512i cur = _mm512_loadu_si512(mt + k);
    const __m512i next = _mm512_loadu_si512(mt + k + 1);
    const __m512i far = _mm512_loadu_si512(mt + k + kM - kN);
    _mm512_storeu_si512(mt + k, twist16_avx512(cur, next, far));
  }
  for (; k < kN - 1; ++k) mt[k] = twist_one(mt[k], mt[k + 1], mt[k + kM - kN]);
  mt[kN - 1] = twist_one(mt[kN - 1], mt[0], mt[kM - 1]);
}
#endif

#if defined(VATOM_MT_SSE2)
void temper_sse2(const uint32_t* src, uint32_t* out, size_t n) {
  const __m128i b = _mm_set1_epi32(static_cast<int>(0x9D2C5680u));
  const __m128i c = _mm_set1_epi32(static_cast<int>(0xEFC60000u));
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    y = _mm_xor_si128(y, _mm_srli_epi32(y, 11));
    y = _mm_xor_si128(y, _mm_and_si128(_mm_slli_epi32(y, 7), b));
    y = _mm_xor_si128(y, _mm_and_si128(_mm_slli_epi32(y, 15), c));
    y = _mm_xor_si128(y, _mm_srli_epi32(y, 18));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), y);
  }
  for (; i < n; ++i) out[i] = mt_temper(src[i]);
}
#endif

#if defined(VATOM_MT_AVX2)
__attribute__((target("avx2"))) void temper_avx2(const uint32_t* src, uint32_t* out, size_t n) {
  const __m256i b = _mm256_set1_epi32(static_cast<int>(0x9D2C5680u));
  const __m256i c = _mm256_set1_epi32(static_cast<int>(0xEFC60000u));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    y = _mm256_xor_si256(y, _mm256_srli_epi32(y, 11));
    y = _mm256_xor_si256(y, _mm256_and_si256(_mm256_slli_epi32(y, 7), b));
    y = _mm256_xor_si256(y, _mm256_and_si256(_mm256_slli_epi32(y, 15), c));
    y = _mm256_xor_si256(y, _mm256_srli_epi32(y, 18));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), y);
  }
  for (; i < n; ++i) out[i] = mt_temper(src[i]);
}
#endif

#if defined(VATOM_MT_AVX2)
// y ^= (y << s) & m is one ternary logic op: a ^ (b & c) = 0x78.
__attribute__((target("avx512f"))) void temper_avx512(const uint32_t* src, uint32_t* out, size_t n) {
  const __m512i b = _mm512_set1_epi32(static_cast<int>(0x9D2C5680u));
  const __m512i c = _mm512_set1_epi32(static_cast<int>(0xEFC60000u));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i y = _mm512_loadu_si512(src + i);
    y = _mm512_xor_si512(y, _mm512_srli_epi32(y, 11));
    y = _mm512_ternarylogic_epi32(y, _mm512_slli_epi32(y, 7), b, 0x78);
    y = _mm512_ternarylogic_epi32(y, _mm512_slli_epi32(y, 15), c, 0x78);
    y = _mm512_xor_si512(y, _mm512_srli_epi32(y, 18));
    _mm512_storeu_si512(out + i, y);
  }
  for (; i < n; ++i) out[i] = mt_temper(src[i]);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

[[maybe_unused]] void temper_scalar(const uint32_t* src, uint32_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = mt_temper(src[i]);
}

using TwistFn = void (*)(uint32_t*);
using TemperFn = void (*)(const uint32_t*, uint32_t*, size_t);

// 0: baseline (SSE2, or plain C++), 1: AVX2, 2: AVX-512 F. VATOM_SIMD=scalar|avx2 in the environment caps
// it, as for the renderers' kernels (philox_simd.hpp, best_isa).
int simd_level() {
  static const int level = [] {
    int l = 0;
#if defined(VATOM_MT_AVX2)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) l = 1;
    if (__builtin_cpu_supports("avx512f")) l = 2;
#endif
    if (const char* cap = std::getenv("VATOM_SIMD")) {
      if (std::strcmp(cap, "scalar") == 0) l = 0;
      else if (std::strcmp(cap, "avx2") == 0 && l > 1) l = 1;
    }
    return l;
  }();
  return level;
}

TemperFn pick_temper() {
#if defined(VATOM_MT_AVX2)
  if (simd_level() >= 2) return temper_avx512;
  if (simd_level() >= 1) return temper_avx2;
#endif
#if defined(VATOM_MT_SSE2)
  return temper_sse2;
#else
  return temper_scalar;
#endif
}

TwistFn pick_twist() {
#if defined(VATOM_MT_AVX2)
  if (simd_level() >= 2) return twist_avx512;
  if (simd_level() >= 1) return twist_avx2;
#endif
#if defined(VATOM_MT_SSE2)
  return twist_sse2;
#else
  return twist_scalar;
#endif
}

}  // namespace

void mt_twist(uint32_t* mt) {
  static const TwistFn twist = pick_twist();
  twist(mt);
}

void mt_temper_block(const uint32_t* src, uint32_t* out, size_t n) {
  static const TemperFn temper = pick_temper();
  temper(src, out, n);
}

// Exposed for the tests of the SIMD paths.
void mt_twist_scalar(uint32_t* mt) { twist_scalar(mt); }

CPythonRandom::CPythonRandom(uint64_t seed) {
  uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const int key_len = (seed >> 32) ? 2 : 1;
  uint32_t* mt = s_.mt;
  // init_genrand(19650218)
  mt[0] = 19650218u;
  for (int i = 1; i < kN; ++i) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + static_cast<uint32_t>(i);
  // init_by_array
  int i = 1, j = 0;
  for (int k = kN > key_len ? kN : key_len; k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt[0] = mt[kN - 1];
      i = 1;
    }
    if (j >= key_len) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt[0] = mt[kN - 1];
      i = 1;
    }
  }
  mt[0] = 0x80000000u;
  s_.idx = kN;
}

}  // namespace vatom
