// vatom_testing.node: the shared native components on their own, for the jest tests that compare them
// with Python, PIL, noise and Node's crypto (test/components.test.ts, test/reference-components.test.ts).
// Built from a source checkout only; the shipped addon has none of this.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "cpython_random.hpp"
#include "detmath.hpp"
#include "generator_config.hpp"
#include "philox.hpp"
#include "pnoise.hpp"
#include "raster.hpp"
#include "renderer_factory.hpp"
#include "sha256.hpp"
#include "thread_pool.hpp"

namespace {

// A JS number seed (an integer below 2^53; negative seeds act as their absolute value, as in CPython).
uint64_t seed_from_js(const Napi::Value& v) {
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) >= 9007199254740992.0) {
    throw Napi::RangeError::New(v.Env(), "seed must be an integer of magnitude below 2^53");
  }
  return static_cast<uint64_t>(std::fabs(d));
}

int64_t int_arg(const Napi::Array& call, uint32_t i) {
  const double d = call.Get(i).As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) >= 9007199254740992.0) {
    throw Napi::RangeError::New(call.Env(), "integer argument expected");
  }
  return static_cast<int64_t>(d);
}

// mtWords(seed, n) -> Uint32Array: the first n raw 32-bit outputs (random.getrandbits(32)).
Napi::Value MtWords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t seed = seed_from_js(info[0]);
  const double n = info[1].As<Napi::Number>().DoubleValue();
  if (!(n >= 0 && n <= 1e8)) throw Napi::RangeError::New(env, "n out of range");
  vatom::CPythonRandom rng(seed);
  Napi::Uint32Array out = Napi::Uint32Array::New(env, static_cast<size_t>(n));
  rng.fill_words(out.Data(), out.ElementLength());
  return out;
}

// pyRandomCalls(seed, calls) -> number[]: each call ["random"], ["getrandbits", k],
// ["randint", a, b] or ["uniform", a, b], evaluated in order on one generator seeded with seed.
// ["skip", n] advances by n words (skip_words) and yields 0, to test the replay helper.
Napi::Value PyRandomCalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  vatom::CPythonRandom rng(seed_from_js(info[0]));
  Napi::Array calls = info[1].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, calls.Length());
  for (uint32_t i = 0; i < calls.Length(); ++i) {
    Napi::Array call = calls.Get(i).As<Napi::Array>();
    const std::string name = call.Get(0u).As<Napi::String>().Utf8Value();
    double result = 0.0;
    if (name == "random") {
      result = rng.random();
    } else if (name == "getrandbits") {
      const int64_t k = int_arg(call, 1);
      if (k < 1 || k > 53) throw Napi::RangeError::New(env, "getrandbits: k must be in 1..53");
      result = static_cast<double>(rng.getrandbits64(static_cast<int>(k)));
    } else if (name == "randint") {
      const int64_t a = int_arg(call, 1), b = int_arg(call, 2);
      if (a > b) throw Napi::RangeError::New(env, "randint: empty range");
      result = static_cast<double>(rng.randint(a, b));
    } else if (name == "uniform") {
      const double a = call.Get(1u).As<Napi::Number>().DoubleValue();
      const double b = call.Get(2u).As<Napi::Number>().DoubleValue();
      result = rng.uniform(a, b);
    } else if (name == "skip") {
      const int64_t n = int_arg(call, 1);
      if (n < 0) throw Napi::RangeError::New(env, "skip: n must be >= 0");
      rng.skip_words(static_cast<uint64_t>(n));
    } else {
      throw Napi::TypeError::New(env, "unknown call: " + name);
    }
    out.Set(i, Napi::Number::New(env, result));
  }
  return out;
}

// pnoise1(xs: Float64Array) -> Float64Array: noise.pnoise1(x) (x rounded to float, RNE).
Napi::Value Pnoise1(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float64Array xs = info[0].As<Napi::Float64Array>();
  Napi::Float64Array out = Napi::Float64Array::New(env, xs.ElementLength());
  for (size_t i = 0; i < xs.ElementLength(); ++i) {
    // float(x) must floor into an int (pnoise1's own limit; the reference only uses [0, 10000]).
    if (!(std::fabs(xs[i]) < 1e9)) throw Napi::RangeError::New(env, "pnoise1: |x| must be below 1e9");
    out[i] = static_cast<double>(vatom::pnoise1f(static_cast<float>(xs[i])));
  }
  return out;
}

Napi::Value Philox(const Napi::CallbackInfo& info) {
  uint32_t a[6];
  for (int i = 0; i < 6; ++i) a[i] = info[i].As<Napi::Number>().Uint32Value();
  const vatom::Philox4x32 r = vatom::philox4x32_10(a[0], a[1], a[2], a[3], a[4], a[5]);
  Napi::Uint32Array out = Napi::Uint32Array::New(info.Env(), 4);
  for (int i = 0; i < 4; ++i) out[i] = r.v[i];
  return out;
}

// rasterize(width, height, segments: Int32Array [x0,y0,x1,y1,...], walk: boolean) -> Uint8Array:
// pixel value i+1 for segment i (so the test sees which segment set each pixel), 0 where none did.
Napi::Value Rasterize(const Napi::CallbackInfo& info) {
  const int width = info[0].As<Napi::Number>().Int32Value();
  const int height = info[1].As<Napi::Number>().Int32Value();
  Napi::Int32Array seg = info[2].As<Napi::Int32Array>();
  const bool walk = info[3].ToBoolean().Value();
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), static_cast<size_t>(width) * height);
  std::fill(out.Data(), out.Data() + out.ElementLength(), 0);
  const vatom::Canvas canvas{out.Data(), width, height};
  for (size_t i = 0; i + 3 < seg.ElementLength(); i += 4) {
    const uint8_t value = static_cast<uint8_t>(1 + (i / 4) % 255);
    if (walk) vatom::draw_line_pil_walk(canvas, seg[i], seg[i + 1], seg[i + 2], seg[i + 3], value);
    else vatom::draw_line_pil(canvas, seg[i], seg[i + 1], seg[i + 2], seg[i + 3], value);
  }
  return out;
}

Napi::Value Sha256Hex(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  const bool portable = info.Length() > 1 && info[1].ToBoolean().Value();
  vatom::Sha256 h(!portable);
  // Uneven pieces exercise the streaming path.
  size_t offset = 0, piece = 1;
  while (offset < data.Length()) {
    const size_t n = std::min(piece, data.Length() - offset);
    h.update(data.Data() + offset, n);
    offset += n;
    piece = piece * 3 + 1;
  }
  return Napi::String::New(info.Env(), h.hex_digest());
}

Napi::Value DetSinCos(const Napi::CallbackInfo& info) {
  const vatom::SinCos r = vatom::det_sincos_turns(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().Int64Value());
  Napi::Float64Array out = Napi::Float64Array::New(info.Env(), 2);
  out[0] = r.s;
  out[1] = r.c;
  return out;
}

// paperConfig(imageSize) -> the native paper config at that image size, in the presets file's names.
Napi::Value PaperConfig(const Napi::CallbackInfo& info) {
  const vatom::GeneratorConfig c = vatom::paper_config(info[0].As<Napi::Number>().Int32Value());
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("imageSize", c.image_size);
  o.Set("verticesMin", c.vertices_min);
  o.Set("verticesMax", c.vertices_max);
  o.Set("orbitsMin", c.orbits_min);
  o.Set("orbitsMax", c.orbits_max);
  o.Set("noiseMin", c.noise_min);
  o.Set("lineWidth", c.line_width);
  o.Set("radiusMin", c.radius_min);
  o.Set("ovalRate", c.oval_rate);
  o.Set("startPos", c.start_pos);
  o.Set("freq1Min", c.freq1_min);
  o.Set("freq1Max", c.freq1_max);
  o.Set("freq2Min", c.freq2_min);
  o.Set("freq2Max", c.freq2_max);
  o.Set("radiusSpan", c.radius_span);
  return o;
}

// specLimits() -> {field: [min, max]}: what the native spec check allows.
Napi::Value SpecLimits(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  for (const vatom::FieldLimit& l : vatom::spec_limits()) {
    Napi::Array range = Napi::Array::New(info.Env(), 2);
    range.Set(0u, l.min);
    range.Set(1u, l.max);
    o.Set(l.field, range);
  }
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object testing) {
  testing.Set("paperConfig", Napi::Function::New(env, PaperConfig));
  testing.Set("specLimits", Napi::Function::New(env, SpecLimits));
  testing.Set("maxPoolThreads", Napi::Number::New(env, vatom::kMaxPoolThreads));
  testing.Set("philox", Napi::Function::New(env, Philox));
  testing.Set("rasterize", Napi::Function::New(env, Rasterize));
  testing.Set("sha256", Napi::Function::New(env, Sha256Hex));
  testing.Set("detSinCos", Napi::Function::New(env, DetSinCos));
  testing.Set("mtWords", Napi::Function::New(env, MtWords));
  testing.Set("pyRandomCalls", Napi::Function::New(env, PyRandomCalls));
  testing.Set("pnoise1", Napi::Function::New(env, Pnoise1));
  return testing;
}

}  // namespace

NODE_API_MODULE(vatom_testing, Init)
