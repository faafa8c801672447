#!/usr/bin/env bash
# RCDB speed, in one run: the reference script make_rcdb.py (images/s per core, PNG saving included, as
# it runs) against vatom-fast on the same classes: render only (vatom-native, 1 thread) in the
# reference stream (the script's very images) and in the default stream (the same distribution), and
# `vatom-fast build` into a temporary directory with 1 thread.
#
#   bench/rcdb.bench.sh PATH/TO/make_rcdb.py [CLASSES] [INSTANCES]
#
# make_rcdb.py is rcdb_render/make_rcdb.py of masora1030/CVPR2022-Pretrained-ViT-PyTorch; it needs
# Python 3.11 or older (PYTHON, default /usr/bin/python3) with Pillow and noise. Both sides draw classes
# 0 .. CLASSES-1 of the rcdb-1k parameters with one process (seed 1), INSTANCES images each.
set -eu
script=${1:?usage: bench/rcdb.bench.sh PATH/TO/make_rcdb.py [CLASSES] [INSTANCES]}
classes=${2:-25}
instances=${3:-20}
python=${PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
images=$((classes * instances))

start=$(date +%s.%N)
"$python" -W ignore "$script" --save_root "$work/script" --numof_classes "$classes" --numof_instances "$instances" \
  --numof_thread 1 --thread_num 0 --vertex_num 200 --perlin_min 0 --line_width 0.1 --radius_min 0 --oval_rate 2 \
  --start_pos 400 --image_size 512 >/dev/null
end=$(date +%s.%N)
script_rate=$(echo "$images / ($end - $start)" | bc -l)

render() { build/vatom-native --family rcdb --classes "$classes" --instances "$instances" --threads 1 "$@" | sed -n 's/^render only.*images\/s \([0-9.]*\) .*/\1/p'; }
reference=$(render --rng reference --reference-threads 1)
philox=$(render)
build_rate() {
  node dist/cli/main.js build --preset rcdb-1k --classes "$classes" --instances "$instances" --threads 1 --json --quiet \
    --out "$work/$1" "${@:2}" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log((j.imagesPerSecond ?? j.images / j.seconds).toFixed(1))})'
}
build_reference=$(build_rate ref --rng reference --reference-threads 1)
build_philox=$(build_rate philox)

printf 'script make_rcdb.py: %.1f images/s per core (%d images)\n' "$script_rate" "$images"
printf 'render reference: %.0f images/s per thread (%.0fx the script)\n' "$reference" "$(echo "$reference / $script_rate" | bc -l)"
printf 'render philox:    %.0f images/s per thread (%.0fx the script)\n' "$philox" "$(echo "$philox / $script_rate" | bc -l)"
printf 'build reference:  %s images/s with 1 thread\n' "$build_reference"
printf 'build philox:     %s images/s with 1 thread\n' "$build_philox"
