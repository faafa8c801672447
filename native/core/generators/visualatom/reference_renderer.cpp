// The reference stream (`--rng reference`): render_VisualAtom.py pixel for pixel.
//
// Each process t of the reference script is one sequential MT19937 stream (seed t + 1) through all
// instances of its classes. The number of words a call takes never depends on a floating-point value
// (uniform: 2 words; randint: rejection on the words themselves), so a *replay* that only moves the
// generator (twists, plus the few tempered words randint rejection looks at) finds the generator
// state at the start of any instance cheaply. On one thread the images of a range are rendered in
// stream order and each starts where the previous one's lines ended (no replay). On more threads each
// worker takes the next image under a lock, replays the stream past the image before it (a few
// percent of an image's work) and renders its image from a copy of the state, outside the lock.
//
// Per orbit the generator's words are made in bulk (cpython_random: twist and temper, SIMD) and the
// vertices' noise, update and truncation run in the SIMD kernels of reference_simd.hpp; the pixels are
// those of draw_polygon_pil (raster.hpp), set by the default stream's AVX2/AVX-512 polygon kernels
// (philox_simd.hpp, the same pixel sets) or by draw_polygon_pil itself. Kernel sets follow
// psimd::best_isa() (VATOM_SIMD caps it).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "aligned_array.hpp"
#include "cpython_random.hpp"
#include "philox_simd.hpp"
#include "raster.hpp"
#include "reference.hpp"
#include "reference_simd.hpp"

namespace vatom {
namespace {

constexpr double kPi = 3.141592653589793;  // math.pi

// ------------------------------------------------------------------------------------------------
// Draws

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

// A class's parameters and its per-vertex constants, which the script evaluates identically on every
// orbit and are therefore computed once, padded with zeros to rsimd::padded_vertices(q).
struct ClassData {
  ClassParams p;
  bool has_tables = false;
  // cos(a_v), sin(a_v), the starting offsets (cos * rad) * ovx and (sin * rad) * ovy, and the wave
  // terms 0.5 sin(a_v n1), 0.5 sin(a_v n2), with a_v = angle * v.
  AlignedArray<double> cos_t, sin_t, base_x, base_y, wave1, wave2;

  explicit ClassData(const ClassParams& params) : p(params) {}

  void build_tables() {
    if (has_tables) return;
    const int32_t q = p.vertices;
    const size_t n = static_cast<size_t>(rsimd::padded_vertices(q));
    const double angle = (kPi * 2) / static_cast<double>(q);
    const double rad = static_cast<double>(p.radius);
    const double n1 = static_cast<double>(p.freq1), n2 = static_cast<double>(p.freq2);
    for (AlignedArray<double>* t : {&cos_t, &sin_t, &base_x, &base_y, &wave1, &wave2}) t->reserve_zero(n);
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

// Past the centre drawn after the current instance, whose lines the generator has just passed.
void end_instance(Walker& w, const StreamInfo& s) {
  draw_centre(w.rng, s.config, w.sph, w.spw);
  if (++w.k == s.instances) {
    ++w.j;
    w.k = 0;
    w.cls.reset();
  }
}

// Past the current instance (its lines and the centre drawn after it).
void next_instance(Walker& w, const StreamInfo& s) {
  skip_lines(w.rng, w.cls->p.vertices, w.cls->p.orbits);
  end_instance(w, s);
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
// One image.

struct Snapshot {
  MtState state;
  double sph = 0.0, spw = 0.0;
  std::shared_ptr<ClassData> cls;
};

// Per-thread arrays, padded (rsimd::padded_vertices) and aligned for the kernels.
struct Scratch {
  AlignedArray<double> x, y;
  AlignedArray<int32_t> ix, iy, raster;
  AlignedArray<uint32_t> wx, wy;

  void reserve(int32_t q) {
    const size_t n = static_cast<size_t>(rsimd::padded_vertices(q));
    x.reserve_zero(n);
    y.reserve_zero(n);
    ix.reserve_zero(n);
    iy.reserve_zero(n);
    wx.reserve_zero(2 * n);
    wy.reserve_zero(2 * n);
    raster.reserve_zero(psimd::raster_scratch_ints(q));
  }
};

using RasterFn = void (*)(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t* scratch);

void raster_polygon_pil(const Canvas& c, int32_t* x, int32_t* y, int32_t q, uint8_t gray, int32_t*) {
  draw_polygon_pil(c, x, y, q, gray);
}

// The kernels of one ISA: per-vertex math and polygon pixels. Without vector kernels the pixels are
// draw_polygon_pil's own walk (faster than the portable two-pass kernel of philox_simd).
struct KernelSet {
  const rsimd::Kernels& vertex;
  RasterFn raster;
  explicit KernelSet(psimd::Isa isa)
      : vertex(rsimd::kernels(isa)),
        raster(psimd::kernels(isa).isa == psimd::Isa::Scalar ? raster_polygon_pil : psimd::kernels(isa).raster) {}
};

// The vertices at the start of an instance: base + centre.
void start_image(const ClassData& c, double sph, double spw, Scratch& s) {
  s.reserve(c.p.vertices);
  const int32_t n = rsimd::padded_vertices(c.p.vertices);
  for (int32_t v = 0; v < n; ++v) {
    s.x[v] = c.base_x[v] + spw;
    s.y[v] = c.base_y[v] + sph;
  }
}

rsimd::OrbitJob orbit_job(const ClassData& c, Scratch& s) {
  return rsimd::OrbitJob{s.wx.data(),   s.wy.data(),     c.p.vertices,   c.p.noise,    c.p.line_width,
                         c.cos_t.data(), c.sin_t.data(), c.wave1.data(), c.wave2.data(), s.x.data(),
                         s.y.data(),     s.ix.data(),    s.iy.data()};
}

// The lines of one instance, drawing from rng (which ends where skip_lines would leave it).
void render_instance(const ClassData& c, double sph, double spw, CPythonRandom& rng, int32_t size,
                     const KernelSet& k, Scratch& s, uint8_t* pixels, const std::atomic<bool>& cancel) {
  std::memset(pixels, 0, static_cast<size_t>(size) * static_cast<size_t>(size));
  start_image(c, sph, spw, s);
  const Canvas canvas{pixels, size, size};
  const size_t words = 2 * static_cast<size_t>(c.p.vertices);
  const rsimd::OrbitJob job = orbit_job(c, s);
  for (int32_t line = 0; line < c.p.orbits; ++line) {
    if (cancel.load(std::memory_order_relaxed)) throw Cancelled();
    const uint8_t gray = static_cast<uint8_t>(rng.randbelow(256));
    // 2V uniforms: all V x-values first, then all V y-values.
    rng.fill_words(s.wx.data(), words);
    rng.fill_words(s.wy.data(), words);
    k.vertex.orbit(job);
    // Segments v -> v + 1 and the closing one V-1 -> 0, exactly as draw_line_pil each.
    k.raster(canvas, s.ix.data(), s.iy.data(), c.p.vertices, gray, s.raster.data());
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
        processes_(spec.reference_threads), kernels_(psimd::best_isa()) {
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

  // Images [lb, le) of process t (indices within the process), written to out. The walker ends at
  // image le (the cursor for a following range).
  void render_process(int32_t t, int64_t lb, int64_t le, uint8_t* out, ThreadPool& pool) {
    const StreamInfo s = stream_info(t);
    const int32_t size = config_.image_size;
    const int64_t bytes = static_cast<int64_t>(size) * size;
    const int64_t n = le - lb;
    std::unique_ptr<Walker> w = walker_at(t, lb / instances_, lb % instances_);

    if (pool.size() < 2 || n < 2) {
      // In stream order, each image from where the previous one's lines ended.
      for (int64_t i = 0; i < n; ++i) {
        throw_if_cancelled();
        if (!w->cls) begin_class(*w, s);
        w->cls->build_tables();
        render_instance(*w->cls, w->sph, w->spw, w->rng, size, kernels_, scratch_[0], out + i * bytes, cancel_flag());
        end_instance(*w, s);
      }
      cursors_[static_cast<size_t>(t)] = std::move(w);
      return;
    }

    // Each item takes the next image under the lock, moving the walker there (past the lines of the
    // image before it, which another worker renders), and renders it from a copy of the state.
    std::mutex mutex;
    int64_t claimed = 0;
    bool failed = false;
    pool.parallel_for(n, [&](int64_t, int worker) {
      Snapshot snap;
      int64_t i = 0;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (failed) return;
        throw_if_cancelled();
        try {
          i = claimed++;
          if (i > 0) next_instance(*w, s);
          if (!w->cls) begin_class(*w, s);
          w->cls->build_tables();
        } catch (...) {
          failed = true;  // the walker is lost: no later image can be placed
          throw;
        }
        snap.state = w->rng.state();
        snap.sph = w->sph;
        snap.spw = w->spw;
        snap.cls = w->cls;
      }
      CPythonRandom rng(snap.state);
      render_instance(*snap.cls, snap.sph, snap.spw, rng, size, kernels_, scratch_[static_cast<size_t>(worker)],
                      out + i * bytes, cancel_flag());
    });
    next_instance(*w, s);
    cursors_[static_cast<size_t>(t)] = std::move(w);
  }

  GeneratorConfig config_;
  int64_t classes_, instances_;
  int32_t processes_;
  int64_t cpt_ = 0;
  KernelSet kernels_;
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
  const auto work = [&] {
    for (int32_t t = next++; t < reference_threads; t = next++) {
      try {
        process(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  // The threads only speed the replay up: where the system gives fewer, the calling thread and the
  // ones it has do the work.
  std::vector<std::thread> threads;
  try {
    threads.reserve(static_cast<size_t>(nthreads - 1));
    for (int32_t i = 1; i < nthreads; ++i) threads.emplace_back(work);
  } catch (const std::exception&) {
  }
  work();
  for (auto& th : threads) th.join();
  if (error) std::rethrow_exception(error);
  return out;
}

std::unique_ptr<ImageRenderer> make_reference_renderer(const DatasetSpec& spec) {
  return std::make_unique<ReferenceRenderer>(spec);
}

}  // namespace vatom
