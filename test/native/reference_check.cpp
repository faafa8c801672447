// Developer check of the reference stream:
//   reference_check fixtures REFDIR [threads]      render V1 and V2 of REFDIR (test/fixtures/reference) and compare
//                                                  the sha256 of the gray pixels with hashes.json
//   reference_check bench [images] [threads] [chunk]
//                                                  paper preset, one reference process, rendered in
//                                                  chunks of `chunk` images (default 256, as the shard
//                                                  writer at 512x512); images/s
//   reference_check raw OUT T CLASSES INSTANCES [key=value ...] [threads=N begin=B end=E]
//                                                  write images [B, E) as raw gray bytes to OUT and
//                                                  print the class parameters (one line each)
// VATOM_SIMD=scalar|avx2 in the environment caps the kernel set, as for the renderer.
// CMake builds it as build/vatom-reference-check in a source checkout.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "generators/visualatom/philox_simd.hpp"
#include "generators/visualatom/reference.hpp"
#include "generators/visualatom/reference_simd.hpp"
#include "sha256.hpp"
#include "thread_pool.hpp"

using namespace vatom;

namespace {

struct FixtureImage {
  int64_t cls = 0, instance = 0, vertices = 0;
  std::string sha;
};

int64_t json_int(const std::string& obj, const std::string& key) {
  const size_t p = obj.find("\"" + key + "\"");
  if (p == std::string::npos) return -1;
  return std::strtoll(obj.c_str() + obj.find(':', p) + 1, nullptr, 10);
}

std::vector<FixtureImage> read_hashes(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::vector<FixtureImage> out;
  for (size_t p = text.find('{'); p != std::string::npos; p = text.find('{', p + 1)) {
    const std::string obj = text.substr(p, text.find('}', p) - p);
    FixtureImage img;
    img.cls = json_int(obj, "class");
    img.instance = json_int(obj, "instance");
    img.vertices = json_int(obj, "vertices");
    const size_t s = obj.find("\"sha256\"");
    const size_t q = obj.find('"', obj.find(':', s) + 1);
    img.sha = obj.substr(q + 1, 64);
    out.push_back(img);
  }
  return out;
}

std::string sha_hex(const uint8_t* data, size_t n) {
  Sha256 h;
  h.update(data, n);
  return h.hex_digest();
}

DatasetSpec make_spec(const GeneratorConfig& c, int64_t classes, int64_t instances, int32_t t) {
  DatasetSpec spec;
  spec.config = c;
  spec.stream = StreamKind::Reference;
  spec.classes = classes;
  spec.instances = instances;
  spec.reference_threads = t;
  spec.params = reference_class_params(c, classes, instances, t);
  return spec;
}

int check_fixture(const std::string& dir, const GeneratorConfig& c, int64_t classes, int64_t instances, int32_t t,
                  int threads) {
  const std::vector<FixtureImage> want = read_hashes(dir + "/hashes.json");
  DatasetSpec spec = make_spec(c, classes, instances, t);
  ThreadPool pool(threads);
  auto renderer = make_reference_renderer(spec);
  const int64_t bytes = spec.image_bytes();
  std::vector<uint8_t> pixels(static_cast<size_t>(spec.image_count() * bytes));
  renderer->render(0, spec.image_count(), pixels.data(), pool);
  int bad = 0;
  for (const FixtureImage& img : want) {
    const int64_t index = img.cls * instances + img.instance;
    const std::string got = sha_hex(pixels.data() + index * bytes, static_cast<size_t>(bytes));
    const bool ok = got == img.sha && spec.params[static_cast<size_t>(img.cls)].vertices == img.vertices;
    std::printf("%s class %lld instance %lld vertices %d/%lld %s\n", ok ? "OK  " : "FAIL", (long long)img.cls,
                (long long)img.instance, spec.params[static_cast<size_t>(img.cls)].vertices, (long long)img.vertices,
                got.c_str());
    bad += ok ? 0 : 1;
  }
  return bad;
}

GeneratorConfig paper() { return GeneratorConfig{}; }

GeneratorConfig v2_config() {
  GeneratorConfig c;
  c.image_size = 128;
  c.vertices_min = 50;
  c.vertices_max = 80;
  c.orbits_min = 1;
  c.orbits_max = 10;
  c.start_pos = 128;
  return c;
}

bool set_key(GeneratorConfig& c, const std::string& k, const std::string& v) {
  const double d = std::strtod(v.c_str(), nullptr);
  const int32_t i = static_cast<int32_t>(std::strtol(v.c_str(), nullptr, 10));
  if (k == "image_size") c.image_size = i;
  else if (k == "vertices_min") c.vertices_min = i;
  else if (k == "vertices_max") c.vertices_max = i;
  else if (k == "orbits_min") c.orbits_min = i;
  else if (k == "orbits_max") c.orbits_max = i;
  else if (k == "noise_min") c.noise_min = d;
  else if (k == "line_width") c.line_width = d;
  else if (k == "radius_min") c.radius_min = i;
  else if (k == "oval_rate") c.oval_rate = d;
  else if (k == "start_pos") c.start_pos = i;
  else if (k == "freq1_min") c.freq1_min = i;
  else if (k == "freq1_max") c.freq1_max = i;
  else if (k == "freq2_min") c.freq2_min = i;
  else if (k == "freq2_max") c.freq2_max = i;
  else return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fixtures" && argc > 2) {
    const std::string root = argv[2];
    const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
    int bad = check_fixture(root + "/V1", paper(), 2, 3, 1, threads);
    bad += check_fixture(root + "/V2", v2_config(), 4, 2, 2, threads);
    std::printf("%s\n", bad == 0 ? "all fixtures match" : "MISMATCH");
    return bad == 0 ? 0 : 1;
  }
  if (mode == "bench") {
    const int64_t images = argc > 2 ? std::atoll(argv[2]) : 40;
    const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
    const int64_t chunk = argc > 4 ? std::max<int64_t>(1, std::atoll(argv[4])) : 256;
    const int64_t instances = 4;
    const int64_t classes = (images + instances - 1) / instances;
    auto t0 = std::chrono::steady_clock::now();
    DatasetSpec spec = make_spec(paper(), classes, instances, 1);
    ThreadPool pool(threads);
    auto renderer = make_reference_renderer(spec);
    // Allocated (and its pages touched) before the clock starts, as the shard writer's reused buffers.
    std::vector<uint8_t> pixels(static_cast<size_t>(spec.image_bytes() * chunk));
    auto t1 = std::chrono::steady_clock::now();
    int64_t segments = 0;
    for (int64_t c = 0; c < classes; ++c) segments += int64_t(spec.params[c].vertices) * spec.params[c].orbits * instances;
    for (int64_t b = 0; b < spec.image_count(); b += chunk) {
      renderer->render(b, std::min(spec.image_count(), b + chunk), pixels.data(), pool);
    }
    auto t2 = std::chrono::steady_clock::now();
    const double params_s = std::chrono::duration<double>(t1 - t0).count();
    const double render_s = std::chrono::duration<double>(t2 - t1).count();
    std::printf("paper preset, %lld images (%lld classes x %lld), %d threads, chunk %lld, %s: class params %.3f s, "
                "render %.3f s, %.2f images/s, %.2f ns per segment\n",
                (long long)spec.image_count(), (long long)classes, (long long)instances, threads, (long long)chunk,
                psimd::isa_name(psimd::best_isa()), params_s, render_s, spec.image_count() / render_s,
                render_s * 1e9 / static_cast<double>(segments));
    return 0;
  }
  if (mode == "raw" && argc > 5) {
    const std::string out_path = argv[2];
    const int32_t t = std::atoi(argv[3]);
    const int64_t classes = std::atoll(argv[4]), instances = std::atoll(argv[5]);
    GeneratorConfig c;
    int threads = 1;
    int64_t begin = 0, end = -1;
    for (int a = 6; a < argc; ++a) {
      const std::string kv = argv[a];
      const size_t eq = kv.find('=');
      const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (k == "threads") threads = std::atoi(v.c_str());
      else if (k == "begin") begin = std::atoll(v.c_str());
      else if (k == "end") end = std::atoll(v.c_str());
      else if (!set_key(c, k, v)) {
        std::fprintf(stderr, "unknown key %s\n", k.c_str());
        return 2;
      }
    }
    DatasetSpec spec = make_spec(c, classes, instances, t);
    if (end < 0) end = spec.image_count();
    for (const ClassParams& p : spec.params) {
      std::printf("%d %d %d %d %d %.17g %.17g %.17g %.17g\n", p.vertices, p.orbits, p.radius, p.freq1, p.freq2,
                  p.noise, p.line_width, p.oval_x, p.oval_y);
    }
    ThreadPool pool(threads);
    auto renderer = make_reference_renderer(spec);
    std::vector<uint8_t> pixels(static_cast<size_t>((end - begin) * spec.image_bytes()));
    if (end > begin) renderer->render(begin, end, pixels.data(), pool);
    std::ofstream f(out_path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
    return 0;
  }
  std::fprintf(stderr, "usage: reference_check fixtures REFDIR [threads] | bench [images] [threads] [chunk] | raw ...\n");
  return 2;
}
