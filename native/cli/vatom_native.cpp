// vatom-native: the generator without Node, for GPU machines, benchmarks and profiling.
// Renders a config shard by shard, prints each shard's sha256 (the same bytes `vatom-fast build`
// writes, so the hashes match its manifest) and the throughput.
//
//   vatom-native [--classes N] [--instances N] [--start-class N] [--image-size S] [--vertices A:B]
//                [--orbits A:B] [--seed N] [--rng philox|reference] [--reference-threads T]
//                [--threads N] [--shard-size N] [--out DIR]
//
// Without --out nothing is written: images are rendered and hashed in memory.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dataset.hpp"
#include "npy.hpp"
#include "reference.hpp"
#include "sha256.hpp"
#include "shard_writer.hpp"

namespace {

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr, "vatom-native: %s\n", problem.c_str());
  std::exit(2);
}

int64_t to_int(const std::string& option, const std::string& value) {
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0') usage("invalid value for " + option + ": " + value);
  return v;
}

void to_range(const std::string& option, const std::string& value, int32_t& lo, int32_t& hi) {
  const size_t colon = value.find(':');
  lo = static_cast<int32_t>(to_int(option, value.substr(0, colon)));
  hi = colon == std::string::npos ? lo : static_cast<int32_t>(to_int(option, value.substr(colon + 1)));
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  vatom::DatasetSpec spec;
  spec.classes = 10;
  spec.instances = 10;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int64_t shard_size = 0;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if (i + 1 >= argc) usage("missing value for " + option);
    const std::string value = argv[++i];
    if (option == "--classes") spec.classes = to_int(option, value);
    else if (option == "--instances") spec.instances = to_int(option, value);
    else if (option == "--start-class") spec.start_class = to_int(option, value);
    else if (option == "--image-size") spec.config.image_size = static_cast<int32_t>(to_int(option, value));
    else if (option == "--start-pos") spec.config.start_pos = static_cast<int32_t>(to_int(option, value));
    else if (option == "--vertices") to_range(option, value, spec.config.vertices_min, spec.config.vertices_max);
    else if (option == "--orbits") to_range(option, value, spec.config.orbits_min, spec.config.orbits_max);
    else if (option == "--seed") spec.seed = std::strtoull(value.c_str(), nullptr, 10);
    else if (option == "--rng") spec.stream = value == "reference" ? vatom::StreamKind::Reference : vatom::StreamKind::Philox;
    else if (option == "--reference-threads") spec.reference_threads = static_cast<int32_t>(to_int(option, value));
    else if (option == "--threads") threads = static_cast<int>(to_int(option, value));
    else if (option == "--shard-size") shard_size = to_int(option, value);
    else if (option == "--out") out = value;
    else usage("unknown option " + option);
  }
  if (threads < 1) threads = 1;
  if (spec.stream == vatom::StreamKind::Reference) {
    spec.classes = spec.classes / spec.reference_threads * spec.reference_threads;
    spec.params = vatom::reference_class_params(spec.config, spec.classes, spec.instances, spec.reference_threads);
  } else {
    spec.params = vatom::philox_class_params(spec.config, spec.seed, spec.start_class, spec.classes);
  }
  if (shard_size <= 0) shard_size = spec.image_count();

  vatom::ThreadPool pool(threads);
  auto renderer = vatom::make_renderer(spec);
  const auto started = std::chrono::steady_clock::now();
  std::vector<uint8_t> pixels;
  int shard = 0;
  for (int64_t first = 0; first < spec.image_count(); first += shard_size, ++shard) {
    const int64_t count = std::min(shard_size, spec.image_count() - first);
    std::string digest;
    if (!out.empty()) {
      char name[64];
      std::snprintf(name, sizeof name, "/images-%05d.npy", shard);
      vatom::ShardTask task{first, count, out + name, out + "/labels-" + std::string(name + 8)};
      digest = vatom::write_shard(spec, *renderer, pool, task, {}).images_sha256;
    } else {
      const int64_t size = spec.config.image_size;
      const std::string header = vatom::npy_header("|u1", {count, size, size}, vatom::kImageDataOffset);
      pixels.resize(static_cast<size_t>(count * spec.image_bytes()));
      renderer->render(first, first + count, pixels.data(), pool);
      vatom::Sha256 h;
      h.update(header.data(), header.size());
      h.update(pixels.data(), pixels.size());
      digest = h.hex_digest();
    }
    std::printf("shard %d images %lld sha256 %s\n", shard, static_cast<long long>(count), digest.c_str());
  }
  const double elapsed = seconds_since(started);
  std::printf("images %lld threads %d seconds %.3f images/s %.1f images/s/thread %.1f\n",
              static_cast<long long>(spec.image_count()), threads, elapsed, spec.image_count() / elapsed,
              spec.image_count() / elapsed / threads);
  return 0;
}
