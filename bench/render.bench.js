// Render and build throughput (issue: the spine). Run with `npm run bench` after `npm install`.
//   1. Render throughput, images/s at 512x512, 1 thread and all threads, with benchmark.js (each cycle
//      renders a batch of images into memory; nothing is written): the default stream on the paper
//      preset and on the worst case (q = 1000, K = 200), and the reference stream on the paper preset.
//   2. End-to-end `vatom-fast build` of 10 x 100 and 40 x 250 images (2.6 GB) beside this machine's
//      own sequential write speed (dd of 2.5 GiB with fdatasync), in the same run on the same file system.
// Prints a Markdown table row for bench/RESULTS.md.
'use strict';
const Benchmark = require('benchmark');
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { loadNative } = require('../dist/native');
const { PAPER_CONFIG } = require('../dist/generators/presets');

const BATCH = Number(process.env.BENCH_BATCH || 48);
const cores = os.availableParallelism();

const WORST = { ...PAPER_CONFIG, verticesMin: 1000, verticesMax: 1000, orbitsMin: 200, orbitsMax: 200 };
const CASES = [
  { name: 'philox, paper preset', rng: 'philox', config: PAPER_CONFIG },
  { name: 'philox, worst case (q=1000, K=200)', rng: 'philox', config: WORST },
  { name: 'reference, paper preset (1 process)', rng: 'reference', config: PAPER_CONFIG },
];

async function renderSuite() {
  const native = loadNative();
  const results = {};
  const suite = new Benchmark.Suite('render');
  for (const c of CASES) {
    // 40 classes of 1000 images: enough different classes that batches see the spread of q and K.
    const spec = { config: { ...c.config }, rng: c.rng, seed: '0', startClass: 0, classes: 40, instances: 1000,
      referenceThreads: 1 };
    spec.classParams = await native.drawClassParams(spec);
    for (const threads of [...new Set([1, cores])]) {
      const generator = new native.Generator(spec, threads);
      let next = 0;
      const name = `${c.name}, ${threads} thread(s)`;
      suite.add(name, {
        defer: true,
        minSamples: 5,
        fn: (deferred) => {
          // Consecutive batches: the reference stream continues where the last batch ended, as in a build.
          const begin = next % 40000;
          next += BATCH;
          generator.render(begin, Math.min(begin + BATCH, 40000)).then(() => deferred.resolve());
        },
        onComplete: (event) => { results[name] = event.target.hz * BATCH; },
      });
    }
  }
  await new Promise((resolve) => {
    suite.on('cycle', (event) => {
      const b = event.target;
      console.log(`${b.name}: ${(b.hz * BATCH).toFixed(1)} images/s (±${b.stats.rme.toFixed(1)}%, ${b.stats.sample.length} samples)`);
    }).on('complete', resolve).run({ async: true });
  });
  return results;
}

// Sequential write of `mib` MiB with fdatasync, as the build writes (the same size, so caches weigh the same).
function ddWriteMBps(dir, mib) {
  const file = path.join(dir, 'dd.bin');
  const r = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4M', `count=${Math.ceil(mib / 4)}`, 'conv=fdatasync'], { encoding: 'utf8' });
  fs.rmSync(file, { force: true });
  const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(r.stderr);
  return m ? Number(m[1]) / Number(m[2]) / 1e6 : NaN;
}

function buildRun(dir, classes, instances) {
  const out = path.join(dir, 'va');
  const stdout = execFileSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli', 'main.js'), 'build', '--out', out,
    '--classes', String(classes), '--instances', String(instances), '--json', '--quiet'], { encoding: 'utf8' });
  fs.rmSync(out, { recursive: true, force: true });
  return JSON.parse(stdout);
}

(async () => {
  const results = await renderSuite();
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'vatom-bench-'));
  try {
    const small = buildRun(dir, 10, 100);
    const dd = ddWriteMBps(dir, 2500);
    const large = buildRun(dir, 40, 250);
    console.log(`dd sequential write (4 MiB blocks, fdatasync): ${dd.toFixed(0)} MB/s`);
    for (const [label, b] of [['10 x 100', small], ['40 x 250', large]]) {
      console.log(`build ${label} (paper preset, ${b.threads} threads): ${b.imagesPerSecond.toFixed(1)} images/s, ` +
        `${b.megabytesPerSecond.toFixed(1)} MB/s written, ${b.seconds.toFixed(2)} s`);
    }
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    const cpu = os.cpus()[0].model;
    const r = (name) => (results[name] ?? NaN).toFixed(0);
    console.log(`\n| date | machine | commit | paper 1 thr | paper ${cores} thr | worst 1 thr | worst ${cores} thr | ` +
      `reference 1 thr | reference ${cores} thr | build 10x100 img/s (MB/s) | build 40x250 img/s (MB/s) | dd 2.5 GiB MB/s |`);
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    console.log(`| ${new Date().toISOString().slice(0, 10)} | ${cpu}, ${cores} cores | ${commit} | ` +
      `${r(`${CASES[0].name}, 1 thread(s)`)} | ${r(`${CASES[0].name}, ${cores} thread(s)`)} | ` +
      `${r(`${CASES[1].name}, 1 thread(s)`)} | ${r(`${CASES[1].name}, ${cores} thread(s)`)} | ` +
      `${r(`${CASES[2].name}, 1 thread(s)`)} | ${r(`${CASES[2].name}, ${cores} thread(s)`)} | ` +
      `${small.imagesPerSecond.toFixed(0)} (${small.megabytesPerSecond.toFixed(0)}) | ` +
      `${large.imagesPerSecond.toFixed(0)} (${large.megabytesPerSecond.toFixed(0)}) | ${dd.toFixed(0)} |`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
