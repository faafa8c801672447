// The default stream (`--rng philox`), format 1. Every word is a pure function of
// (seed, class, instance, purpose, index), so classes and images can be made in any order, on any
// device, and come out the same. The layout below is frozen: changing it changes every dataset, and
// the golden hashes in test/ catch that.
//
// Key: (seed low 32 bits, seed high 32 bits). Counter (c0, c1, c2, c3):
//   c2 = absolute class index, c1 = instance (0 for class words), c0 = block index within the purpose,
//   c3 = orbit << 2 | purpose, purpose 0: class parameters, 1: image header (centre, then one gray
//   per orbit), 2: x noise of an orbit, 3: y noise of an orbit. Word j of a purpose is lane j & 3 of
//   block j >> 2.
#pragma once
#include <cstdint>
#include "generator_config.hpp"
#include "hd.hpp"
#include "philox.hpp"

namespace vatom {

enum PhiloxPurpose : uint32_t {
  kPurposeClass = 0,
  kPurposeHeader = 1,
  kPurposeNoiseX = 2,
  kPurposeNoiseY = 3,
};

// Class-parameter words: fixed positions, then the n2 draws from word 8 on.
enum ClassWord : uint32_t {
  kWordVertices = 0, kWordOrbits, kWordNoise, kWordLineWidth, kWordRadius, kWordFreq1, kWordOvalX,
  kWordOvalY, kWordFreq2First
};

struct PhiloxKey {
  uint32_t k0, k1;
};

VATOM_HD PhiloxKey philox_key(uint64_t seed) {
  return PhiloxKey{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
}

VATOM_HD Philox4x32 philox_block(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit,
                                 uint32_t purpose, uint32_t block) {
  return philox4x32_10(block, instance, cls, (orbit << 2) | purpose, key.k0, key.k1);
}

VATOM_HD uint32_t philox_word(PhiloxKey key, uint32_t cls, uint32_t instance, uint32_t orbit,
                              uint32_t purpose, uint32_t index) {
  return philox_block(key, cls, instance, orbit, purpose, index >> 2).v[index & 3];
}

// Integer in [lo, hi] by multiply-high (Lemire); the bias, at most (hi-lo+1)/2^32, is below 3e-7 here.
VATOM_HD int32_t word_to_int(uint32_t w, int32_t lo, int32_t hi) {
  const uint64_t span = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo + 1);
  return static_cast<int32_t>(lo + static_cast<int64_t>((static_cast<uint64_t>(w) * span) >> 32));
}

// Float in [0, 1) from the top 24 bits (exact).
VATOM_HD float word_to_unit(uint32_t w) { return static_cast<float>(w >> 8) * 5.9604644775390625e-08f; }

// Noise argument in [0, 10000): 10000 * 2^-24 = 625 * 2^-20 is a float, so this is one rounding.
VATOM_HD float word_to_noise_arg(uint32_t w) { return static_cast<float>(w >> 8) * 5.9604644775390625e-04f; }

VATOM_HD uint8_t word_to_gray(uint32_t w) { return static_cast<uint8_t>(w >> 24); }

VATOM_HD float uniform_float(uint32_t w, float lo, float width) { return lo + width * word_to_unit(w); }

}  // namespace vatom
