// PNG export throughput (issue 6). Run with `node bench/export.bench.js` after `npm install`.
// Builds a paper-preset dataset once (512x512, BENCH_CLASSES x BENCH_INSTANCES images, default 4 x 100),
// then times `vatom-fast export --to png` at --png-level 1 and 6 with 1 and 2 threads, and
// `--to wds` at level 6 with 2 threads. Each trial runs in a fresh process (one cannot warm the
// next) into a fresh directory; the rate is the CLI's own images/s (reading .npy, encoding with
// sharp, writing and renaming files). The median of BENCH_TRIALS (default 3) trials is reported.
// The reference script renders and saves about 7 images/s per core on this kind of machine.
// Prints a Markdown table for bench/RESULTS.md.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const CLI = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
const CLASSES = Number(process.env.BENCH_CLASSES || 4);
const INSTANCES = Number(process.env.BENCH_INSTANCES || 100);
const TRIALS = Number(process.env.BENCH_TRIALS || 3);

function run(args) {
  return JSON.parse(execFileSync(process.execPath, [CLI, ...args, '--json', '--quiet'], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const work = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'vatom-export-bench-'));
try {
  const ds = path.join(work, 'ds');
  run(['build', '--out', ds, '--classes', String(CLASSES), '--instances', String(INSTANCES), '--seed', '1']);
  const images = CLASSES * INSTANCES;
  const rows = [];
  const cases = [['png', 1, 1], ['png', 1, 2], ['png', 6, 1], ['png', 6, 2], ['wds', 6, 2]];
  for (const [to, level, threads] of cases) {
    const rates = [];
    let bytes = 0;
    for (let t = 0; t < TRIALS; ++t) {
      const out = path.join(work, `out-${to}-${level}-${threads}-${t}`);
      const s = run(['export', ds, '--to', to, '--out', out, '--png-level', String(level), '--threads', String(threads)]);
      rates.push(s.imagesPerSecond);
      bytes = s.bytesWritten;
      fs.rmSync(out, { recursive: true, force: true });
    }
    const rate = median(rates);
    rows.push({ to, level, threads, rate, kbPerImage: bytes / images / 1000 });
    console.log(`export --to ${to} --png-level ${level} --threads ${threads}: ${rate.toFixed(1)} images/s ` +
      `(trials ${rates.map((r) => r.toFixed(0)).join(', ')}), ${(bytes / images / 1000).toFixed(1)} kB per image`);
  }
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const cpu = `${os.cpus()[0].model}, ${os.availableParallelism()} cores`;
  const sharpVersion = require('sharp').versions;
  console.log(`\nPNG export, paper preset 512x512, ${images} images, sharp ${sharpVersion.sharp} (libvips ${sharpVersion.vips})`);
  console.log('| date | machine | commit | to | level | threads | images/s | kB/image | vs reference (7 img/s per core) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${new Date().toISOString().slice(0, 10)} | ${cpu} | ${commit} | ${r.to} | ${r.level} | ${r.threads} | ` +
      `${r.rate.toFixed(0)} | ${r.kbPerImage.toFixed(1)} | ${(r.rate / (7 * r.threads)).toFixed(0)}x per core |`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
