// The one path from a dataset spec to a renderer, shared by the Node addon, the C ABI (native/capi)
// and the native CLI: the spec's checks, its class parameters, and the renderer of its stream on a
// device. CMake builds it as its own library (vatom_render) because it links the CUDA renderer, which
// itself links vatom_core.
#pragma once
#include <memory>
#include <string>
#include <vector>
#include "dataset.hpp"

namespace vatom {

enum class Device { Cpu, Cuda };

// "cpu" or "cuda"; throws std::invalid_argument naming the allowed values otherwise.
Device parse_device(const std::string& name);

// What spec_problem allows of a generator config field and of referenceThreads, by the manifest
// schema's names: the bounds that keep the native code's indices and coordinates in range. A test
// compares them with the schema, which the command line and Python check options against.
struct FieldLimit {
  const char* field;
  double min, max;
};
const std::vector<FieldLimit>& spec_limits();

// Why the spec cannot be rendered safely (a field, its value and what is allowed), or "" when it can.
// The CLI's option checks stay the one place for user-facing validation.
std::string spec_problem(const DatasetSpec& spec);

// The class parameters the spec's config, stream and seed draw, for its classes.
std::vector<ClassParams> draw_class_params(const DatasetSpec& spec);

// The renderer of the spec's stream on the device. spec.params must hold one entry per class.
// Throws std::runtime_error a user can act on (no CUDA support, no device, reference stream on a GPU).
std::unique_ptr<ImageRenderer> make_renderer(const DatasetSpec& spec, Device device = Device::Cpu);

}  // namespace vatom
