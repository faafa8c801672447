#include "dataset.hpp"

#include "reference.hpp"

namespace vatom {

std::unique_ptr<ImageRenderer> make_renderer(const DatasetSpec& spec) {
  if (spec.stream == StreamKind::Reference) return make_reference_renderer(spec);
  return make_philox_renderer(spec);
}

}  // namespace vatom
