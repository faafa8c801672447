// The reference stream (`--rng reference`): the images render_VisualAtom.py writes, pixel for pixel,
// for `reference_threads` processes of the script (process t seeded with t + 1, its classes
// [t * cpt, (t + 1) * cpt) of the dataset with cpt = spec.classes / reference_threads).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>
#include "dataset.hpp"

namespace vatom {

// Class parameters of the reference stream for the dataset's classes (spec.classes of them, a
// multiple of reference_threads). Replays each process's stream through all instances of the
// classes before, so it depends on spec.instances.
std::vector<ClassParams> reference_class_params(const GeneratorConfig& config, int64_t classes,
                                                int64_t instances, int32_t reference_threads);

std::unique_ptr<ImageRenderer> make_reference_renderer(const DatasetSpec& spec);

}  // namespace vatom
