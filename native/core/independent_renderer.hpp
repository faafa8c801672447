// The dispatch of a stream whose images are independent of each other (every family's default
// stream): each class's tables are made once per call, each worker renders into its own scratch, and
// the images of a range or a list render in parallel, in any order.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>
#include "dataset.hpp"

namespace vatom {

// Derived provides `Tables make_tables(const ClassParams&) const` and
// `void render_one(int64_t class_offset, int64_t instance, Scratch&, uint8_t* pixels) const`, which
// reads its class's tables with tables(class_offset).
template <class Derived, class Tables, class Scratch>
class IndependentImageRenderer : public ImageRenderer {
 public:
  IndependentImageRenderer(const DatasetSpec& spec, const char* stream) : spec_(spec), stream_(stream) {}

  void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) override {
    if (begin < 0 || end > spec_.image_count() || begin > end) throw std::out_of_range(stream_ + " render: bad image range");
    if (begin == end) return;
    start_call(pool);
    for (int64_t c = begin / spec_.instances; c <= (end - 1) / spec_.instances; ++c) make_tables_of(c);
    const int64_t bytes = spec_.image_bytes();
    pool.parallel_for(end - begin, [&](int64_t i, int worker) { render_index(begin + i, worker, out + i * bytes); });
  }

  void render_indices(const int64_t* indices, int64_t count, int64_t image_bytes, uint8_t* out,
                      ThreadPool& pool) override {
    for (int64_t j = 0; j < count; ++j) {
      if (indices[j] < 0 || indices[j] >= spec_.image_count()) throw std::out_of_range(stream_ + " render: bad image index");
    }
    start_call(pool);
    for (int64_t j = 0; j < count; ++j) make_tables_of(indices[j] / spec_.instances);
    pool.parallel_for(count, [&](int64_t j, int worker) { render_index(indices[j], worker, out + j * image_bytes); });
  }

 protected:
  const Tables& tables(int64_t class_offset) const { return tables_.at(class_offset); }

  const DatasetSpec spec_;  // a copy: the renderer may outlive the caller's spec

 private:
  void start_call(ThreadPool& pool) {
    // Shards walk classes in order, so tables of earlier calls are rarely needed again.
    if (tables_.size() > 256) tables_.clear();
    scratch_.resize(static_cast<size_t>(pool.size()));
  }

  void make_tables_of(int64_t class_offset) {
    if (tables_.count(class_offset) == 0) {
      tables_.emplace(class_offset,
                      static_cast<const Derived&>(*this).make_tables(spec_.params[static_cast<size_t>(class_offset)]));
    }
  }

  void render_index(int64_t index, int worker, uint8_t* pixels) {
    static_cast<const Derived&>(*this).render_one(index / spec_.instances, index % spec_.instances,
                                                  scratch_[static_cast<size_t>(worker)], pixels);
  }

  const std::string stream_;
  std::map<int64_t, Tables> tables_;
  std::vector<Scratch> scratch_;
};

}  // namespace vatom
