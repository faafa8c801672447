// Test hooks of the reference stream's components (CPython's random, pnoise1), added to the addon's
// `testing` object: mtWords, pyRandomCalls, pnoise1. test/reference-components.test.ts compares them
// with Debian's CPython 3.11 and python3-noise.
#pragma once
#include <napi.h>

void register_reference_testing(Napi::Env env, Napi::Object testing);
