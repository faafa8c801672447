#!/usr/bin/env bash
# The GPU check (issues 5 and 14): one run on a GPU machine with nvcc and cmake (no Node needed) that
# decides whether the CUDA renderer is right and how fast it is. About 3-5 minutes on an H100/H200 with
# 16 cores; every stage has its own time limit and the whole run stays under 10 minutes.
#
#   1. machine: GPU name, clocks, power limit, driver, PCIe link (nvidia-smi), CPU, memory;
#   2. build: vatom-native with CUDA for this GPU's architecture only, Release, ptxas's report and the
#      occupancy its register count allows; no FFMA in the kernel (SASS, or PTX without cuobjdump);
#   3. host-side checks: the kernel's body emulated on the CPU and the renderer on a stand-in runtime;
#   4. smoke: the GPU renders a few images (the script stops here if it cannot);
#   5. parity, CPU vs GPU byte for byte: paper preset, worst case (q = 1000, K = 200), edge cases;
#      images rendered into caller device memory on a caller's stream (and into a CUDA torch tensor
#      when python3 has numpy, pytest and a CUDA torch);
#   6. speed: GPU-only worst case at 512x512, 100,000 images x 3 repeats after a warm-up, one line
#      PASS/FAIL against 100,000 images/s; paper preset likewise; end-to-end into host memory beside
#      the raw device-to-host copy speed; .npy files; then, time permitting, a sweep of launch shapes.
# Every figure is printed once with its unit and what it includes. Exit status 0 only when every build,
# check and parity step passed (a missed speed target is reported, not a failure).
#
# Environment: BUILD_DIR (build-gpu), JOBS (nproc), CUDA_ARCH (this GPU's, e.g. 90), OUT_DIR (a
# temporary folder for the file run), LOG (BUILD_DIR/gpu-check.log, a copy of everything printed),
# BUDGET_S (540: optional stages are skipped once the run has taken this long).
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
THREADS=$(nproc)
BUDGET_S=${BUDGET_S:-540}
mkdir -p "$BUILD"
LOG=${LOG:-$BUILD/gpu-check.log}
exec > >(tee "$LOG") 2>&1
started=$(date +%s)
failures=0
failed_steps=()
verdicts=()

elapsed() { echo $(( $(date +%s) - started )); }
section() { printf '\n== %s  [%d s]\n' "$*" "$(elapsed)"; }
fail() {
  failures=$((failures + 1))
  failed_steps+=("$1")
  printf 'FAILED: %s\n' "$1"
}
# Stops the run: nothing after this stage can mean anything.
stop() {
  printf '\ngpu-check: STOPPED after %d s: %s\n' "$(elapsed)" "$*"
  exit 1
}
# [SHOW=REGEX] step LIMIT_S CMD...: runs CMD with a time limit, its output kept in $BUILD/step.out; prints
# the lines that match SHOW (all without it), and on a failure the last 25 lines too. A failure is
# counted and named at the end.
step() {
  local limit=$1; shift
  local out=$BUILD/step.out
  printf '$ %s\n' "$*"
  timeout --kill-after=10 "$limit" "$@" >"$out" 2>&1
  local rc=$?
  if [ -n "${SHOW:-}" ]; then grep -E "$SHOW" "$out"; else cat "$out"; fi
  if [ "$rc" -ne 0 ]; then
    [ -n "${SHOW:-}" ] && { echo "  (last lines)"; tail -25 "$out" | sed 's/^/  /'; }
    fail "$* (exit $rc$([ "$rc" = 124 ] && echo ", over its ${limit} s limit"))"
  fi
  return "$rc"
}
# measure LIMIT_S CMD...: as step, and keeps the PASS/FAIL and throughput lines for the summary.
measure() {
  step "$@"
  local rc=$?
  while IFS= read -r line; do verdicts+=("$line"); done \
    < <(grep -E '^(PASS|FAIL):|^cuda (device-only:|end-to-end|raw|to \.npy)' "$BUILD/step.out")
  return "$rc"
}
gpu_state() {
  nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.draw,power.limit,temperature.gpu,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max,clocks_throttle_reasons.active --format=csv 2>/dev/null \
    || nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.draw,power.limit,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max --format=csv
}

section "1. machine"
date -u
git log -1 --format='commit %H %s' 2>/dev/null || true
command -v nvidia-smi >/dev/null || stop "nvidia-smi not found: no NVIDIA driver on this machine"
nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version,compute_cap,memory.total,persistence_mode,power.limit --format=csv \
  || stop "nvidia-smi cannot query the GPU"
echo "GPU state at idle (clocks in MHz, PCIe link: generation and width, current and maximum):"
gpu_state
nvidia-smi | head -12
echo "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
free -g | head -2

section "2. build (this GPU's architecture, Release, -j$JOBS; limit 300 s)"
# nvcc may be off PATH: the CUDA toolkit's usual homes.
if ! command -v nvcc >/dev/null; then
  for dir in /usr/local/cuda/bin /usr/local/cuda-*/bin /opt/cuda/bin; do
    if [ -x "$dir/nvcc" ]; then export PATH="$dir:$PATH"; break; fi
  done
fi
command -v nvcc >/dev/null || stop "nvcc not found on PATH, in /usr/local/cuda/bin or /usr/local/cuda-*/bin: install the CUDA toolkit"
command -v cmake >/dev/null || stop "cmake not found: install cmake 3.18 or later"
export CUDACXX=${CUDACXX:-$(command -v nvcc)}
echo "nvcc: $CUDACXX ($(nvcc --version | grep -o 'release [0-9.]*'))"
cmake --version | head -1
ARCH=${CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')}
[ -n "$ARCH" ] || ARCH="75-real;80-real;86-real;89-real;90"
echo "CUDA architectures: $ARCH"
if ! timeout 120 cmake -S . -B "$BUILD" -DVATOM_CUDA=ON -DVATOM_CUDA_VERBOSE=ON -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CUDA_ARCHITECTURES=$ARCH" >"$BUILD/configure.log" 2>&1; then
  tail -30 "$BUILD/configure.log"; stop "cmake configure failed (log: $BUILD/configure.log)"
fi
grep "vatom-fast:" "$BUILD/configure.log"
t0=$(date +%s)
find "$BUILD" -name 'render_kernel.cu.o' -delete  # so that ptxas reports on a rerun too
if ! timeout 300 cmake --build "$BUILD" -j"$JOBS" --target vatom-native vatom-cuda-emulation vatom-cuda-mock-check \
    vatom-cuda-device-check vatom_fast \
    >"$BUILD/build.log" 2>&1; then
  tail -40 "$BUILD/build.log"; stop "build failed or took over 300 s (log: $BUILD/build.log)"
fi
echo "built in $(( $(date +%s) - t0 )) s"
echo "ptxas, the image kernel (per architecture):"
grep -A3 "Compiling entry function '.*render_images" "$BUILD/build.log" | grep -E "Compiling|Used|spill|stack" | sed 's/^/  /'
# Occupancy by registers at the default 256 threads per block: registers are allocated per warp in
# units of 256, 64 K registers and 2048 threads per SM (sm_75: 1024 threads).
regs=$(grep -A3 "render_images" "$BUILD/build.log" | grep -oE 'Used [0-9]+ registers' | head -1 | grep -oE '[0-9]+')
if [ -n "$regs" ]; then
  per_warp=$(( (regs * 32 + 255) / 256 * 256 ))
  blocks=$(( 65536 / (per_warp * 8) ))
  max_threads=2048; [ "$ARCH" = 75 ] && max_threads=1024
  [ $((blocks * 256)) -gt "$max_threads" ] && blocks=$((max_threads / 256))
  echo "occupancy by registers: $regs registers/thread -> $blocks blocks of 256 threads per SM = $((blocks * 256)) of $max_threads threads ($((100 * blocks * 256 / max_threads))%); the renderer prints the blocks/SM that shared memory allows too"
fi
echo "no FFMA in the kernel (--fmad=false):"
CUOBJDUMP=$(command -v cuobjdump || echo "$(dirname "$(readlink -f "$CUDACXX")")/cuobjdump")
obj=$(find "$BUILD" -name 'render_kernel.cu.o' | head -1)
if [ -x "$CUOBJDUMP" ] && [ -n "$obj" ]; then
  "$CUOBJDUMP" -sass "$obj" >"$BUILD/kernel.sass" 2>&1
  echo "  SASS: FFMA $(grep -c FFMA "$BUILD/kernel.sass"), FMUL $(grep -c FMUL "$BUILD/kernel.sass"), FADD $(grep -c FADD "$BUILD/kernel.sass"), local memory $(grep -cE 'LDL|STL' "$BUILD/kernel.sass")"
  grep -q FFMA "$BUILD/kernel.sass" && fail "FFMA in the kernel's SASS"
else
  nvcc -std=c++17 -arch=sm_"${ARCH%%[-;]*}" --fmad=false -O3 -Inative/core -Inative/cuda -ptx native/cuda/render_kernel.cu \
    -o "$BUILD/kernel.ptx" && echo "  PTX (no cuobjdump): fma $(grep -c 'fma\.' "$BUILD/kernel.ptx"), mul.f32 $(grep -c 'mul.rn.f32\|mul.f32' "$BUILD/kernel.ptx")"
  grep -q 'fma\.' "$BUILD/kernel.ptx" 2>/dev/null && fail "fma in the kernel's PTX"
fi
BIN=$BUILD/vatom-native

section "3. host-side checks (the kernel's body emulated; the renderer on a stand-in runtime; limit 120 s each)"
SHOW='FAIL|passed' step 120 "$BUILD/vatom-cuda-emulation"
SHOW='FAIL|passed' step 120 "$BUILD/vatom-cuda-mock-check"

section "4. smoke: a few images on the GPU (limit 60 s)"
step 60 "$BIN" --device cuda --classes 2 --instances 2 || stop "the GPU cannot render (see the message above)"

WORST=(--vertices 1000:1000 --orbits 200:200)
section "5. parity, CPU vs GPU byte for byte (limit 300 s each)"
echo "-- paper preset: 20,000 images, 100 classes (512x512, q 200..1000, K 1..200)"
SHOW="MISMATCH|parity|^cpu|^cuda" step 300 "$BIN" --device both --classes 100 --instances 200 --shard-size 2500 --threads "$THREADS"
echo "-- worst case: 5,000 images, q = 1000, K = 200"
SHOW="MISMATCH|parity|^cpu|^cuda" step 300 "$BIN" --device both --classes 20 --instances 250 "${WORST[@]}" --shard-size 2500 --threads "$THREADS"
echo "-- edge cases: odd size, start position; more vertices than shared memory; other launch shapes; small batches"
SHOW="MISMATCH|parity" step 120 "$BIN" --device both --classes 20 --instances 50 --image-size 100 --start-pos 100 --seed 7 --threads "$THREADS"
SHOW="MISMATCH|parity|^cuda:" step 120 "$BIN" --device both --classes 20 --instances 10 --image-size 256 --vertices 5000:6000 --orbits 5:20 --threads "$THREADS"
SHOW="MISMATCH|parity" step 120 env VATOM_CUDA_THREADS=1024 VATOM_CUDA_BAND_ROWS=512 "$BIN" --device both --classes 20 --instances 50 --start-class 5000 --threads "$THREADS"
SHOW="MISMATCH|parity" step 120 env VATOM_CUDA_THREADS=96 VATOM_CUDA_BLOCKS_PER_SM=2 VATOM_CUDA_BATCH=333 "$BIN" --device both --classes 20 --instances 50 "${WORST[@]}" --threads "$THREADS"
SHOW="MISMATCH|parity|^cuda:" step 120 env VATOM_CUDA_CARVEOUT=-1 "$BIN" --device both --classes 20 --instances 100 --threads "$THREADS"

echo "-- into caller device memory on a caller's stream (what the C ABI and Python's render_range_cuda use)"
SHOW='FAIL|passed' step 180 "$BUILD/vatom-cuda-device-check"
lib=$(find "$BUILD" -name 'libvatom_fast.so' | head -1)
if [ -n "$lib" ] && python3 -c 'import numpy, pytest, torch; assert torch.cuda.is_available()' 2>/dev/null; then
  SHOW='passed|failed|Error' step 180 env VATOM_FAST_LIBRARY="$lib" python3 -m pytest -q test/python/test_render_cuda.py
else
  echo "python3 with numpy, pytest and a CUDA torch not found: test/python/test_render_cuda.py skipped"
fi

section "6. speed at 512x512 (after a warm-up; limit 180 s each)"
echo "-- GPU-only, worst case: 100,000 images x 3 repeats, target 100,000 images/s"
measure 180 "$BIN" --device cuda --cuda-measure device --repeats 3 --target 100000 --classes 100 --instances 1000 "${WORST[@]}"
echo "GPU state under load just after (clocks in MHz, PCIe link):"
gpu_state
echo "-- GPU-only, paper preset: 100,000 images x 3 repeats"
measure 180 "$BIN" --device cuda --cuda-measure device --repeats 3 --classes 100 --instances 1000
echo "-- end-to-end into host memory beside the raw copy speed: paper preset, 20,000 images in calls of 5,000"
measure 180 "$BIN" --device cuda --classes 20 --instances 1000 --shard-size 5000 --threads "$THREADS"
echo "-- end-to-end into host memory, worst case, 20,000 images in calls of 5,000"
measure 180 "$BIN" --device cuda --classes 20 --instances 1000 "${WORST[@]}" --shard-size 5000 --threads "$THREADS"
echo "-- end-to-end to .npy files, paper preset, 8,192 images in shards of 4,096"
out_dir=${OUT_DIR:-$(mktemp -d)}
df -h "$out_dir" | tail -1
measure 180 "$BIN" --device cuda --classes 8 --instances 1024 --shard-size 4096 --out "$out_dir" --threads "$THREADS"
[ -z "${OUT_DIR:-}" ] && rm -rf "$out_dir"

section "6b. launch shapes, GPU-only, 20,000 images each (skipped past ${BUDGET_S} s)"
printf '%-8s %-5s %-9s %-9s %-6s %s\n' threads band blocks/SM carveout case "images/s (device-only, median of 1)"
for shape in "256 0 0 default" "256 0 0 -1" "256 0 0 100" "128 0 0 default" "512 0 0 default" "1024 0 0 default" \
             "256 0 2 default" "512 0 1 default" "1024 400 0 default"; do
  read -r th band bps carve <<<"$shape"
  for case in paper worst; do
    if [ "$(elapsed)" -gt "$BUDGET_S" ]; then echo "time budget spent: the rest of the sweep is skipped"; break 2; fi
    if [ "$case" = paper ]; then extra=(); else extra=("${WORST[@]}"); fi
    env_carve=(); [ "$carve" != default ] && env_carve=(VATOM_CUDA_CARVEOUT="$carve")
    rate=$(env VATOM_CUDA_THREADS="$th" VATOM_CUDA_BAND_ROWS="$band" VATOM_CUDA_BLOCKS_PER_SM="$bps" "${env_carve[@]}" \
      timeout 60 "$BIN" --device cuda --cuda-measure device --classes 20 --instances 1000 "${extra[@]}" 2>&1 \
      | grep -E "^cuda device-only:|vatom-native" | grep -oE '^cuda device-only: [0-9]+ images/s|vatom-native.*')
    printf '%-8s %-5s %-9s %-9s %-6s %s\n' "$th" "$band" "$bps" "$carve" "$case" "${rate#cuda device-only: }"
  done
done

section "summary"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
printf '%s\n' "${verdicts[@]}"
if [ "$failures" -ne 0 ]; then
  printf 'gpu-check: %d step(s) FAILED (log: %s):\n' "$failures" "$LOG"
  printf '  %s\n' "${failed_steps[@]}"
  exit 1
fi
echo "gpu-check: every build, check and parity step passed in $(elapsed) s (log: $LOG)"
