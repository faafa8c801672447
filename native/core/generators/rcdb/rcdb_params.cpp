// RCDB's checks of a spec and the text of its class-parameter files.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "rcdb.hpp"

namespace vatom {
namespace rcdb {

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  // The shortest digits that read back as v, as d.ddde±x; Python places the point from the same digits.
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);
  const size_t e_at = sci.find('e');
  std::string mantissa = sci.substr(0, e_at);
  const int exp10 = std::atoi(sci.c_str() + e_at + 1);
  std::string sign;
  if (mantissa[0] == '-') {
    sign = "-";
    mantissa.erase(0, 1);
  }
  std::string digits;
  for (char ch : mantissa) {
    if (ch != '.') digits += ch;
  }
  const int point = exp10 + 1;  // digits are 0.ddd * 10^point
  const int nd = static_cast<int>(digits.size());
  if (point <= -4 || point > 16) {
    std::string m = digits.substr(0, 1);
    if (nd > 1) m += "." + digits.substr(1);
    const int ae = exp10 < 0 ? -exp10 : exp10;
    std::string es = std::to_string(ae);
    if (es.size() < 2) es = "0" + es;
    return sign + m + "e" + (exp10 < 0 ? "-" : "+") + es;
  }
  if (point <= 0) return sign + "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  if (point >= nd) return sign + digits + std::string(static_cast<size_t>(point - nd), '0') + ".0";
  return sign + digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
}

std::string param_csv(const ClassParams& p) {
  std::string out;
  auto row = [&out](const char* name, const std::string& value) {
    out += name;
    out += ',';
    out += value;
    out += "\r\n";
  };
  row("Vertex", std::to_string(p.vertices));
  row("Perlin_noise", python_float_repr(p.noise));
  row("line_width", python_float_repr(p.line_width));
  row("Center_rad", std::to_string(p.radius));
  row("Line_num", std::to_string(p.orbits));
  row("Oval_rate_x", python_float_repr(p.oval_x));
  row("Oval_rate_y", python_float_repr(p.oval_y));
  row("start_pos_h", python_float_repr(p.centre_y));
  row("start_pos_w", python_float_repr(p.centre_x));
  return out;
}

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
  } else if (g.radius_span < 0 || g.radius_span > 2000000) {
    return "radiusSpan is " + std::to_string(g.radius_span) + ", expected an integer from 0 to 2000000";
  }
  return "";
}

}  // namespace rcdb
}  // namespace vatom
