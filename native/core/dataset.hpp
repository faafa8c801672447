// A dataset as the native side sees it: the generator, its stream, which classes and instances, and
// every class's drawn parameters. Image i of the dataset is instance i % instances of class
// start_class + i / instances (class-major).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>
#include "config.hpp"
#include "thread_pool.hpp"

namespace vatom {

enum class StreamKind { Philox, Reference };

struct DatasetSpec {
  GeneratorConfig config;
  StreamKind stream = StreamKind::Philox;
  uint64_t seed = 0;
  int64_t start_class = 0;
  int64_t classes = 0;
  int64_t instances = 0;
  int32_t reference_threads = 1;     // reference stream only: processes of the reference script
  std::vector<ClassParams> params;   // one per class, index class - start_class

  int64_t image_bytes() const { return static_cast<int64_t>(config.image_size) * config.image_size; }
  int64_t image_count() const { return classes * instances; }
};

// Renders images of one dataset on a thread pool.
class ImageRenderer {
 public:
  virtual ~ImageRenderer() = default;
  // Renders images [begin, end) into out, image i at out + (i - begin) * image_bytes(); the whole range
  // of out is overwritten.
  virtual void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) = 0;
};

// Class parameters of the default stream for classes [start_class, start_class + classes).
std::vector<ClassParams> philox_class_params(const GeneratorConfig& config, uint64_t seed,
                                             int64_t start_class, int64_t classes);
ClassParams philox_class_params_one(const GeneratorConfig& config, uint64_t seed, uint32_t cls);

std::unique_ptr<ImageRenderer> make_philox_renderer(const DatasetSpec& spec);

// The renderer of the spec's stream.
std::unique_ptr<ImageRenderer> make_renderer(const DatasetSpec& spec);

}  // namespace vatom
