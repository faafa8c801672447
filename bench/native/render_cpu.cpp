// CPU seconds per image of the CPU renderers, on one thread: the measure that stays comparable on a
// shared, busy machine, where wall-clock throughput varies with the neighbours' load. Renders the paper
// preset (philox or reference stream) in chunks of 32 images into one reused buffer, and prints images
// per CPU second of the rendering thread, and per wall second beside it. VATOM_SIMD=scalar|avx2|avx512
// caps the kernel set. Built against any version of native/core (it uses only dataset.hpp and
// renderer_factory.hpp), so two builds can be run side by side; bench/RESULTS.md has the commands.
//   render_cpu philox|reference CLASSES INSTANCES [REPEATS]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataset.hpp"
#include "renderer_factory.hpp"

namespace {

double clock_s(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: render_cpu philox|reference CLASSES INSTANCES [REPEATS]\n");
    return 2;
  }
  vatom::DatasetSpec spec;
  spec.stream = std::strcmp(argv[1], "reference") == 0 ? vatom::StreamKind::Reference : vatom::StreamKind::Philox;
  spec.classes = std::atoll(argv[2]);
  spec.instances = std::atoll(argv[3]);
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  spec.params = vatom::draw_class_params(spec);
  vatom::ThreadPool pool(1);
  const int64_t chunk = 32;
  std::vector<uint8_t> pixels(static_cast<size_t>(chunk * spec.image_bytes()));
  double best_cpu = 1e30, best_wall = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto renderer = vatom::make_renderer(spec);  // a fresh reference stream starts from its beginning
    const double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    for (int64_t b = 0; b < spec.image_count(); b += chunk) {
      renderer->render(b, std::min(spec.image_count(), b + chunk), pixels.data(), pool);
    }
    best_cpu = std::min(best_cpu, clock_s(CLOCK_THREAD_CPUTIME_ID) - c0);
    best_wall = std::min(best_wall, clock_s(CLOCK_MONOTONIC) - w0);
  }
  const char* isa = std::getenv("VATOM_SIMD");
  std::printf("%s %s: %lld images, %.1f images per CPU second, %.1f per wall second (best of %d)\n", argv[1],
              isa ? isa : "best", static_cast<long long>(spec.image_count()), spec.image_count() / best_cpu,
              spec.image_count() / best_wall, repeats);
  return 0;
}
