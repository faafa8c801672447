// NumPy .npy version 1.0 headers. Image shards pad theirs so that image 0 starts on a 4096-byte
// boundary, which lets np.load(mmap_mode="r") map pages that hold whole images.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vatom {

constexpr int64_t kImageDataOffset = 4096;

// The complete header (magic, version, length, dict, padding, newline) of a C-order array.
// `descr` is a NumPy type string such as "|u1" or "<i4"; the header is `total_size` bytes
// (a multiple of 64), or the smallest multiple of 64 that holds it when total_size is 0.
std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape, int64_t total_size = 0);

}  // namespace vatom
