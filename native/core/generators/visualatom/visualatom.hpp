// The VisualAtom family's default stream: its class-parameter draw and its renderer (the reference
// stream's are in reference.hpp).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>
#include "dataset.hpp"

namespace vatom {

// Class parameters of the default stream for classes [start_class, start_class + classes).
std::vector<ClassParams> philox_class_params(const GeneratorConfig& config, uint64_t seed,
                                             int64_t start_class, int64_t classes);
ClassParams philox_class_params_one(const GeneratorConfig& config, uint64_t seed, uint32_t cls);

std::unique_ptr<ImageRenderer> make_philox_renderer(const DatasetSpec& spec);

}  // namespace vatom
