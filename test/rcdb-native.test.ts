// The RCDB family through the addon: the reference stream against images and parameter files made by
// make_rcdb.py (test/fixtures/rcdb) and against
// test/tools/rcdb_reference_render.py (the script's algorithm on Debian's CPython, noise and Pillow)
// for more configs and an uneven split; the replay under thread counts and out-of-order ranges; the
// default stream's golden hashes, purity and statistics against the reference's.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { NativeSpec } from '../lib/native';
import { rcdbParamFile, RcdbClassParams, pythonFloatText } from '../lib/generators/rcdb-param-file';
import { native, PYTHON, ROOT, sha256, tempDir } from './helpers';

const addon = native();
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'rcdb');
const ORACLE = path.join(ROOT, 'test', 'tools', 'rcdb_reference_render.py');

interface RcdbConfig {
  imageSize: number; verticesMax: number; orbitsMin: number; noiseMin: number; lineWidth: number;
  radiusMin: number; ovalRate: number; startPos: number; radiusSpan?: number;
}

/** The rcdb-1k preset's parameters (the script's arguments of exe_rcdb_1k.sh). */
const RCDB_1K: RcdbConfig = { imageSize: 512, verticesMax: 200, orbitsMin: 1, noiseMin: 0, lineWidth: 0.1, radiusMin: 0, ovalRate: 2, startPos: 400 };

function nativeConfig(c: RcdbConfig) {
  return {
    imageSize: c.imageSize, verticesMin: 3, verticesMax: c.verticesMax, orbitsMin: c.orbitsMin, orbitsMax: c.orbitsMin + 199,
    noiseMin: c.noiseMin, lineWidth: c.lineWidth, radiusMin: c.radiusMin, ovalRate: c.ovalRate, startPos: c.startPos,
    freq1Min: 0, freq1Max: 0, freq2Min: 0, freq2Max: 0, radiusSpan: c.radiusSpan ?? 100,
  };
}

function spec(c: RcdbConfig, rng: 'philox' | 'reference', classes: number, instances: number, referenceThreads = 1,
  seed = '0', startClass = 0): NativeSpec {
  return { family: 'rcdb', config: nativeConfig(c), rng, seed, startClass, classes, instances, referenceThreads } as unknown as NativeSpec;
}

/** The renderer takes the class parameters the build drew (the addon does not draw them itself). */
async function render(s: NativeSpec, begin: number, end: number, threads = 1): Promise<Buffer> {
  const classParams = await addon.drawClassParams(s);
  return new addon.Generator({ ...s, classParams }, threads).render(begin, end);
}

function images(buffer: Buffer, size: number): Buffer[] {
  const bytes = size * size;
  return Array.from({ length: buffer.length / bytes }, (_, i) => buffer.subarray(i * bytes, (i + 1) * bytes));
}

async function params(s: NativeSpec): Promise<RcdbClassParams[]> {
  return (await addon.drawClassParams(s)) as unknown as RcdbClassParams[];
}

describe('pythonFloatText is Python str() of a float', () => {
  test.each([
    [163, '163.0'], [0.5, '0.5'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [0.0001, '0.0001'],
    [0.00001, '1e-05'], [1.5e-7, '1.5e-07'], [123456789012345680000, '1.2345678901234568e+20'],
    [0.1 + 0.2, '0.30000000000000004'], [-2.5, '-2.5'], [0, '0.0'], [1e100, '1e+100'],
  ])('%p -> %s', (value, text) => {
    expect(pythonFloatText(value)).toBe(text);
  });
});

// RV1: the rcdb-1k parameters, one process, classes 0-3 x 3. RV2: 128 px, vertex_num 50, radius_min 5,
// start_pos 100, the second of two processes over 6 classes (classes 3-5 x 2).
const FIXTURE_SETS = [
  { name: 'RV1', config: RCDB_1K, classes: 4, instances: 3, threads: 1 },
  { name: 'RV2', config: { ...RCDB_1K, imageSize: 128, verticesMax: 50, radiusMin: 5, startPos: 100 }, classes: 6, instances: 2, threads: 2 },
];

describe.each(FIXTURE_SETS)('reference fixtures $name', ({ name, config, classes, instances, threads }) => {
  const want: Array<{ class: number; instance: number; sha256: string; nonwhite: number }> =
    JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));
  const s = spec(config, 'reference', classes, instances, threads);

  test('every image is the script\'s, pixel for pixel, on 1 and 3 threads', async () => {
    for (const t of [1, 3]) {
      const got = images(await render(s, 0, classes * instances, t), config.imageSize);
      for (const w of want) {
        const image = got[w.class * instances + w.instance];
        expect([w.class, w.instance, sha256(image)]).toEqual([w.class, w.instance, w.sha256]);
        expect(image.filter((v) => v !== 255).length).toBe(w.nonwhite);
      }
    }
  });

  test('param/%05d.csv of every class the script made, byte for byte', async () => {
    const drawn = await params(s);
    const files = fs.readdirSync(path.join(FIXTURES, name, 'param')).sort();
    expect(files.length).toBe(new Set(want.map((w) => w.class)).size);
    for (const file of files) {
      const cls = Number(file.slice(0, 5));
      expect(rcdbParamFile(drawn[cls])).toBe(fs.readFileSync(path.join(FIXTURES, name, 'param', file), 'latin1'));
    }
  });

  test('ranges out of order and one image at a time give the same images', async () => {
    const total = classes * instances;
    const full = await render(s, 0, total, 1);
    const g = new addon.Generator({ ...s, classParams: await addon.drawClassParams(s) }, 2);
    const bytes = config.imageSize ** 2;
    const order = Array.from({ length: total }, (_, i) => (i * 5 + 3) % total);
    for (const i of order) expect(sha256(await g.render(i, i + 1))).toBe(sha256(full.subarray(i * bytes, (i + 1) * bytes)));
  });
});

describe('reference stream against the algorithm run on CPython, noise and Pillow', () => {
  const cases = [
    // An uneven split (7 classes over 2 processes: classes 6 is never made), integer noise and oval
    // arguments above their defaults, a centred start, a higher line minimum, a 200-pixel canvas.
    { config: { imageSize: 200, verticesMax: 120, orbitsMin: 20, noiseMin: 1, lineWidth: 0.5, radiusMin: 3, ovalRate: 3, startPos: 0 }, classes: 7, instances: 2, threads: 2 },
    // Small images, three processes.
    { config: { ...RCDB_1K, imageSize: 64, startPos: 30, verticesMax: 40 }, classes: 6, instances: 2, threads: 3 },
  ];
  test.each(cases)('$config.imageSize px, $classes classes over $threads processes', async ({ config, classes, instances, threads }) => {
    const out = path.join(tempDir(), 'oracle.raw');
    const r = spawnSync(PYTHON, [ORACLE, 'render', '--config', JSON.stringify(config), '--threads', String(threads),
      '--classes', String(classes), '--instances', String(instances), '--out', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.stderr).toBe('');
    const wantParams: Record<string, string> = JSON.parse(r.stdout);
    const produced = Math.floor(classes / threads) * threads;
    const s = spec(config, 'reference', produced, instances, threads);
    const got = await render(s, 0, produced * instances, 2);
    expect(sha256(got)).toBe(sha256(fs.readFileSync(out)));
    const drawn = await params(s);
    expect(Object.keys(wantParams).length).toBe(produced);
    for (const [cls, text] of Object.entries(wantParams)) expect(rcdbParamFile(drawn[Number(cls)])).toBe(text.replace(/\r?\n/g, '\r\n'));
  });
});

test('reference stream: images asked for backwards, one at a time, are the images of one pass (checkpoints, cursors)', async () => {
  const small = { ...RCDB_1K, imageSize: 64, startPos: 30 };
  const s = spec(small, 'reference', 30, 3, 2);
  const full = await render(s, 0, 90, 1);
  const g = new addon.Generator({ ...s, classParams: await addon.drawClassParams(s) }, 1);
  for (let i = 89; i >= 0; i -= 7) expect(sha256(await g.render(i, i + 1))).toBe(sha256(full.subarray(i * 64 * 64, (i + 1) * 64 * 64)));
  expect(sha256(await g.render(40, 90))).toBe(sha256(full.subarray(40 * 64 * 64)));
});

describe('CUDA', () => {
  test('--device cuda is refused with the reason, never rendered', () => {
    expect(() => new addon.Generator(spec(RCDB_1K, 'philox', 1, 1), 1, 'cuda')).toThrow(
      'the CUDA renderer draws VisualAtom only; RCDB renders on the CPU (--device cpu)');
  });
});

describe('default stream', () => {
  test('golden hashes: rcdb-1k config, seed 0, classes 0-3 x 3 and seed 7 classes 100-101 at 64 px', async () => {
    const a = await render(spec(RCDB_1K, 'philox', 4, 3), 0, 12, 2);
    const small = { ...RCDB_1K, imageSize: 64, startPos: 50, lineWidth: 0.0125, radiusSpan: 13 };
    const b = await render(spec(small, 'philox', 2, 4, 1, '7', 100), 0, 8, 2);
    expect([sha256(a), sha256(b)]).toEqual(['1a137beb323fb97e1c09c51357001ccec3fb51e753b4bdb4224746167d334410', 'bff37baac4fdf5d76655581f3193acb2cc43bf29f4f069f1a50a57e6cc856f1a']);
  });

  test('an image is a pure function of (seed, config, class, instance): thread counts, ranges and later starts', async () => {
    const s = spec(RCDB_1K, 'philox', 6, 4, 1, '99');
    const full = await render(s, 0, 24, 1);
    expect(sha256(await render(s, 0, 24, 3))).toBe(sha256(full));
    const later = spec(RCDB_1K, 'philox', 3, 4, 1, '99', 3);
    expect(sha256(await render(later, 0, 12, 2))).toBe(sha256(full.subarray(12 * 512 * 512)));
    const p = await params(s);
    expect((await params(later))).toEqual(p.slice(3));
    expect(sha256(await render(spec(RCDB_1K, 'philox', 6, 4, 1, '100'), 0, 24, 2))).not.toBe(sha256(full));
  });

  test('per-image statistics match the reference\'s (two-sample KS, 600 images each)', async () => {
    const size = 512;
    const ref = await render(spec(RCDB_1K, 'reference', 300, 2, 1), 0, 600, 2);
    const phi = await render(spec(RCDB_1K, 'philox', 300, 2, 1, '5'), 0, 600, 2);
    const stats = (buffer: Buffer) => images(buffer, size).map((im) => {
      let n = 0;
      let sum = 0;
      for (const v of im) if (v !== 255) { n += 1; sum += v; }
      return { fraction: n / im.length, gray: n ? sum / n : NaN };
    });
    const a = stats(ref);
    const b = stats(phi);
    const fractionP = ksPValue(a.map((x) => x.fraction), b.map((x) => x.fraction));
    const grayP = ksPValue(a.map((x) => x.gray).filter((x) => !Number.isNaN(x)), b.map((x) => x.gray).filter((x) => !Number.isNaN(x)));
    expect(fractionP).toBeGreaterThan(1e-4);
    expect(grayP).toBeGreaterThan(1e-4);
  });

  test('64 px with the scaled defaults: no blank image in 100', async () => {
    const small = { ...RCDB_1K, imageSize: 64, startPos: 50, lineWidth: 0.0125, radiusSpan: 13 };
    const got = images(await render(spec(small, 'philox', 100, 1, 1, '0'), 0, 100, 2), 64);
    expect(got.filter((im) => im.every((v) => v === 255)).length).toBe(0);
  });
});

/** The two-sample Kolmogorov-Smirnov test's asymptotic p-value (Numerical Recipes' probks with its small-sample correction). */
function ksPValue(a: number[], b: number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] <= v) i += 1;
    while (j < y.length && y[j] <= v) j += 1;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const en = Math.sqrt((x.length * y.length) / (x.length + y.length));
  const lambda = (en + 0.12 + 0.11 / en) * d;
  let sum = 0;
  for (let k = 1; k <= 100; k += 1) sum += 2 * (k % 2 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
  return Math.min(1, Math.max(0, sum));
}

test('the KS p-value separates different distributions and accepts equal ones', () => {
  const u = Array.from({ length: 600 }, (_, i) => (i * 0.6180339887) % 1);
  const v = Array.from({ length: 600 }, (_, i) => ((i * 0.7548776662) % 1));
  expect(ksPValue(u, v)).toBeGreaterThan(0.5);
  expect(ksPValue(u, v.map((t) => t * t))).toBeLessThan(1e-6);
});
