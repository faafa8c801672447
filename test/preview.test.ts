// `vatom-fast preview`: the contact sheet's size, each cell against the image it shows (resized
// here independently, in NumPy), labels, --from a dataset, and refusals.
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { python, runCli, tempDir, SMALL } from './helpers';

const T = tempDir('vatom-preview-');
const DS = path.join(T, 'ds');
const GEN = [...SMALL, '--seed', '11'];
const SET = ['--classes', '3', '--start-class', '2', '--instances', '4'];

interface Sheet {
  out: string;
  width: number;
  height: number;
  rows: number;
  columns: number;
  imageSize: number;
  cellSize: number;
  resize: string;
  font: string;
  cells: Array<{ row: number; column: number; class: number; instance: number; x: number; y: number; label: string[] }>;
}

function preview(args: string[], env?: NodeJS.ProcessEnv): Sheet {
  const r = runCli(['preview', '--json', ...args], { env });
  if (r.status !== 0) throw new Error(`preview failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** max |sheet cell - expected| per cell, and the share of equal pixels, computed in Python from the dataset's .npy. */
function compareCells(sheet: Sheet): { maxDiff: number[]; equal: number; gray: boolean } {
  return JSON.parse(python(`
import json, os, sys
import numpy as np
from PIL import Image
ds, sheet = json.loads(sys.stdin.read())
m = json.load(open(os.path.join(ds, 'manifest.json')))
images = np.concatenate([np.load(os.path.join(ds, s['images']), mmap_mode='r') for s in m['shards']])
img = np.asarray(Image.open(sheet['out']).convert('RGB')).astype(np.int64)
S, n = sheet['imageSize'], sheet['cellSize']

def area_matrix(S, n):
    # W[x, j] = length of [j, j + 1) inside [x S / n, (x + 1) S / n)
    W = np.zeros((n, S))
    for x in range(n):
        lo, hi = x * S / n, (x + 1) * S / n
        for j in range(int(np.floor(lo)), min(S, int(np.ceil(hi)))):
            W[x, j] = min(hi, j + 1) - max(lo, j)
    return W

def expected(a):
    a = a.astype(np.float64)
    if n == S:
        return a
    if n > S:
        idx = np.minimum(S - 1, np.floor((np.arange(n) + 0.5) * S / n).astype(int))
        return a[np.ix_(idx, idx)]
    if S % n == 0:
        f = S // n
        return np.floor(a.reshape(n, f, n, f).sum(axis=(1, 3)) / (f * f) + 0.5)
    W = area_matrix(S, n)
    return np.floor(W @ a @ W.T / (S / n) ** 2 + 0.5)

diffs, equal, total, gray = [], 0, 0, True
for c in sheet['cells']:
    i = (c['class'] - m['startClass']) * m['instances'] + c['instance']
    region = img[c['y']:c['y'] + n, c['x']:c['x'] + n]
    gray = gray and (region[..., 0] == region[..., 1]).all() and (region[..., 1] == region[..., 2]).all()
    d = np.abs(region[..., 0] - expected(images[i]))
    diffs.append(int(d.max())); equal += int((d == 0).sum()); total += d.size
print(json.dumps({'maxDiff': diffs, 'equal': equal / total, 'gray': bool(gray)}))
`, JSON.stringify([DS, sheet])));
}

beforeAll(() => {
  const r = runCli(['build', '--out', DS, '--quiet', ...SET, ...GEN]);
  if (r.status !== 0) throw new Error(r.stderr);
});
afterAll(() => fs.rmSync(T, { recursive: true, force: true }));

describe('refusals (exit 2, option named, nothing written)', () => {
  const out = path.join(T, 'refused.png');
  const cases: Array<[string, string[], RegExp]> = [
    ['no --out', ['preview', ...GEN], /Missing --out/],
    ['--cell-size 8', ['preview', '--out', out, '--cell-size', '8', ...GEN], /--cell-size: "8"; expected an integer from 16 to 4096/],
    ['--cell-size x', ['preview', '--out', out, '--cell-size', 'x', ...GEN], /--cell-size: "x"/],
    ['a bad generator option', ['preview', '--out', out, ...SMALL, '--vertices', '9:4'], /--vertices: "9:4"/],
    ['--classes 0', ['preview', '--out', out, ...GEN, '--classes', '0'], /--classes: "0"/],
    ['a generator option with --from', ['preview', '--out', out, '--from', DS, '--vertices', '3:5'], /--vertices: "3:5"; expected no generator option with --from/],
    ['more classes than --from holds', ['preview', '--out', out, '--from', DS, '--classes', '4'], /--classes: 4; expected at most 3/],
    ['a --start-class --from lacks', ['preview', '--out', out, '--from', DS, '--start-class', '0'], /--start-class: 0; expected a class of .*: 2 to 4/],
    ['more instances than --from holds', ['preview', '--out', out, '--from', DS, '--instances', '5'], /--instances: 5; expected at most 4/],
    ['--from a directory that is not a dataset', ['preview', '--out', out, '--from', T], /not a vatom-fast dataset/],
    ['--out a directory', ['preview', '--out', T, ...GEN], /--out: .*expected a PNG file path, not a directory/],
    ['--out in a missing directory', ['preview', '--out', path.join(T, 'no', 'x.png'), ...GEN], /--out: .*expected a file in an existing directory/],
    ['a sheet too large', ['preview', '--out', out, ...GEN, '--classes', '300', '--instances', '300'], /contact sheet size: 300 classes x 300 instances .*lower --classes, --instances or --cell-size/],
  ];
  it.each(cases)('refuses %s', (_name, args, message) => {
    const r = runCli(args);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('contact sheet', () => {
  it('defaults to 8 x 8 cells of min(128, S) pixels', async () => {
    const sheet = preview(['--out', path.join(T, 'default.png'), ...GEN]);
    expect([sheet.rows, sheet.columns, sheet.cellSize, sheet.resize]).toEqual([8, 8, 64, 'none']);
    const meta = await sharp(sheet.out).metadata();
    expect([meta.width, meta.height, meta.channels, meta.format]).toEqual([sheet.width, sheet.height, 3, 'png']);
  });

  it.each([['32', 'area', true], ['48', 'area', false], ['64', 'none', true], ['100', 'nearest', true]])(
    'at --cell-size %s (%s resize) shows in each cell the rendered image, resized', async (cell, resize, exact) => {
      const sheet = preview(['--out', path.join(T, `sheet-${cell}.png`), '--cell-size', cell, ...SET, ...GEN]);
      expect(sheet).toMatchObject({ rows: 3, columns: 4, imageSize: 64, cellSize: Number(cell), resize });
      const meta = await sharp(sheet.out).metadata();
      expect([meta.width, meta.height]).toEqual([sheet.width, sheet.height]);
      // One cell per class and instance, row = class, column = instance, inside the sheet, not overlapping.
      expect(sheet.cells.map((c) => [c.row, c.column, c.class, c.instance]))
        .toEqual([0, 1, 2].flatMap((r) => [0, 1, 2, 3].map((c) => [r, c, 2 + r, c])));
      const n = Number(cell);
      for (const a of sheet.cells) {
        expect(a.x + n).toBeLessThanOrEqual(sheet.width);
        expect(a.y + n).toBeLessThanOrEqual(sheet.height);
        for (const b of sheet.cells) {
          if (a !== b) expect(a.x + n <= b.x || b.x + n <= a.x || a.y + n <= b.y || b.y + n <= a.y).toBe(true);
        }
      }
      const cmp = compareCells(sheet);
      expect(cmp.gray).toBe(true);
      if (exact) {
        expect(cmp.maxDiff).toEqual(sheet.cells.map(() => 0));
      } else {
        // A non-integer factor: the same area weights in another order of floating-point sums.
        expect(Math.max(...cmp.maxDiff)).toBeLessThanOrEqual(1);
        expect(cmp.equal).toBeGreaterThan(0.99);
      }
    });

  it('labels each cell with its class, instance and drawn parameters, drawn under the cell', async () => {
    const m = JSON.parse(fs.readFileSync(path.join(DS, 'manifest.json'), 'utf8'));
    for (const env of [{}, { VATOM_PREVIEW_FONT: 'bitmap' }]) {
      const sheet = preview(['--out', path.join(T, 'labels.png'), ...SET, ...GEN], env);
      expect(sheet.font).toBe(Object.keys(env).length === 0 ? 'svg' : 'bitmap');
      const { data, info } = await sharp(sheet.out).raw().toBuffer({ resolveWithObject: true });
      for (const c of sheet.cells) {
        const p = m.classParams[c.class - 2];
        expect(c.label).toEqual([`c ${c.class}  i ${c.instance}`, `q ${p.vertices}  K ${p.orbits}`,
          `n1 ${p.freq1}  n2 ${p.freq2}  eta ${p.noise.toFixed(2)}`]);
        // Text pixels (brighter than the background) in the strip under the cell.
        let ink = 0;
        for (let y = c.y + sheet.cellSize; y < c.y + sheet.cellSize + 30 && y < info.height; ++y) {
          for (let x = c.x; x < c.x + sheet.cellSize; ++x) if (data[3 * (y * info.width + x)] > 120) ++ink;
        }
        expect(ink).toBeGreaterThan(20);
      }
    }
  });

  it('--from DIR draws the same sheet as rendering with the same options', async () => {
    const a = preview(['--out', path.join(T, 'rendered.png'), '--cell-size', '40', ...SET, ...GEN]);
    const b = preview(['--out', path.join(T, 'from.png'), '--cell-size', '40', '--from', DS]);
    expect({ ...b, out: '' }).toEqual({ ...a, out: '' });
    const pa = await sharp(a.out).raw().toBuffer();
    const pb = await sharp(b.out).raw().toBuffer();
    expect(pb.equals(pa)).toBe(true);
    const c = preview(['--out', path.join(T, 'from-part.png'), '--from', DS, '--start-class', '3', '--classes', '2', '--instances', '2']);
    expect(c.cells.map((x) => [x.class, x.instance])).toEqual([[3, 0], [3, 1], [4, 0], [4, 1]]);
    expect(compareCells(c).maxDiff).toEqual([0, 0, 0, 0]);
  });
});
