/* The C ABI from C: the header compiles as C, a bad spec comes back as a code and a message (and the
 * process lives), ranges and index lists agree, out-of-range indices and cancellation are reported.
 * Prints one line per check and "capi-check: all passed"; exit status 1 on the first failure.
 * `vatom-capi-check threads N` instead makes a renderer of N threads, renders one image and prints
 * "status S: MESSAGE" (the resource-limit tests run it under ulimit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vatom_fast.h"

static int failures = 0;

static void check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

static void small_spec(vatom_spec* s) {
  vatom_spec_init(s);
  s->config.image_size = 32;
  s->config.start_pos = 32;
  s->config.vertices_min = 20;
  s->config.vertices_max = 40;
  s->config.orbits_min = 1;
  s->config.orbits_max = 8;
  s->config.radius_min = 2;
  s->seed = 7;
  s->start_class = 3;
  s->classes = 2;
  s->instances = 3;
}

static int make_threads(int threads) {
  vatom_spec s;
  vatom_renderer* r = NULL;
  unsigned char pixels[32 * 32];
  small_spec(&s);
  vatom_status st = vatom_renderer_create(&s, threads, "cpu", &r);
  if (st == VATOM_OK) st = vatom_render_range(r, 0, 1, pixels, sizeof pixels);
  printf("status %d: %s\n", (int)st, vatom_last_error());
  vatom_renderer_free(r);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "threads") == 0) return make_threads(atoi(argv[2]));
  vatom_spec s;
  vatom_renderer* r = NULL;
  vatom_info info;
  vatom_status st;

  check(vatom_abi_version() == VATOM_ABI_VERSION, "abi version matches the header");

  small_spec(&s);
  s.config.image_size = 3;
  st = vatom_renderer_create(&s, 1, "cpu", &r);
  check(st == VATOM_ERROR_INVALID_ARGUMENT && r == NULL, "bad image size: VATOM_ERROR_INVALID_ARGUMENT");
  check(strstr(vatom_last_error(), "imageSize is 3, expected an integer from 16 to 8192") != NULL,
        "bad image size: the message names the field, value and range");
  printf("     message: %s\n", vatom_last_error());

  small_spec(&s);
  s.abi_version = 999;
  st = vatom_renderer_create(&s, 1, NULL, &r);
  check(st == VATOM_ERROR_INVALID_ARGUMENT && strstr(vatom_last_error(), "abi_version is 999") != NULL,
        "another ABI version is refused");

  small_spec(&s);
  st = vatom_renderer_create(&s, 1, "tpu", &r);
  check(st == VATOM_ERROR_INVALID_ARGUMENT && strstr(vatom_last_error(), "device is \"tpu\"") != NULL,
        "unknown device is refused");

  small_spec(&s);
  s.start_class = INT64_MIN; /* the classes bound is computed from it: it must not overflow */
  st = vatom_renderer_create(&s, 1, "cpu", &r);
  check(st == VATOM_ERROR_INVALID_ARGUMENT && r == NULL &&
            strstr(vatom_last_error(), "startClass is -9223372036854775808") != NULL,
        "start class far below 0 is refused");

  small_spec(&s);
  st = vatom_renderer_create(&s, 2, "cpu", &r);
  check(st == VATOM_OK && r != NULL && vatom_last_error()[0] == '\0', "good spec: a renderer");
  if (st != VATOM_OK) return 1;
  check(vatom_renderer_info(r, &info) == VATOM_OK && info.image_count == 6 && info.image_bytes == 32 * 32 &&
            info.threads == 2,
        "info: 6 images of 32x32, 2 threads");

  {
    unsigned char all[6 * 32 * 32], picked[3 * 32 * 32];
    const int64_t idx[3] = {5, 0, 5};
    int nonzero = 0, i;
    check(vatom_render_range(r, 0, 6, all, sizeof all) == VATOM_OK, "render [0, 6)");
    for (i = 0; i < (int)sizeof all; ++i) nonzero += all[i] != 0;
    check(nonzero > 0, "the images are not blank");
    check(vatom_render_indices(r, idx, 3, picked, sizeof picked) == VATOM_OK, "render indices 5, 0, 5");
    check(memcmp(picked, all + 5 * 1024, 1024) == 0 && memcmp(picked + 1024, all, 1024) == 0 &&
              memcmp(picked + 2048, all + 5 * 1024, 1024) == 0,
          "indices equal the range's images");

    st = vatom_render_range(r, 4, 7, all, sizeof all);
    check(st == VATOM_ERROR_OUT_OF_RANGE &&
              strstr(vatom_last_error(), "images [4, 7) are outside the dataset's [0, 6)") != NULL,
          "range past the end: VATOM_ERROR_OUT_OF_RANGE");
    {
      const int64_t bad[2] = {1, -1};
      st = vatom_render_indices(r, bad, 2, picked, sizeof picked);
      check(st == VATOM_ERROR_OUT_OF_RANGE && strstr(vatom_last_error(), "image index -1 (position 1)") != NULL,
            "negative index: VATOM_ERROR_OUT_OF_RANGE");
    }
    st = vatom_render_range(r, 0, 6, all, sizeof all - 1);
    check(st == VATOM_ERROR_INVALID_ARGUMENT && strstr(vatom_last_error(), "output buffer holds") != NULL,
          "short output buffer is refused");

    check(vatom_renderer_cancel(r) == VATOM_OK, "cancel");
    st = vatom_render_range(r, 0, 6, all, sizeof all);
    check(st == VATOM_ERROR_CANCELLED && strcmp(vatom_last_error(), "cancelled") == 0,
          "a cancelled handle refuses to render");
    check(vatom_renderer_resume(r) == VATOM_OK && vatom_render_range(r, 0, 1, all, sizeof all) == VATOM_OK,
          "resume renders again");
  }
  vatom_renderer_free(r);
  vatom_renderer_free(NULL);

  printf(failures ? "capi-check: %d failed\n" : "capi-check: all passed\n", failures);
  return failures ? 1 : 0;
}
