// The C ABI (vatom_fast.h) over native/core: converts plain structs to a DatasetSpec, goes through
// renderer_factory (the addon's path too), and turns every exception into a status and a message.
#include "vatom_fast.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_api.hpp"
#include "dataset.hpp"
#include "renderer_factory.hpp"
#include "thread_pool.hpp"

struct vatom_renderer {
  vatom::DatasetSpec spec;
  std::unique_ptr<vatom::ThreadPool> pool;
  std::unique_ptr<vatom::ImageRenderer> renderer;
  std::mutex busy;  // one render at a time: the renderers keep per-call scratch and stream cursors
};

namespace {

thread_local std::string last_error;

// Thrown for a caller mistake that is not about the spec (sizes, pointers).
struct BadArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

vatom_status fail(vatom_status status, const std::string& message) {
  last_error = message;
  return status;
}

// Runs body, mapping what it throws to a status; nothing escapes.
template <typename Body>
vatom_status guarded(Body&& body) noexcept {
  try {
    last_error.clear();
    body();
    return VATOM_OK;
  } catch (const vatom::Cancelled&) {
    return fail(VATOM_ERROR_CANCELLED, "cancelled");
  } catch (const std::out_of_range& e) {
    return fail(VATOM_ERROR_OUT_OF_RANGE, e.what());
  } catch (const std::invalid_argument& e) {
    return fail(VATOM_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::bad_alloc&) {
    return fail(VATOM_ERROR_OUT_OF_MEMORY, vatom::kOutOfMemory);
  } catch (const vatom::ResourceError& e) {
    return fail(VATOM_ERROR_OUT_OF_MEMORY, e.what());
  } catch (const vatom::CudaOutOfMemory& e) {
    return fail(VATOM_ERROR_OUT_OF_MEMORY, e.what());
  } catch (const std::runtime_error& e) {
    return fail(VATOM_ERROR_UNAVAILABLE, e.what());
  } catch (const std::exception& e) {
    return fail(VATOM_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(VATOM_ERROR_INTERNAL, "unknown native error");
  }
}

void require(bool ok, const std::string& message) {
  if (!ok) throw BadArgument(message);
}

// vatom_config and vatom::GeneratorConfig have the same fields: one copy for both directions.
template <typename To, typename From>
To copy_config(const From& c) {
  To g{};
  g.family = static_cast<decltype(g.family)>(c.family);
  g.image_size = c.image_size;
  g.vertices_min = c.vertices_min;
  g.vertices_max = c.vertices_max;
  g.orbits_min = c.orbits_min;
  g.orbits_max = c.orbits_max;
  g.noise_min = c.noise_min;
  g.line_width = c.line_width;
  g.radius_min = c.radius_min;
  g.oval_rate = c.oval_rate;
  g.start_pos = c.start_pos;
  g.freq1_min = c.freq1_min;
  g.freq1_max = c.freq1_max;
  g.freq2_min = c.freq2_min;
  g.freq2_max = c.freq2_max;
  g.radius_span = c.radius_span;
  return g;
}

// vatom_class_params and vatom::ClassParams have the same fields: one copy for both directions.
template <typename To, typename From>
To copy_params(const From& p) {
  To q;
  q.vertices = p.vertices;
  q.orbits = p.orbits;
  q.radius = p.radius;
  q.freq1 = p.freq1;
  q.freq2 = p.freq2;
  q.noise = p.noise;
  q.line_width = p.line_width;
  q.oval_x = p.oval_x;
  q.oval_y = p.oval_y;
  q.centre_y = p.centre_y;
  q.centre_x = p.centre_x;
  return q;
}

// The spec as native/core sees it, checked; class parameters copied when given, else left empty.
vatom::DatasetSpec to_spec(const vatom_spec* s) {
  require(s != nullptr, "spec is NULL");
  require(s->abi_version == VATOM_ABI_VERSION,
          "spec abi_version is " + std::to_string(s->abi_version) + ", this library speaks version " +
              std::to_string(VATOM_ABI_VERSION) + " (rebuild against its vatom_fast.h)");
  require(s->stream == VATOM_STREAM_PHILOX || s->stream == VATOM_STREAM_REFERENCE,
          "spec stream is " + std::to_string(s->stream) + ", expected 0 (philox) or 1 (reference)");
  vatom::DatasetSpec spec;
  spec.config = copy_config<vatom::GeneratorConfig>(s->config);
  spec.stream = s->stream == VATOM_STREAM_REFERENCE ? vatom::StreamKind::Reference : vatom::StreamKind::Philox;
  spec.seed = s->seed;
  spec.start_class = s->start_class;
  spec.classes = s->classes;
  spec.instances = s->instances;
  spec.reference_threads = s->reference_threads;
  std::string problem = vatom::spec_problem(spec);  // the counts first: they size the copy below
  if (!problem.empty()) throw BadArgument("bad spec: " + problem);
  if (s->class_params != nullptr) {
    spec.params.reserve(static_cast<size_t>(spec.classes));
    for (int64_t i = 0; i < spec.classes; ++i) spec.params.push_back(copy_params<vatom::ClassParams>(s->class_params[i]));
    problem = vatom::spec_problem(spec);
    if (!problem.empty()) throw BadArgument("bad spec: " + problem);
  }
  return spec;
}

void check_output(const vatom_renderer* r, int64_t images, const uint8_t* out, size_t out_bytes) {
  require(out != nullptr || images == 0, "output buffer is NULL");
  const int64_t bytes = r->spec.image_bytes();
  require(images <= INT64_MAX / bytes, std::to_string(images) + " images do not fit in memory");
  const int64_t need = images * bytes;
  require(static_cast<uint64_t>(need) <= out_bytes,
          "output buffer holds " + std::to_string(out_bytes) + " bytes, " + std::to_string(images) +
              " images need " + std::to_string(need));
}

// Images [begin, end) of the dataset, and an output buffer that holds them.
void check_range(const vatom_renderer* r, int64_t begin, int64_t end, const uint8_t* out, size_t out_bytes) {
  const int64_t n = r->spec.image_count();
  if (begin < 0 || end > n || begin > end) {
    throw std::out_of_range("images [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") are outside the dataset's [0, " + std::to_string(n) + ")");
  }
  check_output(r, end - begin, out, out_bytes);
}

}  // namespace

extern "C" {

uint32_t vatom_abi_version(void) { return VATOM_ABI_VERSION; }

const char* vatom_last_error(void) { return last_error.c_str(); }

void vatom_spec_init(vatom_spec* spec) {
  if (spec == nullptr) return;
  *spec = vatom_spec{};
  spec->abi_version = VATOM_ABI_VERSION;
  spec->stream = VATOM_STREAM_PHILOX;
  spec->config = copy_config<vatom_config>(vatom::GeneratorConfig{});  // the paper's parameters
  spec->reference_threads = 1;
  spec->class_params = nullptr;
}

vatom_status vatom_renderer_create(const vatom_spec* spec, int32_t threads, const char* device,
                                   vatom_renderer** out) {
  return guarded([&] {
    require(out != nullptr, "out is NULL");
    *out = nullptr;
    require(threads >= 1 && threads <= vatom::kMaxPoolThreads, "threads is " + std::to_string(threads) +
                                                                   ", expected 1 to " + std::to_string(vatom::kMaxPoolThreads));
    const vatom::Device dev = vatom::parse_device(device != nullptr ? device : "cpu");
    auto r = std::make_unique<vatom_renderer>();
    r->spec = to_spec(spec);
    if (r->spec.params.empty()) r->spec.params = vatom::draw_class_params(r->spec);
    r->renderer = vatom::make_renderer(r->spec, dev);
    r->pool = std::make_unique<vatom::ThreadPool>(threads);
    *out = r.release();
  });
}

void vatom_renderer_free(vatom_renderer* renderer) { delete renderer; }

vatom_status vatom_renderer_info(const vatom_renderer* r, vatom_info* out) {
  return guarded([&] {
    require(r != nullptr && out != nullptr, "renderer or out is NULL");
    out->image_size = r->spec.config.image_size;
    out->threads = r->pool->size();
    out->image_bytes = r->spec.image_bytes();
    out->image_count = r->spec.image_count();
    out->start_class = r->spec.start_class;
    out->classes = r->spec.classes;
    out->instances = r->spec.instances;
  });
}

vatom_status vatom_renderer_class_params(const vatom_renderer* r, int64_t first, int64_t count,
                                         vatom_class_params* out) {
  return guarded([&] {
    require(r != nullptr, "renderer is NULL");
    require(out != nullptr || count == 0, "out is NULL");
    if (first < 0 || count < 0 || first > r->spec.classes - count) {
      throw std::out_of_range("classes [" + std::to_string(first) + ", " + std::to_string(first + count) +
                              ") are outside [0, " + std::to_string(r->spec.classes) + ")");
    }
    for (int64_t i = 0; i < count; ++i) out[i] = copy_params<vatom_class_params>(r->spec.params[static_cast<size_t>(first + i)]);
  });
}

vatom_status vatom_draw_class_params(const vatom_spec* spec, vatom_class_params* out, int64_t count) {
  return guarded([&] {
    vatom_spec drawn = spec != nullptr ? *spec : vatom_spec{};
    drawn.class_params = nullptr;
    const vatom::DatasetSpec s = to_spec(spec != nullptr ? &drawn : nullptr);
    require(count == s.classes, "out holds " + std::to_string(count) + " entries, expected one per class (" +
                                    std::to_string(s.classes) + ")");
    require(out != nullptr, "out is NULL");
    const std::vector<vatom::ClassParams> params = vatom::draw_class_params(s);
    for (int64_t i = 0; i < count; ++i) out[i] = copy_params<vatom_class_params>(params[static_cast<size_t>(i)]);
  });
}

vatom_status vatom_render_range(vatom_renderer* r, int64_t begin, int64_t end, uint8_t* out, size_t out_bytes) {
  return guarded([&] {
    require(r != nullptr, "renderer is NULL");
    check_range(r, begin, end, out, out_bytes);
    std::lock_guard<std::mutex> lock(r->busy);
    if (r->renderer->cancel_requested()) throw vatom::Cancelled();
    if (end > begin) r->renderer->render(begin, end, out, *r->pool);
  });
}

vatom_status vatom_render_range_device(vatom_renderer* r, int64_t begin, int64_t end, void* device_out,
                                       size_t out_bytes, void* cuda_stream) {
  return guarded([&] {
    require(r != nullptr, "renderer is NULL");
    auto* gpu = dynamic_cast<vatom::CudaRenderer*>(r->renderer.get());
    if (gpu == nullptr) {
      const vatom::CudaInfo cuda = vatom::cuda_info();
      throw std::runtime_error(
          "rendering into GPU memory needs a renderer made with device \"cuda\"; this one renders on the CPU" +
          (cuda.compiled ? std::string() : ", and " + cuda.error));
    }
    check_range(r, begin, end, static_cast<const uint8_t*>(device_out), out_bytes);
    std::lock_guard<std::mutex> lock(r->busy);
    if (r->renderer->cancel_requested()) throw vatom::Cancelled();
    if (end > begin) gpu->render_to_device(begin, end, static_cast<uint8_t*>(device_out), cuda_stream);
  });
}

vatom_status vatom_render_indices(vatom_renderer* r, const int64_t* indices, int64_t count, uint8_t* out,
                                  size_t out_bytes) {
  return guarded([&] {
    require(r != nullptr, "renderer is NULL");
    require(count >= 0, "count is " + std::to_string(count) + ", expected >= 0");
    require(indices != nullptr || count == 0, "indices is NULL");
    const int64_t n = r->spec.image_count();
    for (int64_t j = 0; j < count; ++j) {
      if (indices[j] < 0 || indices[j] >= n) {
        throw std::out_of_range("image index " + std::to_string(indices[j]) + " (position " + std::to_string(j) +
                                ") is outside the dataset's [0, " + std::to_string(n) + ")");
      }
    }
    check_output(r, count, out, out_bytes);
    std::lock_guard<std::mutex> lock(r->busy);
    if (r->renderer->cancel_requested()) throw vatom::Cancelled();
    if (count > 0) r->renderer->render_indices(indices, count, r->spec.image_bytes(), out, *r->pool);
  });
}

vatom_status vatom_renderer_cancel(vatom_renderer* r) {
  return guarded([&] {
    require(r != nullptr, "renderer is NULL");
    r->renderer->cancel();
  });
}

vatom_status vatom_renderer_resume(vatom_renderer* r) {
  return guarded([&] {
    require(r != nullptr, "renderer is NULL");
    r->renderer->clear_cancel();
  });
}

}  // extern "C"
