// Exactness check of the CPU renderer's kernels (native/core/generators/visualatom/philox_simd*.cpp) against the definitions
// they replace, for every kernel set this CPU runs (scalar, AVX2, AVX-512):
//   1. noise: pnoise1f(word_to_noise_arg(w)) for all 2^24 distinct arguments (w >> 8), bit for bit, and
//      the reference stream's noise kernels (reference_simd*.cpp, which share pnoise1 with
//      these in pnoise_simd.hpp) against their definition, P of uniform(0, 10000), on random words and
//      on the words of the ends of the range;
//   2. Philox words against philox_block for random keys and counters;
//   3. one orbit (words, noise, displacement, truncation) against philox_displace + truncate_coord of
//      philox_image.hpp, bit for bit, with random tables and coordinates including huge, infinite and
//      NaN values and eta from 0 to 1e38;
//   4. draw_line_pil against draw_line_pil_walk (Pillow's step-by-step walk), segment by segment;
//   5. the polygon rasterizers against draw_line_pil per segment (the definition) on
//      random canvases (square and not, 1 to 4096 pixels a side) and polygons with vertices on, near
//      and far off the canvas (to +-2^30), long segments included (the offset buffer's flushes).
// CMake builds it as build/vatom-exactness-fuzz in a source checkout; run: build/vatom-exactness-fuzz [rounds].
// Exit status 0 when everything matched.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpython_random.hpp"
#include "generators/visualatom/philox_image.hpp"
#include "generators/visualatom/philox_simd.hpp"
#include "generators/visualatom/reference_simd.hpp"

using namespace vatom;

namespace {

int failures = 0;

void fail(const char* what, const char* isa, long long detail) {
  if (++failures <= 20) std::printf("MISMATCH %s (%s) at %lld\n", what, isa, detail);
}

template <typename T>
struct Aligned {
  std::vector<T> store;
  T* p;
  explicit Aligned(size_t n) : store(n + 64 / sizeof(T)) {
    uintptr_t a = reinterpret_cast<uintptr_t>(store.data());
    p = reinterpret_cast<T*>((a + 63) / 64 * 64);
  }
};

float random_float(std::mt19937_64& rng) {
  switch (rng() % 12) {
    case 0: return 0.0f;
    case 1: return std::numeric_limits<float>::infinity() * ((rng() & 1) ? 1 : -1);
    case 2: return std::numeric_limits<float>::quiet_NaN();
    case 3: { uint32_t b = static_cast<uint32_t>(rng()); float f; std::memcpy(&f, &b, 4); return f; }
    case 4: return std::ldexp(static_cast<float>(static_cast<int32_t>(rng())) / 2147483648.0f, static_cast<int>(rng() % 140));
    default: return static_cast<float>(static_cast<int32_t>(rng() % 4000000) - 2000000) / 1000.0f;
  }
}

void check_noise(const psimd::Kernels& k) {
  const int32_t n = 1 << 16;
  Aligned<uint32_t> w(n);
  Aligned<float> out(n);
  for (uint32_t base = 0; base < (1u << 24); base += n) {
    for (int32_t i = 0; i < n; ++i) w.p[i] = ((base + static_cast<uint32_t>(i)) << 8) | (static_cast<uint32_t>(i) & 255);
    k.noise(w.p, n, out.p);
    for (int32_t i = 0; i < n; ++i) {
      const float ref = pnoise1f(word_to_noise_arg(w.p[i]));
      if (std::memcmp(&ref, &out.p[i], 4) != 0) { fail("noise", psimd::isa_name(k.isa), base + i); return; }
    }
  }
}

// The reference stream's noise kernel against P = (((pnoise1f(float(u)) * coef) - coef) - wave1) - wave2,
// u = 0.0 + 10000 * random() of words w[2v], w[2v + 1], bit for bit.
void check_reference_noise(const rsimd::Kernels& k, std::mt19937_64& rng, int rounds) {
  const int32_t n = 1 << 12;
  Aligned<uint32_t> w(2 * n);
  Aligned<double> wave1(n), wave2(n), out(n);
  for (int r = 0; r < rounds; ++r) {
    for (int32_t i = 0; i < 2 * n; ++i) {
      switch (rng() % 16) {
        case 0: w.p[i] = 0xFFFFFFFFu - static_cast<uint32_t>(rng() % 64); break;  // u up to 10000
        case 1: w.p[i] = static_cast<uint32_t>(rng() % 64); break;                // u down to 0
        default: w.p[i] = static_cast<uint32_t>(rng());
      }
    }
    for (int32_t v = 0; v < n; ++v) {
      wave1.p[v] = 0.5 * std::sin(static_cast<double>(rng() % 100000) * 1e-3);
      wave2.p[v] = 0.5 * std::sin(static_cast<double>(rng() % 100000) * 1e-3);
    }
    const double coef = static_cast<double>(rng() % 1000) / 100.0;
    k.noise(w.p, n, coef, wave1.p, wave2.p, out.p);
    for (int32_t v = 0; v < n; ++v) {
      const double u = 0.0 + 10000.0 * CPythonRandom::words_to_double(w.p[2 * v], w.p[2 * v + 1]);
      const double pn = static_cast<double>(pnoise1f(static_cast<float>(u)));
      const double ref = (((pn * coef) - coef) - wave1.p[v]) - wave2.p[v];
      if (std::memcmp(&ref, &out.p[v], 8) != 0) {
        fail("reference noise", psimd::isa_name(k.isa), r * 100000LL + v);
        return;
      }
    }
  }
}

void check_words(const psimd::Kernels& k, std::mt19937_64& rng, int rounds) {
  Aligned<uint32_t> out(4 * 64);
  for (int r = 0; r < rounds; ++r) {
    const PhiloxKey key{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
    const uint32_t cls = static_cast<uint32_t>(rng()), inst = static_cast<uint32_t>(rng());
    const uint32_t orbit = static_cast<uint32_t>(rng()) >> 2, purpose = static_cast<uint32_t>(rng() & 3);
    const int32_t blocks = static_cast<int32_t>(rng() % 64);
    k.words(key, cls, inst, orbit, purpose, blocks, out.p);
    for (int32_t b = 0; b < blocks; ++b) {
      const Philox4x32 ref = philox_block(key, cls, inst, orbit, purpose, static_cast<uint32_t>(b));
      if (std::memcmp(ref.v, out.p + 4 * b, 16) != 0) { fail("words", psimd::isa_name(k.isa), r); return; }
    }
  }
}

void check_orbit(const psimd::Kernels& k, std::mt19937_64& rng, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    const int32_t q = 3 + static_cast<int32_t>(rng() % 2100);
    const size_t n = static_cast<size_t>(psimd::padded_vertices(q));
    Aligned<float> cos_t(n), sin_t(n), bias(n), x(n), y(n);
    Aligned<int32_t> ix(n), iy(n);
    std::vector<float> rx(q), ry(q);
    const bool wild = rng() % 3 == 0;
    for (int32_t v = 0; v < q; ++v) {
      cos_t.p[v] = wild ? random_float(rng) : std::cos(static_cast<float>(v) * 0.01f);
      sin_t.p[v] = wild ? random_float(rng) : std::sin(static_cast<float>(v) * 0.01f);
      bias.p[v] = wild ? random_float(rng) : static_cast<float>(rng() % 1000) / 100.0f;
      x.p[v] = rx[v] = wild ? random_float(rng) : static_cast<float>(rng() % 2000) - 500.0f;
      y.p[v] = ry[v] = wild ? random_float(rng) : static_cast<float>(rng() % 2000) - 500.0f;
    }
    for (size_t v = static_cast<size_t>(q); v < n; ++v) cos_t.p[v] = sin_t.p[v] = bias.p[v] = x.p[v] = y.p[v] = 0;
    const float etas[] = {0.0f, 1e-3f, 2.5f, 4.0f, 1e6f, 1e30f, 3e38f};
    const float eta = wild ? etas[rng() % 7] : static_cast<float>(rng() % 400) / 100.0f;
    psimd::OrbitJob job{PhiloxKey{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())},
                        static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng() % 1000),
                        q, eta, cos_t.p, sin_t.p, bias.p, x.p, y.p, ix.p, iy.p};
    for (int orbit = 0; orbit < 3; ++orbit, ++job.orbit) {
      k.orbit(job);
      for (int32_t v = 0; v < q; ++v) {
        const Philox4x32 nx = philox_block(job.key, job.cls, job.instance, job.orbit, kPurposeNoiseX, static_cast<uint32_t>(v) >> 2);
        const Philox4x32 ny = philox_block(job.key, job.cls, job.instance, job.orbit, kPurposeNoiseY, static_cast<uint32_t>(v) >> 2);
        rx[v] = philox_displace(rx[v], nx.v[v & 3], eta, cos_t.p[v], bias.p[v]);
        ry[v] = philox_displace(ry[v], ny.v[v & 3], eta, sin_t.p[v], bias.p[v]);
        const bool same_x = std::memcmp(&rx[v], &x.p[v], 4) == 0 || (std::isnan(rx[v]) && std::isnan(x.p[v]));
        const bool same_y = std::memcmp(&ry[v], &y.p[v], 4) == 0 || (std::isnan(ry[v]) && std::isnan(y.p[v]));
        if (!same_x || !same_y || truncate_coord(rx[v]) != ix.p[v] || truncate_coord(ry[v]) != iy.p[v]) {
          fail("orbit", psimd::isa_name(k.isa), r * 10000LL + v);
          return;
        }
      }
    }
  }
}

int32_t random_coord(std::mt19937_64& rng, int32_t size) {
  switch (rng() % 10) {
    case 0: return static_cast<int32_t>(rng() % 2147483648ull) - 1073741824;  // anywhere up to +-2^30
    case 1: return (rng() & 1) ? 1073741824 : -1073741824;
    case 2: return static_cast<int32_t>(rng() % 7) - 3 + ((rng() & 1) ? size : 0);  // at the edges
    case 3: return static_cast<int32_t>(rng() % static_cast<uint64_t>(3 * size)) - size;
    default: return static_cast<int32_t>(rng() % static_cast<uint64_t>(size));
  }
}

void check_raster(const psimd::Kernels& k, std::mt19937_64& rng, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    const int sizes[] = {1, 2, 16, 64, 257, 512, 1000, 4096};
    const int w = sizes[rng() % 8], h = (rng() % 4 == 0) ? sizes[rng() % 8] : w;
    const int32_t q = 3 + static_cast<int32_t>(rng() % ((rng() % 4 == 0) ? 2100 : 60));
    const size_t n = static_cast<size_t>(psimd::padded_vertices(q));
    Aligned<int32_t> x(n), y(n), scratch(psimd::raster_scratch_ints(q));
    // A walk around the canvas (short segments, as in images), vertices anywhere (long ones), or a
    // degenerate polygon (every vertex on one or two points).
    const int mode = static_cast<int>(rng() % 8);
    const bool walk = mode < 4;
    int32_t cx = random_coord(rng, w), cy = random_coord(rng, h);
    for (int32_t v = 0; v < q; ++v) {
      if (walk && std::abs(cx) < (1 << 20) && std::abs(cy) < (1 << 20)) {
        const int step = 1 + static_cast<int>(rng() % ((rng() % 8 == 0) ? 200 : 12));
        cx += static_cast<int32_t>(rng() % (2 * step + 1)) - step;
        cy += static_cast<int32_t>(rng() % (2 * step + 1)) - step;
        x.p[v] = cx;
        y.p[v] = cy;
      } else {
        x.p[v] = random_coord(rng, w);
        y.p[v] = random_coord(rng, h);
      }
    }
    if (mode == 7) {
      const int32_t ax = random_coord(rng, w), ay = random_coord(rng, h);
      const int32_t bx = (rng() & 1) ? ax : random_coord(rng, w), by = (rng() & 1) ? ay : random_coord(rng, h);
      for (int32_t v = 0; v < q; ++v) {
        const bool b = (rng() % 3 == 0);
        x.p[v] = b ? bx : ax;
        y.p[v] = b ? by : ay;
      }
    }
    std::vector<uint8_t> ref(static_cast<size_t>(w) * h), got(static_cast<size_t>(w) * h);
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = got[i] = static_cast<uint8_t>(i * 7);
    const uint8_t gray = static_cast<uint8_t>(rng());
    const Canvas cr{ref.data(), w, h}, cg{got.data(), w, h};
    for (int32_t v = 0; v < q; ++v) {
      const int32_t u = v + 1 == q ? 0 : v + 1;
      draw_line_pil(cr, x.p[v], y.p[v], x.p[u], y.p[u], gray);
    }
    k.raster(cg, x.p, y.p, q, gray, scratch.p);
    if (ref != got) fail("raster", psimd::isa_name(k.isa), r);
  }
}

// draw_line_pil against draw_line_pil_walk, one segment at a time (coordinates the walk can take).
void check_clip(std::mt19937_64& rng, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    const int sizes[] = {1, 2, 3, 16, 64, 257, 512, 1000};
    const int w = sizes[rng() % 8], h = (rng() % 4 == 0) ? sizes[rng() % 8] : w;
    std::vector<uint8_t> ref(static_cast<size_t>(w) * h), got(static_cast<size_t>(w) * h);
    const Canvas cr{ref.data(), w, h}, cg{got.data(), w, h};
    for (int s = 0; s < 16; ++s) {
      const int x0 = random_coord(rng, w), y0 = random_coord(rng, h);
      int x1 = random_coord(rng, w), y1 = random_coord(rng, h);
      if (rng() % 4 == 0) { x1 = x0 + static_cast<int>(rng() % 9) - 4; y1 = y0 + static_cast<int>(rng() % 9) - 4; }
      const long long far = 1 << 20;  // the walk visits every step, in int arithmetic
      if (std::llabs(x0) > far || std::llabs(y0) > far || std::llabs(x1) > far || std::llabs(y1) > far) continue;
      const uint8_t gray = static_cast<uint8_t>(1 + rng() % 255);
      draw_line_pil_walk(cr, x0, y0, x1, y1, gray);
      draw_line_pil(cg, x0, y0, x1, y1, gray);
    }
    if (ref != got) fail("draw_line_pil", "scalar", r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::mt19937_64 rng(12345);
  std::printf("draw_line_pil vs walk (%d rounds of 16 segments)...\n", rounds * 10);
  check_clip(rng, rounds * 10);
  const psimd::Isa best = psimd::best_isa();
  for (int i = 0; i <= static_cast<int>(best); ++i) {
    const psimd::Kernels& k = psimd::kernels(static_cast<psimd::Isa>(i));
    if (static_cast<int>(k.isa) != i) continue;
    std::printf("%s: noise (2^24 arguments)...\n", psimd::isa_name(k.isa));
    check_noise(k);
    const rsimd::Kernels& rk = rsimd::kernels(k.isa);
    if (rk.isa == k.isa) {
      std::printf("%s: reference noise (%d rounds of 4096 vertices)...\n", psimd::isa_name(k.isa), rounds * 4);
      check_reference_noise(rk, rng, rounds * 4);
    }
    std::printf("%s: words, orbit, raster (%d rounds each)...\n", psimd::isa_name(k.isa), rounds);
    check_words(k, rng, rounds);
    check_orbit(k, rng, rounds / 4);
    check_raster(k, rng, rounds);
  }
  std::printf(failures ? "FAILED: %d mismatches\n" : "all kernels exact\n", failures);
  return failures ? 1 : 0;
}
