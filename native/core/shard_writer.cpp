#include "shard_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <future>
#include <stdexcept>
#include <vector>

#include "npy.hpp"
#include "sha256.hpp"

namespace vatom {
namespace {

constexpr int64_t kChunkBytes = 64ll << 20;

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
  explicit TempFile(std::string final_path) : final_(std::move(final_path)), temp_(final_ + ".tmp") {
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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

}  // namespace

ShardResult write_shard(const DatasetSpec& spec, ImageRenderer& renderer, ThreadPool& pool,
                        const ShardTask& task, const WriteOptions& options) {
  const int64_t image_bytes = spec.image_bytes();
  const int64_t size = spec.config.image_size;
  ShardResult result;

  TempFile images(task.images_path);
  Sha256 images_hash;
  const std::string header = npy_header("|u1", {task.count, size, size}, kImageDataOffset);
  images.write(header.data(), header.size());
  images_hash.update(header.data(), header.size());

  int64_t chunk = options.chunk_images > 0 ? options.chunk_images : kChunkBytes / image_bytes;
  if (chunk < 2 * pool.size()) chunk = 2 * pool.size();
  if (chunk > task.count) chunk = task.count;
  std::vector<uint8_t> buffers[2];
  buffers[0].resize(static_cast<size_t>(chunk * image_bytes));
  buffers[1].resize(static_cast<size_t>(chunk * image_bytes));

  // Rendering chunk n overlaps writing and hashing chunk n - 1.
  std::future<void> pending;
  int64_t written_images = 0, pending_images = 0;
  auto finish_pending = [&] {
    if (!pending.valid()) return;
    pending.get();
    written_images += pending_images;
    if (options.on_progress) options.on_progress(written_images);
  };
  try {
    int which = 0;
    for (int64_t done = 0; done < task.count; done += chunk, which ^= 1) {
      if (renderer.cancel_requested()) throw Cancelled();
      const int64_t n = task.count - done < chunk ? task.count - done : chunk;
      uint8_t* buffer = buffers[which].data();
      renderer.render(task.first + done, task.first + done + n, buffer, pool);
      finish_pending();
      pending_images = n;
      pending = std::async(std::launch::async, [&images, &images_hash, buffer, bytes = n * image_bytes] {
        images.write(buffer, static_cast<size_t>(bytes));
        images_hash.update(buffer, static_cast<size_t>(bytes));
      });
    }
    finish_pending();
  } catch (...) {
    if (pending.valid()) pending.wait();
    throw;
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
