// A dataset as the native side sees it: the generator, its stream, which classes and instances, and
// every class's drawn parameters. Image i of the dataset is instance i % instances of class
// start_class + i / instances (class-major).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>
#include "generator_config.hpp"
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

// What a render or a shard write throws once its renderer's cancel flag is set.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

// Renders images of one dataset on a thread pool. One render call at a time per renderer; cancel()
// may come from any thread.
class ImageRenderer {
 public:
  virtual ~ImageRenderer() = default;
  // Renders images [begin, end) into out, image i at out + (i - begin) * image_bytes(); the whole range
  // of out is overwritten.
  virtual void render(int64_t begin, int64_t end, uint8_t* out, ThreadPool& pool) = 0;
  // Renders images indices[0], ..., indices[count - 1] (any order, repeats allowed, each in
  // [0, image count)) into out, the j-th at out + j * image_bytes. The default renders them one by one
  // in ascending order, which a sequential stream (reference) follows without going back.
  virtual void render_indices(const int64_t* indices, int64_t count, int64_t image_bytes, uint8_t* out,
                              ThreadPool& pool);
  // How many images one render() call should cover to keep the renderer busy; 0: no preference.
  virtual int64_t preferred_chunk_images() const { return 0; }

  // Makes the render in progress, if any, and every later one throw Cancelled, between images and
  // within an image (between orbits), until clear_cancel().
  void cancel() { cancel_.store(true); }
  void clear_cancel() { cancel_.store(false); }
  bool cancel_requested() const { return cancel_.load(std::memory_order_relaxed); }
  const std::atomic<bool>& cancel_flag() const { return cancel_; }

 protected:
  void throw_if_cancelled() const {
    if (cancel_requested()) throw Cancelled();
  }

 private:
  std::atomic<bool> cancel_{false};
};

}  // namespace vatom
