// SHA-256 (FIPS 180-4), streaming. The native writer checksums shards as it writes them, so a shard
// is never read back to be hashed. On x86-64 CPUs with the SHA extensions the block function uses
// them (about 7x the portable code, which would otherwise bound a build's write speed).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace vatom {

class Sha256 {
 public:
  // `allow_sha_extensions` false forces the portable code (tests compare both).
  explicit Sha256(bool allow_sha_extensions = true);
  void update(const void* data, size_t size);
  std::string hex_digest();  // finishes the hash; call once

 private:
  void compress(const uint8_t* blocks, size_t count);
  void (*compress_)(uint32_t* state, const uint8_t* blocks, size_t count);
  uint32_t state_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace vatom
