#include "dataset.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace vatom {

void ImageRenderer::render_indices(const int64_t* indices, int64_t count, int64_t image_bytes, uint8_t* out,
                                   ThreadPool& pool) {
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return indices[a] < indices[b]; });
  const size_t bytes = static_cast<size_t>(image_bytes);
  for (size_t k = 0; k < order.size(); ++k) {
    uint8_t* dst = out + order[k] * image_bytes;
    if (k > 0 && indices[order[k]] == indices[order[k - 1]]) {
      std::memcpy(dst, out + order[k - 1] * image_bytes, bytes);  // a repeat: rendered just before
      continue;
    }
    throw_if_cancelled();
    render(indices[order[k]], indices[order[k]] + 1, dst, pool);
  }
}

}  // namespace vatom
