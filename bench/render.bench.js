// Render and build throughput (issue: the spine). Run with `npm run bench` after `npm install`.
//   1. Render throughput, images/s, paper preset at 512x512, 1 thread and all threads, with
//      benchmark.js (each cycle renders a batch of images into memory; nothing is written).
//   2. End-to-end `vatom-fast build` of 10 classes x 100 images beside this machine's own sequential
//      write speed (dd with fdatasync), measured in the same run on the same file system.
// Prints a Markdown table row for bench/RESULTS.md.
'use strict';
const Benchmark = require('benchmark');
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { loadNative } = require('../dist/native');
const { PAPER_CONFIG } = require('../dist/config');

const BATCH = Number(process.env.BENCH_BATCH || 48);
const cores = os.availableParallelism();

async function renderSuite() {
  const native = loadNative();
  const spec = { config: { ...PAPER_CONFIG }, rng: 'philox', seed: '0', startClass: 0, classes: 1000, instances: 1000,
    referenceThreads: 1 };
  spec.classParams = await native.drawClassParams(spec);
  const results = {};
  const suite = new Benchmark.Suite('render');
  for (const threads of [...new Set([1, cores])]) {
    const generator = new native.Generator(spec, threads);
    let next = 0;  // walk through classes so every cycle draws different images (q and K vary by class)
    suite.add(`paper preset 512x512, ${threads} thread(s), batch of ${BATCH}`, {
      defer: true,
      minSamples: 5,
      fn: (deferred) => {
        const begin = next;
        next += 997 * 7;  // a stride that visits many classes
        generator.render(begin % 1e6, (begin % 1e6) + BATCH).then(() => deferred.resolve());
      },
      onComplete: (event) => {
        const perSecond = event.target.hz * BATCH;
        results[threads] = perSecond;
      },
    });
  }
  await new Promise((resolve) => {
    suite.on('cycle', (event) => {
      const b = event.target;
      console.log(`${b.name}: ${(b.hz * BATCH).toFixed(1)} images/s (±${b.stats.rme.toFixed(1)}%, ${b.stats.sample.length} samples)`);
    }).on('complete', resolve).run({ async: true });
  });
  return results;
}

function ddWriteMBps(dir) {
  const file = path.join(dir, 'dd.bin');
  const r = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4M', 'count=128', 'conv=fdatasync'], { encoding: 'utf8' });
  fs.rmSync(file, { force: true });
  const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(r.stderr);
  return m ? Number(m[1]) / Number(m[2]) / 1e6 : NaN;
}

function buildRun(dir) {
  const out = path.join(dir, 'va');
  const stdout = execFileSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli', 'main.js'), 'build', '--out', out,
    '--classes', '10', '--instances', '100', '--json', '--quiet'], { encoding: 'utf8' });
  fs.rmSync(out, { recursive: true, force: true });
  return JSON.parse(stdout);
}

(async () => {
  const render = await renderSuite();
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'vatom-bench-'));
  try {
    const dd = ddWriteMBps(dir);
    const b = buildRun(dir);
    console.log(`dd sequential write: ${dd.toFixed(0)} MB/s`);
    console.log(`build 10 x 100 (paper preset, ${b.threads} threads): ${b.imagesPerSecond.toFixed(1)} images/s, ` +
      `${b.megabytesPerSecond.toFixed(1)} MB/s written, ${b.seconds.toFixed(2)} s`);
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    const cpu = os.cpus()[0].model;
    console.log('\n| date | machine | commit | render 1 thread (img/s) | render ' + cores + ' threads (img/s) | build img/s | build MB/s | dd MB/s |');
    console.log(`| ${new Date().toISOString().slice(0, 10)} | ${cpu}, ${cores} cores | ${commit} | ${render[1].toFixed(0)} | ` +
      `${render[cores].toFixed(0)} | ${b.imagesPerSecond.toFixed(0)} | ${b.megabytesPerSecond.toFixed(0)} | ${dd.toFixed(0)} |`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
