// The default stream of RCDB: every class a pure function of (seed, config, class) and every image of
// (seed, config, class, instance), with the reference's distribution.
//
// Layout (frozen; golden hashes in the tests pin it). Key: (seed low 32 bits, seed high 32 bits xor
// 0x52434442), so RCDB and VisualAtom of one seed draw unrelated words. Counters as the VisualAtom
// stream's (philox_stream.hpp): c2 class, c1 instance, c0 block, c3 = line << 2 | purpose.
//   purpose 0, instance 0: class words 0, 1 the vertex count's uniform (53 bits, as Python's random()),
//     2 lines, 3 noise, 4 offset, 5 radius, 6, 7 oval rates x, y, 8, 9 centre y, x (the first instance's shape);
//   purpose 1, instance k: words 0 .. 4 the shape of instance k >= 1 (oval x, oval y, radius, centre
//     y, centre x), word 5 + l the gray of line l;
//   purposes 2, 3: the x and y noise of line l, word v for vertex v (the VisualAtom kernels' words).
// The vertex count is the reference's int(expovariate(1/100)) conditioned on [vertices_min,
// vertices_max], drawn in one step by inverting its (geometric) distribution with IEEE multiplications
// only; every image follows its class's first instance exactly as the reference's do.
#include <cstring>
#include <map>
#include <stdexcept>

#include "aligned_array.hpp"
#include "independent_renderer.hpp"
#include "detmath.hpp"
#include "generators/visualatom/philox_simd.hpp"
#include "cpython_random.hpp"
#include "generators/visualatom/philox_image.hpp"
#include "rcdb.hpp"

namespace vatom {
namespace rcdb {
namespace {

constexpr uint32_t kFamilyKey = 0x52434442u;  // "RCDB"
// exp(-1/100): the ratio of successive vertex counts' probabilities under floor(expovariate(1/100)).
constexpr double kVertexRatio = 0.99004983374916805;

enum ClassWord : uint32_t {
  kWordVertexHigh = 0, kWordVertexLow, kWordLines, kWordNoise, kWordOffset, kWordRadius, kWordOvalX, kWordOvalY,
  kWordCentreY, kWordCentreX, kClassWords
};
enum HeaderWord : uint32_t { kHeadOvalX = 0, kHeadOvalY, kHeadRadius, kHeadCentreY, kHeadCentreX, kHeadGrayFirst };

PhiloxKey family_key(uint64_t seed) {
  PhiloxKey k = philox_key(seed);
  k.k1 ^= kFamilyKey;
  return k;
}

double power(double base, int64_t n) {
  double result = 1.0;
  while (n > 0) {
    if (n & 1) result *= base;
    base *= base;
    n >>= 1;
  }
  return result;
}

// The least m in [0, n) with u < (1 - p^(m+1)) / (1 - p^n): m follows P(m) ∝ p^m on [0, n).
int32_t truncated_geometric(double u, int64_t n) {
  const double target = u * (1.0 - power(kVertexRatio, n));
  double q = 1.0;
  for (int64_t m = 0; m < n; ++m) {
    q *= kVertexRatio;
    if (target < 1.0 - q) return static_cast<int32_t>(m);
  }
  return static_cast<int32_t>(n - 1);
}

int32_t radius_draw(uint32_t w, const GeneratorConfig& c) {
  return word_to_int(w, c.radius_min, c.radius_min + c.radius_span);
}

float oval_draw(uint32_t w, const GeneratorConfig& c) {
  return uniform_float(w, 1.0f, static_cast<float>(c.oval_rate - 1.0));
}

ClassParams class_params_one(const GeneratorConfig& c, uint64_t seed, uint32_t cls) {
  const PhiloxKey key = family_key(seed);
  uint32_t w[12];
  for (uint32_t b = 0; b < 3; ++b) {
    const Philox4x32 r = philox_block(key, cls, 0, 0, kPurposeClass, b);
    for (int l = 0; l < 4; ++l) w[4 * b + l] = r.v[l];
  }
  ClassParams p;
  const double u = CPythonRandom::words_to_double(w[kWordVertexHigh], w[kWordVertexLow]);
  p.vertices = c.vertices_min + truncated_geometric(u, static_cast<int64_t>(c.vertices_max) - c.vertices_min + 1);
  p.orbits = word_to_int(w[kWordLines], c.orbits_min, c.orbits_max);
  p.noise = uniform_float(w[kWordNoise], static_cast<float>(c.noise_min), 4.0f);
  p.line_width = uniform_float(w[kWordOffset], 0.0f, static_cast<float>(c.line_width));
  p.radius = radius_draw(w[kWordRadius], c);
  p.oval_x = oval_draw(w[kWordOvalX], c);
  p.oval_y = oval_draw(w[kWordOvalY], c);
  p.centre_y = philox_centre(w[kWordCentreY], c.image_size, c.start_pos);
  p.centre_x = philox_centre(w[kWordCentreX], c.image_size, c.start_pos);
  return p;
}

// Per-vertex constants of a class, padded with zeros to psimd::padded_vertices(V): cos and sin of the
// vertex angle and the constant part of a line's move, c + w (a line moves a vertex by
// trig * ((pnoise * 2c) - (c + w))).
struct ClassTables {
  AlignedArray<float> cos_t, sin_t, bias;
};

ClassTables class_tables(const ClassParams& p) {
  ClassTables t;
  const size_t n = static_cast<size_t>(psimd::padded_vertices(p.vertices));
  t.cos_t.assign_zero(n);
  t.sin_t.assign_zero(n);
  t.bias.assign_zero(n);
  const float bias = static_cast<float>(p.noise + p.line_width);
  for (int32_t v = 0; v < p.vertices; ++v) {
    const SinCos sc = det_sincos_turns(v, p.vertices);
    t.cos_t[v] = static_cast<float>(sc.c);
    t.sin_t[v] = static_cast<float>(sc.s);
    t.bias[v] = bias;
  }
  return t;
}

struct Scratch {
  AlignedArray<float> x, y;
  AlignedArray<int32_t> ix, iy, raster;
  AlignedArray<uint32_t> header;
};

class PhiloxRenderer final : public IndependentImageRenderer<PhiloxRenderer, ClassTables, Scratch> {
 public:
  explicit PhiloxRenderer(const DatasetSpec& spec)
      : IndependentImageRenderer(spec, "rcdb"), key_(family_key(spec.seed)), kernels_(psimd::kernels(psimd::best_isa())) {}

  ClassTables make_tables(const ClassParams& p) const { return class_tables(p); }

  void render_one(int64_t class_offset, int64_t instance, Scratch& s, uint8_t* pixels) const {
    throw_if_cancelled();
    const GeneratorConfig& c = spec_.config;
    const int32_t size = c.image_size;
    std::memset(pixels, 255, static_cast<size_t>(spec_.image_bytes()));
    const ClassParams& p = spec_.params[static_cast<size_t>(class_offset)];
    const ClassTables& t = tables(class_offset);
    const uint32_t cls = static_cast<uint32_t>(spec_.start_class + class_offset);
    const uint32_t inst = static_cast<uint32_t>(instance);
    const int32_t q = p.vertices;
    const size_t n = static_cast<size_t>(psimd::padded_vertices(q));
    s.x.assign_zero(n);
    s.y.assign_zero(n);
    s.ix.assign_zero(n);
    s.iy.assign_zero(n);
    s.raster.reserve_uninit(psimd::raster_scratch_ints(q));
    const int32_t header_blocks = (p.orbits + static_cast<int32_t>(kHeadGrayFirst) + 3) / 4;
    s.header.reserve_uninit(static_cast<size_t>(header_blocks) * 4);
    kernels_.words(key_, cls, inst, 0, kPurposeHeader, header_blocks, s.header.data());
    const uint32_t* h = s.header.data();
    float r0, ox, oy, cy, cx;
    if (instance == 0) {
      r0 = static_cast<float>(p.radius);
      ox = static_cast<float>(p.oval_x);
      oy = static_cast<float>(p.oval_y);
      cy = static_cast<float>(p.centre_y);
      cx = static_cast<float>(p.centre_x);
    } else {
      ox = oval_draw(h[kHeadOvalX], c);
      oy = oval_draw(h[kHeadOvalY], c);
      r0 = static_cast<float>(radius_draw(h[kHeadRadius], c));
      cy = philox_centre(h[kHeadCentreY], size, c.start_pos);
      cx = philox_centre(h[kHeadCentreX], size, c.start_pos);
    }
    for (int32_t v = 0; v < q; ++v) {
      s.x[v] = ((t.cos_t[v] * r0) * ox) + cx;
      s.y[v] = ((t.sin_t[v] * r0) * oy) + cy;
    }
    const float eta = static_cast<float>(p.noise * 2.0);
    psimd::OrbitJob job{key_,       cls,        inst,        0,           q,           eta,         t.cos_t.data(),
                        t.sin_t.data(), t.bias.data(), s.x.data(), s.y.data(), s.ix.data(), s.iy.data()};
    const Canvas canvas{pixels, size, size};
    const int32_t gray_max = size / 2;
    for (int32_t line = 0; line < p.orbits; ++line) {
      throw_if_cancelled();
      job.orbit = static_cast<uint32_t>(line);
      kernels_.orbit(job);
      const int32_t g = word_to_int(h[kHeadGrayFirst + static_cast<uint32_t>(line)], 0, gray_max);
      kernels_.raster(canvas, s.ix.data(), s.iy.data(), q, static_cast<uint8_t>(g > 255 ? 255 : g), s.raster.data());
    }
  }

  const PhiloxKey key_;
  const psimd::Kernels& kernels_;
};

}  // namespace

std::vector<ClassParams> philox_class_params(const GeneratorConfig& config, uint64_t seed, int64_t start_class,
                                             int64_t classes) {
  std::vector<ClassParams> out;
  out.reserve(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) out.push_back(class_params_one(config, seed, static_cast<uint32_t>(start_class + c)));
  return out;
}

std::unique_ptr<ImageRenderer> make_philox_renderer(const DatasetSpec& spec) {
  return std::make_unique<PhiloxRenderer>(spec);
}

}  // namespace rcdb
}  // namespace vatom
