// N-API glue and nothing else: converts the already-validated JS spec into native structs and runs
// long jobs as AsyncWorkers that resolve Promises. Progress reaches JS through a thread-safe function.
#include <napi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "cuda_api.hpp"
#include "dataset.hpp"
#include "npy.hpp"
#include "renderer_factory.hpp"
#include "shard_writer.hpp"

namespace {

using vatom::ClassParams;
using vatom::DatasetSpec;

int32_t get_int(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int32Value(); }
int64_t get_int64(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().Int64Value(); }
double get_double(const Napi::Object& o, const char* key) { return o.Get(key).As<Napi::Number>().DoubleValue(); }
double get_double_or(const Napi::Object& o, const char* key, double absent) {
  return o.Has(key) && !o.Get(key).IsUndefined() ? get_double(o, key) : absent;
}

// "visualatom" (also when absent: datasets made before there were families) or "rcdb".
vatom::Family family_from_js(const Napi::Object& o) {
  if (!o.Has("family") || o.Get("family").IsUndefined()) return vatom::Family::VisualAtom;
  const std::string name = o.Get("family").As<Napi::String>().Utf8Value();
  if (name == "visualatom") return vatom::Family::VisualAtom;
  if (name == "rcdb") return vatom::Family::Rcdb;
  throw Napi::Error::New(o.Env(), "family is \"" + name + "\", expected \"visualatom\" or \"rcdb\"");
}

vatom::GeneratorConfig config_from_js(const Napi::Object& o) {
  vatom::GeneratorConfig c;
  c.image_size = get_int(o, "imageSize");
  c.vertices_min = get_int(o, "verticesMin");
  c.vertices_max = get_int(o, "verticesMax");
  c.orbits_min = get_int(o, "orbitsMin");
  c.orbits_max = get_int(o, "orbitsMax");
  c.noise_min = get_double(o, "noiseMin");
  c.line_width = get_double(o, "lineWidth");
  c.radius_min = get_int(o, "radiusMin");
  c.oval_rate = get_double(o, "ovalRate");
  c.start_pos = get_int(o, "startPos");
  c.freq1_min = get_int(o, "freq1Min");
  c.freq1_max = get_int(o, "freq1Max");
  c.freq2_min = get_int(o, "freq2Min");
  c.freq2_max = get_int(o, "freq2Max");
  c.radius_span = static_cast<int32_t>(get_double_or(o, "radiusSpan", c.radius_span));
  return c;
}

ClassParams params_from_js(const Napi::Object& o) {
  ClassParams p;
  p.vertices = get_int(o, "vertices");
  p.orbits = get_int(o, "orbits");
  p.radius = get_int(o, "radius");
  p.freq1 = get_int(o, "freq1");
  p.freq2 = get_int(o, "freq2");
  p.noise = get_double(o, "noise");
  p.line_width = get_double(o, "lineWidth");
  p.oval_x = get_double(o, "ovalX");
  p.oval_y = get_double(o, "ovalY");
  p.centre_y = get_double_or(o, "centreY", 0.0);
  p.centre_x = get_double_or(o, "centreX", 0.0);
  return p;
}

// The drawn parameters of the family: RCDB's add the first instance's centre.
Napi::Object params_to_js(Napi::Env env, const ClassParams& p, vatom::Family family) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("vertices", p.vertices);
  o.Set("orbits", p.orbits);
  o.Set("radius", p.radius);
  o.Set("freq1", p.freq1);
  o.Set("freq2", p.freq2);
  o.Set("noise", p.noise);
  o.Set("lineWidth", p.line_width);
  o.Set("ovalX", p.oval_x);
  o.Set("ovalY", p.oval_y);
  if (family == vatom::Family::Rcdb) {
    o.Set("centreY", p.centre_y);
    o.Set("centreX", p.centre_x);
  }
  return o;
}

// The seed travels as a decimal string: it may exceed 2^53.
DatasetSpec spec_from_js(const Napi::Object& o) {
  DatasetSpec s;
  s.config = config_from_js(o.Get("config").As<Napi::Object>());
  s.config.family = family_from_js(o);
  s.stream = o.Get("rng").As<Napi::String>().Utf8Value() == "reference" ? vatom::StreamKind::Reference
                                                                         : vatom::StreamKind::Philox;
  s.seed = std::strtoull(o.Get("seed").ToString().Utf8Value().c_str(), nullptr, 10);
  s.start_class = get_int64(o, "startClass");
  s.classes = get_int64(o, "classes");
  s.instances = get_int64(o, "instances");
  s.reference_threads = o.Has("referenceThreads") ? get_int(o, "referenceThreads") : 1;
  if (o.Has("classParams")) {
    Napi::Array params = o.Get("classParams").As<Napi::Array>();
    for (uint32_t i = 0; i < params.Length(); ++i) s.params.push_back(params_from_js(params.Get(i).As<Napi::Object>()));
  }
  return s;
}

class DrawParamsWorker : public Napi::AsyncWorker {
 public:
  DrawParamsWorker(Napi::Env env, DatasetSpec spec)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), spec_(std::move(spec)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      params_ = vatom::draw_class_params(spec_);
    } catch (const std::bad_alloc&) {
      SetError(vatom::kOutOfMemory);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Array out = Napi::Array::New(Env(), params_.size());
    for (size_t i = 0; i < params_.size(); ++i) out.Set(static_cast<uint32_t>(i), params_to_js(Env(), params_[i], spec_.config.family));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  DatasetSpec spec_;
  std::vector<ClassParams> params_;
};

Napi::Value DrawClassParams(const Napi::CallbackInfo& info) {
  auto* worker = new DrawParamsWorker(info.Env(), spec_from_js(info[0].As<Napi::Object>()));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// A dataset's renderer, thread pool and shard writer, kept across shards so that a sequential stream
// (reference) continues where the previous shard ended instead of replaying from its start, and the
// chunk buffers are allocated once.
class Generator : public Napi::ObjectWrap<Generator> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Generator",
                       {InstanceMethod("writeShard", &Generator::WriteShard),
                        InstanceMethod("render", &Generator::Render),
                        InstanceMethod("cancel", &Generator::Cancel)});
  }

  // new Generator(spec, threads, device = 'cpu'); device 'cuda' renders on GPU 0 (options.ts and
  // device.ts have checked that one is usable).
  Generator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Generator>(info) {
    spec_ = spec_from_js(info[0].As<Napi::Object>());
    const int threads = info[1].As<Napi::Number>().Int32Value();
    const std::string device = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "cpu";
    try {
      pool_ = std::make_unique<vatom::ThreadPool>(threads);
      renderer_ = vatom::make_renderer(spec_, vatom::parse_device(device));
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(info.Env(), vatom::kOutOfMemory);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
  }

  // Runs job on a worker thread; one job at a time (the JS side serialises them).
  template <typename Job, typename Done>
  class Worker : public Napi::AsyncWorker {
   public:
    // `self` stays alive until the job is done: the job runs on its renderer and pool even when the
    // caller keeps no reference to the Generator.
    Worker(Napi::Env env, Napi::Object self, Job job, Done done)
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), self_(Napi::Persistent(self)),
          job_(std::move(job)), done_(std::move(done)) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        job_();
      } catch (const vatom::Cancelled&) {
        SetError("cancelled");
      } catch (const std::bad_alloc&) {
        SetError(vatom::kOutOfMemory);
      } catch (const std::exception& e) {
        SetError(e.what());
      }
    }
    void OnOK() override { deferred_.Resolve(done_(Env())); }
    void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

   private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference self_;
    Job job_;
    Done done_;
  };

  template <typename Job, typename Done>
  Napi::Promise queue(Napi::Env env, Job job, Done done) {
    auto* worker = new Worker<Job, Done>(env, Value(), std::move(job), std::move(done));
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  }

  // writeShard({first, count, imagesPath, labelsPath}, onProgress?) -> Promise<ShardResult>
  Napi::Value WriteShard(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object t = info[0].As<Napi::Object>();
    vatom::ShardTask task;
    task.first = get_int64(t, "first");
    task.count = get_int64(t, "count");
    task.images_path = t.Get("imagesPath").As<Napi::String>().Utf8Value();
    task.labels_path = t.Get("labelsPath").As<Napi::String>().Utf8Value();
    std::shared_ptr<Napi::ThreadSafeFunction> progress;
    if (info.Length() > 1 && info[1].IsFunction()) {
      progress = std::make_shared<Napi::ThreadSafeFunction>(
          Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "vatom-progress", 0, 1));
    }
    renderer_->clear_cancel();
    auto result = std::make_shared<vatom::ShardResult>();
    auto job = [this, task, progress, result] {
      vatom::WriteOptions options;
      options.chunk_images = renderer_->preferred_chunk_images();
      if (progress) {
        options.on_progress = [progress](int64_t done) {
          progress->NonBlockingCall([done](Napi::Env env, Napi::Function fn) { fn.Call({Napi::Number::New(env, static_cast<double>(done))}); });
        };
      }
      struct Release {
        std::shared_ptr<Napi::ThreadSafeFunction> tsfn;
        ~Release() { if (tsfn) tsfn->Release(); }
      } release{progress};
      *result = writer_.write(spec_, *renderer_, *pool_, task, options);
    };
    auto done = [result](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("imagesBytes", static_cast<double>(result->images_bytes));
      o.Set("labelsBytes", static_cast<double>(result->labels_bytes));
      o.Set("imagesSha256", result->images_sha256);
      o.Set("labelsSha256", result->labels_sha256);
      return o;
    };
    return queue(env, std::move(job), std::move(done));
  }

  // render(begin, end) -> Promise<Buffer> of (end - begin) gray images.
  Napi::Value Render(const Napi::CallbackInfo& info) {
    const int64_t begin = info[0].As<Napi::Number>().Int64Value();
    const int64_t end = info[1].As<Napi::Number>().Int64Value();
    // The renderer overwrites every byte, so the buffer is left uninitialised, and JS takes it over
    // without a copy.
    struct Pixels {
      uint8_t* data = nullptr;
      ~Pixels() { delete[] data; }  // still owned here if the job failed
    };
    const size_t bytes = static_cast<size_t>((end - begin) * spec_.image_bytes());
    auto pixels = std::make_shared<Pixels>();
    pixels->data = new uint8_t[bytes > 0 ? bytes : 1];
    renderer_->clear_cancel();
    auto job = [this, begin, end, pixels] { if (end > begin) renderer_->render(begin, end, pixels->data, *pool_); };
    auto done = [pixels, bytes](Napi::Env env) -> Napi::Value {
      uint8_t* data = pixels->data;
      pixels->data = nullptr;
      return Napi::Buffer<uint8_t>::New(env, data, bytes, [](Napi::Env, uint8_t* p) { delete[] p; });
    };
    return queue(info.Env(), std::move(job), std::move(done));
  }

  // Stops the job in progress (writeShard or render) within about one orbit of one image; its promise
  // rejects with "cancelled". The next job starts uncancelled.
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    renderer_->cancel();
    return info.Env().Undefined();
  }

 private:
  DatasetSpec spec_;
  std::unique_ptr<vatom::ThreadPool> pool_;
  std::unique_ptr<vatom::ImageRenderer> renderer_;
  vatom::ShardWriter writer_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("drawClassParams", Napi::Function::New(env, DrawClassParams));
  exports.Set("Generator", Generator::Define(env));
  exports.Set("imageDataOffset", Napi::Number::New(env, static_cast<double>(vatom::kImageDataOffset)));
  const vatom::CudaInfo cuda = vatom::cuda_info();
  Napi::Object cuda_js = Napi::Object::New(env);
  cuda_js.Set("compiled", cuda.compiled);
  cuda_js.Set("devices", cuda.devices);
  cuda_js.Set("names", cuda.names);
  cuda_js.Set("error", cuda.error);
  exports.Set("cuda", cuda_js);
  return exports;
}

}  // namespace

NODE_API_MODULE(vatom_native, Init)
