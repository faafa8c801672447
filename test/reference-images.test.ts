// `--rng reference` end to end through the addon: every image made by the reference script
// (test/fixtures/reference, copied from shared/reference) reproduced pixel for pixel, plus more
// configs against test/tools/reference_render.py (the reference algorithm on Debian's CPython, noise
// and Pillow 9.4), and the replay machinery: thread counts, later starts, chunked and out-of-order
// calls, and the split of classes over reference processes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PAPER_CONFIG } from '../lib/generators/presets';
import type { GeneratorConfig } from '../lib/generators/visualatom';
import type { ClassParams, NativeSpec } from '../lib/native';
import { native, PYTHON, ROOT, sha256, tempDir } from './helpers';

const addon = native();
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'reference');
const ORACLE = path.join(ROOT, 'test', 'tools', 'reference_render.py');

interface FixtureImage {
  class: number;
  instance: number;
  vertices: number;
  height: number;
  width: number;
  sha256: string;
  nonzero: number;
}

function spec(config: GeneratorConfig, classes: number, instances: number, referenceThreads: number): NativeSpec {
  return { config, rng: 'reference', seed: '0', startClass: 0, classes, instances, referenceThreads };
}

async function render(s: NativeSpec, begin: number, end: number, threads: number): Promise<Buffer> {
  return new addon.Generator(s, threads).render(begin, end);
}

function image(buffer: Buffer, config: GeneratorConfig, i: number): Buffer {
  const bytes = config.imageSize * config.imageSize;
  return buffer.subarray(i * bytes, (i + 1) * bytes);
}

function runPython(args: string[]): string {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Channel 0 of each PNG, decoded by Pillow. */
function decodePngs(files: string[]): Buffer {
  const out = path.join(tempDir(), 'decoded.raw');
  runPython([ORACLE, 'decode', ...files, '--out', out]);
  return fs.readFileSync(out);
}

/** The oracle's images (dataset order) and class parameters [V, L, rad, n1, n2, coef, lw, ovx, ovy]. */
function oracle(config: GeneratorConfig, threads: number, classes: number, instances: number) {
  const out = path.join(tempDir(), 'oracle.raw');
  const params: number[][] = JSON.parse(runPython([ORACLE, 'render', '--config', JSON.stringify(config),
    '--threads', String(threads), '--classes', String(classes), '--instances', String(instances), '--out', out]));
  return { pixels: fs.readFileSync(out), params };
}

function paramsRow(p: ClassParams): number[] {
  return [p.vertices, p.orbits, p.radius, p.freq1, p.freq2, p.noise, p.lineWidth, p.ovalX, p.ovalY];
}

const PAPER: GeneratorConfig = { ...PAPER_CONFIG };
const V2_CONFIG: GeneratorConfig = { ...PAPER_CONFIG, imageSize: 128, verticesMin: 50, verticesMax: 80, orbitsMin: 1, orbitsMax: 10, startPos: 128 };

const FIXTURE_SETS = [
  // V1: the paper preset, one process (seed 1), classes 0-1, 3 instances each.
  { name: 'V1', config: PAPER, classes: 2, instances: 3, threads: 1 },
  // V2: small images, the second of two processes (seed 2): classes 2-3 of a 4-class dataset.
  { name: 'V2', config: V2_CONFIG, classes: 4, instances: 2, threads: 2 },
];

describe.each(FIXTURE_SETS)('reference fixtures $name', ({ name, config, classes, instances, threads }) => {
  const want: FixtureImage[] = JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'hashes.json'), 'utf8'));
  const s = spec(config, classes, instances, threads);
  let full: Buffer;
  let params: ClassParams[];

  beforeAll(async () => {
    full = await render(s, 0, classes * instances, 2);
    params = await addon.drawClassParams(s);
  });

  it('reproduces every image: sha256 of the gray pixels and the vertex count', () => {
    expect(params).toHaveLength(classes);
    for (const img of want) {
      const pixels = image(full, config, img.class * instances + img.instance);
      expect({ index: [img.class, img.instance], sha256: sha256(pixels) }).toEqual({ index: [img.class, img.instance], sha256: img.sha256 });
      expect(params[img.class].vertices).toBe(img.vertices);
      expect(pixels.length - pixels.filter((v) => v === 0).length).toBe(img.nonzero);
    }
  });

  it('equals the decoded PNG pixels', () => {
    const files = want.map((img) => path.join(FIXTURES, name, String(img.class).padStart(5, '0'),
      `vertex_${String(img.vertices).padStart(4, '0')}_instance_${String(img.instance).padStart(4, '0')}.png`));
    const decoded = decodePngs(files);
    want.forEach((img, k) => {
      const bytes = config.imageSize * config.imageSize;
      expect(image(full, config, img.class * instances + img.instance).equals(decoded.subarray(k * bytes, (k + 1) * bytes))).toBe(true);
    });
  });

  it('gives the same bytes on 1 and 3 threads', async () => {
    expect((await render(s, 0, classes * instances, 1)).equals(full)).toBe(true);
    expect((await render(s, 0, classes * instances, 3)).equals(full)).toBe(true);
  });

  it('gives the same bytes when a generator starts at a later image (a resumed shard)', async () => {
    const n = classes * instances;
    for (const begin of [1, instances, n - 1]) {
      const part = await render(s, begin, n, 2);
      expect(part.equals(full.subarray(begin * config.imageSize * config.imageSize))).toBe(true);
    }
  });
});

describe('reference stream replay across calls', () => {
  const config = V2_CONFIG;
  const bytes = config.imageSize * config.imageSize;

  it('continues chunk by chunk, and restarts when asked for an earlier range', async () => {
    const s = spec(config, 6, 3, 2);
    const n = 18;
    const full = await render(s, 0, n, 1);
    for (const threads of [1, 2, 4]) {
      const g = new addon.Generator(s, threads);
      const cuts = [0, 1, 2, 5, 9, 10, 17, 18];
      const parts: Buffer[] = [];
      for (let i = 0; i + 1 < cuts.length; ++i) parts.push(await g.render(cuts[i], cuts[i + 1]));
      expect(Buffer.concat(parts).equals(full)).toBe(true);
      // Backwards: an earlier range after a later one, then a range across the process boundary.
      expect((await g.render(4, 8)).equals(full.subarray(4 * bytes, 8 * bytes))).toBe(true);
      expect((await g.render(7, 12)).equals(full.subarray(7 * bytes, 12 * bytes))).toBe(true);
      expect((await g.render(0, 3)).equals(full.subarray(0, 3 * bytes))).toBe(true);
    }
  });

  it('renders chunks longer than the replay ring (many small images) the same on any thread count', async () => {
    const tiny: GeneratorConfig = { ...PAPER, imageSize: 32, verticesMin: 3, verticesMax: 6, orbitsMin: 1, orbitsMax: 4,
      radiusMin: 0, startPos: 8 };
    const s = spec(tiny, 10, 30, 2);
    const n = 300;
    const want = oracle(tiny, 2, 10, 30);
    const one = await render(s, 0, n, 1);
    expect(one.equals(want.pixels)).toBe(true);
    for (const threads of [2, 3, 5]) expect((await render(s, 0, n, threads)).equals(one)).toBe(true);
    const g = new addon.Generator(s, 3);
    const parts = [await g.render(0, 7), await g.render(7, 151), await g.render(151, 300)];
    expect(Buffer.concat(parts).equals(one)).toBe(true);
    const tinyBytes = 32 * 32;
    expect((await render(s, 37, 290, 3)).equals(one.subarray(37 * tinyBytes, 290 * tinyBytes))).toBe(true);
  });

  it('splits classes over processes: process 0 of T=2 is the single process of half the classes', async () => {
    const two = spec(config, 4, 2, 2);
    const one = spec(config, 2, 2, 1);
    const a = await render(two, 0, 8, 2);
    const b = await render(one, 0, 4, 2);
    expect(a.subarray(0, 4 * bytes).equals(b)).toBe(true);
    expect(a.subarray(4 * bytes).equals(b)).toBe(false);
    const pa = await addon.drawClassParams(two);
    const pb = await addon.drawClassParams(one);
    expect(pa.slice(0, 2)).toEqual(pb);
  });

  it('class parameters depend on the instance count (the stream runs through every instance)', async () => {
    const a = await addon.drawClassParams(spec(config, 3, 1, 1));
    const b = await addon.drawClassParams(spec(config, 3, 2, 1));
    expect(a[0]).toEqual(b[0]);
    expect(a[1]).not.toEqual(b[1]);
  });

  it('refuses a class count that is not a multiple of the reference processes', async () => {
    await expect(addon.drawClassParams(spec(config, 5, 1, 2))).rejects.toThrow(/multiple/);
  });
});

describe('reference stream against the Python oracle (reference_render.py)', () => {
  const base = PAPER;
  const cases: Array<{ name: string; config: GeneratorConfig; threads: number; classes: number; instances: number }> = [
    { name: 'tiny polygons, 3 processes, classes not divisible (7 -> 6)', threads: 3, classes: 7, instances: 3,
      config: { ...base, imageSize: 64, verticesMin: 3, verticesMax: 12, orbitsMin: 1, orbitsMax: 30, startPos: 64 } },
    { name: 'non-default noise, width, radius, oval rate and frequencies', threads: 2, classes: 4, instances: 4,
      config: { ...base, imageSize: 160, verticesMin: 20, verticesMax: 200, orbitsMin: 1, orbitsMax: 50, noiseMin: 0.5,
        lineWidth: 2.5, radiusMin: 5, ovalRate: 1.5, startPos: 20, freq1Min: 0, freq1Max: 3, freq2Min: 2, freq2Max: 5 } },
    { name: 'degenerate ranges (randint of one value, n1 = n2 = 0)', threads: 1, classes: 3, instances: 3,
      config: { ...base, imageSize: 48, verticesMin: 3, verticesMax: 3, orbitsMin: 5, orbitsMax: 5, ovalRate: 1,
        startPos: 0, freq1Min: 0, freq1Max: 0, freq2Min: 0, freq2Max: 0 } },
    { name: 'shapes mostly off a small canvas', threads: 2, classes: 5, instances: 2,
      config: { ...base, imageSize: 32, verticesMin: 100, verticesMax: 300, orbitsMin: 1, orbitsMax: 100, noiseMin: 1,
        radiusMin: 10, startPos: 40 } },
    { name: 'paper parameters at 256 px, 3 processes', threads: 3, classes: 6, instances: 2,
      config: { ...base, imageSize: 256 } },
  ];

  it.each(cases)('$name', async ({ config, threads, classes, instances }) => {
    const produced = threads * Math.floor(classes / threads);
    const want = oracle(config, threads, classes, instances);
    const s = spec(config, produced, instances, threads);
    const params = await addon.drawClassParams(s);
    expect(params.map(paramsRow)).toEqual(want.params);
    const got = await render(s, 0, produced * instances, 2);
    expect(got.length).toBe(want.pixels.length);
    const bytes = config.imageSize * config.imageSize;
    const differing: number[] = [];
    for (let i = 0; i < produced * instances; ++i) {
      if (!image(got, config, i).equals(want.pixels.subarray(i * bytes, (i + 1) * bytes))) differing.push(i);
    }
    expect(differing).toEqual([]);
    // Not trivially black.
    expect(got.some((v) => v !== 0)).toBe(true);
  });
});
