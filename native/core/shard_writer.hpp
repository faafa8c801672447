// Writes one shard (a range of the dataset's images) as images-NNNNN.npy and labels-NNNNN.npy. The
// calling thread renders chunks on the thread pool into a few reused buffers while one output thread
// appends each finished chunk to `<path>.tmp` and hashes it; then fsync, rename and fsync of the
// directory. A failure removes the temporary files, so a file with a final name is always complete.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "dataset.hpp"

namespace vatom {

struct ShardTask {
  int64_t first = 0;  // first global image index
  int64_t count = 0;
  std::string images_path;
  std::string labels_path;
};

struct ShardResult {
  int64_t images_bytes = 0, labels_bytes = 0;
  std::string images_sha256, labels_sha256;
};

struct WriteOptions {
  // Images rendered per chunk; 0 picks about 8 MiB (at least four per thread). A GPU renderer wants
  // thousands per call to keep the device busy.
  int64_t chunk_images = 0;
  // Called on the calling thread with the number of images of this shard rendered and written so far.
  std::function<void(int64_t)> on_progress;
};

// The renderer's cancel flag (ImageRenderer::cancel) abandons the shard: Cancelled is thrown and the
// temporary files are removed.
//
// One writer serves a sequence of shards (one at a time) and keeps its chunk buffers between them, so
// that no shard pays for allocating and first touching its memory again.
class ShardWriter {
 public:
  ShardResult write(const DatasetSpec& spec, ImageRenderer& renderer, ThreadPool& pool, const ShardTask& task,
                    const WriteOptions& options);

 private:
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  size_t buffer_bytes_ = 0;
};

}  // namespace vatom
