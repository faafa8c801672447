#include "thread_pool.hpp"

#include <new>
#include <string>
#include <system_error>

namespace vatom {

ThreadPool::ThreadPool(int threads) {
  // A thread the system refuses (a pids or memory limit) must not unwind past workers that are
  // already waiting on this pool: they are stopped and joined before the error leaves.
  try {
    workers_.reserve(static_cast<size_t>(threads > 1 ? threads - 1 : 0));
    for (int w = 1; w < threads; ++w) workers_.emplace_back([this, w] { worker_loop(w); });
  } catch (const std::exception& e) {
    const size_t started = workers_.size() + 1;
    stop();
    const bool no_thread = dynamic_cast<const std::system_error*>(&e) != nullptr;
    throw ResourceError("cannot start " + std::to_string(threads) + " threads: the system allowed " +
                        std::to_string(started) + " (" + (no_thread ? e.what() : "out of memory") +
                        "); use fewer threads or raise the process's thread or memory limit (ulimit -u, ulimit -v)");
  }
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::run_items(int worker) {
  for (;;) {
    const int64_t i = next_.fetch_add(1);
    if (i >= count_) return;
    try {
      (*body_)(i, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      next_.store(count_);  // stop handing out work
    }
  }
}

void ThreadPool::worker_loop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    run_items(worker);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int)>& body) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    count_ = count;
    next_.store(0);
    error_ = nullptr;
    busy_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  run_items(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return busy_ == 0; });
  body_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace vatom
