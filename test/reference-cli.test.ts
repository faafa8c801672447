// `vatom-fast build --rng reference` as a user runs it: the reference script's images, its split of
// classes over processes, labels, the manifest, and a pinned 20-process paper-preset run.
import * as fs from 'fs';
import * as path from 'path';
import { allPixels, directoryHashes, python, runCli, sha256, tempDir } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures', 'reference');
interface FixtureHash { class: number; instance: number; vertices: number; sha256: string }
const fixture = (set: string): FixtureHash[] => JSON.parse(fs.readFileSync(path.join(FIXTURES, set, 'hashes.json'), 'utf8'));

function build(out: string, args: string[]) {
  const r = runCli(['build', '--out', out, '--rng', 'reference', ...args]);
  if (r.status !== 0) throw new Error(`build failed (${r.status}): ${r.stderr}`);
  return r;
}

function imageHashes(dir: string, size: number): string[] {
  const pixels = allPixels(dir);
  const out: string[] = [];
  for (let i = 0; i < pixels.length; i += size * size) out.push(sha256(pixels.subarray(i, i + size * size)));
  return out;
}

const manifest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));

describe('build --rng reference', () => {
  it('reproduces V1 (paper preset, one process) and records that the dataset is reference-exact', () => {
    const out = path.join(tempDir(), 'v1');
    build(out, ['--reference-threads', '1', '--classes', '2', '--instances', '3', '--quiet']);
    expect(imageHashes(out, 512)).toEqual(fixture('V1').map((h) => h.sha256));
    const m = manifest(out);
    expect(m).toMatchObject({ rng: 'reference', referenceExact: true, referenceThreads: 1, requestedClasses: 2, classes: 2 });
    expect(m.classParams.map((p: { vertices: number }) => p.vertices)).toEqual([337, 406]);
    expect(runCli(['verify', out]).status).toBe(0);
  });

  it('reproduces V2 (second of two processes) and drops the classes the reference never makes, saying so', () => {
    const out = path.join(tempDir(), 'v2');
    // 5 classes over 2 processes: the reference makes floor(5/2) = 2 each, classes 0..3.
    const r = build(out, ['--reference-threads', '2', '--classes', '5', '--instances', '2', '--image-size', '128',
      '--vertices', '50:80', '--orbits', '1:10', '--start-pos', '128', '--threads', '1']);
    expect(r.stderr).toMatch(/warning: the reference with 2 processes makes 4 of 5 classes .* the last 1 are not produced/);
    const m = manifest(out);
    expect(m).toMatchObject({ requestedClasses: 5, classes: 4, imageCount: 8 });
    const hashes = imageHashes(out, 128);
    expect(hashes.slice(4)).toEqual(fixture('V2').map((h) => h.sha256));
    expect(m.classParams.slice(2).map((p: { vertices: number }) => p.vertices)).toEqual(
      fixture('V2').filter((h) => h.instance === 0).map((h) => h.vertices));
    // Labels are the class indices, as the reference names its folders.
    const labels = fs.readFileSync(path.join(out, m.shards[0].labels)).subarray(-32);
    expect(Array.from(new Int32Array(labels.buffer.slice(labels.byteOffset, labels.byteOffset + 32)))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it('numbers classes from --start-class without changing any pixel, and gives the same bytes on 1 and 2 threads', () => {
    const dirs = tempDir();
    const args = ['--reference-threads', '2', '--classes', '4', '--instances', '2', '--image-size', '128', '--vertices', '50:80',
      '--orbits', '1:10', '--start-pos', '128', '--quiet'];
    build(path.join(dirs, 'a'), [...args, '--threads', '1']);
    build(path.join(dirs, 'b'), [...args, '--threads', '2']);
    build(path.join(dirs, 'c'), [...args, '--start-class', '100', '--shard-size', '3']);
    expect(directoryHashes(path.join(dirs, 'b'))).toEqual(directoryHashes(path.join(dirs, 'a')));
    expect(sha256(allPixels(path.join(dirs, 'c')))).toBe(sha256(allPixels(path.join(dirs, 'a'))));
    expect(manifest(path.join(dirs, 'c')).classParams.map((p: { class: number }) => p.class)).toEqual([100, 101, 102, 103]);
  });

  // The official make_VisualAtom.sh runs 20 processes (seeds 1..20). This pins a small run of it: a
  // change that breaks exactness changes this hash even where no fixture image exists. (Its 40 images
  // were checked equal to test/tools/reference_render.py, the Python oracle, when it was recorded.)
  it('pins a 20-process paper-preset run with a golden hash', () => {
    const out = path.join(tempDir(), 'p20');
    build(out, ['--reference-threads', '20', '--classes', '20', '--instances', '2', '--quiet']);
    const m = manifest(out);
    expect(m.classParams.slice(0, 3).map((p: { vertices: number }) => p.vertices)).toEqual([337, 257, 443]);
    expect(m.shards.map((s: { imagesSha256: string }) => s.imagesSha256)).toEqual(['73b7d0d599dc17fbe44578ffdb06cd6075c75aa42dfaa538626c5aeb6ece19df']);
  });

  it('writes the reference tree with --format png: the script\'s file names and pixels', () => {
    const out = path.join(tempDir(), 'png');
    const r = runCli(['build', '--out', out, '--rng', 'reference', '--reference-threads', '2', '--classes', '4',
      '--instances', '2', '--image-size', '128', '--vertices', '50:80', '--orbits', '1:10', '--start-pos', '128',
      '--format', 'png', '--quiet']);
    expect(r.status).toBe(0);
    const v2 = fixture('V2');
    for (const h of v2) {
      const name = path.join(String(h.class).padStart(5, '0'),
        `vertex_${String(h.vertices).padStart(4, '0')}_instance_${String(h.instance).padStart(4, '0')}.png`);
      const pixels = python(`
import sys, hashlib, numpy as np
from PIL import Image
a = np.asarray(Image.open(sys.argv[1]))
assert a.shape == (128, 128, 3) and (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()
print(hashlib.sha256(np.ascontiguousarray(a[..., 0]).tobytes()).hexdigest())
`.replace('sys.argv[1]', JSON.stringify(path.join(out, name)))).trim();
      expect(pixels).toBe(h.sha256);
      expect(fs.existsSync(path.join(FIXTURES, 'V2', name))).toBe(true);
    }
    // The classes of the first process are there too, and nothing else.
    expect(fs.readdirSync(out).filter((f) => /^\d{5}$/.test(f))).toEqual(['00000', '00001', '00002', '00003']);
  });

  it('refuses reference options that cannot apply', () => {
    const out = path.join(tempDir(), 'x');
    let r = runCli(['build', '--out', out, '--rng', 'reference', '--reference-threads', '0', '--classes', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Invalid value for --reference-threads: "0"; expected an integer from 1 to 1024/);
    r = runCli(['build', '--out', out, '--reference-threads', '2', '--classes', '2']);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });
});
