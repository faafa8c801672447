// RCDB's checks of a spec.
#include <cmath>
#include <string>

#include "rcdb.hpp"

namespace vatom {
namespace rcdb {

std::string spec_problem(const DatasetSpec& spec) {
  const GeneratorConfig& g = spec.config;
  if (g.freq1_min != 0 || g.freq1_max != 0 || g.freq2_min != 0 || g.freq2_max != 0) {
    return "freq1 and freq2 are not RCDB parameters (expected 0:0)";
  }
  if (spec.stream == StreamKind::Reference) {
    // What make_rcdb.py accepts: its integer arguments, its fixed spans, and an even image size (its
    // gray draw randint(0, S / 2) raises on an odd one).
    if (g.image_size % 2 != 0) {
      return "imageSize is " + std::to_string(g.image_size) + ", expected an even size for the RCDB reference stream";
    }
    if (g.vertices_min != 3) {
      return "vertices min is " + std::to_string(g.vertices_min) + ", expected 3 for the RCDB reference stream";
    }
    if (g.orbits_max != g.orbits_min + kLineSpan) {
      return "orbits is " + std::to_string(g.orbits_min) + ":" + std::to_string(g.orbits_max) + ", expected MIN:MIN+" +
             std::to_string(kLineSpan) + " for the RCDB reference stream";
    }
    if (g.noise_min != std::floor(g.noise_min)) return "noiseMin must be an integer for the RCDB reference stream";
    if (g.oval_rate != std::floor(g.oval_rate)) return "ovalRate must be an integer for the RCDB reference stream";
  }
  return "";
}

}  // namespace rcdb
}  // namespace vatom
