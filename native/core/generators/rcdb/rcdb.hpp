// The RCDB family (Radial Contour DataBase, CVPR 2022; reference make_rcdb.py): its class-parameter
// draw and its image render for each stream.
//
// A class draws once: vertices V = int(expovariate(1/100)) kept within (2, vertices_max], lines
// L in [orbits_min, orbits_min + 199], noise c in [noise_min, noise_min + 4), offset w in
// [0, line_width), and the shape of its first instance (radius, oval rates, centre). An image is a
// white canvas with L closed polygons in 1-pixel lines: the V vertices start on an oval of the
// instance's radius and each line moves them by cos/sin(t_v) * (pnoise1 * 2c - c - w); each line has
// its own gray in [0, S/2] (held at 255). Every instance after the first redraws its shape.
//
// ClassParams carries: vertices V, orbits L, noise c, line_width w, radius, oval_x, oval_y,
// centre_y and centre_x (the first instance's shape); freq1 and freq2 stay 0.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "dataset.hpp"

namespace vatom {
namespace rcdb {

// Lines a class may draw above orbits_min in the reference stream (the script's fixed span).
constexpr int32_t kLineSpan = 199;
// The reference's radius span above radius_min, at any image size.
constexpr int32_t kReferenceRadiusSpan = 100;

// The rcdb-1k preset's config (exe_rcdb_1k.sh's arguments), for the native CLI's defaults; the
// presets file is the definition the other entry points read.
inline GeneratorConfig preset_config() {
  GeneratorConfig c;
  c.family = Family::Rcdb;
  c.image_size = 512;
  c.vertices_min = 3;
  c.vertices_max = 200;
  c.orbits_min = 1;
  c.orbits_max = 1 + kLineSpan;
  c.noise_min = 0.0;
  c.line_width = 0.1;
  c.radius_min = 0;
  c.radius_span = kReferenceRadiusSpan;
  c.oval_rate = 2.0;
  c.start_pos = 400;
  c.freq1_min = c.freq1_max = c.freq2_min = c.freq2_max = 0;
  return c;
}

// Why the spec cannot render as RCDB (a field, its value, what is allowed), or "".
std::string spec_problem(const DatasetSpec& spec);

std::vector<ClassParams> reference_class_params(const GeneratorConfig& config, int64_t classes,
                                                int64_t instances, int32_t reference_threads);
std::vector<ClassParams> philox_class_params(const GeneratorConfig& config, uint64_t seed,
                                             int64_t start_class, int64_t classes);

std::unique_ptr<ImageRenderer> make_reference_renderer(const DatasetSpec& spec);
std::unique_ptr<ImageRenderer> make_philox_renderer(const DatasetSpec& spec);

}  // namespace rcdb
}  // namespace vatom
