// A growable array of T on 64-byte boundaries: whole cache lines for the SIMD kernels' vector loads
// and stores. Storage is reused while it is large enough.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace vatom {

template <typename T>
class AlignedArray {
 public:
  AlignedArray() = default;
  AlignedArray(const AlignedArray&) = delete;
  AlignedArray& operator=(const AlignedArray&) = delete;
  AlignedArray(AlignedArray&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  ~AlignedArray() { std::free(data_); }

  // Makes room for n elements; new storage is uninitialised (contents are not kept).
  void reserve_uninit(size_t n) {
    if (n <= size_) return;
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    data_ = static_cast<T*>(std::aligned_alloc(64, bytes_for(n)));
    if (!data_) throw std::bad_alloc();
    size_ = n;
  }
  // Makes room for n elements; new storage is zeroed (contents are not kept), old storage is left as is.
  void reserve_zero(size_t n) {
    if (n <= size_) return;
    reserve_uninit(n);
    std::memset(static_cast<void*>(data_), 0, bytes_for(n));
  }
  // n zeroed elements (contents are not kept).
  void assign_zero(size_t n) {
    reserve_uninit(n);
    std::memset(static_cast<void*>(data_), 0, n * sizeof(T));
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  static size_t bytes_for(size_t n) { return (n * sizeof(T) + 63) / 64 * 64; }
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vatom
