// The reference stream (`--rng reference`): render_VisualAtom.py pixel for pixel.
// REFERENCE_RENDERER.md is the specification; section numbers below refer to it.
//
// Each process t of the reference script is one sequential MT19937 stream (seed t + 1) through all
// instances of its classes. The number of words a call takes never depends on a floating-point value
// (uniform: 2 words; randint: rejection on the words themselves), so a *replay* that only moves the
// generator (twists, plus the few tempered words randint rejection looks at) finds the generator
// state at the start of any instance cheaply. One pool thread replays ahead and publishes snapshots
// (MT state + centre) into a bounded ring; the other threads render instances from them in parallel.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpython_random.hpp"
#include "pnoise.hpp"
#include "raster.hpp"
#include "reference.hpp"

// SSE2 kernels on x86-64 (baseline there); -DVATOM_REFERENCE_SSE2=0 builds the scalar definition only.
#ifndef VATOM_REFERENCE_SSE2
#if defined(__SSE2__) || defined(_M_X64)
#define VATOM_REFERENCE_SSE2 1
#else
#define VATOM_REFERENCE_SSE2 0
#endif
#endif
#if VATOM_REFERENCE_SSE2
#include <emmintrin.h>
#endif

namespace vatom {
namespace {

constexpr double kPi = 3.141592653589793;  // math.pi

// ------------------------------------------------------------------------------------------------
// Draws (section 4.1 / 4.2)

// Python evaluates uniform(a, b) as a + (b - a) * random(); the arguments are exact as doubles.
ClassParams draw_class_params(CPythonRandom& r, const GeneratorConfig& c) {
  ClassParams p;
  p.vertices = static_cast<int32_t>(r.randint(c.vertices_min, c.vertices_max));
  p.orbits = static_cast<int32_t>(r.randint(c.orbits_min, c.orbits_max));
  p.noise = r.uniform(c.noise_min, c.noise_min + 4.0);
  p.line_width = r.uniform(0.0, c.line_width);
  p.radius = static_cast<int32_t>(r.randint(c.radius_min, static_cast<int64_t>(c.radius_min) + 50));
  p.freq1 = static_cast<int32_t>(r.randint(c.freq1_min, c.freq1_max));
  for (;;) {
    p.freq2 = static_cast<int32_t>(r.randint(c.freq2_min, c.freq2_max));
    if (p.freq1 != p.freq2 || p.freq1 == 0) break;
  }
  p.oval_x = r.uniform(1.0, c.oval_rate);
  p.oval_y = r.uniform(1.0, c.oval_rate);
  return p;
}

// sph = (S + randint(-sp, sp)) / 2, then spw likewise (h first). Python's int / int is exact here.
void draw_centre(CPythonRandom& r, const GeneratorConfig& c, double& sph, double& spw) {
  const int64_t sp = c.start_pos;
  sph = static_cast<double>(c.image_size + r.randint(-sp, sp)) / 2.0;
  spw = static_cast<double>(c.image_size + r.randint(-sp, sp)) / 2.0;
}

// The generator moves of one instance's lines without their floating-point work: per line one
// randint(0, 255) (9-bit rejection) and 2V uniforms of 2 words each.
void skip_lines(CPythonRandom& r, int32_t vertices, int32_t orbits) {
  const uint64_t words = 4ull * static_cast<uint64_t>(vertices);
  for (int32_t k = 0; k < orbits; ++k) {
    r.skip_randbelow32(256, 9);
    r.skip_words(words);
  }
}

// A class's parameters and its per-vertex constants, which the script evaluates identically every
// time (section 4.2 allows precomputing them).
struct ClassData {
  ClassParams p;
  bool has_tables = false;
  // cos(a_v), sin(a_v), the starting offsets (cos * rad) * ovx and (sin * rad) * ovy, and the wave
  // terms 0.5 sin(a_v n1), 0.5 sin(a_v n2), with a_v = angle * v.
  std::vector<double> cos_t, sin_t, base_x, base_y, wave1, wave2;

  explicit ClassData(const ClassParams& params) : p(params) {}

  void build_tables() {
    if (has_tables) return;
    const int32_t q = p.vertices;
    const double angle = (kPi * 2) / static_cast<double>(q);
    const double rad = static_cast<double>(p.radius);
    const double n1 = static_cast<double>(p.freq1), n2 = static_cast<double>(p.freq2);
    cos_t.resize(q);
    sin_t.resize(q);
    base_x.resize(q);
    base_y.resize(q);
    wave1.resize(q);
    wave2.resize(q);
    for (int32_t v = 0; v < q; ++v) {
      const double a = angle * static_cast<double>(v);
      const double c = std::cos(a), s = std::sin(a);
      cos_t[v] = c;
      sin_t[v] = s;
      base_x[v] = (c * rad) * p.oval_x;
      base_y[v] = (s * rad) * p.oval_y;
      wave1[v] = 0.5 * std::sin(a * n1);
      wave2[v] = 0.5 * std::sin(a * n2);
    }
    has_tables = true;
  }
};

// ------------------------------------------------------------------------------------------------
// Checkpoints: the generator state at class starts, shared by reference_class_params and the
// renderers of the same dataset, so that a renderer that starts at a later shard (a resume) does not
// replay its process from the beginning. They depend only on the config, the instance count and
// the seed (not on how many classes a process has).

bool same_config(const GeneratorConfig& a, const GeneratorConfig& b) {
  return a.image_size == b.image_size && a.vertices_min == b.vertices_min && a.vertices_max == b.vertices_max &&
         a.orbits_min == b.orbits_min && a.orbits_max == b.orbits_max && a.noise_min == b.noise_min &&
         a.line_width == b.line_width && a.radius_min == b.radius_min && a.oval_rate == b.oval_rate &&
         a.start_pos == b.start_pos && a.freq1_min == b.freq1_min && a.freq1_max == b.freq1_max &&
         a.freq2_min == b.freq2_min && a.freq2_max == b.freq2_max;
}

class CheckpointCache {
 public:
  static CheckpointCache& get() {
    static CheckpointCache cache;
    return cache;
  }

  void put(const GeneratorConfig& c, int64_t instances, uint64_t seed, int64_t cls, const MtState& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!has_key_ || !same_config(c, config_) || instances != instances_) {
      states_.clear();
      count_ = 0;
      config_ = c;
      instances_ = instances;
      has_key_ = true;
    }
    if (count_ >= kMaxStates) return;
    auto& m = states_[seed];
    if (m.emplace(cls, s).second) ++count_;
  }

  // The checkpoint of the greatest class <= cls, if any.
  bool find(const GeneratorConfig& c, int64_t instances, uint64_t seed, int64_t cls, int64_t& found, MtState& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!has_key_ || !same_config(c, config_) || instances != instances_) return false;
    auto it = states_.find(seed);
    if (it == states_.end()) return false;
    auto jt = it->second.upper_bound(cls);
    if (jt == it->second.begin()) return false;
    --jt;
    found = jt->first;
    s = jt->second;
    return true;
  }

 private:
  static constexpr int64_t kMaxStates = 8192;  // about 20 MB
  std::mutex mutex_;
  bool has_key_ = false;
  GeneratorConfig config_;
  int64_t instances_ = 0;
  std::map<uint64_t, std::map<int64_t, MtState>> states_;
  int64_t count_ = 0;
};

// Checkpoint every `stride` classes, about 4096 checkpoints over all processes at most.
int64_t checkpoint_stride(int64_t classes_per_process, int32_t processes) {
  const int64_t per_process = std::max<int64_t>(1, 4096 / std::max<int32_t>(1, processes));
  return std::max<int64_t>(1, (classes_per_process + per_process - 1) / per_process);
}

// ------------------------------------------------------------------------------------------------
// A position in one process's stream: the generator is right before the first line of instance k of
// the process's class j (its parameters `cls` and centre already drawn); or, with cls null, at the
// very start of class j (nothing of it drawn; k = 0).

struct Walker {
  CPythonRandom rng;
  int64_t j = 0, k = 0;
  std::shared_ptr<ClassData> cls;
  double sph = 0.0, spw = 0.0;

  explicit Walker(uint64_t seed) : rng(seed) {}
  Walker(const MtState& state, int64_t cls_index) : rng(state), j(cls_index) {}

  bool before(int64_t jt, int64_t kt) const { return j < jt || (j == jt && k < kt); }
};

struct StreamInfo {
  GeneratorConfig config;
  int64_t instances;
  uint64_t seed;
  int64_t stride;
};

void begin_class(Walker& w, const StreamInfo& s) {
  if (w.j > 0 && w.j % s.stride == 0) CheckpointCache::get().put(s.config, s.instances, s.seed, w.j, w.rng.state());
  w.cls = std::make_shared<ClassData>(draw_class_params(w.rng, s.config));
  draw_centre(w.rng, s.config, w.sph, w.spw);
  w.k = 0;
}

// Past the current instance (its lines and the centre drawn after it).
void next_instance(Walker& w, const StreamInfo& s) {
  skip_lines(w.rng, w.cls->p.vertices, w.cls->p.orbits);
  draw_centre(w.rng, s.config, w.sph, w.spw);
  if (++w.k == s.instances) {
    ++w.j;
    w.k = 0;
    w.cls.reset();
  }
}

// Forward to instance kt of class jt, its class parameters drawn.
void seek(Walker& w, const StreamInfo& s, int64_t jt, int64_t kt) {
  for (;;) {
    if (!w.cls) begin_class(w, s);
    if (!w.before(jt, kt)) break;
    if (w.k == 0 && w.j < jt && s.instances > 0) {
      // Whole classes: nothing of them is needed but the words they take.
      const int32_t q = w.cls->p.vertices, orbits = w.cls->p.orbits;
      for (int64_t i = 0; i < s.instances; ++i) {
        skip_lines(w.rng, q, orbits);
        draw_centre(w.rng, s.config, w.sph, w.spw);
      }
      ++w.j;
      w.cls.reset();
      continue;
    }
    next_instance(w, s);
  }
}

// ------------------------------------------------------------------------------------------------
// One image from a snapshot (section 4.2).

struct Snapshot {
  MtState state;
  double sph = 0.0, spw = 0.0;
  std::shared_ptr<ClassData> cls;
};

struct Scratch {
  std::vector<double> vx, vy, nx, ny;
  std::vector<int> ix, iy;
  std::vector<uint32_t> words;
};

// The per-line kernels, in a scalar version (the definition) and an SSE2 version with the same
// operations in the same order on each lane: packed IEEE float/double arithmetic rounds exactly as the
// scalar instructions do, and the conversions (double -> float RNE, float/double -> int truncating)
// are the same instructions' packed forms.

// Grad of PERM[i] for the 256 hashes pnoise1 can see.
struct GradTable {
  float g[256];
  GradTable() {
    for (int i = 0; i < 256; ++i) g[i] = perlin_grad1(kPerlinPerm[i]);
  }
};
const GradTable kGrad;

// out[v] = P(uniform(0, 10000), v) for the V uniforms whose words are words[2v], words[2v + 1]:
// (((pnoise1(u) * coef) - coef) - 0.5 sin(a_v n1)) - 0.5 sin(a_v n2).
void noise_terms_scalar(const uint32_t* words, int32_t from, int32_t q, double coef, const double* wave1,
                        const double* wave2, double* out) {
  for (int32_t v = from; v < q; ++v) {
    const double r = CPythonRandom::words_to_double(words[2 * v], words[2 * v + 1]);
    const double u = 0.0 + 10000.0 * r;
    const double pn = static_cast<double>(pnoise1f(static_cast<float>(u)));
    out[v] = (((pn * coef) - coef) - wave1[v]) - wave2[v];
  }
}

// x -= cos * (N - lw) for both axes, then the truncated pixel coordinates.
void move_vertices_scalar(int32_t from, int32_t q, double lw, const double* cos_t, const double* sin_t,
                          const double* nx, const double* ny, double* vx, double* vy, int* ix, int* iy) {
  for (int32_t v = from; v < q; ++v) {
    vx[v] = vx[v] - (cos_t[v] * (nx[v] - lw));
    vy[v] = vy[v] - (sin_t[v] * (ny[v] - lw));
    ix[v] = truncate_coord(vx[v]);
    iy[v] = truncate_coord(vy[v]);
  }
}

#if VATOM_REFERENCE_SSE2
// u = 10000 * random() is in [0, 10000): 0.0 + u is u itself, float(u) floors into an int.
void noise_terms(const uint32_t* words, int32_t q, double coef, const double* wave1, const double* wave2,
                 double* out) {
  const __m128d two26 = _mm_set1_pd(67108864.0), inv53 = _mm_set1_pd(1.0 / 9007199254740992.0);
  const __m128d scale = _mm_set1_pd(10000.0), vcoef = _mm_set1_pd(coef);
  const __m128 six = _mm_set1_ps(6.0f), fifteen = _mm_set1_ps(15.0f), ten = _mm_set1_ps(10.0f);
  const __m128 one = _mm_set1_ps(1.0f), amp = _mm_set1_ps(0.4f);
  int32_t v = 0;
  for (; v + 4 <= q; v += 4) {
    // words (a0 b0 a1 b1) (a2 b2 a3 b3) -> a = (a0..a3) >> 5, b = (b0..b3) >> 6
    const __m128i w0 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(words + 2 * v)), _MM_SHUFFLE(3, 1, 2, 0));
    const __m128i w1 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(words + 2 * v + 4)), _MM_SHUFFLE(3, 1, 2, 0));
    const __m128i a = _mm_srli_epi32(_mm_unpacklo_epi64(w0, w1), 5);
    const __m128i b = _mm_srli_epi32(_mm_unpackhi_epi64(w0, w1), 6);
    const __m128d r01 = _mm_mul_pd(_mm_add_pd(_mm_mul_pd(_mm_cvtepi32_pd(a), two26), _mm_cvtepi32_pd(b)), inv53);
    const __m128d r23 = _mm_mul_pd(_mm_add_pd(_mm_mul_pd(_mm_cvtepi32_pd(_mm_srli_si128(a, 8)), two26),
                                              _mm_cvtepi32_pd(_mm_srli_si128(b, 8))), inv53);
    const __m128d u01 = _mm_mul_pd(scale, r01), u23 = _mm_mul_pd(scale, r23);
    const __m128 x = _mm_movelh_ps(_mm_cvtpd_ps(u01), _mm_cvtpd_ps(u23));
    // floorf: truncate, then one down where that rounded up (negative non-integers)
    __m128i qi = _mm_cvttps_epi32(x);
    qi = _mm_add_epi32(qi, _mm_castps_si128(_mm_cmpgt_ps(_mm_cvtepi32_ps(qi), x)));
    const __m128 fl = _mm_cvtepi32_ps(qi);
    alignas(16) int32_t qs[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(qs), qi);
    const __m128 g0 = _mm_setr_ps(kGrad.g[qs[0] & 255], kGrad.g[qs[1] & 255], kGrad.g[qs[2] & 255], kGrad.g[qs[3] & 255]);
    const __m128 g1 = _mm_setr_ps(kGrad.g[(qs[0] + 1) & 255], kGrad.g[(qs[1] + 1) & 255], kGrad.g[(qs[2] + 1) & 255],
                                  kGrad.g[(qs[3] + 1) & 255]);
    const __m128 t = _mm_sub_ps(x, fl);
    __m128 fu = _mm_mul_ps(t, six);
    fu = _mm_sub_ps(fu, fifteen);
    fu = _mm_mul_ps(t, fu);
    fu = _mm_add_ps(fu, ten);
    const __m128 cube = _mm_mul_ps(_mm_mul_ps(t, t), t);
    const __m128 fade = _mm_mul_ps(cube, fu);
    const __m128 ga = _mm_mul_ps(g0, t);
    const __m128 gb = _mm_mul_ps(g1, _mm_sub_ps(t, one));
    __m128 d = _mm_sub_ps(gb, ga);
    d = _mm_mul_ps(fade, d);
    const __m128 pn = _mm_mul_ps(_mm_add_ps(ga, d), amp);
    const __m128d pn01 = _mm_cvtps_pd(pn), pn23 = _mm_cvtps_pd(_mm_movehl_ps(pn, pn));
    __m128d o01 = _mm_sub_pd(_mm_mul_pd(pn01, vcoef), vcoef);
    __m128d o23 = _mm_sub_pd(_mm_mul_pd(pn23, vcoef), vcoef);
    o01 = _mm_sub_pd(_mm_sub_pd(o01, _mm_loadu_pd(wave1 + v)), _mm_loadu_pd(wave2 + v));
    o23 = _mm_sub_pd(_mm_sub_pd(o23, _mm_loadu_pd(wave1 + v + 2)), _mm_loadu_pd(wave2 + v + 2));
    _mm_storeu_pd(out + v, o01);
    _mm_storeu_pd(out + v + 2, o23);
  }
  noise_terms_scalar(words, v, q, coef, wave1, wave2, out);
}

// truncate_coord on two lanes: clamp to [-2^30, 2^30] (maxpd gives the bound for NaN), then truncate.
inline __m128i truncate2(__m128d x) {
  const __m128d lo = _mm_set1_pd(-1073741824.0), hi = _mm_set1_pd(1073741824.0);
  return _mm_cvttpd_epi32(_mm_min_pd(_mm_max_pd(x, lo), hi));
}

void move_vertices(int32_t q, double lw, const double* cos_t, const double* sin_t, const double* nx,
                   const double* ny, double* vx, double* vy, int* ix, int* iy) {
  const __m128d vlw = _mm_set1_pd(lw);
  int32_t v = 0;
  for (; v + 2 <= q; v += 2) {
    const __m128d x = _mm_sub_pd(_mm_loadu_pd(vx + v), _mm_mul_pd(_mm_loadu_pd(cos_t + v), _mm_sub_pd(_mm_loadu_pd(nx + v), vlw)));
    const __m128d y = _mm_sub_pd(_mm_loadu_pd(vy + v), _mm_mul_pd(_mm_loadu_pd(sin_t + v), _mm_sub_pd(_mm_loadu_pd(ny + v), vlw)));
    _mm_storeu_pd(vx + v, x);
    _mm_storeu_pd(vy + v, y);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(ix + v), truncate2(x));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(iy + v), truncate2(y));
  }
  move_vertices_scalar(v, q, lw, cos_t, sin_t, nx, ny, vx, vy, ix, iy);
}
#else
void noise_terms(const uint32_t* words, int32_t q, double coef, const double* wave1, const double* wave2,
                 double* out) {
  noise_terms_scalar(words, 0, q, coef, wave1, wave2, out);
}

void move_vertices(int32_t q, double lw, const double* cos_t, const double* sin_t, const double* nx,
                   const double* ny, double* vx, double* vy, int* ix, int* iy) {
  move_vertices_scalar(0, q, lw, cos_t, sin_t, nx, ny, vx, vy, ix, iy);
}
#endif

void render_instance(const Snapshot& snap, int32_t size, Scratch& s, uint8_t* pixels) {
  const ClassData& c = *snap.cls;
  const int32_t q = c.p.vertices;
  const double coef = c.p.noise, lw = c.p.line_width;
  std::memset(pixels, 0, static_cast<size_t>(size) * static_cast<size_t>(size));
  const Canvas canvas{pixels, size, size};
  s.vx.resize(q);
  s.vy.resize(q);
  s.nx.resize(q);
  s.ny.resize(q);
  s.ix.resize(q);
  s.iy.resize(q);
  s.words.resize(4 * static_cast<size_t>(q));
  double* vx = s.vx.data();
  double* vy = s.vy.data();
  int* ix = s.ix.data();
  int* iy = s.iy.data();
  uint32_t* words = s.words.data();

  for (int32_t v = 0; v < q; ++v) {
    vx[v] = c.base_x[v] + snap.spw;
    vy[v] = c.base_y[v] + snap.sph;
  }
  CPythonRandom rng(snap.state);
  for (int32_t line = 0; line < c.p.orbits; ++line) {
    const uint8_t gray = static_cast<uint8_t>(rng.randbelow(256));
    // 2V uniforms: all V x-values first, then all V y-values.
    rng.fill_words(words, 4 * static_cast<size_t>(q));
    noise_terms(words, q, coef, c.wave1.data(), c.wave2.data(), s.nx.data());
    noise_terms(words + 2 * static_cast<size_t>(q), q, coef, c.wave1.data(), c.wave2.data(), s.ny.data());
    move_vertices(q, lw, c.cos_t.data(), c.sin_t.data(), s.nx.data(), s.ny.data(), vx, vy, ix, iy);
    // Segments v -> v + 1 and the closing one V-1 -> 0 (vx[V] = vx[0]), exactly as draw_line_pil each.
    draw_polygon_pil(canvas, ix, iy, q, gray);
  }
}

// ------------------------------------------------------------------------------------------------

void check_layout(int64_t classes, int64_t instances, int32_t threads) {
  if (threads < 1) throw std::invalid_argument("reference stream: reference_threads must be >= 1");
  if (classes < 0 || instances < 0) throw std::invalid_argument("reference stream: negative counts");
  if (classes % threads != 0) {
    throw std::invalid_argument("reference stream: classes (" + std::to_string(classes) +
                                ") must be a multiple of reference_threads (" + std::to_string(threads) + ")");
  }
}

class ReferenceRenderer final : public ImageRenderer {
 public:
  explicit ReferenceRenderer(const DatasetSpec& spec)
      : config_(spec.config), classes_(spec.classes), instances_(spec.instances),
        processes_(spec.reference_threads) {
    check_layout(classes_, instances_, processes_);
    cpt_ = processes_ > 0 ? classes_ / processes_ : 0;
    cursors_.resize(static_cast<size_t>(processes_));
  }

  void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) override {
    if (begin < 0 || end > classes_ * instances_ || begin > end) throw std::out_of_range("reference render: bad image range");
    const int64_t bytes = static_cast<int64_t>(config_.image_size) * config_.image_size;
    scratch_.resize(static_cast<size_t>(pool.size()));
    // One pass per process whose images are in the range (a chunk usually lies within one).
    const int64_t per_process = cpt_ * instances_;
    for (int64_t b = begin; b < end;) {
      const int32_t t = static_cast<int32_t>(b / per_process);
      const int64_t e = std::min(end, (t + 1) * per_process);
      render_process(t, b - t * per_process, e - t * per_process, out + (b - begin) * bytes, pool);
      b = e;
    }
  }

 private:
  StreamInfo stream_info(int32_t t) const {
    return StreamInfo{config_, instances_, static_cast<uint64_t>(t) + 1, checkpoint_stride(cpt_, processes_)};
  }

  // A walker of process t at (jt, kt): from the cursor, a checkpoint or the seed, whichever is latest
  // but not past the target.
  std::unique_ptr<Walker> walker_at(int32_t t, int64_t jt, int64_t kt) {
    const StreamInfo s = stream_info(t);
    std::unique_ptr<Walker> w = std::move(cursors_[static_cast<size_t>(t)]);
    if (w && !(w->before(jt, kt) || (w->j == jt && w->k == kt))) w.reset();
    int64_t cj = 0;
    MtState state;
    if (CheckpointCache::get().find(s.config, s.instances, s.seed, jt, cj, state) && (!w || w->before(cj, 0))) {
      w = std::make_unique<Walker>(state, cj);
    }
    if (!w) w = std::make_unique<Walker>(s.seed);
    seek(*w, s, jt, kt);
    return w;
  }

  // Images [lb, le) of process t (indices within the process), written to out.
  void render_process(int32_t t, int64_t lb, int64_t le, uint8_t* out, ThreadPool& pool) {
    const StreamInfo s = stream_info(t);
    const int32_t size = config_.image_size;
    const int64_t bytes = static_cast<int64_t>(size) * size;
    const int64_t n = le - lb;
    std::unique_ptr<Walker> w = walker_at(t, lb / instances_, lb % instances_);

    auto take_snapshot = [&](Snapshot& snap) {
      if (!w->cls) begin_class(*w, s);
      w->cls->build_tables();
      snap.state = w->rng.state();
      snap.sph = w->sph;
      snap.spw = w->spw;
      snap.cls = w->cls;
    };

    if (pool.size() < 2) {
      Snapshot snap;
      for (int64_t i = 0; i < n; ++i) {
        take_snapshot(snap);
        render_instance(snap, size, scratch_[0], out + i * bytes);
        next_instance(*w, s);
      }
      cursors_[static_cast<size_t>(t)] = std::move(w);
      return;
    }

    // Item 0 replays into a ring of snapshots; items 1..n render image i - 1. parallel_for hands
    // items out in order, so the replay has started before any render waits for it, and renders
    // free ring slots in order, so the replay never waits for an image nobody has taken.
    const int64_t ring = std::min<int64_t>(n, std::max<int64_t>(64, 8 * static_cast<int64_t>(pool.size())));
    std::vector<Snapshot> slots(static_cast<size_t>(ring));
    std::vector<char> slot_free(static_cast<size_t>(ring), 1);
    std::mutex mutex;
    std::condition_variable cv;
    int64_t published = 0;
    bool failed = false;

    pool.parallel_for(n + 1, [&](int64_t item, int worker) {
      if (item == 0) {
        try {
          for (int64_t i = 0; i < n; ++i) {
            const size_t slot = static_cast<size_t>(i % ring);
            {
              std::unique_lock<std::mutex> lock(mutex);
              cv.wait(lock, [&] { return slot_free[slot] != 0 || failed; });
              if (failed) return;
            }
            if (i > 0) next_instance(*w, s);
            take_snapshot(slots[slot]);
            {
              std::lock_guard<std::mutex> lock(mutex);
              slot_free[slot] = 0;
              published = i + 1;
            }
            cv.notify_all();
          }
          next_instance(*w, s);
        } catch (...) {
          {
            std::lock_guard<std::mutex> lock(mutex);
            failed = true;
          }
          cv.notify_all();
          throw;
        }
        return;
      }
      const int64_t i = item - 1;
      const size_t slot = static_cast<size_t>(i % ring);
      Snapshot snap;
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return published > i || failed; });
        if (failed) throw std::runtime_error("reference render: replay failed");
        snap = slots[slot];
        slots[slot].cls.reset();
        slot_free[slot] = 1;
      }
      cv.notify_all();
      try {
        render_instance(snap, size, scratch_[static_cast<size_t>(worker)], out + i * bytes);
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          failed = true;
        }
        cv.notify_all();
        throw;
      }
    });
    cursors_[static_cast<size_t>(t)] = std::move(w);
  }

  GeneratorConfig config_;
  int64_t classes_, instances_;
  int32_t processes_;
  int64_t cpt_ = 0;
  std::vector<std::unique_ptr<Walker>> cursors_;
  std::vector<Scratch> scratch_;
};

}  // namespace

std::vector<ClassParams> reference_class_params(const GeneratorConfig& config, int64_t classes,
                                                int64_t instances, int32_t reference_threads) {
  check_layout(classes, instances, reference_threads);
  const int64_t cpt = classes / reference_threads;
  std::vector<ClassParams> out(static_cast<size_t>(classes));
  const int64_t stride = checkpoint_stride(cpt, reference_threads);
  auto process = [&](int32_t t) {
    const StreamInfo s{config, instances, static_cast<uint64_t>(t) + 1, stride};
    Walker w(s.seed);
    for (int64_t j = 0; j < cpt; ++j) {
      begin_class(w, s);
      out[static_cast<size_t>(t * cpt + j)] = w.cls->p;
      for (int64_t k = 0; k < instances; ++k) {
        skip_lines(w.rng, w.cls->p.vertices, w.cls->p.orbits);
        draw_centre(w.rng, config, w.sph, w.spw);
      }
      ++w.j;
      w.cls.reset();
    }
  };
  // The processes are independent streams: replay them on parallel threads.
  const int32_t hw = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  const int32_t nthreads = std::min(reference_threads, hw);
  if (nthreads <= 1 || cpt == 0) {
    for (int32_t t = 0; t < reference_threads; ++t) process(t);
    return out;
  }
  std::atomic<int32_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::vector<std::thread> threads;
  for (int32_t i = 0; i < nthreads; ++i) {
    threads.emplace_back([&] {
      for (int32_t t = next++; t < reference_threads; t = next++) {
        try {
          process(t);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  if (error) std::rethrow_exception(error);
  return out;
}

std::unique_ptr<ImageRenderer> make_reference_renderer(const DatasetSpec& spec) {
  return std::make_unique<ReferenceRenderer>(spec);
}

}  // namespace vatom
