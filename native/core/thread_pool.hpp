// A fixed set of worker threads for data-parallel loops. The caller's thread takes part, so a pool of
// n threads keeps n cores busy.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vatom {

// A thread or memory the system would not give; its message says what was asked and what to change.
class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The message for std::bad_alloc wherever it becomes an error a user reads.
constexpr const char* kOutOfMemory =
    "out of memory: use fewer threads, a smaller shard or chunk, or raise the process's memory limit (ulimit -v)";

// The most threads a caller may ask of a pool (the command line's and the C ABI's bound).
constexpr int kMaxPoolThreads = 1024;

class ThreadPool {
 public:
  // Starts threads - 1 workers; throws ResourceError when the system refuses one (none is left
  // running).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(index, worker) for every index in [0, count), worker in [0, size()). Items are handed
  // out one at a time, so uneven items balance. Rethrows the first exception a body threw.
  void parallel_for(int64_t count, const std::function<void(int64_t, int)>& body);

 private:
  void stop();
  void worker_loop(int worker);
  void run_items(int worker);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  int busy_ = 0;
  bool stopping_ = false;
  const std::function<void(int64_t, int)>* body_ = nullptr;
  int64_t count_ = 0;
  std::atomic<int64_t> next_{0};
  std::exception_ptr error_;
};

}  // namespace vatom
