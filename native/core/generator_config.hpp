// The parameters of every generator family (each family reads the fields it has), already validated by
// the caller (renderer_factory's spec_problem says what the native side needs). The defaults are
// VisualAtom's paper preset (a test compares them with the presets file).
#pragma once
#include <cmath>
#include <cstdint>

namespace vatom {

// Which generator family draws and renders (its code lives in generators/<family>/).
enum class Family : int32_t { VisualAtom = 0, Rcdb = 1 };

struct GeneratorConfig {
  Family family = Family::VisualAtom;
  int32_t image_size = 512;
  int32_t vertices_min = 200, vertices_max = 1000;
  int32_t orbits_min = 1, orbits_max = 200;
  double noise_min = 0.0;
  double line_width = 0.1;
  int32_t radius_min = 10;
  double oval_rate = 2.0;
  int32_t start_pos = 512;
  int32_t freq1_min = 0, freq1_max = 20;
  int32_t freq2_min = 0, freq2_max = 20;
  // The radius draw's span above radius_min in the default stream (the reference streams keep their
  // script's fixed span: 50 for VisualAtom, 100 for RCDB).
  int32_t radius_span = 50;
};

// A preset's config with its pixel-valued parameters (start position, minimum radius and radius span,
// line width, minimum noise) carried to image_size, as the command line's defaults are.
inline GeneratorConfig scaled_config(const GeneratorConfig& preset, int32_t image_size) {
  GeneratorConfig c = preset;
  const auto scale = [&](double value) { return value * image_size / preset.image_size; };
  if (image_size != preset.image_size) {
    c.start_pos = static_cast<int32_t>(std::lround(scale(preset.start_pos)));
    c.radius_min = static_cast<int32_t>(std::lround(scale(preset.radius_min)));
    c.radius_span = static_cast<int32_t>(std::lround(scale(preset.radius_span)));
    c.line_width = scale(preset.line_width);
    c.noise_min = scale(preset.noise_min);
  }
  c.image_size = image_size;
  return c;
}

// The paper's config at image_size.
inline GeneratorConfig paper_config(int32_t image_size) { return scaled_config(GeneratorConfig{}, image_size); }

// What one class draws once. The real-valued parameters are doubles so
// that the reference stream keeps Python's values; the philox stream stores float values in them.
struct ClassParams {
  int32_t vertices = 0;  // q
  int32_t orbits = 0;    // K
  int32_t radius = 0;    // r0
  int32_t freq1 = 0;     // n1
  int32_t freq2 = 0;     // n2
  double noise = 0.0;    // eta
  double line_width = 0.0;  // lw
  double oval_x = 1.0, oval_y = 1.0;
  double centre_y = 0.0, centre_x = 0.0;  // RCDB: the first instance's centre (the script's start_pos_h, _w)
};

}  // namespace vatom
