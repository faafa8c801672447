// CPython's `random` module generator (MT19937 with CPython's int seeding) and the calls that
// render_VisualAtom.py makes on it: random(), getrandbits(k), randint(a, b) (bit-length rejection on
// getrandbits, as Random._randbelow_with_getrandbits in CPython 3.11) and uniform(a, b).
//
// The state (624 words + index) is a plain copyable struct, so a replay can snapshot it at any point.
// skip_words(n) advances by n outputs without tempering them: only the twists are computed.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vatom {

struct MtState {
  static constexpr int kN = 624;
  uint32_t mt[kN];
  int32_t idx;  // next word to output; kN means "twist first"
};

// Regenerates all 624 words in place (mt19937ar.c's genrand step). Uses SIMD where available.
void mt_twist(uint32_t* mt);
// The plain scalar twist (the definition the SIMD paths are checked against).
void mt_twist_scalar(uint32_t* mt);
// out[i] = mt_temper(src[i]) for i < n (SIMD where available).
void mt_temper_block(const uint32_t* src, uint32_t* out, size_t n);

inline uint32_t mt_temper(uint32_t y) {
  y ^= y >> 11;
  y ^= (y << 7) & 0x9D2C5680u;
  y ^= (y << 15) & 0xEFC60000u;
  y ^= y >> 18;
  return y;
}

// Bit length of n (0 for 0), as Python's int.bit_length().
inline int bit_length_u64(uint64_t n) {
  int k = 0;
  while (n) { ++k; n >>= 1; }
  return k;
}

class CPythonRandom {
 public:
  static constexpr int kN = MtState::kN;

  // random.seed(n) for an int n >= 0: init_by_array with the 32-bit words of n, least significant
  // first (key length max(1, ceil(bits / 32))).
  explicit CPythonRandom(uint64_t seed);
  explicit CPythonRandom(const MtState& state) : s_(state) {}

  const MtState& state() const { return s_; }
  void set_state(const MtState& state) { s_ = state; }

  // genrand_uint32: one tempered 32-bit output.
  uint32_t next_word() {
    if (s_.idx >= kN) {
      mt_twist(s_.mt);
      s_.idx = 0;
    }
    return mt_temper(s_.mt[s_.idx++]);
  }

  // n consecutive outputs into out (same as n calls of next_word()).
  void fill_words(uint32_t* out, size_t n) {
    while (n > 0) {
      if (s_.idx >= kN) {
        mt_twist(s_.mt);
        s_.idx = 0;
      }
      size_t take = static_cast<size_t>(kN - s_.idx);
      if (take > n) take = n;
      if (take >= 16) {
        mt_temper_block(s_.mt + s_.idx, out, take);
      } else {
        const uint32_t* src = s_.mt + s_.idx;
        for (size_t i = 0; i < take; ++i) out[i] = mt_temper(src[i]);
      }
      s_.idx += static_cast<int32_t>(take);
      out += take;
      n -= take;
    }
  }

  // Advances past n outputs (only the twists are computed).
  void skip_words(uint64_t n) {
    uint64_t pos = static_cast<uint64_t>(s_.idx) + n;
    while (pos > static_cast<uint64_t>(kN)) {
      mt_twist(s_.mt);
      pos -= kN;
    }
    s_.idx = static_cast<int32_t>(pos);
  }

  // random(): 53 bits from two words, (a * 2^26 + b) / 2^53.
  static double words_to_double(uint32_t w1, uint32_t w2) {
    const uint32_t a = w1 >> 5, b = w2 >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) * (1.0 / 9007199254740992.0);
  }
  double random() {
    const uint32_t w1 = next_word();
    const uint32_t w2 = next_word();
    return words_to_double(w1, w2);
  }

  // getrandbits(k) for 1 <= k <= 32: the top k bits of one word.
  uint32_t getrandbits(int k) {
    if (k <= 0) return 0;
    return next_word() >> (32 - k);
  }

  // getrandbits(k) for 1 <= k <= 64: 32-bit words least significant first, the last one shifted
  // right to keep its top (k mod 32) bits, as CPython's _random_Random_getrandbits_impl.
  uint64_t getrandbits64(int k) {
    if (k <= 32) return getrandbits(k);
    const uint64_t lo = next_word();
    const uint64_t hi = next_word() >> (64 - k);
    return lo | (hi << 32);
  }

  // _randbelow_with_getrandbits(n) for 1 <= n < 2^63: k = n.bit_length(), redraw while r >= n.
  uint64_t randbelow(uint64_t n) {
    const int k = bit_length_u64(n);
    if (k <= 32) {
      uint64_t r = next_word() >> (32 - k);
      while (r >= n) r = next_word() >> (32 - k);
      return r;
    }
    uint64_t r = getrandbits64(k);
    while (r >= n) r = getrandbits64(k);
    return r;
  }

  // randint(a, b) = randrange(a, b + 1) = a + _randbelow(b - a + 1), for a <= b.
  int64_t randint(int64_t a, int64_t b) {
    const uint64_t n = static_cast<uint64_t>(b) - static_cast<uint64_t>(a) + 1u;
    return static_cast<int64_t>(static_cast<uint64_t>(a) + randbelow(n));
  }

  // uniform(a, b) = a + (b - a) * random(), always two words.
  double uniform(double a, double b) {
    const double r = random();
    return a + (b - a) * r;
  }

  // Word consumption of randbelow(n) with k = bit_length(n) <= 32, without computing the result's use:
  // draws words until the top k bits are below n (the same words randbelow would take).
  void skip_randbelow32(uint32_t n, int k) {
    while ((next_word() >> (32 - k)) >= n) {
    }
  }

 private:
  MtState s_;
};

}  // namespace vatom
