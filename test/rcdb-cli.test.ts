// RCDB as a user runs it: `build --preset rcdb-1k` in both streams, the oracles of make_rcdb.py through
// the command line, verify/info/export/merge, the options RCDB refuses and why, and Python rendering a
// manifest-only RCDB dataset byte for byte as the stored build holds it.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, PYTHON, ROOT, runCli, sha256, tempDir } from './helpers';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'rcdb');
const LIBRARY = path.join(ROOT, 'build', 'Release', 'libvatom_fast.so');

/** The images of a built dataset, one Buffer each. */
function images(dir: string): Buffer[] {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const size = m.imageSize * m.imageSize;
  const out: Buffer[] = [];
  for (const s of m.shards) {
    const data = fs.readFileSync(path.join(dir, s.images)).subarray(m.imagesDataOffset);
    for (let i = 0; i < s.count; ++i) out.push(data.subarray(i * size, (i + 1) * size));
  }
  return out;
}

function build(out: string, args: string[]): void {
  const r = runCli(['build', '--preset', 'rcdb-1k', ...args, '--out', out, '--quiet']);
  if (r.status !== 0) throw new Error(`build failed (${r.status}): ${r.stderr}`);
}

// The README's commands for the oracles (shared reference RV1 and RV2).
const ORACLES = [
  { name: 'RV1', args: ['--rng', 'reference', '--reference-threads', '1', '--classes', '4', '--instances', '3'], instances: 3 },
  { name: 'RV2', args: ['--rng', 'reference', '--reference-threads', '2', '--classes', '6', '--instances', '2', '--image-size', '128',
    '--vertices', '3:50', '--radius-min', '5', '--start-pos', '100'], instances: 2 },
];

describe.each(ORACLES)('build --preset rcdb-1k, oracle $name', ({ name, args, instances }) => {
  const dir = tempDir();
  const out = path.join(dir, 'ds');
  beforeAll(() => build(out, [...args, '--shard-size', '5']));

  test('every image the script made, exactly; verify and info agree', () => {
    const want: Array<{ class: number; instance: number; sha256: string }> = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));
    const got = images(out);
    for (const w of want) expect([w.class, w.instance, sha256(got[w.class * instances + w.instance])]).toEqual([w.class, w.instance, w.sha256]);
    expect(runCli(['verify', out]).status).toBe(0);
    const info = JSON.parse(runCli(['info', out, '--json']).stdout);
    expect(info).toMatchObject({ family: 'rcdb', rng: 'reference', stream: 'cpython-mt19937/make_rcdb.py' });
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(m).toMatchObject({ version: 2, family: 'rcdb' });
  });

  test('export --to png writes the script\'s tree: its images and param/%05d.csv byte for byte', () => {
    const png = path.join(dir, 'png');
    expect(runCli(['export', out, '--to', 'png', '--out', png, '--quiet']).status).toBe(0);
    const params = fs.readdirSync(path.join(FIXTURES, name, 'param')).sort();
    for (const file of params) {
      expect(fs.readFileSync(path.join(png, 'param', file), 'latin1')).toBe(fs.readFileSync(path.join(FIXTURES, name, 'param', file), 'latin1'));
    }
    const decoded = spawnSync(PYTHON, ['-c', `
import sys, glob, os
from PIL import Image
fixtures, png = sys.argv[1], sys.argv[2]
names = sorted(os.path.relpath(f, fixtures) for f in glob.glob(fixtures + '/image/*/*.png'))
bad = [n for n in names if Image.open(os.path.join(fixtures, n)).tobytes() != Image.open(os.path.join(png, n)).tobytes()]
print(len(names), len(bad))
`, path.join(FIXTURES, name), png], { encoding: 'utf8' });
    expect(decoded.stdout.trim()).toBe(`${new Set(fs.readdirSync(path.join(FIXTURES, name, 'image'))).size * instances} 0`);
  });

  test('a planted param/ entry is replaced, never followed, or named with the fix', () => {
    const png = path.join(dir, 'png-planted');
    expect(runCli(['export', out, '--to', 'png', '--out', png, '--quiet']).status).toBe(0);
    const params = path.join(png, 'param');
    const [first, second] = fs.readdirSync(params).sort();
    const want = fs.readFileSync(path.join(params, first), 'latin1');
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'precious\n');
    fs.rmSync(path.join(params, first));
    fs.symlinkSync(victim, path.join(params, first));
    fs.rmSync(path.join(params, second));
    expect(spawnSync('mkfifo', [path.join(params, second)]).status).toBe(0);
    const r = spawnSync(process.execPath, [CLI, 'export', out, '--to', 'png', '--out', png, '--quiet'], { encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(path.join(params, first)).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(params, first), 'latin1')).toBe(want);
    expect(fs.lstatSync(path.join(params, second)).isFile()).toBe(true);
    fs.rmSync(path.join(params, second));
    fs.mkdirSync(path.join(params, second));
    const d = runCli(['export', out, '--to', 'png', '--out', png, '--quiet']);
    expect(d.status).toBe(2);
    expect(d.stderr.trim().split('\n')).toEqual([`vatom-fast: --out ${png}: ${path.join(params, second)} is a directory where a param file goes; ` +
      'remove it and rerun the same command']);
  });
});

describe('the default stream', () => {
  const dir = tempDir();
  const stored = path.join(dir, 'stored');
  const args = ['--classes', '5', '--instances', '4', '--image-size', '96', '--seed', '11'];
  beforeAll(() => build(stored, [...args, '--shard-size', '7']));

  test('pixel values and the radius span scale with --image-size; a cluster build merges to the same bytes', () => {
    const m = JSON.parse(fs.readFileSync(path.join(stored, 'manifest.json'), 'utf8'));
    expect(m).toMatchObject({ family: 'rcdb', stream: 'philox4x32-10/rcdb-1', version: 2 });
    expect(m.config).toMatchObject({ imageSize: 96, startPos: 75, radiusMin: 0, radiusSpan: 19, lineWidth: 0.1 * 96 / 512 });
    const cluster = path.join(dir, 'cluster');
    for (const index of [0, 1]) {
      build(cluster, [...args, '--shard-size', '7', '--worker-index', String(index), '--worker-count', '2']);
    }
    expect(runCli(['merge', cluster, '--verify']).status).toBe(0);
    expect(sha256(Buffer.concat(images(cluster)))).toBe(sha256(Buffer.concat(images(stored))));
  });

  test('a manifest-only dataset renders in Python byte for byte as the stored build, in both streams', () => {
    const pairs: Array<[string, string[]]> = [['philox', args], ['reference', ['--rng', 'reference', '--reference-threads', '2', '--classes', '5', '--instances', '3', '--image-size', '96']]];
    for (const [stream, a] of pairs) {
      const npy = stream === 'philox' ? stored : path.join(dir, `${stream}-npy`);
      if (npy !== stored) build(npy, a);
      const manifestOnly = path.join(dir, `${stream}-manifest`);
      build(manifestOnly, [...a, '--format', 'manifest']);
      expect(runCli(['verify', manifestOnly]).status).toBe(0);
      const r = spawnSync(PYTHON, ['-c', `
import sys, hashlib
sys.path.insert(0, sys.argv[1])
import numpy as np
from vatom_fast import VisualAtomDataset
ds = VisualAtomDataset(sys.argv[2], output="numpy", channels=1)
batch = ds.render_batch(np.arange(len(ds)))[0]
one = np.stack([ds[i][0].reshape(ds[i][0].shape[-2:]) for i in range(len(ds))])
print(hashlib.sha256(one.tobytes()).hexdigest(), hashlib.sha256(np.ascontiguousarray(batch).tobytes()).hexdigest())
`, path.join(ROOT, 'python'), manifestOnly], { encoding: 'utf8', env: { ...process.env, VATOM_FAST_LIBRARY: LIBRARY } });
      expect(r.stderr).toBe('');
      const [each, batch] = r.stdout.trim().split(' ');
      const want = sha256(Buffer.concat(images(npy)));
      expect(each).toBe(want);
      expect(batch).toBe(want);
    }
  });
});

describe('what RCDB refuses, by name and with the reason', () => {
  const out = () => path.join(tempDir(), 'ds');
  test.each([
    [['--freq1', '0:3'], /Invalid value for --freq1: "0:3"; expected no --freq1 with the rcdb family \(preset rcdb-1k\): it is a parameter of visualatom only/],
    [['--rng', 'reference', '--reference-threads', '1', '--classes', '2', '--orbits', '1:100'],
      /Invalid value for --orbits: "1:100"; expected A:A\+199 with --rng reference/],
    [['--rng', 'reference', '--reference-threads', '1', '--classes', '2', '--vertices', '5:200'], /Invalid value for --vertices: "5:200"; expected 3:N with --rng reference/],
    [['--rng', 'reference', '--reference-threads', '1', '--classes', '2', '--image-size', '127'], /Invalid value for --image-size: "127"; expected an even size with --rng reference/],
    [['--rng', 'reference', '--reference-threads', '1', '--classes', '2', '--oval-rate', '2.5'], /Invalid value for --oval-rate: "2.5"; expected an integer with --rng reference/],
    [['--classes', '2', '--device', 'cuda'], /Invalid value for --device: "cuda"; the CUDA renderer draws VisualAtom only, the rcdb family renders on the CPU/],
    [['--rng', 'reference', '--classes', '4'], /Invalid value for --classes: 4; the reference with 40 processes makes no class of it/],
  ])('%j', (args, message) => {
    const o = out();
    const r = runCli(['build', '--preset', 'rcdb-1k', ...args, '--out', o]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(fs.existsSync(o)).toBe(false);
  });

  test('the default stream takes any --orbits and --vertices span', () => {
    const o = out();
    build(o, ['--classes', '2', '--instances', '1', '--orbits', '5:9', '--vertices', '10:20', '--image-size', '64']);
    const m = JSON.parse(fs.readFileSync(path.join(o, 'manifest.json'), 'utf8'));
    for (const p of m.classParams) {
      expect(p.orbits).toBeGreaterThanOrEqual(5);
      expect(p.orbits).toBeLessThanOrEqual(9);
      expect(p.vertices).toBeGreaterThanOrEqual(10);
      expect(p.vertices).toBeLessThanOrEqual(20);
    }
  });
});
