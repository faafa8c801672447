#!/usr/bin/env bash
# The GPU check (issue 5), for a GPU machine with nvcc and cmake only (no Node): builds vatom-native with
# CUDA into build-gpu, prints the GPU, checks that the CUDA kernel uses no FFMA, runs the host-side
# checks, then
#   (a) CPU-vs-GPU byte parity: the paper preset (20,000 images, 100 classes), the worst case
#       (q = 1000, K = 200: 5,000 images, 20 classes) and edge cases (odd image size, more vertices
#       than shared memory holds, the other launch shapes);
#   (b) GPU throughput at 512x512 on the paper preset and the worst case (20,000 images each):
#       rendered into device memory, end-to-end into host memory, and a sweep of launch shapes;
#       then end-to-end to .npy files.
# Prints everything; exits non-zero on any mismatch or failure. About 2-4 minutes on an H100 with 16
# cores (the limit is 8). Environment: BUILD_DIR (build-gpu), JOBS (16), OUT_DIR (a temporary folder
# for the file run), GPU_CHECK_QUICK=1 (smaller parity runs, no sweep).
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-16}
THREADS=$(nproc)
QUICK=${GPU_CHECK_QUICK:-0}
started=$(date +%s)
failures=0
failed_steps=()

section() { printf '\n== %s  [%d s]\n' "$*" $(( $(date +%s) - started )); }

# Runs a step with a time limit; a failure is counted and named at the end, and the script goes on.
step() {
  local limit=$1; shift
  printf '$ %s\n' "$*"
  timeout "$limit" "$@"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    failures=$((failures + 1))
    failed_steps+=("$* (exit $rc)")
    printf 'FAILED (exit %s%s): %s\n' "$rc" "$([ "$rc" = 124 ] && echo ', time limit')" "$*"
  fi
}

section "build (cmake, CUDA on, Release, -j$JOBS)"
echo "nvcc: $(command -v nvcc || echo 'not found')"
nvcc --version 2>/dev/null | tail -2
cmake --version | head -1
t0=$(date +%s)
mkdir -p "$BUILD"
LOG=$BUILD/gpu-check
if ! cmake -S . -B "$BUILD" -DVATOM_CUDA=ON -DVATOM_CUDA_VERBOSE=ON -DCMAKE_BUILD_TYPE=Release >"$LOG.configure.log" 2>&1; then
  cat "$LOG.configure.log"; echo "FAILED: configure"; exit 1
fi
grep "vatom-fast:" "$LOG.configure.log"
if ! cmake --build "$BUILD" -j"$JOBS" >"$LOG.build.log" 2>&1; then
  tail -40 "$LOG.build.log"; echo "FAILED: build"; exit 1
fi
echo "built in $(( $(date +%s) - t0 )) s; ptxas (per architecture):"
grep -E "ptxas info *: (Compiling|Used)|stack frame" "$LOG.build.log" | sed 's/^/  /' | head -20
BIN=$BUILD/vatom-native

section "device"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.memory,power.limit,driver_version,pcie.link.gen.max,pcie.link.width.max --format=csv
  nvidia-smi | head -20
else
  echo "nvidia-smi not found"
fi
nproc; grep -m1 "model name" /proc/cpuinfo; free -g | head -2

section "no FFMA in the kernel's SASS (--fmad=false)"
obj=$(find "$BUILD" -name 'render_kernel.cu.o' | head -1)
if command -v cuobjdump >/dev/null && [ -n "$obj" ]; then
  cuobjdump -sass "$obj" >"$LOG.sass" 2>&1
  echo "SASS of $obj: $(grep -c 'Function :' "$LOG.sass") function bodies (one per architecture), $(wc -l <"$LOG.sass") lines"
  echo "instructions: FFMA $(grep -c 'FFMA' "$LOG.sass"), FMUL $(grep -c 'FMUL' "$LOG.sass"), FADD $(grep -c 'FADD' "$LOG.sass"), local memory $(grep -cE 'LDL|STL' "$LOG.sass")"
  if grep -q FFMA "$LOG.sass"; then failures=$((failures + 1)); failed_steps+=("FFMA in SASS"); echo "FAILED: FFMA in SASS"; fi
else
  echo "cuobjdump not found: skipped"
fi

section "host-side checks (kernel phases emulated on the CPU; renderer host code on a stand-in runtime)"
step 300 "$BUILD/vatom-cuda-emulation"
step 300 "$BUILD/vatom-cuda-mock-check"

section "device selection"
step 60 "$BIN" --device cuda --classes 2 --instances 2
if [ "$failures" -ne 0 ]; then
  echo "gpu-check: no usable GPU or a failed host check; the GPU steps are not run"
  exit 1
fi

if [ "$QUICK" = 1 ]; then PAPER=(--classes 20 --instances 100); WORST=(--classes 20 --instances 100)
else PAPER=(--classes 100 --instances 200); WORST=(--classes 20 --instances 250); fi
WORST_CASE=(--vertices 1000:1000 --orbits 200:200)

section "(a) parity, paper preset: ${PAPER[*]} (512x512, q 200..1000, K 1..200)"
step 300 "$BIN" --device both "${PAPER[@]}" --shard-size 2500 --threads "$THREADS"
section "(a) parity, worst case: ${WORST[*]} ${WORST_CASE[*]}"
step 300 "$BIN" --device both "${WORST[@]}" "${WORST_CASE[@]}" --shard-size 2500 --threads "$THREADS"
section "(a) parity, edge cases"
step 120 "$BIN" --device both --classes 20 --instances 50 --image-size 100 --start-pos 100 --seed 7 --threads "$THREADS"
step 120 "$BIN" --device both --classes 20 --instances 10 --image-size 256 --vertices 5000:6000 --orbits 5:20 --threads "$THREADS"
step 120 env VATOM_CUDA_THREADS=1024 VATOM_CUDA_BAND_ROWS=512 "$BIN" --device both --classes 20 --instances 50 --start-class 5000 --threads "$THREADS"
step 120 env VATOM_CUDA_THREADS=96 VATOM_CUDA_BLOCKS_PER_SM=2 VATOM_CUDA_BATCH=333 "$BIN" --device both --classes 20 --instances 50 "${WORST_CASE[@]}" --threads "$THREADS"

section "(b) throughput, paper preset, 20,000 images (device-only, then end-to-end into host memory)"
step 300 "$BIN" --device cuda --cuda-measure both --classes 20 --instances 1000 --threads "$THREADS"
section "(b) throughput, worst case, 20,000 images"
step 300 "$BIN" --device cuda --cuda-measure both --classes 20 --instances 1000 "${WORST_CASE[@]}" --threads "$THREADS"

if [ "$QUICK" != 1 ]; then
  section "(b) launch shapes, device-only, 10,000 images each (VATOM_CUDA_THREADS / BAND_ROWS / BLOCKS_PER_SM)"
  for shape in "256 0 0" "128 0 0" "512 0 0" "1024 0 0" "256 0 2" "512 0 1" "1024 400 0"; do
    read -r th band bps <<<"$shape"
    for preset in paper worst; do
      if [ $preset = paper ]; then extra=(); else extra=("${WORST_CASE[@]}"); fi
      printf 'threads %-4s band %-3s blocks/SM %-2s %-5s ' "$th" "$band" "$bps" "$preset"
      VATOM_CUDA_THREADS=$th VATOM_CUDA_BAND_ROWS=$band VATOM_CUDA_BLOCKS_PER_SM=$bps timeout 120 \
        "$BIN" --device cuda --cuda-measure device --classes 10 --instances 1000 "${extra[@]}" 2>&1 \
        | grep -E "device-only|error|vatom-native" | sed 's/.*images\/s/images\/s/'
    done
  done
fi

section "(b) end-to-end to .npy files, paper preset, 8,192 images in shards of 4,096"
out_dir=${OUT_DIR:-$(mktemp -d)}
df -h "$out_dir" | tail -1
step 300 "$BIN" --device cuda --classes 8 --instances 1024 --shard-size 4096 --out "$out_dir" --threads "$THREADS"
[ -z "${OUT_DIR:-}" ] && rm -rf "$out_dir"

section "done"
if [ "$failures" -ne 0 ]; then
  printf 'gpu-check: %d step(s) FAILED:\n' "$failures"
  printf '  %s\n' "${failed_steps[@]}"
  exit 1
fi
echo "gpu-check: all steps passed"
