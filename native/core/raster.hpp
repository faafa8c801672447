// 1-pixel lines that set exactly the pixels Pillow 9.4's ImageDraw.line(width=1) sets for one segment:
// endpoints truncated toward zero, Bresenham from the first point with the end excluded (ties step the
// minor axis, |dx| == |dy| takes the steep branch), the end point plotted on its own, and clipping per
// pixel.
#pragma once
#include <cstdint>
#include "hd.hpp"

namespace vatom {

struct Canvas {
  uint8_t* pixels;  // row-major, height x width
  int width;
  int height;
};

VATOM_HD void plot_clipped(const Canvas& c, int x, int y, uint8_t gray) {
  if (x >= 0 && x < c.width && y >= 0 && y < c.height) c.pixels[static_cast<int64_t>(y) * c.width + x] = gray;
}

// Pillow's walk, step by step over the whole segment even where it lies off the canvas. It is the
// definition the fast rasterizer is tested against; nothing renders with it.
VATOM_HD void draw_line_pil_walk(const Canvas& c, int x0, int y0, int x1, int y1, uint8_t gray) {
  int dx = x1 - x0, dy = y1 - y0, xs = 1, ys = 1;
  if (dx < 0) { dx = -dx; xs = -1; }
  if (dy < 0) { dy = -dy; ys = -1; }
  int x = x0, y = y0;
  if (dx == 0) {
    for (int i = 0; i < dy; ++i) { plot_clipped(c, x, y, gray); y += ys; }
  } else if (dy == 0) {
    for (int i = 0; i < dx; ++i) { plot_clipped(c, x, y, gray); x += xs; }
  } else if (dx > dy) {
    int e = 2 * dy - dx;
    for (int i = 0; i < dx; ++i) {
      plot_clipped(c, x, y, gray);
      if (e >= 0) { y += ys; e -= 2 * dx; }
      e += 2 * dy;
      x += xs;
    }
  } else {
    int e = 2 * dx - dy;
    for (int i = 0; i < dy; ++i) {
      plot_clipped(c, x, y, gray);
      if (e >= 0) { x += xs; e -= 2 * dy; }
      e += 2 * dx;
      y += ys;
    }
  }
  plot_clipped(c, x1, y1, gray);
}

// Truncation toward zero as C's (int) cast, with coordinates beyond +-2^30 held there: no image pixel
// depends on where such a far point lies except through the line's slope, and the cast would be undefined.
VATOM_HD int truncate_coord(float v) {
  if (!(v > -1073741824.0f)) return -1073741824;  // also NaN
  if (v > 1073741824.0f) return 1073741824;
  return static_cast<int>(v);
}

VATOM_HD int truncate_coord(double v) {
  if (!(v > -1073741824.0)) return -1073741824;
  if (v > 1073741824.0) return 1073741824;
  return static_cast<int>(v);
}

// ---- Fast paths of the same pixel sets (added for the CPU renderer; the functions above are the definition).

// Steps 1 .. major-1 of draw_line_pil's walk plus its start pixel, for a segment whose two endpoints are
// both on the canvas (so no pixel of it needs clipping and every offset fits in 32 bits). The end point
// itself is not plotted: in a closed polygon it is the start of the next segment.
inline void draw_segment_inside_open(const Canvas& c, int x0, int y0, int x1, int y1, uint8_t gray) {
  const int dx = x1 - x0, dy = y1 - y0;
  const int adx = dx < 0 ? -dx : dx, ady = dy < 0 ? -dy : dy;
  const int sx = dx < 0 ? -1 : 1, sy = dy < 0 ? -c.width : c.width;
  const bool steep = adx <= ady;
  const int major = steep ? ady : adx, minor = steep ? adx : ady;
  const int step_major = steep ? sy : sx, step_minor = steep ? sx : sy;
  uint8_t* p = c.pixels + static_cast<int64_t>(y0) * c.width + x0;
  *p = gray;
  int e = 2 * minor - major;
  for (int i = 1; i < major; ++i) {
    const int up = -static_cast<int>(e >= 0);  // all ones where e >= 0: no branch, its sign follows no pattern
    p += (step_minor & up) + step_major;
    e += 2 * minor - ((2 * major) & up);
    *p = gray;
  }
}

// Calls put(offset), offset = y * width + x, for each on-canvas pixel that draw_line_pil_walk sets,
// end point included, visiting only those. After i steps along the major axis the minor axis has moved
// floor((2*minor*i + major) / (2*major)) (the closed form of the error recurrence, which also covers
// the vertical, horizontal and single-point cases); the minor coordinate moves monotonically, so the
// steps whose pixel is on the canvas form one interval, found up front, and no pixel is tested.
// Bounds: |coordinates| <= 2^30 (truncate_coord), so every product below stays under 2^63.
template <typename Put>
VATOM_HD void for_each_line_pixel_pil(int width, int height, int x0, int y0, int x1, int y1, Put put) {
  if (x1 >= 0 && x1 < width && y1 >= 0 && y1 < height) put(static_cast<int64_t>(y1) * width + x1);
  // Every pixel of the walk lies in the endpoints' bounding box.
  const int xmin = x0 < x1 ? x0 : x1, xmax = x0 < x1 ? x1 : x0;
  const int ymin = y0 < y1 ? y0 : y1, ymax = y0 < y1 ? y1 : y0;
  if (xmax < 0 || ymax < 0 || xmin >= width || ymin >= height) return;

  int64_t dx = static_cast<int64_t>(x1) - x0, dy = static_cast<int64_t>(y1) - y0;
  int64_t xs = 1, ys = 1;
  if (dx < 0) { dx = -dx; xs = -1; }
  if (dy < 0) { dy = -dy; ys = -1; }
  const bool steep = dx <= dy;
  // Major axis a, minor axis b.
  const int64_t major = steep ? dy : dx, minor = steep ? dx : dy;
  if (major == 0) return;  // a single point: only the end point, plotted above
  const int64_t a0 = steep ? y0 : x0, b0 = steep ? x0 : y0;
  const int64_t as = steep ? ys : xs, bs = steep ? xs : ys;
  const int64_t alimit = steep ? height : width;
  const int64_t blimit = steep ? width : height;
  // Steps i in [0, major) on the canvas along the major axis ...
  int64_t ilo, ihi;
  if (as > 0) { ilo = -a0; ihi = alimit - 1 - a0; } else { ilo = a0 - (alimit - 1); ihi = a0; }
  if (ilo < 0) ilo = 0;
  if (ihi > major - 1) ihi = major - 1;
  // ... and along the minor axis: b0 + bs * moved(i) in [0, blimit) for moved(i) in [mlo, mhi], where
  // moved(i) = floor((2 minor i + major) / (2 major)) >= m  <=>  i >= (2 major m - major) / (2 minor).
  int64_t mlo, mhi;
  if (bs > 0) { mlo = -b0; mhi = blimit - 1 - b0; } else { mlo = b0 - (blimit - 1); mhi = b0; }
  if (mhi < 0) return;  // moved(i) >= 0
  if (minor == 0) {
    if (mlo > 0) return;  // moved(i) == 0
  } else {
    const int64_t two_minor = 2 * minor;
    if (mlo > 0) {
      const int64_t first = (2 * major * mlo - major + two_minor - 1) / two_minor;  // least i with moved(i) >= mlo
      if (first > ilo) ilo = first;
    }
    const int64_t past = (2 * major * (mhi + 1) - major + two_minor - 1) / two_minor;  // least i with moved(i) > mhi
    if (past - 1 < ihi) ihi = past - 1;
  }
  if (ilo > ihi) return;
  const int64_t moved = (2 * minor * ilo + major) / (2 * major);
  int64_t e = 2 * minor * (ilo + 1) - major - 2 * major * moved;
  const int64_t stride_a = steep ? width : 1, stride_b = steep ? 1 : width;
  int64_t offset = (a0 + as * ilo) * stride_a + (b0 + bs * moved) * stride_b;
  const int64_t step_major = as * stride_a, step_minor = bs * stride_b;
  const int64_t two_major = 2 * major, two_minor = 2 * minor;
  for (int64_t i = ilo; i <= ihi; ++i) {
    put(offset);
    const int64_t up = -static_cast<int64_t>(e >= 0);  // branch-free: the step direction is random
    offset += (step_minor & up) + step_major;
    e += two_minor - (two_major & up);
  }
}

// The pixels Pillow sets for one segment (draw_line_pil_walk's set), visiting only those on the canvas.
VATOM_HD void draw_line_pil(const Canvas& c, int x0, int y0, int x1, int y1, uint8_t gray) {
  uint8_t* pixels = c.pixels;
  for_each_line_pixel_pil(c.width, c.height, x0, y0, x1, y1, [=](int64_t offset) { pixels[offset] = gray; });
}

// The closed polygon through (x[v], y[v]), v = 0 .. n-1, in one gray: the same pixels as
// draw_line_pil for the segments v -> v+1 and n-1 -> 0. Within one gray the order of the segments does
// not matter; a segment with both ends on the canvas takes the unclipped walk without its end point
// (the end point is the next segment's start, which that segment plots: its first step, or its only
// pixel when it is a single point), every other segment draw_line_pil.
inline void draw_polygon_pil(const Canvas& c, const int* x, const int* y, int n, uint8_t gray) {
  const unsigned w = static_cast<unsigned>(c.width), h = static_cast<unsigned>(c.height);
  for (int v = 0; v < n; ++v) {
    const int u = v + 1 == n ? 0 : v + 1;
    const int x0 = x[v], y0 = y[v], x1 = x[u], y1 = y[u];
    if (static_cast<unsigned>(x0) < w && static_cast<unsigned>(y0) < h && static_cast<unsigned>(x1) < w &&
        static_cast<unsigned>(y1) < h) {
      draw_segment_inside_open(c, x0, y0, x1, y1, gray);
    } else {
      draw_line_pil(c, x0, y0, x1, y1, gray);
    }
  }
}

}  // namespace vatom
