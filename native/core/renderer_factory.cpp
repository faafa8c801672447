#include "renderer_factory.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "cuda_api.hpp"
#include "generators/rcdb/rcdb.hpp"
#include "generators/visualatom/reference.hpp"
#include "generators/visualatom/visualatom.hpp"

namespace vatom {

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  throw std::invalid_argument("device is \"" + name + "\", expected \"cpu\" or \"cuda\"");
}

namespace {

// The generator config's bounds (the manifest schema's generatorConfig) and the class parameters'
// (the values a config within them can draw).
constexpr int64_t kVerticesMax = 100000, kOrbitsMax = 100000, kFrequencyMax = 1000000;
constexpr int64_t kPixelsMax = 1000000;
constexpr double kRealMax = 1000000;
constexpr int64_t kClassIndexEnd = int64_t{1} << 32;      // class indices are uint32 in the streams
constexpr int64_t kImageCountMax = int64_t{1} << 53;      // exact in a double (Python, JavaScript)

struct Checker {
  std::ostringstream first;
  bool failed = false;

  void fail(const std::string& what) {
    if (!failed) first << what;
    failed = true;
  }
  void integer(const char* name, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi) fail(std::string(name) + " is " + std::to_string(v) + ", expected an integer from " +
                               std::to_string(lo) + " to " + std::to_string(hi));
  }
  void range(const char* name, int64_t lo_v, int64_t hi_v, int64_t lo, int64_t hi) {
    integer((std::string(name) + " min").c_str(), lo_v, lo, hi);
    integer((std::string(name) + " max").c_str(), hi_v, lo, hi);
    if (lo_v > hi_v) fail(std::string(name) + " is " + std::to_string(lo_v) + ":" + std::to_string(hi_v) +
                          ", expected min <= max");
  }
  void real(const char* name, double v, double lo, double hi) {
    if (!std::isfinite(v) || v < lo || v > hi) {
      std::ostringstream m;
      m << name << " is " << v << ", expected a finite number from " << lo << " to " << hi;
      fail(m.str());
    }
  }
};

const FieldLimit& limit(const char* field) {
  for (const FieldLimit& l : spec_limits()) {
    if (std::strcmp(l.field, field) == 0) return l;
  }
  throw std::logic_error(std::string("no limit for ") + field);
}

int64_t min_of(const char* field) { return static_cast<int64_t>(limit(field).min); }
int64_t max_of(const char* field) { return static_cast<int64_t>(limit(field).max); }

}  // namespace

const std::vector<FieldLimit>& spec_limits() {
  static const std::vector<FieldLimit> limits = {
      {"imageSize", 16, 8192},          {"verticesMin", 3, kVerticesMax}, {"verticesMax", 3, kVerticesMax},
      {"orbitsMin", 1, kOrbitsMax},     {"orbitsMax", 1, kOrbitsMax},     {"noiseMin", 0, kRealMax},
      {"lineWidth", 0, kRealMax},       {"radiusMin", 0, kPixelsMax},     {"radiusSpan", 0, kPixelsMax},
      {"ovalRate", 1, kRealMax},
      {"startPos", 0, kPixelsMax},      {"freq1Min", 0, kFrequencyMax},   {"freq1Max", 0, kFrequencyMax},
      {"freq2Min", 0, kFrequencyMax},   {"freq2Max", 0, kFrequencyMax},   {"referenceThreads", 1, 1024},
  };
  return limits;
}

std::string spec_problem(const DatasetSpec& spec) {
  Checker c;
  const GeneratorConfig& g = spec.config;
  if (g.family != Family::VisualAtom && g.family != Family::Rcdb) c.fail("family is not visualatom or rcdb");
  c.integer("imageSize", g.image_size, min_of("imageSize"), max_of("imageSize"));
  c.range("vertices", g.vertices_min, g.vertices_max, min_of("verticesMin"), max_of("verticesMax"));
  c.range("orbits", g.orbits_min, g.orbits_max, min_of("orbitsMin"), max_of("orbitsMax"));
  c.real("noiseMin", g.noise_min, limit("noiseMin").min, limit("noiseMin").max);
  c.real("lineWidth", g.line_width, limit("lineWidth").min, limit("lineWidth").max);
  c.integer("radiusMin", g.radius_min, min_of("radiusMin"), max_of("radiusMin"));
  c.integer("radiusSpan", g.radius_span, min_of("radiusSpan"), max_of("radiusSpan"));
  c.real("ovalRate", g.oval_rate, limit("ovalRate").min, limit("ovalRate").max);
  c.integer("startPos", g.start_pos, min_of("startPos"), max_of("startPos"));
  c.range("freq1", g.freq1_min, g.freq1_max, min_of("freq1Min"), max_of("freq1Max"));
  c.range("freq2", g.freq2_min, g.freq2_max, min_of("freq2Min"), max_of("freq2Max"));
  if (g.freq2_min == g.freq2_max && g.freq2_min != 0 && g.freq1_min <= g.freq2_min && g.freq2_min <= g.freq1_max) {
    c.fail("freq2 is " + std::to_string(g.freq2_min) + ":" + std::to_string(g.freq2_max) +
           ", expected a range that can draw a value other than n1 (the redraw of n2 would never end)");
  }
  if (spec.stream != StreamKind::Philox && spec.stream != StreamKind::Reference) c.fail("stream is not philox or reference");
  c.integer("startClass", spec.start_class, 0, kClassIndexEnd - 1);
  // Clamped: a start_class far out of range (reported above) must not overflow the bound.
  c.integer("classes", spec.classes, 1, kClassIndexEnd - std::clamp<int64_t>(spec.start_class, 0, kClassIndexEnd - 1));
  c.integer("instances", spec.instances, 1, kClassIndexEnd - 1);
  if (!c.failed && spec.classes > kImageCountMax / spec.instances) {
    c.fail("classes * instances is more than 2^53 images");
  }
  if (spec.stream == StreamKind::Reference) {
    c.integer("referenceThreads", spec.reference_threads, min_of("referenceThreads"), max_of("referenceThreads"));
    if (!c.failed && spec.classes % spec.reference_threads != 0) {
      c.fail("classes (" + std::to_string(spec.classes) + ") must be a multiple of referenceThreads (" +
             std::to_string(spec.reference_threads) + ") for the reference stream");
    }
  }
  if (!spec.params.empty()) {
    if (static_cast<int64_t>(spec.params.size()) != spec.classes) {
      c.fail("classParams has " + std::to_string(spec.params.size()) + " entries, expected one per class (" +
             std::to_string(spec.classes) + ")");
    }
    for (size_t i = 0; i < spec.params.size() && !c.failed; ++i) {
      const ClassParams& p = spec.params[i];
      const std::string at = "classParams[" + std::to_string(i) + "].";
      c.integer((at + "vertices").c_str(), p.vertices, 3, kVerticesMax);
      c.integer((at + "orbits").c_str(), p.orbits, 0, kOrbitsMax);
      c.integer((at + "radius").c_str(), p.radius, 0, 2 * kPixelsMax);
      c.integer((at + "freq1").c_str(), p.freq1, 0, kFrequencyMax);
      c.integer((at + "freq2").c_str(), p.freq2, 0, kFrequencyMax);
      c.real((at + "noise").c_str(), p.noise, 0, 2 * kRealMax);
      c.real((at + "lineWidth").c_str(), p.line_width, 0, kRealMax);
      c.real((at + "ovalX").c_str(), p.oval_x, 0, kRealMax);
      c.real((at + "ovalY").c_str(), p.oval_y, 0, kRealMax);
      c.real((at + "centreY").c_str(), p.centre_y, -kPixelsMax, kPixelsMax + max_of("imageSize"));
      c.real((at + "centreX").c_str(), p.centre_x, -kPixelsMax, kPixelsMax + max_of("imageSize"));
    }
  }
  if (!c.failed && g.family == Family::Rcdb) {
    const std::string problem = rcdb::spec_problem(spec);
    if (!problem.empty()) c.fail(problem);
  }
  return c.first.str();
}

std::vector<ClassParams> draw_class_params(const DatasetSpec& spec) {
  if (spec.config.family == Family::Rcdb) {
    return spec.stream == StreamKind::Reference
               ? rcdb::reference_class_params(spec.config, spec.classes, spec.instances, spec.reference_threads)
               : rcdb::philox_class_params(spec.config, spec.seed, spec.start_class, spec.classes);
  }
  if (spec.stream == StreamKind::Reference) {
    return reference_class_params(spec.config, spec.classes, spec.instances, spec.reference_threads);
  }
  return philox_class_params(spec.config, spec.seed, spec.start_class, spec.classes);
}

std::unique_ptr<ImageRenderer> make_renderer(const DatasetSpec& spec, Device device) {
  if (spec.config.family == Family::Rcdb) {
    if (device == Device::Cuda) {
      throw std::runtime_error("the CUDA renderer draws VisualAtom only; RCDB renders on the CPU (--device cpu)");
    }
    return spec.stream == StreamKind::Reference ? rcdb::make_reference_renderer(spec) : rcdb::make_philox_renderer(spec);
  }
  if (device == Device::Cuda) return make_cuda_renderer(spec);
  if (spec.stream == StreamKind::Reference) return make_reference_renderer(spec);
  return make_philox_renderer(spec);
}

}  // namespace vatom
