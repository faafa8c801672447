/* vatom-fast C ABI: render any image of a VisualAtom or RCDB dataset into caller memory.
 *
 * Plain C types only; nothing throws across this boundary and nothing aborts the host process.
 * Every function that can fail returns a vatom_status (VATOM_OK = 0) and leaves a one-line message
 * for vatom_last_error(), which is per thread: read it on the thread that made the failing call,
 * before that thread's next call.
 *
 * A renderer handle owns its thread pool and its stream state. Different handles are independent:
 * calls on different handles may run concurrently on different threads. Calls on one handle are
 * serialised (a second render waits for the first), except vatom_renderer_cancel, which may come
 * from any thread at any time.
 *
 * Versioning: VATOM_ABI_VERSION changes whenever a struct or a signature below changes;
 * vatom_abi_version() is the version the library was built with, and vatom_spec.abi_version must
 * equal it (vatom_renderer_create refuses other values), so a caller built against another header
 * gets an error instead of misread memory.
 */
#ifndef VATOM_FAST_H
#define VATOM_FAST_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define VATOM_API __declspec(dllexport)
#else
#define VATOM_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VATOM_ABI_VERSION 2

typedef enum vatom_status {
  VATOM_OK = 0,
  VATOM_ERROR_INVALID_ARGUMENT = 1, /* a bad spec, device, pointer or buffer size */
  VATOM_ERROR_OUT_OF_RANGE = 2,     /* an image index outside [0, image count) */
  VATOM_ERROR_CANCELLED = 3,        /* vatom_renderer_cancel was called */
  VATOM_ERROR_OUT_OF_MEMORY = 4,    /* memory, or a thread, the system would not give */
  VATOM_ERROR_UNAVAILABLE = 5,      /* e.g. a CUDA device asked of a build or machine without one */
  VATOM_ERROR_INTERNAL = 6
} vatom_status;

typedef enum vatom_stream {
  VATOM_STREAM_PHILOX = 0,    /* the default stream: every image a pure function of its index */
  VATOM_STREAM_REFERENCE = 1  /* the reference script's sequential MT19937 streams */
} vatom_stream;

typedef enum vatom_family {
  VATOM_FAMILY_VISUALATOM = 0, /* VisualAtom (CVPR 2023) */
  VATOM_FAMILY_RCDB = 1        /* Radial Contour DataBase (CVPR 2022) */
} vatom_family;

/* The generator's family and parameters (manifest.json "family" and "config"). RCDB reads
 * vertices_max (its vertex_num), orbits_min (line_num_min), noise_min, line_width, radius_min,
 * oval_rate, start_pos and, in the philox stream, radius_span; its freq ranges are 0:0. */
typedef struct vatom_config {
  int32_t family; /* vatom_family */
  int32_t image_size;
  int32_t vertices_min, vertices_max;
  int32_t orbits_min, orbits_max;
  double noise_min;
  double line_width;
  int32_t radius_min;
  double oval_rate;
  int32_t start_pos;
  int32_t freq1_min, freq1_max;
  int32_t freq2_min, freq2_max;
  int32_t radius_span; /* RCDB philox stream: the radius draw's span above radius_min */
} vatom_config;

/* What one class draws once (manifest.json "classParams"). */
typedef struct vatom_class_params {
  int32_t vertices, orbits, radius, freq1, freq2;
  double noise, line_width, oval_x, oval_y;
  double centre_y, centre_x; /* RCDB: the first instance's centre; 0 for VisualAtom */
} vatom_class_params;

/* A dataset: image i is instance i % instances of class start_class + i / instances. */
typedef struct vatom_spec {
  uint32_t abi_version; /* VATOM_ABI_VERSION */
  int32_t stream;       /* vatom_stream */
  vatom_config config;
  uint64_t seed;              /* philox stream only */
  int64_t start_class;
  int64_t classes;
  int64_t instances;
  int32_t reference_threads;  /* reference stream only: processes of the reference script (>= 1) */
  /* NULL: drawn natively from config, stream and seed. Otherwise `classes` entries, copied. */
  const vatom_class_params* class_params;
} vatom_spec;

typedef struct vatom_renderer vatom_renderer; /* opaque */

typedef struct vatom_info {
  int32_t image_size;
  int32_t threads;
  int64_t image_bytes; /* image_size * image_size: one gray uint8 image */
  int64_t image_count;
  int64_t start_class;
  int64_t classes;
  int64_t instances;
} vatom_info;

VATOM_API uint32_t vatom_abi_version(void);

/* The message of this thread's previous call if it failed, else "". Valid until this thread's next call. */
VATOM_API const char* vatom_last_error(void);

/* A spec with the paper's config (512 px images), the philox stream, seed 0 and no classes. */
VATOM_API void vatom_spec_init(vatom_spec* spec);

/* Checks the spec, draws the class parameters unless given, and makes a renderer with `threads`
 * native threads (>= 1) on `device` ("cpu", or "cuda" where built with CUDA; NULL means "cpu"). */
VATOM_API vatom_status vatom_renderer_create(const vatom_spec* spec, int32_t threads, const char* device,
                                             vatom_renderer** out);

/* Frees the handle; NULL is fine. No call on it may be running or follow. */
VATOM_API void vatom_renderer_free(vatom_renderer* renderer);

VATOM_API vatom_status vatom_renderer_info(const vatom_renderer* renderer, vatom_info* out);

/* Class parameters of classes [start_class + first, start_class + first + count). */
VATOM_API vatom_status vatom_renderer_class_params(const vatom_renderer* renderer, int64_t first, int64_t count,
                                                   vatom_class_params* out);

/* Class parameters the spec draws (its class_params ignored), without making a renderer: `out` holds
 * spec->classes entries. The reference stream replays every image's draws (about a few percent of
 * rendering the dataset). */
VATOM_API vatom_status vatom_draw_class_params(const vatom_spec* spec, vatom_class_params* out, int64_t count);

/* Images [begin, end) into out (out_bytes >= (end - begin) * image_bytes), image i at
 * out + (i - begin) * image_bytes. */
VATOM_API vatom_status vatom_render_range(vatom_renderer* renderer, int64_t begin, int64_t end, uint8_t* out,
                                          size_t out_bytes);

/* Images indices[0..count) (any order, repeats allowed) into out, the j-th at out + j * image_bytes. */
VATOM_API vatom_status vatom_render_indices(vatom_renderer* renderer, const int64_t* indices, int64_t count,
                                            uint8_t* out, size_t out_bytes);

/* Images [begin, end) straight into GPU memory, for training loops that never touch host memory:
 * `device_out` is memory of CUDA device 0 (out_bytes >= (end - begin) * image_bytes, image i at
 * device_out + (i - begin) * image_bytes, any alignment), and the work is queued on `cuda_stream` (a
 * cudaStream_t of device 0; NULL: the legacy default stream). Returns once the work is queued: work
 * queued on that stream afterwards sees the images; the handle's next call waits for it. Needs a
 * renderer made with device "cuda": VATOM_ERROR_UNAVAILABLE otherwise, saying why. */
VATOM_API vatom_status vatom_render_range_device(vatom_renderer* renderer, int64_t begin, int64_t end, void* device_out,
                                                 size_t out_bytes, void* cuda_stream);

/* Makes the render in progress on this handle (within about one orbit of one image) and every later
 * one return VATOM_ERROR_CANCELLED, until vatom_renderer_resume. Safe from any thread. */
VATOM_API vatom_status vatom_renderer_cancel(vatom_renderer* renderer);
VATOM_API vatom_status vatom_renderer_resume(vatom_renderer* renderer);

#ifdef __cplusplus
}
#endif

#endif /* VATOM_FAST_H */
