// vatom-native: the generator without Node, for GPU machines, benchmarks and profiling. What it does
// and its options are in kUsage (vatom-native --help).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "cuda_api.hpp"
#include "dataset.hpp"
#include "generators/rcdb/rcdb.hpp"
#include "generators/visualatom/philox_simd.hpp"
#include "npy.hpp"
#include "generators/visualatom/reference.hpp"
#include "renderer_factory.hpp"
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

double to_double(const std::string& option, const std::string& value) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0') usage("invalid value for " + option + ": " + value);
  return v;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string shard_digest(const vatom::DatasetSpec& spec, int64_t count, const std::vector<uint8_t>& pixels) {
  const int64_t size = spec.config.image_size;
  const std::string header = vatom::npy_header("|u1", {count, size, size}, vatom::kImageDataOffset);
  vatom::Sha256 h;
  h.update(header.data(), header.size());
  h.update(pixels.data(), pixels.size());
  return h.hex_digest();
}

// The CUDA renderer after printing the devices, or exit status 2 with the reason there is none.
std::unique_ptr<vatom::CudaRenderer> cuda_renderer_or_exit(const vatom::DatasetSpec& spec) {
  const vatom::CudaInfo info = vatom::cuda_info();
  if (!info.compiled || info.devices == 0) usage("--device cuda: " + info.error);
  std::printf("%s\n", info.details.c_str());
  try {
    return vatom::make_cuda_renderer(spec);
  } catch (const std::exception& e) {
    usage(std::string("--device cuda: ") + e.what());
  }
}

// Renders one preferred chunk into device memory and, when `to_host`, into host memory, so that no timed
// run pays for loading the kernels or allocating device and pinned buffers.
void warm_up(vatom::CudaRenderer& gpu, const vatom::DatasetSpec& spec, vatom::ThreadPool& pool, bool to_host) {
  const int64_t n = std::min(spec.image_count(), gpu.preferred_chunk_images());
  const auto started = std::chrono::steady_clock::now();
  gpu.render_on_device(0, n);
  if (to_host) {
    std::vector<uint8_t> pixels(static_cast<size_t>(n * spec.image_bytes()));
    gpu.render(0, n, pixels.data(), pool);
  }
  std::printf("cuda warm-up (untimed): images [0, %lld) rendered into device memory%s in %.3f s; kernels loaded, "
              "device%s buffers allocated\n",
              static_cast<long long>(n), to_host ? " and into host memory" : "", seconds_since(started),
              to_host ? " and pinned host" : "");
}

// --cuda-measure device: the dataset rendered into device memory `repeats` times; with a target, one
// PASS/FAIL line for the median repeat.
void measure_device_only(vatom::CudaRenderer& gpu, const vatom::DatasetSpec& spec, int repeats, double target) {
  const int64_t n = spec.image_count();
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    seconds.push_back(gpu.render_on_device(0, n));
    std::printf("cuda device-only, repeat %d of %d: %lld images in %.3f s = %.0f images/s\n", r + 1, repeats,
                static_cast<long long>(n), seconds.back(), n / seconds.back());
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  std::printf("cuda device-only: %.0f images/s (median of %d repeats of %lld images; kernels rendering into device "
              "memory, from the first launch to the end of the last kernel; excludes making and uploading the class "
              "tables and any copy to the host)\n",
              n / median, repeats, static_cast<long long>(n));
  if (target > 0) {
    const bool decisive = n >= 100000 || sorted.front() >= 2.0;
    std::printf("%s: cuda device-only %.0f images/s %s the target of %.0f images/s (%lld images, %d repeats of "
                "%.2f..%.2f s%s)\n",
                n / median >= target ? "PASS" : "FAIL", n / median, n / median >= target ? "meets" : "misses", target,
                static_cast<long long>(n), repeats, sorted.front(), sorted.back(),
                decisive ? "" : "; too short to be decisive: use at least 100,000 images or repeats of 2 s");
  }
}

// The raw device-to-host copy speed beside the end-to-end figure: the ceiling the link sets.
void print_copy_ceiling(vatom::CudaRenderer& gpu, const vatom::DatasetSpec& spec, double end_to_end) {
  const int64_t images = std::max<int64_t>(1, gpu.preferred_chunk_images() / 4);
  const int64_t bytes = std::min<int64_t>(images * spec.image_bytes(), 1ll << 30);
  const double rate = gpu.copy_bandwidth(bytes, 5);
  const double ceiling = rate / spec.image_bytes();
  std::printf("cuda raw device-to-host copy: %.2f GB/s (5 copies of %.0f MiB from device memory into pinned host "
              "memory, nothing else) = %.0f images/s of %d x %d bytes: the ceiling of the end-to-end figure\n",
              rate / 1e9, bytes / 1048576.0, ceiling, spec.config.image_size, spec.config.image_size);
  std::printf("cuda end-to-end is %.1f%% of the copy ceiling\n", 100.0 * end_to_end / ceiling);
}

// --device both: every shard on both devices, compared byte for byte.
int run_both(const vatom::DatasetSpec& spec, int64_t shard_size, int threads) {
  std::unique_ptr<vatom::CudaRenderer> gpu = cuda_renderer_or_exit(spec);
  vatom::ThreadPool pool(threads);
  warm_up(*gpu, spec, pool, true);
  std::unique_ptr<vatom::ImageRenderer> cpu = vatom::make_renderer(spec);
  const int64_t bytes = spec.image_bytes();
  std::vector<uint8_t> a, b;
  double cpu_s = 0, gpu_s = 0;
  int64_t first_bad = -1, bad_images = 0;
  int shard = 0;
  for (int64_t first = 0; first < spec.image_count(); first += shard_size, ++shard) {
    const int64_t count = std::min(shard_size, spec.image_count() - first);
    a.resize(static_cast<size_t>(count * bytes));
    b.assign(static_cast<size_t>(count * bytes), 0xA5);
    auto t = std::chrono::steady_clock::now();
    cpu->render(first, first + count, a.data(), pool);
    cpu_s += seconds_since(t);
    t = std::chrono::steady_clock::now();
    gpu->render(first, first + count, b.data(), pool);
    gpu_s += seconds_since(t);
    int64_t shard_bad = -1;
    for (int64_t i = 0; i < count; ++i) {
      if (std::memcmp(a.data() + i * bytes, b.data() + i * bytes, static_cast<size_t>(bytes)) != 0) {
        ++bad_images;
        if (shard_bad < 0) shard_bad = first + i;
      }
    }
    if (first_bad < 0) first_bad = shard_bad;
    std::printf("shard %d images %lld sha256 %s %s\n", shard, static_cast<long long>(count),
                shard_digest(spec, count, a).c_str(),
                shard_bad < 0 ? "MATCH" : ("MISMATCH first differing image " + std::to_string(shard_bad)).c_str());
  }
  const int64_t n = spec.image_count();
  std::printf("cpu: %lld images in %.3f s = %.1f images/s (rendering into host memory, %d threads, %s kernels)\n",
              static_cast<long long>(n), cpu_s, n / cpu_s, threads, vatom::psimd::isa_name(vatom::psimd::best_isa()));
  std::printf("cuda: %lld images in %.3f s = %.1f images/s (end-to-end into host memory, one call per shard: kernels, "
              "copies into pinned memory, copies out on %d threads)\n",
              static_cast<long long>(n), gpu_s, n / gpu_s, threads);
  std::printf("cuda: %s\n", gpu->device_description().c_str());
  if (first_bad < 0) {
    std::printf("parity MATCH: %lld images byte-identical on cpu and cuda\n", static_cast<long long>(n));
    return 0;
  }
  std::printf("parity MISMATCH: %lld of %lld images differ; first differing image %lld (class offset %lld, instance %lld)\n",
              static_cast<long long>(bad_images), static_cast<long long>(n), static_cast<long long>(first_bad),
              static_cast<long long>(first_bad / spec.instances), static_cast<long long>(first_bad % spec.instances));
  return 1;
}

const char kUsage[] =
    "usage: vatom-native [--family visualatom|rcdb] [--classes N] [--instances N] [--start-class N]\n"
    "                    [--image-size S] [--vertices A:B]\n"
    "                    [--orbits A:B] [--seed N] [--rng philox|reference] [--reference-threads T]\n"
    "                    [--threads N] [--shard-size N] [--out DIR] [--noise-min X] [--line-width X]\n"
    "                    [--radius-min N] [--oval-rate X] [--start-pos N] [--freq1 A:B] [--freq2 A:B]\n"
    "                    [--device cpu|cuda|both] [--cuda-measure e2e|device|both]\n"
    "                    [--repeats N] [--target IMAGES_PER_S]\n"
    "\n"
    "Renders 10 classes x 10 images of the paper preset (--family rcdb: of rcdb-1k's config) unless told\n"
    "otherwise, shard by shard, and prints each shard's sha256 (equal to what `vatom-fast build` with the\n"
    "same options records) and the throughput. With the philox stream, the pixel-valued defaults\n"
    "(--start-pos, --radius-min, --line-width, --noise-min and the radius span) follow --image-size as in\n"
    "vatom-fast.\n"
    "\n"
    "Without --out nothing is written: images are rendered and hashed in memory, and the time spent\n"
    "rendering (without hashing) is printed beside the total. With --out DIR the shards are written as\n"
    "`vatom-fast build` writes them (images-NNNNN.npy, labels-NNNNN.npy).\n"
    "\n"
    "VATOM_SIMD=scalar|avx2|avx512 in the environment caps the CPU kernels (default: the best this CPU\n"
    "runs); the bytes never depend on it.\n"
    "\n"
    "--device cuda renders on the GPU (a build with CUDA; the default stream only) after printing the\n"
    "devices, the driver's and the runtime's CUDA versions, and an untimed warm-up (kernels loaded, device\n"
    "and pinned buffers allocated). --cuda-measure (without --out): e2e (the default) renders each shard\n"
    "into host memory and hashes it, and measures the raw device-to-host copy speed beside it; device\n"
    "times rendering into device memory only, --repeats N times, and with --target IMAGES_PER_S prints\n"
    "one line PASS or FAIL for the median repeat; both does the two. --device both renders every shard on\n"
    "the CPU and on the GPU and compares the bytes (MATCH, or MISMATCH and exit status 1).\n"
    "VATOM_CUDA_THREADS, VATOM_CUDA_BAND_ROWS, VATOM_CUDA_BLOCKS_PER_SM, VATOM_CUDA_BATCH and\n"
    "VATOM_CUDA_CARVEOUT tune the GPU launch; the bytes never depend on them.\n"
    "\n"
    "Exit status: 0 done, 1 a failure while rendering or writing (a message says which), 2 bad options or\n"
    "no usable GPU.\n";

}  // namespace

static int run(int argc, char** argv) {
  vatom::DatasetSpec spec;
  spec.classes = 10;
  spec.instances = 10;
  int threads = static_cast<int>(
      std::clamp(std::thread::hardware_concurrency(), 1u, static_cast<unsigned>(vatom::kMaxPoolThreads)));
  int64_t shard_size = 0;
  std::string out;
  std::string device = "cpu", measure = "e2e";
  int repeats = 1;
  double target = 0;
  std::vector<std::pair<std::string, std::string>> options;
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--help" || option == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) usage("missing value for " + option + " (vatom-native --help for the options)");
    options.emplace_back(option, argv[++i]);
  }
  // The family, the stream and the image size first: they decide the defaults (with the philox stream
  // the pixel-valued ones follow the image size).
  vatom::GeneratorConfig base;
  int32_t image_size = base.image_size;
  for (const auto& [option, value] : options) {
    if (option == "--image-size") image_size = static_cast<int32_t>(to_int(option, value));
    else if (option == "--rng") spec.stream = value == "reference" ? vatom::StreamKind::Reference : vatom::StreamKind::Philox;
    else if (option == "--family" && value == "rcdb") base = vatom::rcdb::preset_config();
    else if (option == "--family" && value != "visualatom") usage("--family must be visualatom or rcdb, not " + value);
  }
  spec.config = spec.stream == vatom::StreamKind::Philox ? vatom::scaled_config(base, image_size) : base;
  spec.config.image_size = image_size;
  for (const auto& [option, value] : options) {
    if (option == "--classes") spec.classes = to_int(option, value);
    else if (option == "--instances") spec.instances = to_int(option, value);
    else if (option == "--start-class") spec.start_class = to_int(option, value);
    else if (option == "--image-size" || option == "--rng" || option == "--family") continue;
    else if (option == "--start-pos") spec.config.start_pos = static_cast<int32_t>(to_int(option, value));
    else if (option == "--vertices") to_range(option, value, spec.config.vertices_min, spec.config.vertices_max);
    else if (option == "--orbits") to_range(option, value, spec.config.orbits_min, spec.config.orbits_max);
    else if (option == "--seed") spec.seed = std::strtoull(value.c_str(), nullptr, 10);
    else if (option == "--reference-threads") spec.reference_threads = static_cast<int32_t>(to_int(option, value));
    else if (option == "--threads") threads = static_cast<int>(to_int(option, value));
    else if (option == "--shard-size") shard_size = to_int(option, value);
    else if (option == "--out") out = value;
    else if (option == "--noise-min") spec.config.noise_min = to_double(option, value);
    else if (option == "--line-width") spec.config.line_width = to_double(option, value);
    else if (option == "--radius-min") spec.config.radius_min = static_cast<int32_t>(to_int(option, value));
    else if (option == "--oval-rate") spec.config.oval_rate = to_double(option, value);
    else if (option == "--freq1") to_range(option, value, spec.config.freq1_min, spec.config.freq1_max);
    else if (option == "--freq2") to_range(option, value, spec.config.freq2_min, spec.config.freq2_max);
    else if (option == "--device") device = value;
    else if (option == "--cuda-measure") measure = value;
    else if (option == "--repeats") repeats = static_cast<int>(to_int(option, value));
    else if (option == "--target") target = to_double(option, value);
    else usage("unknown option " + option + " (vatom-native --help for the options)");
  }
  if (threads < 1 || threads > vatom::kMaxPoolThreads) {
    usage("--threads must be from 1 to " + std::to_string(vatom::kMaxPoolThreads) + ", not " + std::to_string(threads));
  }
  if (device != "cpu" && device != "cuda" && device != "both") usage("--device must be cpu, cuda or both, not " + device);
  if (measure != "e2e" && measure != "device" && measure != "both") {
    usage("--cuda-measure must be e2e, device or both, not " + measure);
  }
  if (device != "cpu" && spec.stream == vatom::StreamKind::Reference) {
    usage("--device " + device + ": the reference stream (--rng reference) is sequential and renders on the CPU only");
  }
  if (device == "both" && !out.empty()) usage("--device both compares the devices in memory: leave out --out");
  if (device != "cuda" && measure != "e2e") usage("--cuda-measure goes with --device cuda");
  if (!out.empty() && measure != "e2e") usage("--cuda-measure device|both renders in memory: leave out --out");
  if (repeats < 1 || repeats > 100) usage("--repeats must be from 1 to 100, not " + std::to_string(repeats));
  if ((repeats != 1 || target != 0) && measure == "e2e") usage("--repeats and --target go with --cuda-measure device|both");
  if (spec.stream == vatom::StreamKind::Reference) {
    spec.classes = spec.classes / spec.reference_threads * spec.reference_threads;
  }
  const std::string problem = vatom::spec_problem(spec);
  if (!problem.empty()) usage(problem);
  spec.params = vatom::draw_class_params(spec);
  if (shard_size <= 0) shard_size = spec.image_count();

  if (device == "both") return run_both(spec, shard_size, threads);

  vatom::ThreadPool pool(threads);
  std::unique_ptr<vatom::ImageRenderer> renderer;
  vatom::CudaRenderer* gpu = nullptr;
  std::string kernels = spec.stream == vatom::StreamKind::Philox ? vatom::psimd::isa_name(vatom::psimd::best_isa()) : "reference";
  if (device == "cuda") {
    std::unique_ptr<vatom::CudaRenderer> r = cuda_renderer_or_exit(spec);
    gpu = r.get();
    kernels = "cuda";
    warm_up(*gpu, spec, pool, measure != "device");
    if (measure != "e2e") {
      measure_device_only(*gpu, spec, repeats, target);
      std::printf("cuda: %s\n", gpu->device_description().c_str());
      if (measure == "device") return 0;
    }
    renderer = std::move(r);
  } else {
    renderer = vatom::make_renderer(spec);
  }
  vatom::WriteOptions write_options;
  if (gpu) write_options.chunk_images = gpu->preferred_chunk_images();
  vatom::ShardWriter writer;
  const auto started = std::chrono::steady_clock::now();
  std::vector<uint8_t> pixels;
  double render_s = 0;
  int shard = 0;
  for (int64_t first = 0; first < spec.image_count(); first += shard_size, ++shard) {
    const int64_t count = std::min(shard_size, spec.image_count() - first);
    std::string digest;
    if (!out.empty()) {
      char name[64];
      std::snprintf(name, sizeof name, "/images-%05d.npy", shard);
      vatom::ShardTask task{first, count, out + name, out + "/labels-" + std::string(name + 8)};
      digest = writer.write(spec, *renderer, pool, task, write_options).images_sha256;
    } else {
      const int64_t size = spec.config.image_size;
      const std::string header = vatom::npy_header("|u1", {count, size, size}, vatom::kImageDataOffset);
      pixels.resize(static_cast<size_t>(count * spec.image_bytes()));
      const auto render_started = std::chrono::steady_clock::now();
      renderer->render(first, first + count, pixels.data(), pool);
      render_s += seconds_since(render_started);
      vatom::Sha256 h;
      h.update(header.data(), header.size());
      h.update(pixels.data(), pixels.size());
      digest = h.hex_digest();
    }
    std::printf("shard %d images %lld sha256 %s\n", shard, static_cast<long long>(count), digest.c_str());
  }
  const double elapsed = seconds_since(started);
  const int64_t n = spec.image_count();
  if (!gpu) {
    std::printf("images %lld threads %d seconds %.3f images/s %.1f images/s/thread %.1f\n", static_cast<long long>(n),
                threads, elapsed, n / elapsed, n / elapsed / threads);
    if (out.empty()) {
      std::printf("render only (%s kernels): seconds %.3f images/s %.1f images/s/thread %.1f\n", kernels.c_str(),
                  render_s, n / render_s, n / render_s / threads);
    }
    return 0;
  }
  if (out.empty()) {
    std::printf("cuda end-to-end into host memory: %lld images in %.3f s = %.0f images/s (one call per shard of up to "
                "%lld images: kernels, device-to-host copies into pinned memory, copies into ordinary memory on %d "
                "threads; excludes hashing)\n",
                static_cast<long long>(n), render_s, n / render_s, static_cast<long long>(shard_size), threads);
    print_copy_ceiling(*gpu, spec, n / render_s);
    std::printf("total with hashing: %lld images in %.3f s = %.0f images/s\n", static_cast<long long>(n), elapsed,
                n / elapsed);
  } else {
    std::printf("cuda to .npy files: %lld images in %.3f s = %.0f images/s (rendered in chunks of %lld images, "
                "written, hashed and synced to %s)\n",
                static_cast<long long>(n), elapsed, n / elapsed, static_cast<long long>(write_options.chunk_images),
                out.c_str());
  }
  std::printf("cuda: %s\n", gpu->device_description().c_str());
  return 0;
}

// A failure after the options were read (a CUDA error, a file that cannot be written) is a message and
// exit status 1, never an abort.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "vatom-native: %s\n", vatom::kOutOfMemory);
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "vatom-native: %s\n", e.what());
    return 1;
  }
}
