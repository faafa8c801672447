#include "class_tables.hpp"

#include "generators/visualatom/philox_image.hpp"

namespace vatom {
namespace cuda {

ClassTables make_class_tables(const DatasetSpec& spec, int64_t begin, int64_t end) {
  ClassTables t;
  t.first_class = begin / spec.instances;
  const int64_t last_class = (end - 1) / spec.instances;
  int64_t floats = 0;
  for (int64_t c = t.first_class; c <= last_class; ++c) floats += 3 * static_cast<int64_t>(spec.params[c].vertices);
  t.tables.resize(static_cast<size_t>(floats));
  int64_t at = 0;
  for (int64_t c = t.first_class; c <= last_class; ++c) {
    const ClassParams& p = spec.params[static_cast<size_t>(c)];
    DeviceClass d{};
    d.cls = static_cast<uint32_t>(spec.start_class + c);
    d.q = p.vertices;
    d.orbits = p.orbits;
    d.radius = p.radius;
    d.eta = static_cast<float>(p.noise);
    d.ox = static_cast<float>(p.oval_x);
    d.oy = static_cast<float>(p.oval_y);
    d.table = at;
    float* cos_t = t.tables.data() + at;
    float* sin_t = cos_t + p.vertices;
    float* bias = sin_t + p.vertices;
    for (int32_t v = 0; v < p.vertices; ++v) philox_vertex_constants(p, v, cos_t[v], sin_t[v], bias[v]);
    at += 3 * static_cast<int64_t>(p.vertices);
    if (p.vertices > t.max_vertices) t.max_vertices = p.vertices;
    t.classes.push_back(d);
  }
  return t;
}

}  // namespace cuda
}  // namespace vatom
