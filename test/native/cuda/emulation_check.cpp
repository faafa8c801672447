// vatom-cuda-emulation: runs the CUDA kernel's body (image_phases.hpp's render_block) on the host, every
// thread a fiber interleaved by a seeded random schedule between the kernel's own barriers
// (kernel_emulation.hpp), and compares the images with the CPU renderer's bytes; checks that leaving
// out any one of the kernel's barriers changes the bytes (so the schedules do exercise them); and
// compares the kernel's rasterizer with draw_line_pil on random segments. Needs no GPU and no CUDA toolkit, so the
// logic of the GPU renderer is checked on every machine; the GPU machine checks the compiled kernel
// itself (vatom-native --device both, bench/gpu-check.sh).
//
//   vatom-cuda-emulation           the built-in suite; prints "N passed, N failed", exit 1 on a failure
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "class_tables.hpp"
#include "dataset.hpp"
#include "generators/visualatom/visualatom.hpp"
#include "image_phases.hpp"
#include "kernel_emulation.hpp"
#include "raster.hpp"
#include "thread_pool.hpp"

namespace {

using namespace vatom;
using namespace vatom::cuda;

struct Tuning {
  int threads;
  int band_rows;
  bool vertices_shared;
  uint64_t seed;   // the emulation's schedule
  int grid;        // blocks; each draws images b, b + grid, ...
  int concurrent;  // blocks interleaved at once
};

// Images [begin, end) by the emulated kernel, packed as the CPU renderer writes them.
std::vector<uint8_t> emulate(const DatasetSpec& spec, int64_t begin, int64_t end, const Tuning& tu, int left_out = 0) {
  const ClassTables ct = make_class_tables(spec, begin, end);
  const int32_t size = spec.config.image_size;
  const int64_t count = end - begin, stride = image_stride(size), bytes = spec.image_bytes();
  std::vector<uint8_t> device_out(static_cast<size_t>(count * stride), 0xAB);
  KernelParams p{};
  p.key = philox_key(spec.seed);
  p.count = static_cast<int32_t>(count);
  p.size = size;
  p.begin = begin;
  p.instances = spec.instances;
  p.first_class = ct.first_class;
  p.image_stride = stride;
  p.start_pos = spec.config.start_pos;
  p.band_rows = tu.band_rows;
  p.qcap = (ct.max_vertices + 3) / 4 * 4;
  p.classes = ct.classes.data();
  p.tables = ct.tables.data();
  p.out = device_out.data();
  std::vector<uint64_t> scratch;
  if (!tu.vertices_shared) {
    p.scratch_stride = work_layout(p.qcap, 0, false).vertex_bytes;
    scratch.assign(static_cast<size_t>(tu.grid * p.scratch_stride / 8 + 2), 0x5A5A5A5A5A5A5A5Aull);
    p.scratch = reinterpret_cast<uint8_t*>(scratch.data());
  }
  emulate_kernel(p, tu.grid, tu.threads, tu.seed, tu.concurrent, left_out);
  std::vector<uint8_t> out(static_cast<size_t>(count * bytes));
  for (int64_t i = 0; i < count; ++i) std::memcpy(out.data() + i * bytes, device_out.data() + i * stride, bytes);
  return out;
}

int passed = 0, failed = 0;

void report(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  (ok ? passed : failed) += 1;
}

// draw_line_band against draw_line_pil (and draw_line_pil_walk for short segments) on random segments.
void check_raster() {
  std::mt19937_64 rng(12345);
  const int sizes[] = {16, 37, 512};
  int64_t mismatches = 0, segments = 0;
  for (int size : sizes) {
    const int64_t bytes = static_cast<int64_t>(size) * size;
    std::vector<uint8_t> a(bytes), band(bytes), image(bytes), walk(bytes);
    for (int n = 0; n < 60000; ++n) {
      auto coord = [&]() -> int {
        switch (rng() % 6) {
          case 0: return static_cast<int>(rng() % (size + 8)) - 4;
          case 1: return static_cast<int>(rng() % (3 * size)) - size;
          case 2: return static_cast<int>(rng() % 200001) - 100000;
          case 3: return rng() % 2 ? 1073741824 : -1073741824;
          default: return static_cast<int>(rng() % size);
        }
      };
      const int x0 = coord(), y0 = coord();
      int x1 = coord(), y1 = coord();
      if (rng() % 4 == 0) { x1 = x0 + static_cast<int>(rng() % 9) - 4; y1 = y0 + static_cast<int>(rng() % 9) - 4; }
      std::fill(a.begin(), a.end(), 0);
      std::fill(band.begin(), band.end(), 0);
      std::fill(image.begin(), image.end(), 0);
      const Canvas c{a.data(), size, size};
      draw_line_pil(c, x0, y0, x1, y1, 200);
      const int64_t band_bytes = static_cast<int64_t>(rng() % (size + 1)) * size;
      const BandCanvas bc{band.data(), image.data(), band_bytes};
      draw_line_band(bc, size, x0, y0, x1, y1, 200);
      std::memcpy(image.data(), band.data(), band_bytes);
      bool bad = a != image;
      const int64_t span = std::llabs(static_cast<long long>(x1) - x0) + std::llabs(static_cast<long long>(y1) - y0);
      if (span < 4 * size) {
        std::fill(walk.begin(), walk.end(), 0);
        draw_line_pil_walk(Canvas{walk.data(), size, size}, x0, y0, x1, y1, 200);
        bad = bad || walk != a;
      }
      ++segments;
      if (bad && mismatches++ < 5) std::printf("  segment (%d,%d)-(%d,%d) size %d differs\n", x0, y0, x1, y1, size);
    }
  }
  report(mismatches == 0, "rasterizer: " + std::to_string(segments) + " random segments as draw_line_pil (" +
                              std::to_string(mismatches) + " differ)");
}

DatasetSpec make_spec(int32_t size, int32_t qmin, int32_t qmax, int32_t kmin, int32_t kmax, int64_t classes,
                      int64_t instances, uint64_t seed, int32_t start_pos = -1, int64_t start_class = 0) {
  DatasetSpec s;
  s.config.image_size = size;
  s.config.vertices_min = qmin;
  s.config.vertices_max = qmax;
  s.config.orbits_min = kmin;
  s.config.orbits_max = kmax;
  if (start_pos >= 0) s.config.start_pos = start_pos;
  s.seed = seed;
  s.start_class = start_class;
  s.classes = classes;
  s.instances = instances;
  s.params = philox_class_params(s.config, s.seed, s.start_class, s.classes);
  return s;
}

std::string describe(const Tuning& tu) {
  char s[160];
  std::snprintf(s, sizeof s, "%d threads, band %d rows, vertices in %s, grid %d, %d blocks at once, schedule seed %llu",
                tu.threads, tu.band_rows, tu.vertices_shared ? "shared" : "global", tu.grid, tu.concurrent,
                static_cast<unsigned long long>(tu.seed));
  return s;
}

std::vector<uint8_t> cpu_images(const DatasetSpec& spec, int64_t begin, int64_t end, ThreadPool& pool) {
  std::vector<uint8_t> cpu(static_cast<size_t>((end - begin) * spec.image_bytes()));
  make_philox_renderer(spec)->render(begin, end, cpu.data(), pool);
  return cpu;
}

// The first image (dataset index) where a and b differ, or -1.
int64_t first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int64_t begin, int64_t bytes) {
  for (int64_t i = 0; i * bytes < static_cast<int64_t>(a.size()); ++i) {
    if (std::memcmp(a.data() + i * bytes, b.data() + i * bytes, static_cast<size_t>(bytes)) != 0) return begin + i;
  }
  return -1;
}

void check_images(const std::string& name, const DatasetSpec& spec, int64_t begin, int64_t end,
                  const std::vector<Tuning>& tunings, ThreadPool& pool) {
  const std::vector<uint8_t> cpu = cpu_images(spec, begin, end, pool);
  for (const Tuning& tu : tunings) {
    const int64_t first = first_difference(cpu, emulate(spec, begin, end, tu), begin, spec.image_bytes());
    report(first < 0, name + " images [" + std::to_string(begin) + ", " + std::to_string(end) + "), " + describe(tu) +
                          (first < 0 ? "" : ", first differing image " + std::to_string(first)));
  }
}

// Each barrier that orders one thread's writes before another thread's reads, left out in turn, must
// change the bytes: the schedules do reach the orderings that the barriers forbid. (The barrier before an
// image's setup is not among them: the band's zeroing and its copy out give each word to the same
// thread, so it only guards against a change of that mapping.)
void check_barriers_matter(ThreadPool& pool) {
  const DatasetSpec spec = make_spec(64, 40, 60, 6, 9, 2, 3, 5, 64);
  const Tuning tu{16, 20, false, 99, 2, 2};  // 3 images per block, a band, vertices in global scratch
  const std::vector<uint8_t> cpu = cpu_images(spec, 0, 6, pool);
  const struct { BarrierSite site; const char* name; } sites[] = {
      {kWordsMade, "after the noise words"},
      {kVerticesMoved, "after the vertex update"}, {kImageDrawn, "before the band is copied out"}};
  for (const auto& site : sites) {
    const bool differs = first_difference(cpu, emulate(spec, 0, 6, tu, site.site), 0, spec.image_bytes()) >= 0;
    report(differs, std::string("without the barrier ") + site.name + " the emulated kernel's bytes differ (" +
                        describe(tu) + ")");
  }
}

}  // namespace

int main() {
  ThreadPool pool(static_cast<int>(std::thread::hardware_concurrency()));
  check_raster();
  check_barriers_matter(pool);
  const std::vector<Tuning> main_tunings = {
      {256, 0, true, 1, 64, 2},   {128, 0, true, 2, 5, 3},   {1024, 512, true, 3, 3, 2},
      {96, 200, false, 4, 2, 2},  {1, 0, true, 5, 1, 1},     {37, 511, false, 6, 7, 4}};
  check_images("paper preset", make_spec(512, 200, 1000, 1, 200, 6, 4, 0), 0, 24, main_tunings, pool);
  check_images("paper preset, seed 7, classes 1000+", make_spec(512, 200, 1000, 1, 200, 3, 3, 7, -1, 1000), 2, 9,
               {{256, 0, true, 7, 7, 2}, {512, 384, true, 8, 2, 2}}, pool);
  check_images("worst case q=1000 K=200", make_spec(512, 1000, 1000, 200, 200, 2, 2, 0), 0, 4,
               {{256, 0, true, 9, 4, 2}, {1024, 300, false, 10, 1, 1}}, pool);
  // As on a GPU whose resident blocks are fewer than the images: each block draws several images in
  // turn, its vertex arrays in global scratch, blocks interleaved.
  check_images("worst case, 3 images per block, vertex arrays in global scratch",
               make_spec(512, 1000, 1000, 200, 200, 3, 3, 21), 0, 9,
               {{256, 0, false, 11, 3, 3}, {128, 100, false, 12, 2, 2}}, pool);
  check_images("size 37 (odd stride), q 3..9, K 1..9", make_spec(37, 3, 9, 1, 9, 12, 5, 3, 40), 0, 60,
               {{32, 0, true, 13, 60, 4}, {7, 13, true, 14, 4, 4}, {64, 37, false, 15, 9, 3}}, pool);
  check_images("size 100, q 5000, K 3 (more vertices than the shared arrays hold on a GPU)",
               make_spec(100, 5000, 5000, 3, 3, 2, 2, 11, 0), 0, 4, {{256, 0, false, 16, 2, 2}, {1024, 64, true, 17, 4, 2}},
               pool);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
