// One image of the default stream as the CUDA kernel draws it: a block of T threads per image, the work
// cut into phases separated by block barriers. render_block at the end is the kernel's whole body: the
// kernel (render_kernel.cu) runs it with __syncthreads() as its barrier, and the host emulation of the
// tests (test/native/cuda) runs the very same code with every thread a fiber, switched in a seeded
// random order at the barriers and at the points between phases where the kernel has none, so that
// checks on machines without a GPU exercise the kernel's own barrier placement and compare its bytes
// with the CPU renderer.
//
// Exactness: every value comes from the shared functions of philox_image.hpp (Philox words, pnoise1f,
// philox_centre, truncate_coord, philox_displace with the kernel's shared-memory copy of the permutation) in the CPU
// renderer's order of operations; device code is built with --fmad=false, the per-class tables come
// from the host, and the pixels are draw_line_pil's.
//
// Barriers per image (B): B, setup; per chunk of kChunkOrbits orbits: words, B, then per orbit: update,
// B, raster; at the end B, finish. The invariants that make one barrier per orbit enough:
//  - vertex v is owned by thread v % T: only it reads and writes x[v], y[v];
//  - update(k) writes ixy0 (k even) or ixy1 (k odd) and raster(k) reads it after the barrier; update(k + 2)
//    rewrites it only after the barrier of orbit k + 1, which every thread reaches after its raster(k);
//  - words(k0) rewrites wx, wy only after the last barrier of the previous chunk, after which no update
//    of that chunk runs; the gray bytes of chunk n live in half n & 1, so raster(k0 - 1) may still read
//    its half while words(k0) fills the other;
//  - all segments of one orbit have one gray, so their order does not matter; orbit k + 1's pixels are
//    set after the barrier that follows every thread's raster(k), so later orbits land over earlier ones.
#pragma once
#include <cstdint>

#include "hd.hpp"
#include "generators/visualatom/philox_image.hpp"

namespace vatom {
namespace cuda {

// Orbits whose Philox words one `words` phase makes (all threads together) before they are used.
constexpr int kChunkOrbits = 4;

// Bytes between images in the device output: image starts stay 256-byte aligned for vector stores.
inline int64_t image_stride(int32_t size) {
  const int64_t bytes = static_cast<int64_t>(size) * size;
  return (bytes + 255) / 256 * 256;
}

// One class as the kernel reads it; its tables are cos_t at tables[table], sin_t at + q, bias at + 2q.
struct DeviceClass {
  uint32_t cls;  // absolute class index (the Philox counter word)
  int32_t q;
  int32_t orbits;
  int32_t radius;
  float eta;
  float ox;
  float oy;
  int32_t pad;
  int64_t table;
};

struct IntXY {
  int32_t x;
  int32_t y;
};

// The kernel's single parameter (passed by value).
struct KernelParams {
  PhiloxKey key;
  int32_t count;         // images in this launch
  int32_t size;          // image side S
  int64_t begin;         // dataset index of the launch's image 0
  int64_t instances;     // images per class
  int64_t first_class;   // class offset (from the dataset's start_class) of classes[0]
  int64_t image_stride;  // bytes between images in out
  int32_t start_pos;
  int32_t band_rows;     // canvas rows [0, band_rows) are drawn in shared memory, the rest in `out`
  int32_t qcap;          // vertex capacity of the per-block arrays, a multiple of 4
  int32_t pad;
  const DeviceClass* classes;
  const float* tables;
  uint8_t* out;
  uint8_t* scratch;        // null: vertex arrays in shared memory; else in global memory, per block
  int64_t scratch_stride;  // bytes of scratch per block
};

// The host (g++) and the device (nvcc) must agree on these layouts.
static_assert(sizeof(DeviceClass) == 40, "DeviceClass layout");
static_assert(sizeof(KernelParams) == 104, "KernelParams layout");

// Byte layout of a block's work area. Shared memory: perm (256), gray (2 halves of kChunkOrbits), the
// band, then the vertex arrays unless they live in global scratch (same layout there from offset 0).
struct WorkLayout {
  int64_t perm, gray, band, vertices, shared_bytes;
  int64_t x, y, ixy0, ixy1, wx, wy, vertex_bytes;  // offsets within the vertex area
};

VATOM_HD int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

VATOM_HD WorkLayout work_layout(int32_t qcap, int64_t band_bytes, bool vertices_in_shared) {
  WorkLayout l;
  l.perm = 0;
  l.gray = 256;
  l.band = 272;
  l.vertices = l.band + round16(band_bytes);
  const int64_t q = qcap;
  l.x = 0;
  l.y = l.x + 4 * q;
  l.ixy0 = l.y + 4 * q;
  l.ixy1 = l.ixy0 + 8 * q;
  l.wx = l.ixy1 + 8 * q;
  l.wy = l.wx + 4 * q * kChunkOrbits;
  l.vertex_bytes = round16(l.wy + 4 * q * kChunkOrbits);
  l.shared_bytes = l.vertices + (vertices_in_shared ? l.vertex_bytes : 0);
  return l;
}

// Where one thread block draws one image: pixels with offset below band_bytes go to shared memory,
// the others straight to the image in global memory.
struct BandCanvas {
  uint8_t* band;
  uint8_t* image;
  int64_t band_bytes;
  VATOM_HD void put(int64_t offset, uint8_t gray) const {
    if (offset < band_bytes) band[offset] = gray;
    else image[offset] = gray;
  }
};

// The pixels draw_line_pil (raster.hpp) sets for the segment, into a BandCanvas. Segments with both ends
// on the canvas take Pillow's walk from step 0 with no clipping (every step lies in the endpoints'
// bounding box) in 32-bit arithmetic; the others go through raster.hpp's for_each_line_pixel_pil.
// The emulation check (test/native/cuda) compares both paths with draw_line_pil on random segments.
VATOM_HD void draw_line_band(const BandCanvas& c, int size, int x0, int y0, int x1, int y1, uint8_t gray) {
  const unsigned w = static_cast<unsigned>(size);
  if (static_cast<unsigned>(x1) < w && static_cast<unsigned>(y1) < w && static_cast<unsigned>(x0) < w &&
      static_cast<unsigned>(y0) < w) {
    c.put(static_cast<int64_t>(y1) * size + x1, gray);
    const int dx = x1 - x0, dy = y1 - y0;
    const int adx = dx < 0 ? -dx : dx, ady = dy < 0 ? -dy : dy;
    const int sx = dx < 0 ? -1 : 1, sy = dy < 0 ? -size : size;
    const bool steep = adx <= ady;
    const int major = steep ? ady : adx, minor = steep ? adx : ady;
    const int step_major = steep ? sy : sx, step_minor = steep ? sx : sy;
    int offset = y0 * size + x0;
    int e = 2 * minor - major;
    for (int i = 0; i < major; ++i) {
      c.put(offset, gray);
      if (e >= 0) { offset += step_minor; e -= 2 * major; }
      e += 2 * minor;
      offset += step_major;
    }
    return;
  }
  for_each_line_pixel_pil(size, size, x0, y0, x1, y1, [&](int64_t offset) { c.put(offset, gray); });
}

// Everything one thread needs about the image its block draws; every thread computes the same values.
struct ImageWork {
  PhiloxKey key;
  uint32_t cls, instance;
  int32_t q, orbits, size, qcap;
  float eta, cx, cy, r0, ox, oy;
  const float* cos_t;
  const float* sin_t;
  const float* bias;
  const uint8_t* perm;
  uint8_t* gray;  // 2 * kChunkOrbits
  float* x;
  float* y;
  IntXY* ixy0;  // truncated vertices of even orbits
  IntXY* ixy1;  // of odd orbits
  uint32_t* wx;  // kChunkOrbits rows of qcap words
  uint32_t* wy;
  BandCanvas canvas;
};

// shared: the block's shared work area (layout l); vertex_area: l.vertices inside it, or the block's
// global scratch.
VATOM_HD ImageWork image_work(const KernelParams& p, int64_t image, uint8_t* shared, const WorkLayout& l,
                              uint8_t* vertex_area) {
  const int64_t index = p.begin + image;
  const int64_t class_offset = index / p.instances;
  const DeviceClass& dc = p.classes[class_offset - p.first_class];
  ImageWork w;
  w.key = p.key;
  w.cls = dc.cls;
  w.instance = static_cast<uint32_t>(index % p.instances);
  w.q = dc.q;
  w.orbits = dc.orbits;
  w.size = p.size;
  w.qcap = p.qcap;
  w.eta = dc.eta;
  // Header words 0 and 1: the centre (each thread makes the block; it saves a barrier).
  const Philox4x32 h = philox_block(p.key, w.cls, w.instance, 0, kPurposeHeader, 0);
  w.cy = philox_centre(h.v[0], p.size, p.start_pos);
  w.cx = philox_centre(h.v[1], p.size, p.start_pos);
  w.r0 = static_cast<float>(dc.radius);
  w.ox = dc.ox;
  w.oy = dc.oy;
  w.cos_t = p.tables + dc.table;
  w.sin_t = w.cos_t + dc.q;
  w.bias = w.sin_t + dc.q;
  w.perm = shared + l.perm;
  w.gray = shared + l.gray;
  w.x = reinterpret_cast<float*>(vertex_area + l.x);
  w.y = reinterpret_cast<float*>(vertex_area + l.y);
  w.ixy0 = reinterpret_cast<IntXY*>(vertex_area + l.ixy0);
  w.ixy1 = reinterpret_cast<IntXY*>(vertex_area + l.ixy1);
  w.wx = reinterpret_cast<uint32_t*>(vertex_area + l.wx);
  w.wy = reinterpret_cast<uint32_t*>(vertex_area + l.wy);
  w.canvas.band = shared + l.band;
  w.canvas.image = p.out + image * p.image_stride;
  w.canvas.band_bytes = static_cast<int64_t>(p.band_rows) * p.size;
  return w;
}

// Sets bytes [lo, hi) of p to zero, 16 at a time where aligned (p is 16-byte aligned).
VATOM_HD void zero_range(uint8_t* p, int64_t lo, int64_t hi, int t, int threads) {
  const int64_t vlo = (lo + 15) / 16 * 16, vhi = hi / 16 * 16;
  if (vlo >= vhi) {
    for (int64_t i = lo + t; i < hi; i += threads) p[i] = 0;
    return;
  }
  for (int64_t i = lo + t; i < vlo; i += threads) p[i] = 0;
  for (int64_t i = vhi + t; i < hi; i += threads) p[i] = 0;
#if defined(__CUDA_ARCH__)
  uint4* v = reinterpret_cast<uint4*>(p + vlo);
  const uint4 z = make_uint4(0, 0, 0, 0);
#else
  uint64_t* v = reinterpret_cast<uint64_t*>(p + vlo);
  const uint64_t z = 0;
#endif
  const int64_t n = (vhi - vlo) / static_cast<int64_t>(sizeof(*v));
  for (int64_t i = t; i < n; i += threads) v[i] = z;
}

// Copies n bytes from src to dst (both 16-byte aligned).
VATOM_HD void copy_range(uint8_t* dst, const uint8_t* src, int64_t n, int t, int threads) {
#if defined(__CUDA_ARCH__)
  typedef uint4 Vec;
#else
  typedef uint64_t Vec;
#endif
  const int64_t nv = n / static_cast<int64_t>(sizeof(Vec));
  for (int64_t i = t; i < nv; i += threads) reinterpret_cast<Vec*>(dst)[i] = reinterpret_cast<const Vec*>(src)[i];
  for (int64_t i = nv * static_cast<int64_t>(sizeof(Vec)) + t; i < n; i += threads) dst[i] = src[i];
}

// Phase: a black canvas (band and image) and the starting vertices of the threads' own vertices.
VATOM_HD void phase_setup(const ImageWork& w, int t, int threads) {
  const int64_t bytes = static_cast<int64_t>(w.size) * w.size;
  const int64_t band = w.canvas.band_bytes < bytes ? w.canvas.band_bytes : bytes;
  zero_range(w.canvas.band, 0, band, t, threads);
  zero_range(w.canvas.image, band, bytes, t, threads);
  for (int32_t v = t; v < w.q; v += threads) {
    w.x[v] = ((w.cos_t[v] * w.r0) * w.ox) + w.cx;
    w.y[v] = ((w.sin_t[v] * w.r0) * w.oy) + w.cy;
  }
}

// Phase: the x and y noise words of orbits k0 .. k0 + kChunkOrbits - 1 (those below w.orbits), one
// Philox block per 4 vertices as the CPU renderer, and their gray bytes (header words 2 + k).
VATOM_HD void phase_words(const ImageWork& w, int32_t k0, int t, int threads) {
  const int32_t n = w.orbits - k0 < kChunkOrbits ? w.orbits - k0 : kChunkOrbits;
  const int32_t groups = (w.q + 3) / 4;
  const int32_t units = n * groups;
  for (int32_t u = t; u < units; u += threads) {
    const int32_t c = u / groups, g = u - c * groups;
    const uint32_t orbit = static_cast<uint32_t>(k0 + c);
    const Philox4x32 bx = philox_block(w.key, w.cls, w.instance, orbit, kPurposeNoiseX, static_cast<uint32_t>(g));
    const Philox4x32 by = philox_block(w.key, w.cls, w.instance, orbit, kPurposeNoiseY, static_cast<uint32_t>(g));
    uint32_t* ox = w.wx + static_cast<int64_t>(c) * w.qcap + 4 * g;
    uint32_t* oy = w.wy + static_cast<int64_t>(c) * w.qcap + 4 * g;
#if defined(__CUDA_ARCH__)
    *reinterpret_cast<uint4*>(ox) = make_uint4(bx.v[0], bx.v[1], bx.v[2], bx.v[3]);
    *reinterpret_cast<uint4*>(oy) = make_uint4(by.v[0], by.v[1], by.v[2], by.v[3]);
#else
    for (int l = 0; l < 4; ++l) { ox[l] = bx.v[l]; oy[l] = by.v[l]; }
#endif
  }
  const int32_t half = (k0 / kChunkOrbits) & 1;
  for (int32_t c = t; c < n; c += threads) {
    // philox_word(key, cls, instance, 0, kPurposeHeader, 2 + k0 + c), with the lane picked by selects
    // rather than an indexed array (which would live in local memory on the device).
    const uint32_t word = static_cast<uint32_t>(2 + k0 + c), lane = word & 3;
    const Philox4x32 b = philox_block(w.key, w.cls, w.instance, 0, kPurposeHeader, word >> 2);
    const uint32_t hi = lane & 1 ? b.v[3] : b.v[2], lo = lane & 1 ? b.v[1] : b.v[0];
    w.gray[half * kChunkOrbits + c] = word_to_gray(lane & 2 ? hi : lo);
  }
}

// Phase: orbit k moves the threads' own vertices (philox_displace, x then y) and truncates them.
VATOM_HD void phase_update(const ImageWork& w, int32_t k, int t, int threads) {
  const int64_t row = static_cast<int64_t>(k % kChunkOrbits) * w.qcap;
  IntXY* out = (k & 1) ? w.ixy1 : w.ixy0;
  for (int32_t v = t; v < w.q; v += threads) {
    const float x = philox_displace(w.x[v], w.wx[row + v], w.eta, w.cos_t[v], w.bias[v], w.perm);
    const float y = philox_displace(w.y[v], w.wy[row + v], w.eta, w.sin_t[v], w.bias[v], w.perm);
    w.x[v] = x;
    w.y[v] = y;
    out[v] = IntXY{truncate_coord(x), truncate_coord(y)};
  }
}

// Phase: the closed polygon of orbit k, segment v -> v + 1 (and q - 1 -> 0) by thread v % T.
VATOM_HD void phase_raster(const ImageWork& w, int32_t k, int t, int threads) {
  const uint8_t gray = w.gray[((k / kChunkOrbits) & 1) * kChunkOrbits + k % kChunkOrbits];
  const IntXY* p = (k & 1) ? w.ixy1 : w.ixy0;
  for (int32_t v = t; v < w.q; v += threads) {
    const int32_t u = v + 1 == w.q ? 0 : v + 1;
    const IntXY a = p[v], b = p[u];
    draw_line_band(w.canvas, w.size, a.x, a.y, b.x, b.y, gray);
  }
}

// Phase: the band's rows go to the image.
VATOM_HD void phase_finish(const ImageWork& w, int t, int threads) {
  const int64_t bytes = static_cast<int64_t>(w.size) * w.size;
  const int64_t band = w.canvas.band_bytes < bytes ? w.canvas.band_bytes : bytes;
  if (band > 0) copy_range(w.canvas.image, w.canvas.band, band, t, threads);
}

// The barriers of render_block, named so that the emulation's self-check can leave one out.
enum BarrierSite { kImageStart = 1, kWordsMade = 2, kVerticesMoved = 4, kImageDrawn = 8 };

// The kernel's body for thread t of `threads` in block `block` of `grid`: images block, block + grid, ...
// of the launch. `shared` is the block's shared work area (work_layout), `perm` the Perlin permutation
// it copies there. Barrier: sync(site) is the block barrier (__syncthreads() on the device); between() marks
// the places where one phase follows another with no barrier, where the device's threads run at their own
// pace: nothing on the device, a switch to another thread in the host emulation.
template <class Barrier>
VATOM_HD void render_block(const KernelParams& p, uint8_t* shared, const uint8_t* perm, int64_t block, int64_t grid,
                           int t, int threads, Barrier& barrier) {
  const WorkLayout l = work_layout(p.qcap, static_cast<int64_t>(p.band_rows) * p.size, p.scratch == nullptr);
  uint8_t* const vertex_area = p.scratch ? p.scratch + block * p.scratch_stride : shared + l.vertices;
  for (int i = t; i < 256; i += threads) shared[l.perm + i] = perm[i];
  for (int64_t image = block; image < p.count; image += grid) {
    const ImageWork w = image_work(p, image, shared, l, vertex_area);
    barrier.sync(kImageStart);  // the table is loaded; the previous image's finish is done
    phase_setup(w, t, threads);
    barrier.between();
    for (int32_t k0 = 0; k0 < w.orbits; k0 += kChunkOrbits) {
      phase_words(w, k0, t, threads);
      barrier.sync(kWordsMade);
      const int32_t kend = w.orbits - k0 < kChunkOrbits ? w.orbits : k0 + kChunkOrbits;
      for (int32_t k = k0; k < kend; ++k) {
        phase_update(w, k, t, threads);
        barrier.sync(kVerticesMoved);
        phase_raster(w, k, t, threads);
        barrier.between();
      }
    }
    barrier.sync(kImageDrawn);
    phase_finish(w, t, threads);
    barrier.between();
  }
}

}  // namespace cuda
}  // namespace vatom
