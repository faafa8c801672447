#include "shard_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "npy.hpp"
#include "sha256.hpp"

namespace vatom {
namespace {

// A chunk of about 8 MiB stays in the caches between its rendering and its hashing; three buffers let
// rendering run ahead while the output thread works.
constexpr int64_t kChunkBytes = 8ll << 20;
constexpr int kBuffers = 3;

// Test hook for the disk-full path: VATOM_TEST_FAIL_WRITE_AFTER=N makes shard writes fail with
// ENOSPC once this process has written N bytes of shards, as a full disk would.
std::atomic<int64_t> g_bytes_written{0};

bool simulated_disk_full(size_t size) {
  static const int64_t limit = [] {
    const char* v = std::getenv("VATOM_TEST_FAIL_WRITE_AFTER");
    return v ? std::atoll(v) : -1;
  }();
  if (limit < 0) return false;
  return g_bytes_written.fetch_add(static_cast<int64_t>(size)) + static_cast<int64_t>(size) > limit;
}

std::runtime_error io_error(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

// An output file under its temporary name, removed unless committed.
class TempFile {
 public:
  // Created exclusively and never through a symlink: a file planted under the temporary name is
  // removed (unlink removes a symlink, not its target) and the name created afresh. The caller holds
  // the directory lock, so nothing of ours is there to race with.
  explicit TempFile(std::string final_path) : final_(std::move(final_path)), temp_(final_ + ".tmp") {
    constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    fd_ = ::open(temp_.c_str(), kFlags, 0644);
    if (fd_ < 0 && errno == EEXIST && ::unlink(temp_.c_str()) == 0) fd_ = ::open(temp_.c_str(), kFlags, 0644);
    if (fd_ < 0) throw io_error("cannot create", temp_);
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }

  void write(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    if (simulated_disk_full(size)) {
      errno = ENOSPC;
      throw io_error("cannot write", temp_);
    }
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw io_error("cannot write", temp_);
      }
      p += n;
      size -= static_cast<size_t>(n);
      written_ += n;
    }
  }

  void sync_and_close() {
    if (::fsync(fd_) != 0) throw io_error("cannot sync", temp_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw io_error("cannot close", temp_);
  }

  void commit() {
    if (::rename(temp_.c_str(), final_.c_str()) != 0) throw io_error("cannot rename", temp_);
    committed_ = true;
  }

  int64_t written() const { return written_; }

 private:
  std::string final_, temp_;
  int fd_ = -1;
  bool committed_ = false;
  int64_t written_ = 0;
};

void sync_directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw io_error("cannot sync directory", dir);
}

// The output thread's side of the pipeline: chunks in rendering order, each written to the images file
// and hashed, then its buffer handed back. The first failure stops it; the rendering side sees it
// before its next chunk.
class ChunkSink {
 public:
  ChunkSink(TempFile& file, Sha256& hash, size_t buffers) : file_(file), hash_(hash), free_(buffers) {
    for (size_t i = 0; i < buffers; ++i) free_[i] = i;
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      throw ResourceError(std::string("cannot start the shard's output thread (") + e.what() +
                          "); raise the process's thread limit (ulimit -u)");
    }
  }
  // Stops the thread (after the chunks already queued, unless stop(false) came first).
  ~ChunkSink() { stop(false); }

  // A free buffer's index, once the output thread is done with one; rethrows its failure.
  size_t take_free() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !free_.empty() || error_; });
    if (error_) std::rethrow_exception(error_);
    const size_t b = free_.back();
    free_.pop_back();
    return b;
  }

  void put(size_t buffer, const uint8_t* data, size_t bytes, int64_t images) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(Chunk{buffer, data, bytes, images});
    }
    changed_.notify_all();
  }

  int64_t images_done() {
    std::lock_guard<std::mutex> lock(mutex_);
    return images_done_;
  }

  // finish: write what is queued, then stop; otherwise stop at once. Rethrows the thread's failure
  // when finishing.
  void stop(bool finish) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!finish) queue_.clear();
      closing_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (finish && error_) std::rethrow_exception(error_);
  }

 private:
  struct Chunk {
    size_t buffer;
    const uint8_t* data;
    size_t bytes;
    int64_t images;
  };

  void run() {
    for (;;) {
      Chunk c;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) return;
        c = queue_.front();
        queue_.pop_front();
      }
      try {
        file_.write(c.data, c.bytes);
        hash_.update(c.data, c.bytes);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        queue_.clear();
        changed_.notify_all();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(c.buffer);
        images_done_ += c.images;
      }
      changed_.notify_all();
    }
  }

  TempFile& file_;
  Sha256& hash_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Chunk> queue_;
  std::vector<size_t> free_;
  int64_t images_done_ = 0;
  bool closing_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace

ShardResult ShardWriter::write(const DatasetSpec& spec, ImageRenderer& renderer, ThreadPool& pool,
                               const ShardTask& task, const WriteOptions& options) {
  const int64_t image_bytes = spec.image_bytes();
  const int64_t size = spec.config.image_size;
  ShardResult result;

  int64_t chunk = options.chunk_images > 0 ? options.chunk_images
                                           : std::max<int64_t>(kChunkBytes / image_bytes, 4 * pool.size());
  chunk = std::max<int64_t>(1, std::min(chunk, task.count));
  // Uninitialised and kept for the next shard: the renderer overwrites every byte it hands on.
  const size_t chunk_bytes = static_cast<size_t>(chunk * image_bytes);
  if (chunk_bytes > buffer_bytes_) {
    buffers_.clear();
    buffer_bytes_ = 0;
    for (int b = 0; b < kBuffers; ++b) buffers_.emplace_back(new uint8_t[chunk_bytes]);
    buffer_bytes_ = chunk_bytes;
  }

  TempFile images(task.images_path);
  Sha256 images_hash;
  const std::string header = npy_header("|u1", {task.count, size, size}, kImageDataOffset);
  images.write(header.data(), header.size());
  images_hash.update(header.data(), header.size());
  {
    // Rendering chunk n overlaps writing and hashing the chunks before it.
    ChunkSink sink(images, images_hash, buffers_.size());
    try {
      for (int64_t done = 0; done < task.count; done += chunk) {
        const size_t b = sink.take_free();
        if (options.on_progress && done > 0) options.on_progress(sink.images_done());
        if (renderer.cancel_requested()) throw Cancelled();
        const int64_t n = std::min(chunk, task.count - done);
        uint8_t* buffer = buffers_[b].get();
        renderer.render(task.first + done, task.first + done + n, buffer, pool);
        sink.put(b, buffer, static_cast<size_t>(n * image_bytes), n);
      }
    } catch (...) {
      sink.stop(false);
      throw;
    }
    sink.stop(true);
    if (options.on_progress) options.on_progress(task.count);
  }
  images.sync_and_close();

  TempFile labels(task.labels_path);
  Sha256 labels_hash;
  std::string label_bytes = npy_header("<i4", {task.count});
  label_bytes.reserve(label_bytes.size() + 4 * static_cast<size_t>(task.count));
  for (int64_t i = 0; i < task.count; ++i) {
    const uint32_t label = static_cast<uint32_t>(spec.start_class + (task.first + i) / spec.instances);
    for (int b = 0; b < 4; ++b) label_bytes += static_cast<char>((label >> (8 * b)) & 0xff);
  }
  labels.write(label_bytes.data(), label_bytes.size());
  labels_hash.update(label_bytes.data(), label_bytes.size());
  labels.sync_and_close();

  result.images_bytes = images.written();
  result.labels_bytes = labels.written();
  result.images_sha256 = images_hash.hex_digest();
  result.labels_sha256 = labels_hash.hex_digest();
  labels.commit();
  images.commit();
  sync_directory_of(task.images_path);
  return result;
}

}  // namespace vatom
