// The generator's parameters, already validated by the TypeScript layer (lib/options.ts): the native
// side trusts them and does no checking of its own.
#pragma once
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

// What one class draws once (DESIGN.md, "The generator"). The real-valued parameters are doubles so
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
