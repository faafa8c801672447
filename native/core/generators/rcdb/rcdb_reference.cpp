// The reference stream of RCDB (`--rng reference`): make_rcdb.py pixel for pixel.
//
// Process t of the script is one sequential MT19937 stream (seed t + 1) through all instances of its
// classes: per class the parameter draw (the vertex count's exponential redraw, lines, noise, offset,
// radius, oval rates, centre), then per instance its lines (one gray, V x-uniforms, V y-uniforms each)
// followed by the redraw of the next instance's shape (oval rates, radius, centre). Only the vertex
// count depends on a floating-point value (it is computed, never skipped); every other call takes a
// number of words fixed by the words themselves, so a replay that only moves the generator finds the
// state before any image cheaply. One thread renders a range in stream order; more threads claim
// images under a lock, replay past the image before, and render from a copy of the state.
//
// Exactness: the script keeps its vertices relative to the centre and adds the centre when it draws,
// so the pixel coordinates are truncate(x + pos_w), truncate(y + pos_h) with x, y accumulated without
// it; the noise term pnoise1(u) * c * 2 - c equals pnoise1(u) * (2c) - c exactly (scaling by 2 commutes
// with rounding); the gray randint(0, S / 2) takes S / 2 + 1 values and Pillow holds 256 and above at
// 255.
#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "aligned_array.hpp"
#include "cpython_random.hpp"
#include "generators/visualatom/philox_simd.hpp"
#include "pnoise_simd.hpp"
#include "raster.hpp"
#include "rcdb.hpp"

namespace vatom {
namespace rcdb {
namespace {

constexpr double kPi = 3.141592653589793;  // math.pi
constexpr double kVertexRate = 1.0 / 100;  // the script's expovariate(1 / 100)

// The shape an instance is drawn with: the class's for its first instance, redrawn after each one.
struct Shape {
  int32_t radius = 0;
  double ox = 1.0, oy = 1.0, pos_h = 0.0, pos_w = 0.0;
};

double draw_centre(CPythonRandom& r, const GeneratorConfig& c) {
  const int64_t sp = c.start_pos;
  return static_cast<double>(c.image_size + r.randint(-sp, sp)) / 2.0;
}

// Python's uniform(a, b) = a + (b - a) * random(); the script's int arguments are exact as doubles.
ClassParams draw_class(CPythonRandom& r, const GeneratorConfig& c) {
  ClassParams p;
  for (;;) {
    const double e = -std::log(1.0 - r.random()) / kVertexRate;
    const int64_t v = static_cast<int64_t>(e);
    if (v > 2 && v <= c.vertices_max) {
      p.vertices = static_cast<int32_t>(v);
      break;
    }
  }
  p.orbits = static_cast<int32_t>(r.randint(c.orbits_min, static_cast<int64_t>(c.orbits_min) + kLineSpan));
  p.noise = r.uniform(c.noise_min, c.noise_min + 4.0);
  p.line_width = r.uniform(0.0, c.line_width);
  p.radius = static_cast<int32_t>(r.randint(c.radius_min, static_cast<int64_t>(c.radius_min) + kReferenceRadiusSpan));
  p.oval_x = r.uniform(1.0, c.oval_rate);
  p.oval_y = r.uniform(1.0, c.oval_rate);
  p.centre_y = draw_centre(r, c);
  p.centre_x = draw_centre(r, c);
  return p;
}

// The redraw after an instance: oval rates, radius, then the centre (an order unlike the class draw's).
Shape draw_shape(CPythonRandom& r, const GeneratorConfig& c) {
  Shape s;
  s.ox = r.uniform(1.0, c.oval_rate);
  s.oy = r.uniform(1.0, c.oval_rate);
  s.radius = static_cast<int32_t>(r.randint(c.radius_min, static_cast<int64_t>(c.radius_min) + kReferenceRadiusSpan));
  s.pos_h = draw_centre(r, c);
  s.pos_w = draw_centre(r, c);
  return s;
}

Shape first_shape(const ClassParams& p) {
  Shape s;
  s.radius = p.radius;
  s.ox = p.oval_x;
  s.oy = p.oval_y;
  s.pos_h = p.centre_y;
  s.pos_w = p.centre_x;
  return s;
}

// The gray draw randint(0, S / 2): _randbelow(S / 2 + 1).
struct GrayDraw {
  uint32_t n;
  int bits;
  explicit GrayDraw(int32_t image_size)
      : n(static_cast<uint32_t>(image_size / 2 + 1)), bits(bit_length_u64(static_cast<uint64_t>(image_size / 2 + 1))) {}
};

// A class's parameters and cos, sin of its vertex angles (what the script evaluates identically every
// time), padded with zeros to psimd::padded_vertices(V).
struct ClassData {
  ClassParams p;
  AlignedArray<double> cos_t, sin_t;

  explicit ClassData(const ClassParams& params) : p(params) {
    const int32_t q = p.vertices;
    const size_t n = static_cast<size_t>(psimd::padded_vertices(q));
    cos_t.assign_zero(n);
    sin_t.assign_zero(n);
    const double angle = (kPi * 2) / static_cast<double>(q);
    for (int32_t v = 0; v < q; ++v) {
      cos_t[v] = std::cos(angle * static_cast<double>(v));
      sin_t[v] = std::sin(angle * static_cast<double>(v));
    }
  }
};

struct StreamInfo {
  GeneratorConfig config;
  int64_t instances;
  uint64_t seed;
  GrayDraw gray;
};

StreamInfo stream_info(const GeneratorConfig& c, int64_t instances, int32_t process) {
  return StreamInfo{c, instances, static_cast<uint64_t>(process) + 1, GrayDraw(c.image_size)};
}

// The generator moves of one instance's lines: per line the gray, then 4V words.
void skip_lines(CPythonRandom& r, const ClassParams& p, const GrayDraw& g) {
  const uint64_t words = 4ull * static_cast<uint64_t>(p.vertices);
  for (int32_t k = 0; k < p.orbits; ++k) {
    r.skip_randbelow32(g.n, g.bits);
    r.skip_words(words);
  }
}

// A position in one process's stream: right before the first line of instance k of the process's
// class j (the class drawn, `shape` the instance's); or, with cls null, at the start of class j.
struct Walker {
  CPythonRandom rng;
  int64_t j = 0, k = 0;
  std::shared_ptr<ClassData> cls;
  Shape shape;
  // Where the state at class starts is kept (every `stride` classes), so that a later walker of the
  // same process starts from the nearest class before its target instead of the seed.
  std::map<int64_t, MtState>* checkpoints = nullptr;
  int64_t stride = 1;

  explicit Walker(uint64_t seed) : rng(seed) {}
  Walker(const MtState& state, int64_t class_index) : rng(state), j(class_index) {}
  bool before(int64_t jt, int64_t kt) const { return j < jt || (j == jt && k < kt); }
};

void begin_class(Walker& w, const StreamInfo& s) {
  if (w.checkpoints != nullptr && w.j % w.stride == 0) w.checkpoints->emplace(w.j, w.rng.state());
  w.cls = std::make_shared<ClassData>(draw_class(w.rng, s.config));
  w.shape = first_shape(w.cls->p);
  w.k = 0;
}

// Past the shape redraw after the current instance, whose lines the generator has just passed.
void end_instance(Walker& w, const StreamInfo& s) {
  w.shape = draw_shape(w.rng, s.config);
  if (++w.k == s.instances) {
    ++w.j;
    w.k = 0;
    w.cls.reset();
  }
}

void next_instance(Walker& w, const StreamInfo& s) {
  skip_lines(w.rng, w.cls->p, s.gray);
  end_instance(w, s);
}

// Forward to instance kt of class jt, its class drawn.
void seek(Walker& w, const StreamInfo& s, int64_t jt, int64_t kt) {
  for (;;) {
    if (!w.cls) begin_class(w, s);
    if (!w.before(jt, kt)) break;
    next_instance(w, s);
  }
}

// ------------------------------------------------------------------------------------------------
// One line of one image: the noise of every vertex from its words, the move, the pixel coordinates.

struct LineJob {
  const uint32_t* wx;  // wx[2v], wx[2v + 1]: the words of vertex v's x uniform
  const uint32_t* wy;
  int32_t q;
  double c, c2, w, pos_h, pos_w;
  const double* cos_t;
  const double* sin_t;
  double* x;
  double* y;
  int32_t* ix;
  int32_t* iy;
};

inline double noise_term(uint32_t w1, uint32_t w2, double c2, double c) {
  const double u = 0.0 + 10000.0 * CPythonRandom::words_to_double(w1, w2);
  return (static_cast<double>(pnoise1f_table(static_cast<float>(u))) * c2) - c;
}

[[maybe_unused]] void line_plain(const LineJob& j) {
  for (int32_t v = 0; v < j.q; ++v) {
    const double nx = noise_term(j.wx[2 * v], j.wx[2 * v + 1], j.c2, j.c);
    const double ny = noise_term(j.wy[2 * v], j.wy[2 * v + 1], j.c2, j.c);
    j.x[v] = j.x[v] - (j.cos_t[v] * (nx - j.w));
    j.y[v] = j.y[v] - (j.sin_t[v] * (ny - j.w));
    j.ix[v] = truncate_coord(j.x[v] + j.pos_w);
    j.iy[v] = truncate_coord(j.y[v] + j.pos_h);
  }
}

#if VATOM_PNOISE_SSE2
// The noise terms of vertices v .. v+3 from their 8 words, lane by lane as noise_term.
inline void noise4(const uint32_t* w, int32_t v, __m128d c2, __m128d c, __m128d& p01, __m128d& p23) {
  const __m128d two26 = _mm_set1_pd(67108864.0), inv53 = _mm_set1_pd(1.0 / 9007199254740992.0);
  const __m128d scale = _mm_set1_pd(10000.0);
  const __m128i w0 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * v)), _MM_SHUFFLE(3, 1, 2, 0));
  const __m128i w1 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * v + 4)), _MM_SHUFFLE(3, 1, 2, 0));
  const __m128i a = _mm_srli_epi32(_mm_unpacklo_epi64(w0, w1), 5);
  const __m128i b = _mm_srli_epi32(_mm_unpackhi_epi64(w0, w1), 6);
  const __m128d r01 = _mm_mul_pd(_mm_add_pd(_mm_mul_pd(_mm_cvtepi32_pd(a), two26), _mm_cvtepi32_pd(b)), inv53);
  const __m128d r23 = _mm_mul_pd(_mm_add_pd(_mm_mul_pd(_mm_cvtepi32_pd(_mm_srli_si128(a, 8)), two26),
                                            _mm_cvtepi32_pd(_mm_srli_si128(b, 8))), inv53);
  const __m128d u01 = _mm_mul_pd(scale, r01), u23 = _mm_mul_pd(scale, r23);
  const __m128 pn = pnoise4(_mm_movelh_ps(_mm_cvtpd_ps(u01), _mm_cvtpd_ps(u23)));
  p01 = _mm_sub_pd(_mm_mul_pd(_mm_cvtps_pd(pn), c2), c);
  p23 = _mm_sub_pd(_mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(pn, pn)), c2), c);
}

// truncate_coord on two lanes: clamp to [-2^30, 2^30] (maxpd returns the bound for NaN), truncate.
inline __m128i truncate2(__m128d x) {
  const __m128d lo = _mm_set1_pd(-1073741824.0), hi = _mm_set1_pd(1073741824.0);
  return _mm_cvttpd_epi32(_mm_min_pd(_mm_max_pd(x, lo), hi));
}

// Whole groups of 4 vertices (the arrays are padded).
void line_sse2(const LineJob& j) {
  const __m128d c2 = _mm_set1_pd(j.c2), c = _mm_set1_pd(j.c), w = _mm_set1_pd(j.w);
  const __m128d ph = _mm_set1_pd(j.pos_h), pw = _mm_set1_pd(j.pos_w);
  for (int32_t v = 0; v < j.q; v += 4) {
    __m128d nx[2], ny[2];
    noise4(j.wx, v, c2, c, nx[0], nx[1]);
    noise4(j.wy, v, c2, c, ny[0], ny[1]);
    __m128i tx[2], ty[2];
    for (int h = 0; h < 2; ++h) {
      const __m128d x = _mm_sub_pd(_mm_load_pd(j.x + v + 2 * h), _mm_mul_pd(_mm_load_pd(j.cos_t + v + 2 * h), _mm_sub_pd(nx[h], w)));
      const __m128d y = _mm_sub_pd(_mm_load_pd(j.y + v + 2 * h), _mm_mul_pd(_mm_load_pd(j.sin_t + v + 2 * h), _mm_sub_pd(ny[h], w)));
      _mm_store_pd(j.x + v + 2 * h, x);
      _mm_store_pd(j.y + v + 2 * h, y);
      tx[h] = truncate2(_mm_add_pd(x, pw));
      ty[h] = truncate2(_mm_add_pd(y, ph));
    }
    _mm_store_si128(reinterpret_cast<__m128i*>(j.ix + v), _mm_unpacklo_epi64(tx[0], tx[1]));
    _mm_store_si128(reinterpret_cast<__m128i*>(j.iy + v), _mm_unpacklo_epi64(ty[0], ty[1]));
  }
}
#endif

void run_line(const LineJob& j) {
#if VATOM_PNOISE_SSE2
  line_sse2(j);
#else
  line_plain(j);
#endif
}

using RasterFn = void (*)(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t* scratch);

void raster_polygon_pil(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t*) {
  draw_polygon_pil(c, x, y, q, gray);
}

RasterFn raster_for(psimd::Isa isa) {
  const psimd::Kernels& k = psimd::kernels(isa);
  return k.isa == psimd::Isa::Scalar ? raster_polygon_pil : k.raster;
}

struct Scratch {
  AlignedArray<double> x, y;
  AlignedArray<int32_t> ix, iy, raster;
  AlignedArray<uint32_t> wx, wy;

  void reserve(int32_t q) {
    const size_t n = static_cast<size_t>(psimd::padded_vertices(q));
    x.reserve_zero(n);
    y.reserve_zero(n);
    ix.reserve_zero(n);
    iy.reserve_zero(n);
    wx.reserve_zero(2 * n);
    wy.reserve_zero(2 * n);
    raster.reserve_zero(psimd::raster_scratch_ints(q));
  }
};

// The lines of one instance, drawing from rng (which ends where skip_lines would leave it).
void render_instance(const ClassData& c, const Shape& shape, CPythonRandom& rng, const StreamInfo& s, RasterFn raster,
                     Scratch& sc, uint8_t* pixels, const std::atomic<bool>& cancel) {
  const int32_t size = s.config.image_size;
  std::memset(pixels, 255, static_cast<size_t>(size) * static_cast<size_t>(size));
  const int32_t q = c.p.vertices;
  sc.reserve(q);
  const int32_t n = psimd::padded_vertices(q);
  const double rad = static_cast<double>(shape.radius);
  for (int32_t v = 0; v < n; ++v) {
    sc.x[v] = (c.cos_t[v] * rad) * shape.ox;
    sc.y[v] = (c.sin_t[v] * rad) * shape.oy;
  }
  const LineJob job{sc.wx.data(), sc.wy.data(), q,          c.p.noise,  c.p.noise * 2.0, c.p.line_width, shape.pos_h,
                    shape.pos_w,  c.cos_t.data(), c.sin_t.data(), sc.x.data(), sc.y.data(), sc.ix.data(), sc.iy.data()};
  const Canvas canvas{pixels, size, size};
  const size_t words = 2 * static_cast<size_t>(q);
  for (int32_t line = 0; line < c.p.orbits; ++line) {
    if (cancel.load(std::memory_order_relaxed)) throw Cancelled();
    const uint64_t g = rng.randbelow(s.gray.n);
    const uint8_t gray = static_cast<uint8_t>(g > 255 ? 255 : g);
    rng.fill_words(sc.wx.data(), words);
    rng.fill_words(sc.wy.data(), words);
    run_line(job);
    raster(canvas, sc.ix.data(), sc.iy.data(), q, gray, sc.raster.data());
  }
}

void check_layout(int64_t classes, int64_t instances, int32_t threads) {
  if (threads < 1) throw std::invalid_argument("reference stream: reference_threads must be >= 1");
  if (classes < 0 || instances < 1) throw std::invalid_argument("reference stream: bad counts");
  if (classes % threads != 0) {
    throw std::invalid_argument("reference stream: classes (" + std::to_string(classes) +
                                ") must be a multiple of reference_threads (" + std::to_string(threads) + ")");
  }
}

class ReferenceRenderer final : public ImageRenderer {
 public:
  explicit ReferenceRenderer(const DatasetSpec& spec)
      : config_(spec.config), classes_(spec.classes), instances_(spec.instances), processes_(spec.reference_threads),
        raster_(raster_for(psimd::best_isa())) {
    check_layout(classes_, instances_, processes_);
    cpt_ = classes_ / processes_;
    cursors_.resize(static_cast<size_t>(processes_));
    checkpoints_.resize(static_cast<size_t>(processes_));
    // About 4096 checkpoints over all processes at most (2.5 KB each).
    const int64_t per_process = std::max<int64_t>(1, 4096 / processes_);
    stride_ = std::max<int64_t>(1, (cpt_ + per_process - 1) / per_process);
  }

  void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) override {
    if (begin < 0 || end > classes_ * instances_ || begin > end) throw std::out_of_range("reference render: bad image range");
    const int64_t bytes = static_cast<int64_t>(config_.image_size) * config_.image_size;
    scratch_.resize(static_cast<size_t>(pool.size()));
    const int64_t per_process = cpt_ * instances_;
    for (int64_t b = begin; b < end;) {
      const int32_t t = static_cast<int32_t>(b / per_process);
      const int64_t e = std::min(end, (t + 1) * per_process);
      render_process(t, b - t * per_process, e - t * per_process, out + (b - begin) * bytes, pool);
      b = e;
    }
  }

 private:
  // A walker of process t at (jt, kt): from the process's cursor, a checkpoint or the seed, whichever
  // is latest but not past the target.
  std::unique_ptr<Walker> walker_at(int32_t t, int64_t jt, int64_t kt) {
    const StreamInfo s = stream_info(config_, instances_, t);
    std::map<int64_t, MtState>& checkpoints = checkpoints_[static_cast<size_t>(t)];
    std::unique_ptr<Walker> w = std::move(cursors_[static_cast<size_t>(t)]);
    if (w && !(w->before(jt, kt) || (w->j == jt && w->k == kt))) w.reset();
    auto at = checkpoints.upper_bound(jt);
    if (at != checkpoints.begin()) {
      --at;
      if (!w || w->before(at->first, 0)) w = std::make_unique<Walker>(at->second, at->first);
    }
    if (!w) w = std::make_unique<Walker>(s.seed);
    w->checkpoints = &checkpoints;
    w->stride = stride_;
    seek(*w, s, jt, kt);
    return w;
  }

  void render_process(int32_t t, int64_t lb, int64_t le, uint8_t* out, ThreadPool& pool) {
    const StreamInfo s = stream_info(config_, instances_, t);
    const int64_t bytes = static_cast<int64_t>(config_.image_size) * config_.image_size;
    const int64_t n = le - lb;
    std::unique_ptr<Walker> w = walker_at(t, lb / instances_, lb % instances_);

    if (pool.size() < 2 || n < 2) {
      for (int64_t i = 0; i < n; ++i) {
        throw_if_cancelled();
        if (!w->cls) begin_class(*w, s);
        render_instance(*w->cls, w->shape, w->rng, s, raster_, scratch_[0], out + i * bytes, cancel_flag());
        end_instance(*w, s);
      }
      cursors_[static_cast<size_t>(t)] = std::move(w);
      return;
    }

    std::mutex mutex;
    int64_t claimed = 0;
    bool failed = false;
    pool.parallel_for(n, [&](int64_t, int worker) {
      MtState state;
      Shape shape;
      std::shared_ptr<ClassData> cls;
      int64_t i = 0;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (failed) return;
        throw_if_cancelled();
        try {
          i = claimed++;
          if (i > 0) next_instance(*w, s);
          if (!w->cls) begin_class(*w, s);
        } catch (...) {
          failed = true;  // the walker is lost: no later image can be placed
          throw;
        }
        state = w->rng.state();
        shape = w->shape;
        cls = w->cls;
      }
      CPythonRandom rng(state);
      render_instance(*cls, shape, rng, s, raster_, scratch_[static_cast<size_t>(worker)], out + i * bytes,
                      cancel_flag());
    });
    next_instance(*w, s);
    cursors_[static_cast<size_t>(t)] = std::move(w);
  }

  GeneratorConfig config_;
  int64_t classes_, instances_;
  int32_t processes_;
  int64_t cpt_ = 0;
  int64_t stride_ = 1;
  RasterFn raster_;
  std::vector<std::unique_ptr<Walker>> cursors_;
  std::vector<std::map<int64_t, MtState>> checkpoints_;
  std::vector<Scratch> scratch_;
};

}  // namespace

std::vector<ClassParams> reference_class_params(const GeneratorConfig& config, int64_t classes, int64_t instances,
                                                int32_t reference_threads) {
  check_layout(classes, instances, reference_threads);
  const int64_t cpt = classes / reference_threads;
  std::vector<ClassParams> out(static_cast<size_t>(classes));
  auto process = [&](int32_t t) {
    const StreamInfo s = stream_info(config, instances, t);
    Walker w(s.seed);
    for (int64_t j = 0; j < cpt; ++j) {
      begin_class(w, s);
      out[static_cast<size_t>(t * cpt + j)] = w.cls->p;
      for (int64_t k = 0; k < instances; ++k) {
        skip_lines(w.rng, w.cls->p, s.gray);
        w.shape = draw_shape(w.rng, config);
      }
    }
  };
  // The processes are independent streams: replay them on parallel threads.
  const int32_t hw = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  const int32_t nthreads = std::min(reference_threads, hw);
  std::atomic<int32_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (int32_t t = next++; t < reference_threads; t = next++) {
      try {
        process(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int32_t i = 1; i < nthreads; ++i) threads.emplace_back(worker);
  worker();
  for (auto& th : threads) th.join();
  if (error) std::rethrow_exception(error);
  return out;
}

std::unique_ptr<ImageRenderer> make_reference_renderer(const DatasetSpec& spec) {
  return std::make_unique<ReferenceRenderer>(spec);
}

}  // namespace rcdb
}  // namespace vatom
