// The per-class data the kernel reads, made on the host: the class parameters as floats and the vertex
// tables of philox_vertex_constants (double arithmetic, computed once per class where the CPU renderer
// computes them, so both devices start from the same floats).
#pragma once
#include <cstdint>
#include <vector>

#include "dataset.hpp"
#include "image_phases.hpp"

namespace vatom {
namespace cuda {

struct ClassTables {
  int64_t first_class = 0;  // class offset of classes[0]
  int32_t max_vertices = 0;
  std::vector<DeviceClass> classes;
  std::vector<float> tables;
};

// Classes (offsets from spec.start_class) holding dataset images [begin, end).
ClassTables make_class_tables(const DatasetSpec& spec, int64_t begin, int64_t end);

}  // namespace cuda
}  // namespace vatom
