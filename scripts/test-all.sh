#!/usr/bin/env bash
# Runs every test: jest (TypeScript, native addon, CLI), then pytest (the Python loader) against
# synthetic datasets and one the CLI builds here. Ends with one line "N passed, N failed" and a
# non-zero status when anything failed. Every temporary file goes under one directory of this run; one
# that a test leaves behind counts as a failure, and so does a file a test adds to the checkout.
set -u
cd "$(dirname "$0")/.."
PYTHON=${VATOM_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jest_cache="${TMPDIR:-/tmp}/jest_$(id -u)"  # jest's own cache stays where it always is, outside the run
mkdir "$work/tmp"
export TMPDIR="$work/tmp"
export PYTHONDONTWRITEBYTECODE=1
# What git sees in the checkout, ignored files included, before and after: tests write nowhere in it.
checkout_files() { git status --porcelain --ignored 2>/dev/null | sort; }
checkout_files >"$work/checkout-before"

npx jest --runInBand --cacheDirectory="$jest_cache" --json --outputFile="$work/jest.json"
jest_status=$?

dataset="$work/dataset"
node dist/cli/main.js build --out "$dataset" --quiet --classes 4 --instances 6 --image-size 64 \
  --vertices 20:60 --orbits 1:12 --start-pos 64 --radius-min 2 --shard-size 7 --seed 3
build_status=$?

VATOM_DATASET="$dataset" VATOM_FAST_LIBRARY="$PWD/build/Release/libvatom_fast.so" \
  "$PYTHON" -m pytest test/python -q -p no:cacheprovider --basetemp="$work/pytest" --junitxml="$work/pytest.xml"
pytest_status=$?

left=$(ls -A "$work/tmp")
[ -n "$left" ] && printf 'left behind in the temp directory by a test:\n%s\n' "$left" >&2
added=$(checkout_files | comm -13 "$work/checkout-before" -)
[ -n "$added" ] && printf 'written into the checkout by a test:\n%s\n' "$added" >&2

node - "$work" "$jest_status" "$build_status" "$pytest_status" "$(printf '%s\n%s' "$left" "$added" | grep -c .)" <<'JS'
const fs = require('fs');
const [work, jestStatus, buildStatus, pytestStatus, leftBehind] = process.argv.slice(2);
let passed = 0, failed = 0;
try {
  const j = JSON.parse(fs.readFileSync(`${work}/jest.json`, 'utf8'));
  passed += j.numPassedTests;
  failed += j.numFailedTests + j.numRuntimeErrorTestSuites;
} catch { failed += 1; }
if (jestStatus !== '0' && failed === 0) failed += 1;
if (buildStatus !== '0') failed += 1;
try {
  const x = fs.readFileSync(`${work}/pytest.xml`, 'utf8');
  const suite = /<testsuite [^>]*>/.exec(x)[0];
  const attr = (name) => Number((new RegExp(`${name}="(\\d+)"`).exec(suite) || [0, 0])[1]);
  const pyFailed = attr('failures') + attr('errors');
  passed += attr('tests') - pyFailed - attr('skipped');
  failed += pyFailed;
} catch { failed += 1; }
if (pytestStatus !== '0' && pytestStatus !== '5' && failed === 0) failed += 1;
if (leftBehind !== '0') failed += 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
JS
