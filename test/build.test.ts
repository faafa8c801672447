// `vatom-fast build`, `verify` and `info` as a user runs them: determinism, golden hashes, the
// on-disk format, resume after SIGKILL, and verify naming each problem.
import * as fs from 'fs';
import * as path from 'path';
import { allPixels, directoryHashes, native, python, runCli, sha256, startCli, tempDir, SMALL } from './helpers';

function build(out: string, args: string[]) {
  const r = runCli(['build', '--out', out, '--quiet', ...args]);
  if (r.status !== 0) throw new Error(`build failed (${r.status}): ${r.stderr}`);
  return r;
}

const SMALL_SET = ['--classes', '6', '--instances', '5', ...SMALL, '--seed', '7'];

describe('determinism', () => {
  const dirs = tempDir();
  const one = path.join(dirs, 'one');
  const two = path.join(dirs, 'two');
  beforeAll(() => {
    build(one, [...SMALL_SET, '--threads', '1']);
    build(two, [...SMALL_SET, '--threads', '2']);
  });

  it('gives identical files with 1 and 2 threads', () => {
    expect(directoryHashes(two)).toEqual(directoryHashes(one));
  });

  it('gives the same images whatever the shard size', () => {
    for (const size of ['1', '4', '7', '30']) {
      const out = path.join(dirs, `shard-${size}`);
      build(out, [...SMALL_SET, '--shard-size', size]);
      const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
      expect(manifest.shards.length).toBe(Math.ceil(30 / Number(size)));
      expect(sha256(allPixels(out))).toBe(sha256(allPixels(one)));
    }
  });

  it('makes a class the same image in any dataset that holds it (start-class)', () => {
    const out = path.join(dirs, 'offset');
    build(out, ['--classes', '2', '--start-class', '3', '--instances', '5', ...SMALL, '--seed', '7']);
    const whole = allPixels(one);
    const per = 5 * 64 * 64;
    expect(sha256(allPixels(out))).toBe(sha256(whole.subarray(3 * per, 5 * per)));
  });

  // A machine without AVX-512 or AVX2 runs other kernels; they must write the same bytes.
  it.each(['avx2', 'scalar'])('gives identical files with the %s kernels (VATOM_SIMD)', (isa) => {
    for (const rng of [[], ['--rng', 'reference', '--reference-threads', '2']]) {
      const args = rng.length ? [...SMALL_SET.slice(0, -2), ...rng] : SMALL_SET;
      const best = path.join(dirs, `best-${isa}-${rng.length}`);
      const capped = path.join(dirs, `${isa}-${rng.length}`);
      build(best, args);
      const r = runCli(['build', '--out', capped, '--quiet', ...args], { env: { VATOM_SIMD: isa } });
      expect(r.status).toBe(0);
      expect(directoryHashes(capped)).toEqual(directoryHashes(best));
    }
  });

  it('changes with the seed', () => {
    const out = path.join(dirs, 'seed8');
    build(out, [...SMALL_SET.slice(0, -1), '8']);
    expect(sha256(allPixels(out))).not.toBe(sha256(allPixels(one)));
  });

  // Pins the philox stream of format 2: a change to the stream, the noise, the trigonometry or the
  // rasterizer changes these. Never update them without a new format version. (Format 2 carries the
  // radius span to the image size: 6 here, at 64 pixels, where format 1 drew a span of 50.)
  it('matches the golden hashes of the small config', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(one, 'manifest.json'), 'utf8'));
    expect(manifest.shards.map((s: { imagesSha256: string }) => s.imagesSha256)).toEqual([
      'db309f0a152196d27661b15cd712de20308648aa278a3bbf169ef6806f3c3dc9',
    ]);
  });
});

describe('the paper preset', () => {
  // Pins a known class of the paper preset (seed 0): class 3 has q = 953, K = 14.
  it('renders class 3 to its golden hashes, black background, gray lines', async () => {
    const { PAPER_CONFIG } = await import('../lib/generators/presets');
    const addon = native();
    const spec = { config: { ...PAPER_CONFIG }, rng: 'philox' as const, seed: '0', startClass: 3, classes: 1, instances: 3,
      referenceThreads: 1 };
    const classParams = await addon.drawClassParams(spec);
    expect(classParams[0]).toMatchObject({ vertices: 953, orbits: 14 });
    const pixels = await new addon.Generator({ ...spec, classParams }, 2).render(0, 3);
    const size = 512 * 512;
    const hashes = [0, 1, 2].map((i) => sha256(pixels.subarray(i * size, (i + 1) * size)));
    expect(hashes).toEqual([
      '6bbc0bc934c737ecfa2253799a54f84b53b0bb30510f9dd36b21519409ac8b0c',
      'c7e2d1f4d67c0f93ff6babaa7305ba8f4c8651422b6784de22e5686ce33716a5',
      'b9ac784080dc2c0378b489658c2f7f4f1cb55de275822ae3aa946763e9b160ab',
    ]);
    const zeros = pixels.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    expect(zeros / pixels.length).toBeGreaterThan(0.3);
    expect(new Set(pixels).size).toBeGreaterThan(10);
  });
});

describe('format 2 on disk', () => {
  const out = path.join(tempDir(), 'ds');
  beforeAll(() => build(out, [...SMALL_SET, '--shard-size', '8']));

  it('writes a manifest with the config, per-class parameters and shard checksums', () => {
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(m).toMatchObject({ format: 'vatom-fast', version: 2, family: 'visualatom', complete: true, rng: 'philox', seed: '7',
      imageSize: 64, classes: 6, instances: 5, startClass: 0, imageCount: 30, shardSize: 8, imagesDataOffset: 4096 });
    expect(m.config).toMatchObject({ verticesMin: 20, verticesMax: 60, orbitsMin: 1, orbitsMax: 12, startPos: 64, radiusSpan: 6 });
    expect(m.classParams.map((p: { class: number }) => p.class)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(m.shards.map((s: { images: string; count: number }) => [s.images, s.count])).toEqual([
      ['images-00000.npy', 8], ['images-00001.npy', 8], ['images-00002.npy', 8], ['images-00003.npy', 6]]);
    for (const s of m.shards) {
      expect(sha256(fs.readFileSync(path.join(out, s.images)))).toBe(s.imagesSha256);
      expect(sha256(fs.readFileSync(path.join(out, s.labels)))).toBe(s.labelsSha256);
      expect(fs.statSync(path.join(out, s.images)).size).toBe(s.imagesBytes);
    }
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('is read by np.load(mmap_mode="r"): shapes, dtypes, 4096-byte data offset, labels, black background', () => {
    const report = JSON.parse(python(`
import json, sys, numpy as np
root = sys.argv[1] if len(sys.argv) > 1 else ${JSON.stringify(out)}
m = json.load(open(root + '/manifest.json'))
res = []
for s in m['shards']:
    a = np.load(root + '/' + s['images'], mmap_mode='r')
    l = np.load(root + '/' + s['labels'], mmap_mode='r')
    res.append({'shape': list(a.shape), 'dtype': str(a.dtype), 'offset': a.offset, 'ldtype': str(l.dtype),
                'labels': l.tolist(), 'zeroFraction': float((a == 0).mean()),
                'drawn': int((a > 0).sum(axis=(1, 2)).max())})
print(json.dumps(res))
`));
    expect(report.map((r: { shape: number[] }) => r.shape)).toEqual([[8, 64, 64], [8, 64, 64], [8, 64, 64], [6, 64, 64]]);
    expect(new Set(report.map((r: { dtype: string }) => r.dtype))).toEqual(new Set(['uint8']));
    expect(new Set(report.map((r: { ldtype: string }) => r.ldtype))).toEqual(new Set(['int32']));
    expect(new Set(report.map((r: { offset: number }) => r.offset))).toEqual(new Set([4096]));
    expect(report.flatMap((r: { labels: number[] }) => r.labels)).toEqual(
      Array.from({ length: 30 }, (_, i) => Math.floor(i / 5)));
    for (const r of report) {
      expect(r.zeroFraction).toBeGreaterThan(0.2);  // black background
      expect(r.drawn).toBeGreaterThan(20);          // and drawn figures
    }
  });

  it('verify passes and info describes it', () => {
    const v = runCli(['verify', out]);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/OK, 4 shards/);
    const i = runCli(['info', out, '--json']);
    expect(i.status).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ complete: true, classes: 6, instances: 5, images: 30, shards: 4, rng: 'philox', seed: '7' });
    const text = runCli(['info', out]);
    expect(text.stdout).toMatch(/30 = 6 classes \(from 0\) x 5, 64x64 uint8, class-major/);
  });

  it('refuses a rerun with a different config into the same directory (exit 2, nothing changed)', () => {
    const before = directoryHashes(out);
    const r = runCli(['build', '--out', out, '--quiet', ...SMALL_SET.slice(0, -1), '9', '--shard-size', '8']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/holds a dataset with another configuration \(manifest\.json: seed: "7" there, "9" here\)/);
    expect(directoryHashes(out)).toEqual(before);
  });

  it('skips every shard on a rerun of the same command', () => {
    const before = directoryHashes(out);
    const r = runCli(['build', '--out', out, '--json', ...SMALL_SET, '--shard-size', '8']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ shardsWritten: 0, shardsReused: 4, images: 30 });
    expect(directoryHashes(out)).toEqual(before);
  });
});

describe('verify names each problem, and a rerun repairs them', () => {
  it('finds a truncated shard, an altered shard and a missing one', () => {
    const out = path.join(tempDir(), 'ds');
    build(out, [...SMALL_SET, '--shard-size', '10']);
    const good = directoryHashes(out);
    const truncated = path.join(out, 'images-00000.npy');
    fs.truncateSync(truncated, fs.statSync(truncated).size - 100);
    const altered = path.join(out, 'images-00001.npy');
    const fd = fs.openSync(altered, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 5000);
    fs.closeSync(fd);
    fs.unlinkSync(path.join(out, 'labels-00002.npy'));

    const v = runCli(['verify', out]);
    expect(v.status).toBe(1);
    expect(v.stderr).toMatch(/images-00000\.npy: \d+ bytes, expected \d+/);
    expect(v.stderr).toMatch(/images-00001\.npy: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect(v.stderr).toMatch(/labels-00002\.npy: missing/);
    expect(v.stderr).toMatch(/FAILED, 3 problem\(s\)/);

    const r = runCli(['build', '--out', out, '--json', ...SMALL_SET, '--shard-size', '10']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ shardsWritten: 3, shardsReused: 0 });
    expect(directoryHashes(out)).toEqual(good);
    expect(runCli(['verify', out]).status).toBe(0);
  });

  it('fails on a directory that is not a dataset', () => {
    const v = runCli(['verify', tempDir()]);
    expect(v.status).toBe(1);
    expect(v.stderr).toMatch(/is not a vatom-fast dataset/);
  });

  it('refuses a manifest whose shard names leave the directory', () => {
    const out = path.join(tempDir(), 'ds');
    build(out, ['--classes', '1', '--instances', '2', ...SMALL]);
    const file = path.join(out, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const name of ['../images-00000.npy', '/etc/passwd']) {
      m.shards[0].images = name;
      fs.writeFileSync(file, JSON.stringify(m));
      const v = runCli(['verify', out]);
      expect(v.status).toBe(1);
      expect(v.stderr).toContain(`/shards/0/images (${JSON.stringify(name)}) must match pattern`);
      expect(runCli(['info', out]).status).toBe(1);
    }
  });
});

describe('resume after SIGKILL', () => {
  // 200 shards of one image, each synced and recorded on its own: the build runs long after its first
  // shard lands, however fast the machine renders, so the kill comes mid-build.
  const args = ['--classes', '20', '--instances', '10', '--image-size', '128', '--vertices', '100:200',
    '--orbits', '20:40', '--start-pos', '128', '--shard-size', '1', '--threads', '2'];

  it('ends byte-identical to an uninterrupted build, and verify passes', async () => {
    const dirs = tempDir();
    const whole = path.join(dirs, 'whole');
    build(whole, args);

    const killed = path.join(dirs, 'killed');
    const child = startCli(['build', '--out', killed, '--quiet', ...args]);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Kill once at least one shard is in the manifest but before the end.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        try {
          const m = JSON.parse(fs.readFileSync(path.join(killed, 'manifest.json'), 'utf8'));
          if (m.shards.some((s: { imagesSha256: string | null }) => s.imagesSha256 !== null)) {
            clearInterval(timer);
            child.kill('SIGKILL');
            resolve();
          }
        } catch { /* not written yet */ }
      }, 5);
    });
    await exited;
    const m = JSON.parse(fs.readFileSync(path.join(killed, 'manifest.json'), 'utf8'));
    expect(m.complete).toBe(false);
    const v = runCli(['verify', killed]);
    expect(v.status).toBe(1);
    expect(v.stderr).toMatch(/build incomplete: \d+ of 200 shards written/);

    const r = runCli(['build', '--out', killed, '--json', ...args]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).shardsReused).toBeGreaterThan(0);
    const clean = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !k.endsWith('.tmp')));
    expect(clean(directoryHashes(killed))).toEqual(directoryHashes(whole));
    expect(runCli(['verify', killed]).status).toBe(0);
  });
});

describe('class parameter distributions', () => {
  it('cover each range with the right shape over many classes', async () => {
    const config = { imageSize: 512, verticesMin: 200, verticesMax: 1000, orbitsMin: 1, orbitsMax: 200, noiseMin: 0.5,
      lineWidth: 0.1, radiusMin: 10, ovalRate: 2, startPos: 512, freq1Min: 0, freq1Max: 20, freq2Min: 0, freq2Max: 20 };
    const params = await native().drawClassParams({ config, rng: 'philox', seed: '1', startClass: 0, classes: 20000,
      instances: 1, referenceThreads: 1 });
    expect(params.length).toBe(20000);
    const ints = (key: 'vertices' | 'orbits' | 'radius' | 'freq1' | 'freq2') => params.map((p) => p[key]);
    const range = (xs: number[]) => [Math.min(...xs), Math.max(...xs)];
    expect(range(ints('vertices'))).toEqual([200, 1000]);
    expect(range(ints('orbits'))).toEqual([1, 200]);
    expect(range(ints('radius'))).toEqual([10, 60]);
    expect(range(ints('freq1'))).toEqual([0, 20]);
    expect(range(ints('freq2'))).toEqual([0, 20]);
    for (const p of params) {
      for (const k of ['vertices', 'orbits', 'radius', 'freq1', 'freq2'] as const) expect(Number.isInteger(p[k])).toBe(true);
      if (p.freq1 !== 0) expect(p.freq2).not.toBe(p.freq1);
    }
    // n1 == 0 allows n2 == 0.
    expect(params.some((p) => p.freq1 === 0 && p.freq2 === 0)).toBe(true);
    const within = (key: 'noise' | 'lineWidth' | 'ovalX' | 'ovalY', lo: number, hi: number) => {
      const xs = params.map((p) => p[key]);
      expect(Math.min(...xs)).toBeGreaterThanOrEqual(lo);
      expect(Math.max(...xs)).toBeLessThan(hi);
      // Uniform: each tenth of the interval holds about a tenth of the draws.
      const bins = new Array(10).fill(0);
      for (const x of xs) bins[Math.min(9, Math.floor(((x - lo) / (hi - lo)) * 10))] += 1;
      for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(250);
    };
    within('noise', 0.5, 4.5);
    within('lineWidth', 0, 0.1);
    within('ovalX', 1, 2);
    within('ovalY', 1, 2);
    // Integers are uniform over their ranges too: every vertex count 200..1000 appears.
    expect(new Set(ints('vertices')).size).toBe(801);
  });
});
