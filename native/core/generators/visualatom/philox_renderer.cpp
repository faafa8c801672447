// The CPU renderer of the default stream.
#include <cstdlib>
#include <cstring>
#include <new>
#include <map>
#include <stdexcept>

#include "aligned_array.hpp"
#include "independent_renderer.hpp"
#include "dataset.hpp"
#include "generators/visualatom/visualatom.hpp"
#include "philox_image.hpp"
#include "philox_simd.hpp"

namespace vatom {

ClassParams philox_class_params_one(const GeneratorConfig& c, uint64_t seed, uint32_t cls) {
  const PhiloxKey key = philox_key(seed);
  const Philox4x32 b0 = philox_block(key, cls, 0, 0, kPurposeClass, 0);
  const Philox4x32 b1 = philox_block(key, cls, 0, 0, kPurposeClass, 1);
  const uint32_t* w0 = b0.v;
  const uint32_t* w1 = b1.v;
  ClassParams p;
  p.vertices = word_to_int(w0[kWordVertices], c.vertices_min, c.vertices_max);
  p.orbits = word_to_int(w0[kWordOrbits], c.orbits_min, c.orbits_max);
  p.noise = uniform_float(w0[kWordNoise], static_cast<float>(c.noise_min), 4.0f);
  p.line_width = uniform_float(w0[kWordLineWidth], 0.0f, static_cast<float>(c.line_width));
  p.radius = word_to_int(w1[kWordRadius - 4], c.radius_min, c.radius_min + c.radius_span);
  p.freq1 = word_to_int(w1[kWordFreq1 - 4], c.freq1_min, c.freq1_max);
  p.oval_x = uniform_float(w1[kWordOvalX - 4], 1.0f, static_cast<float>(c.oval_rate - 1.0));
  p.oval_y = uniform_float(w1[kWordOvalY - 4], 1.0f, static_cast<float>(c.oval_rate - 1.0));
  // n2 is redrawn while it equals n1 (unless n1 == 0); options.ts refuses configs where that never ends.
  for (uint32_t word = kWordFreq2First;; ++word) {
    p.freq2 = word_to_int(philox_word(key, cls, 0, 0, kPurposeClass, word), c.freq2_min, c.freq2_max);
    if (p.freq2 != p.freq1 || p.freq1 == 0) break;
  }
  return p;
}

std::vector<ClassParams> philox_class_params(const GeneratorConfig& config, uint64_t seed,
                                             int64_t start_class, int64_t classes) {
  std::vector<ClassParams> out;
  out.reserve(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) {
    out.push_back(philox_class_params_one(config, seed, static_cast<uint32_t>(start_class + c)));
  }
  return out;
}

namespace {

// Per-vertex constants of a class, padded with zeros to psimd::padded_vertices(q).
struct ClassTables {
  AlignedArray<float> cos_t, sin_t, bias;
};

ClassTables class_tables(const ClassParams& p) {
  ClassTables t;
  const size_t n = static_cast<size_t>(psimd::padded_vertices(p.vertices));
  t.cos_t.assign_zero(n);
  t.sin_t.assign_zero(n);
  t.bias.assign_zero(n);
  for (int32_t v = 0; v < p.vertices; ++v) philox_vertex_constants(p, v, t.cos_t[v], t.sin_t[v], t.bias[v]);
  return t;
}

struct Scratch {
  AlignedArray<float> x, y;
  AlignedArray<int32_t> ix, iy, raster;
  AlignedArray<uint32_t> header;
};

// The parts of one image before its orbits: the header words (centre, then one gray per orbit) and
// the starting vertices.
struct ImageSetup {
  int32_t q, orbits, size;
  float eta;
  Canvas canvas;
  psimd::OrbitJob job;
};

ImageSetup setup_image(const DatasetSpec& spec, PhiloxKey key, const psimd::Kernels& k, int64_t class_offset,
                       int64_t instance, const ClassTables& t, Scratch& s, uint8_t* pixels) {
  const ClassParams& p = spec.params[static_cast<size_t>(class_offset)];
  const uint32_t cls = static_cast<uint32_t>(spec.start_class + class_offset);
  const uint32_t inst = static_cast<uint32_t>(instance);
  const int32_t size = spec.config.image_size;
  const int32_t q = p.vertices;
  const size_t n = static_cast<size_t>(psimd::padded_vertices(q));
  s.x.assign_zero(n); s.y.assign_zero(n); s.ix.assign_zero(n); s.iy.assign_zero(n);
  s.raster.reserve_uninit(psimd::raster_scratch_ints(q));
  // Header words 0, 1: centre; word 2 + k: gray of orbit k.
  const int32_t header_blocks = (p.orbits + 2 + 3) / 4;
  s.header.reserve_uninit(static_cast<size_t>(header_blocks) * 4);
  k.words(key, cls, inst, 0, kPurposeHeader, header_blocks, s.header.data());
  const float cy = philox_centre(s.header[0], size, spec.config.start_pos);
  const float cx = philox_centre(s.header[1], size, spec.config.start_pos);
  const float r0 = static_cast<float>(p.radius);
  const float ox = static_cast<float>(p.oval_x), oy = static_cast<float>(p.oval_y);
  for (int32_t v = 0; v < q; ++v) {
    s.x[v] = ((t.cos_t[v] * r0) * ox) + cx;
    s.y[v] = ((t.sin_t[v] * r0) * oy) + cy;
  }
  ImageSetup out;
  out.q = q;
  out.orbits = p.orbits;
  out.size = size;
  out.eta = static_cast<float>(p.noise);
  out.canvas = Canvas{pixels, size, size};
  out.job = psimd::OrbitJob{key, cls, inst, 0, q, out.eta, t.cos_t.data(), t.sin_t.data(), t.bias.data(),
                            s.x.data(), s.y.data(), s.ix.data(), s.iy.data()};
  return out;
}

class PhiloxRenderer final : public IndependentImageRenderer<PhiloxRenderer, ClassTables, Scratch> {
 public:
  explicit PhiloxRenderer(const DatasetSpec& spec)
      : IndependentImageRenderer(spec, "philox"), key_(philox_key(spec.seed)), kernels_(psimd::kernels(psimd::best_isa())) {}

  ClassTables make_tables(const ClassParams& p) const { return class_tables(p); }

  void render_one(int64_t class_offset, int64_t instance, Scratch& s, uint8_t* pixels) const {
    throw_if_cancelled();
    std::memset(pixels, 0, static_cast<size_t>(spec_.image_bytes()));
    ImageSetup im = setup_image(spec_, key_, kernels_, class_offset, instance, tables(class_offset), s, pixels);
    for (int32_t k = 0; k < im.orbits; ++k) {
      throw_if_cancelled();
      im.job.orbit = static_cast<uint32_t>(k);
      kernels_.orbit(im.job);
      kernels_.raster(im.canvas, s.ix.data(), s.iy.data(), im.q, word_to_gray(s.header[2 + k]), s.raster.data());
    }
  }

  const PhiloxKey key_;
  const psimd::Kernels& kernels_;
};

}  // namespace

std::unique_ptr<ImageRenderer> make_philox_renderer(const DatasetSpec& spec) {
  return std::make_unique<PhiloxRenderer>(spec);
}

}  // namespace vatom
