// The CPU renderer of the default stream.
#include <cstring>
#include <map>
#include <stdexcept>

#include "dataset.hpp"
#include "philox_image.hpp"

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
  p.radius = word_to_int(w1[kWordRadius - 4], c.radius_min, c.radius_min + 50);
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

struct ClassTables {
  std::vector<float> cos_t, sin_t, bias;
};

struct Scratch {
  std::vector<float> x, y;
  std::vector<int> ix, iy;
};

class PhiloxRenderer final : public ImageRenderer {
 public:
  explicit PhiloxRenderer(const DatasetSpec& spec) : spec_(spec), key_(philox_key(spec.seed)) {}

  void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) override {
    const int64_t first_class = begin / spec_.instances, last_class = (end - 1) / spec_.instances;
    // Shards walk classes in order, so tables of earlier chunks are rarely needed again.
    if (tables_.size() > 256) tables_.clear();
    for (int64_t c = first_class; c <= last_class; ++c) tables_for(c);
    scratch_.resize(static_cast<size_t>(pool.size()));
    const int64_t bytes = spec_.image_bytes();
    pool.parallel_for(end - begin, [&](int64_t i, int worker) {
      const int64_t index = begin + i;
      render_one(index / spec_.instances, index % spec_.instances, scratch_[static_cast<size_t>(worker)],
                 out + i * bytes);
    });
  }

 private:
  const ClassTables& tables_for(int64_t class_offset) {
    auto it = tables_.find(class_offset);
    if (it != tables_.end()) return it->second;
    const ClassParams& p = spec_.params[static_cast<size_t>(class_offset)];
    ClassTables t;
    t.cos_t.resize(p.vertices);
    t.sin_t.resize(p.vertices);
    t.bias.resize(p.vertices);
    for (int32_t v = 0; v < p.vertices; ++v) philox_vertex_constants(p, v, t.cos_t[v], t.sin_t[v], t.bias[v]);
    return tables_.emplace(class_offset, std::move(t)).first->second;
  }

  void render_one(int64_t class_offset, int64_t instance, Scratch& s, uint8_t* pixels) const {
    const ClassParams& p = spec_.params[static_cast<size_t>(class_offset)];
    const ClassTables& t = tables_.at(class_offset);
    const uint32_t cls = static_cast<uint32_t>(spec_.start_class + class_offset);
    const uint32_t inst = static_cast<uint32_t>(instance);
    const int32_t size = spec_.config.image_size;
    const int32_t q = p.vertices;
    std::memset(pixels, 0, static_cast<size_t>(spec_.image_bytes()));
    const Canvas canvas{pixels, size, size};

    s.x.resize(q); s.y.resize(q); s.ix.resize(q); s.iy.resize(q);
    const Philox4x32 header = philox_block(key_, cls, inst, 0, kPurposeHeader, 0);
    const float cy = philox_centre(header.v[0], size, spec_.config.start_pos);
    const float cx = philox_centre(header.v[1], size, spec_.config.start_pos);
    const float r0 = static_cast<float>(p.radius);
    const float ox = static_cast<float>(p.oval_x), oy = static_cast<float>(p.oval_y);
    const float eta = static_cast<float>(p.noise);
    for (int32_t v = 0; v < q; ++v) {
      s.x[v] = ((t.cos_t[v] * r0) * ox) + cx;
      s.y[v] = ((t.sin_t[v] * r0) * oy) + cy;
    }
    for (int32_t k = 0; k < p.orbits; ++k) {
      const uint32_t gray_word = 2 + static_cast<uint32_t>(k);
      const uint8_t gray = word_to_gray(philox_word(key_, cls, inst, 0, kPurposeHeader, gray_word));
      const uint32_t orbit = static_cast<uint32_t>(k);
      for (int32_t v0 = 0; v0 < q; v0 += 4) {
        const uint32_t block = static_cast<uint32_t>(v0) >> 2;
        const Philox4x32 nx = philox_block(key_, cls, inst, orbit, kPurposeNoiseX, block);
        const Philox4x32 ny = philox_block(key_, cls, inst, orbit, kPurposeNoiseY, block);
        const int32_t lanes = q - v0 < 4 ? q - v0 : 4;
        for (int32_t l = 0; l < lanes; ++l) {
          const int32_t v = v0 + l;
          s.x[v] = philox_displace(s.x[v], nx.v[l], eta, t.cos_t[v], t.bias[v]);
          s.y[v] = philox_displace(s.y[v], ny.v[l], eta, t.sin_t[v], t.bias[v]);
          s.ix[v] = truncate_coord(s.x[v]);
          s.iy[v] = truncate_coord(s.y[v]);
        }
      }
      for (int32_t v = 0; v < q; ++v) {
        const int32_t w = v + 1 == q ? 0 : v + 1;
        draw_line_pil(canvas, s.ix[v], s.iy[v], s.ix[w], s.iy[w], gray);
      }
    }
  }

  const DatasetSpec& spec_;
  const PhiloxKey key_;
  std::map<int64_t, ClassTables> tables_;
  std::vector<Scratch> scratch_;
};

}  // namespace

std::unique_ptr<ImageRenderer> make_philox_renderer(const DatasetSpec& spec) {
  return std::make_unique<PhiloxRenderer>(spec);
}

}  // namespace vatom
