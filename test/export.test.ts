// `vatom-fast export` as a user runs it: PNG trees (reference layout, ImageFolder) and WebDataset
// shards whose decoded pixels and labels equal the .npy dataset, refusals, and resume after SIGKILL.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { python, runCli, sha256File, startCli, tempDir, SMALL } from './helpers';

const T = tempDir('vatom-export-');
const DS = path.join(T, 'ds');
// 5 classes from class 3, 7 instances, npy shards of 8 images (so reads cross shard boundaries).
const DATASET = ['--classes', '5', '--start-class', '3', '--instances', '7', ...SMALL, '--seed', '5', '--shard-size', '8'];
const S = 64;

interface Manifest {
  startClass: number;
  classes: number;
  instances: number;
  imagesDataOffset: number;
  classParams: Array<{ class: number; vertices: number }>;
  shards: Array<{ images: string; first: number; count: number }>;
}

function cli(args: string[]) {
  return runCli(args);
}

function ok(args: string[]) {
  const r = cli(args);
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r;
}

function manifest(dir: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
}

/** Image i of a dataset, read with fs from its shard (data at imagesDataOffset + i * S * S). */
function npyImage(dir: string, m: Manifest, i: number): Buffer {
  const shard = m.shards.find((s) => i >= s.first && i < s.first + s.count)!;
  const fd = fs.openSync(path.join(dir, shard.images), 'r');
  try {
    const size = m.imagesDataOffset ? S * S : 0;
    const buf = Buffer.alloc(size);
    fs.readSync(fd, buf, 0, size, m.imagesDataOffset + (i - shard.first) * S * S);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** Every file under dir (relative path -> sha256). */
function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r); else out[r] = sha256File(path.join(dir, r));
    }
  };
  walk('');
  return out;
}

function expectedPngPaths(m: Manifest): string[] {
  const out: string[] = [];
  for (const p of m.classParams) {
    for (let j = 0; j < m.instances; ++j) {
      out.push(path.join(String(p.class).padStart(5, '0'),
        `vertex_${String(p.vertices).padStart(4, '0')}_instance_${String(j).padStart(4, '0')}.png`));
    }
  }
  return out;
}

beforeAll(() => {
  ok(['build', '--out', DS, '--quiet', ...DATASET]);
});
afterAll(() => fs.rmSync(T, { recursive: true, force: true }));

describe('refusals (exit 2, option named, nothing written)', () => {
  const out = path.join(T, 'refused');
  const cases: Array<[string, string[], RegExp]> = [
    ['no --to', ['export', DS, '--out', out], /--to/],
    ['an unknown --to', ['export', DS, '--to', 'jpg', '--out', out], /--to: "jpg"; expected one of png, wds/],
    ['no --out', ['export', DS, '--to', 'png'], /Missing --out/],
    ['--png-level 10', ['export', DS, '--to', 'png', '--out', out, '--png-level', '10'], /--png-level: "10"; expected an integer from 0 to 9/],
    ['--png-level 1.5', ['export', DS, '--to', 'png', '--out', out, '--png-level', '1.5'], /--png-level: "1.5"/],
    ['--png-level x', ['export', DS, '--to', 'wds', '--out', out, '--png-level', 'x'], /--png-level: "x"/],
    ['--threads 0', ['export', DS, '--to', 'png', '--out', out, '--threads', '0'], /--threads: "0"/],
    ['--shard-images 0', ['export', DS, '--to', 'wds', '--out', out, '--shard-images', '0'], /--shard-images: "0"; expected an integer >= 1/],
    ['--shard-images with png', ['export', DS, '--to', 'png', '--out', out, '--shard-images', '5'], /--shard-images: "5"; expected no --shard-images with png/],
    ['--prefix with png', ['export', DS, '--to', 'png', '--out', out, '--prefix', 'a'], /--prefix/],
    ['a --prefix with a slash', ['export', DS, '--to', 'wds', '--out', out, '--prefix', '../x'], /--prefix: "..\/x"/],
    ['an unknown option', ['export', DS, '--to', 'png', '--out', out, '--level', '3'], /Unknown argument: level/],
    ['a directory that is not a dataset', ['export', T, '--to', 'png', '--out', out], /not a vatom-fast dataset/],
    ['--out equal to the dataset', ['export', DS, '--to', 'png', '--out', DS], /--out: .*holds the dataset/],
  ];
  it.each(cases)('refuses %s', (_name, args, message) => {
    const r = cli(args);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses an output directory that holds other files', () => {
    const foreign = path.join(T, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    const r = cli(['export', DS, '--to', 'png', '--out', foreign]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--out .*foreign exists, is not empty .* not a vatom-fast export/);
    expect(fs.readdirSync(foreign)).toEqual(['notes.txt']);
  });

  it('refuses an incomplete dataset', () => {
    const partial = path.join(T, 'partial');
    fs.cpSync(DS, partial, { recursive: true });
    const m = manifest(partial) as Manifest & { complete: boolean };
    m.complete = false;
    fs.writeFileSync(path.join(partial, 'manifest.json'), JSON.stringify(m));
    const r = cli(['export', partial, '--to', 'png', '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/incomplete dataset/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses to continue an export with other options or another source', () => {
    const first = path.join(T, 'first');
    ok(['export', DS, '--to', 'png', '--out', first, '--quiet', '--png-level', '1']);
    const before = treeHashes(first);
    let r = cli(['export', DS, '--to', 'png', '--out', first, '--png-level', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/holds an export of another source or with other options \(pngLevel: 1 there, 2 here\)/);
    r = cli(['export', DS, '--to', 'wds', '--out', first]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/to: "png" there, "wds" here/);
    const other = path.join(T, 'other-seed');
    ok(['build', '--out', other, '--quiet', ...DATASET.slice(0, -4), '--seed', '6']);
    r = cli(['export', other, '--to', 'png', '--out', first, '--png-level', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/source seed: "5" there, "6" here/);
    expect(treeHashes(first)).toEqual(before);
  });
});

describe('PNG tree', () => {
  const rgb = path.join(T, 'png');
  const gray = path.join(T, 'png-gray');
  let m: Manifest;
  beforeAll(() => {
    m = manifest(DS);
    ok(['export', DS, '--to', 'png', '--out', rgb, '--quiet', '--threads', '2']);
    ok(['export', DS, '--to', 'png', '--out', gray, '--quiet', '--gray', '--png-level', '9']);
  });

  it('uses the reference layout: %05d class folders of vertex_%04d_instance_%04d.png, and nothing else', () => {
    const files = Object.keys(treeHashes(rgb)).filter((f) => f !== 'vatom-export.json').sort();
    expect(files).toEqual(expectedPngPaths(m).sort());
    expect(fs.readdirSync(rgb).filter((f) => f !== 'vatom-export.json').sort()).toEqual(['00003', '00004', '00005', '00006', '00007']);
  });

  it('decodes (sharp) to the .npy pixels for every image: RGB with R = G = B, or one channel with --gray', async () => {
    const paths = expectedPngPaths(m);
    for (let i = 0; i < m.classes * m.instances; ++i) {
      const source = npyImage(DS, m, i);
      expect((await sharp(path.join(rgb, paths[i])).metadata()).channels).toBe(3);
      const a = await sharp(path.join(rgb, paths[i])).raw().toBuffer({ resolveWithObject: true });
      expect([a.info.width, a.info.height, a.info.channels]).toEqual([S, S, 3]);
      const expected = Buffer.alloc(S * S * 3);
      for (let k = 0; k < S * S; ++k) expected.fill(source[k], 3 * k, 3 * k + 3);
      expect(a.data.equals(expected)).toBe(true);
      expect((await sharp(path.join(gray, paths[i])).metadata()).channels).toBe(1);
      const b = await sharp(path.join(gray, paths[i])).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      expect(b.info.channels).toBe(1);
      expect(b.data.equals(source)).toBe(true);
    }
  });

  it('decodes (Python PIL) to the .npy pixels for every image', () => {
    const report = JSON.parse(python(`
import json, os, sys
import numpy as np
from PIL import Image
ds, rgb, gray = sys.argv[1:] if len(sys.argv) > 1 else json.loads(sys.stdin.read())
m = json.load(open(os.path.join(ds, 'manifest.json')))
images = np.concatenate([np.load(os.path.join(ds, s['images']), mmap_mode='r') for s in m['shards']])
checked, bad, modes = 0, [], set()
for c, p in enumerate(m['classParams']):
    for j in range(m['instances']):
        name = os.path.join('%05d' % p['class'], 'vertex_%04d_instance_%04d.png' % (p['vertices'], j))
        src = images[c * m['instances'] + j]
        a = Image.open(os.path.join(rgb, name)); b = Image.open(os.path.join(gray, name))
        modes.add(a.mode + '/' + b.mode)
        x = np.asarray(a); y = np.asarray(b)
        if x.shape != src.shape + (3,) or not all((x[..., k] == src).all() for k in range(3)) or not (y == src).all():
            bad.append(name)
        checked += 1
print(json.dumps({'checked': checked, 'bad': bad, 'modes': sorted(modes)}))
`, JSON.stringify([DS, rgb, gray])));
    expect(report).toEqual({ checked: 35, bad: [], modes: ['RGB/L'] });
  });

  it('is read by torchvision ImageFolder (or, without torchvision, by the same rules): every class and image', () => {
    const report = JSON.parse(python(`
import json, os, sys
root = sys.stdin.read()
try:
    from torchvision.datasets import ImageFolder
    ds = ImageFolder(root)
    out = {'classes': ds.classes, 'samples': [[os.path.relpath(p, root), t] for p, t in ds.samples], 'via': 'torchvision'}
    out['first'] = list(ds[0][0].size) + [ds[0][0].mode]
except ImportError:
    # torchvision's rules: classes are the sorted subdirectories; samples the files with an image
    # extension in each, walked in sorted order; a class with no image is an error.
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    samples = []
    for t, c in enumerate(classes):
        files = sorted(f for f in os.listdir(os.path.join(root, c)) if f.lower().endswith(('.png', '.jpg', '.jpeg')))
        assert files, c
        samples += [[os.path.join(c, f), t] for f in files]
    from PIL import Image
    im = Image.open(os.path.join(root, samples[0][0])).convert('RGB')
    out = {'classes': classes, 'samples': samples, 'via': 'rules', 'first': list(im.size) + [im.mode]}
print(json.dumps(out))
`, rgb));
    expect(report.classes).toEqual(['00003', '00004', '00005', '00006', '00007']);
    const expected = expectedPngPaths(m).map((p, i) => [p, Math.floor(i / m.instances)]);
    expect(report.samples).toEqual(expected);
    expect(report.first).toEqual([S, S, 'RGB']);
  });

  it('gives the same files whatever the thread count, and a rerun of a finished export keeps everything', () => {
    const one = path.join(T, 'png-1thread');
    ok(['export', DS, '--to', 'png', '--out', one, '--quiet', '--threads', '1']);
    expect(treeHashes(one)).toEqual(treeHashes(rgb));
    const again = JSON.parse(ok(['export', DS, '--to', 'png', '--out', one, '--json']).stdout);
    expect(again).toMatchObject({ images: 35, written: 0, kept: 35, checked: 0, redone: 0 });
  });

  it('checks one-channel files found beyond the checkpoint by decoding them, and keeps them', () => {
    const markerFile = path.join(gray, 'vatom-export.json');
    const before = treeHashes(gray);
    const marker = JSON.parse(fs.readFileSync(markerFile, 'utf8'));
    fs.writeFileSync(markerFile, JSON.stringify({ ...marker, complete: false, doneThrough: 0 }));
    const again = JSON.parse(ok(['export', DS, '--to', 'png', '--out', gray, '--gray', '--png-level', '9', '--json']).stdout);
    expect(again).toMatchObject({ images: 35, written: 0, kept: 35, checked: 35, redone: 0 });
    expect(treeHashes(gray)).toEqual(before);
  });
});

describe('WebDataset shards', () => {
  const out = path.join(T, 'wds');
  let m: Manifest;
  let summary: { pattern: string; shards: number; shardList: string };
  const key = (i: number) => `${String(3 + Math.floor(i / 7)).padStart(5, '0')}_${String(i % 7).padStart(4, '0')}`;
  beforeAll(() => {
    m = manifest(DS);
    summary = JSON.parse(ok(['export', DS, '--to', 'wds', '--out', out, '--shard-images', '8', '--prefix', 'va', '--json']).stdout);
  });

  it('writes ceil(35 / 8) shards named PREFIX-%06d.tar and a shard list with the brace pattern', () => {
    expect(summary.shards).toBe(5);
    expect(fs.readdirSync(out).sort()).toEqual(['va-000000.tar', 'va-000001.tar', 'va-000002.tar', 'va-000003.tar',
      'va-000004.tar', 'va-shards.txt', 'vatom-export.json']);
    expect(summary.pattern).toBe(`${path.resolve(out)}/va-{000000..000004}.tar`);
    expect(fs.readFileSync(path.join(out, 'va-shards.txt'), 'utf8')).toBe(`${summary.pattern}\n`);
    const printed = ok(['export', DS, '--to', 'wds', '--out', out, '--shard-images', '8', '--prefix', 'va', '--quiet']);
    expect(printed.stdout).toBe(`${summary.pattern}\n`);
  });

  it('lists exactly the expected members, sorted, with shard boundaries every 8 images (tar -tf)', () => {
    for (let j = 0; j < 5; ++j) {
      const r = spawnSync('tar', ['-tf', path.join(out, `va-${String(j).padStart(6, '0')}.tar`)], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      const expected: string[] = [];
      for (let i = 8 * j; i < Math.min(35, 8 * j + 8); ++i) expected.push(`${key(i)}.cls`, `${key(i)}.png`);
      expect(r.stdout.trim().split('\n')).toEqual(expected);
      expect([...expected].sort()).toEqual(expected);
    }
  });

  it('holds images and labels equal to the source (Python tarfile + PIL)', () => {
    const report = JSON.parse(python(`
import io, json, os, sys, tarfile
import numpy as np
from PIL import Image
ds, out = json.loads(sys.stdin.read())
m = json.load(open(os.path.join(ds, 'manifest.json')))
images = np.concatenate([np.load(os.path.join(ds, s['images']), mmap_mode='r') for s in m['shards']])
labels = np.concatenate([np.load(os.path.join(ds, s['labels'])) for s in m['shards']])
members, bad, n = [], [], 0
for j in range(5):
    with tarfile.open(os.path.join(out, 'va-%06d.tar' % j)) as t:
        names = t.getnames(); members.append(names)
        for name in names:
            key, ext = name.split('.', 1)
            c, inst = map(int, key.split('_'))
            i = (c - m['startClass']) * m['instances'] + inst
            data = t.extractfile(name).read()
            if ext == 'cls':
                if data != str(int(labels[i])).encode() or int(data) != c: bad.append(name)
            else:
                x = np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
                if not all((x[..., k] == images[i]).all() for k in range(3)): bad.append(name)
                n += 1
print(json.dumps({'members': members, 'bad': bad, 'images': n}))
`, JSON.stringify([DS, out])));
    expect(report.bad).toEqual([]);
    expect(report.images).toBe(35);
    expect(report.members.map((x: string[]) => x.length)).toEqual([16, 16, 16, 16, 6]);
  });

  it('gives byte-identical shards on another run (fixed member times and owners)', () => {
    const again = path.join(T, 'wds-again');
    ok(['export', DS, '--to', 'wds', '--out', again, '--shard-images', '8', '--prefix', 'va', '--quiet', '--threads', '1']);
    const a = treeHashes(out);
    const b = treeHashes(again);
    for (const name of Object.keys(a).filter((n) => n.endsWith('.tar'))) expect(b[name]).toBe(a[name]);
  });
});

describe('interrupted exports (SIGKILL) resume to the same files as an uninterrupted one', () => {
  // Larger, denser images so that the export runs long enough to be killed part-way.
  const big = path.join(T, 'big');
  const ARGS = ['--classes', '24', '--instances', '25', '--image-size', '256', '--start-pos', '256', '--orbits', '20:60', '--seed', '9'];
  beforeAll(() => {
    ok(['build', '--out', big, '--quiet', ...ARGS]);
  });

  async function killWhen(args: string[], ready: () => boolean): Promise<void> {
    const child = startCli(args);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (ready()) { clearInterval(timer); child.kill('SIGKILL'); resolve(); }
      }, 2);
      child.on('exit', () => { clearInterval(timer); resolve(); });
    });
    await exited;
  }

  function countPngs(dir: string): number {
    if (!fs.existsSync(dir)) return 0;
    return fs.readdirSync(dir).filter((d) => /^\d{5}$/.test(d))
      .reduce((n, d) => n + fs.readdirSync(path.join(dir, d)).filter((f) => f.endsWith('.png')).length, 0);
  }

  it('PNG tree', async () => {
    const whole = path.join(T, 'big-png');
    const killed = path.join(T, 'big-png-killed');
    ok(['export', big, '--to', 'png', '--out', whole, '--quiet']);
    await killWhen(['export', big, '--to', 'png', '--out', killed, '--quiet', '--threads', '1'], () => countPngs(killed) >= 150);
    const marker = JSON.parse(fs.readFileSync(path.join(killed, 'vatom-export.json'), 'utf8'));
    expect(marker.complete).toBe(false);
    expect(countPngs(killed)).toBeLessThan(600);

    // What a kill can leave beyond the checkpoint: a partial temporary file, and (as after a crash
    // of the machine) a file with a final name but not the right content.
    marker.doneThrough = 0;
    fs.writeFileSync(path.join(killed, 'vatom-export.json'), JSON.stringify(marker));
    const files = expectedPngPaths(manifest(big));
    const damaged = files.find((f) => fs.existsSync(path.join(killed, f)))!;
    fs.writeFileSync(path.join(killed, damaged), fs.readFileSync(path.join(killed, damaged)).subarray(0, 100));
    const missing = files.find((f) => !fs.existsSync(path.join(killed, f)))!;
    fs.writeFileSync(path.join(killed, `${missing}.tmp`), 'partial');

    const r = JSON.parse(ok(['export', big, '--to', 'png', '--out', killed, '--json']).stdout);
    expect(r.redone).toBe(1);
    expect(r.kept).toBeGreaterThanOrEqual(149);
    expect(r.checked).toBe(r.kept);  // beyond the checkpoint (here: all), kept files were decoded and compared
    expect(r.written + r.kept).toBe(600);
    expect(treeHashes(killed)).toEqual(treeHashes(whole));
  });

  it('WebDataset shards', async () => {
    const whole = path.join(T, 'big-wds');
    const killed = path.join(T, 'big-wds-killed');
    const args = ['--to', 'wds', '--shard-images', '100'];
    ok(['export', big, ...args, '--out', whole, '--quiet']);
    await killWhen(['export', big, ...args, '--out', killed, '--quiet', '--threads', '1'],
      () => fs.existsSync(path.join(killed, 'visualatom-000001.tar')) && fs.existsSync(path.join(killed, 'visualatom-000002.tar.partial')));
    expect(JSON.parse(fs.readFileSync(path.join(killed, 'vatom-export.json'), 'utf8')).complete).toBe(false);
    // A finished shard damaged afterwards is found by its checksum and written again.
    fs.appendFileSync(path.join(killed, 'visualatom-000000.tar'), 'x');

    const r = JSON.parse(ok(['export', big, ...args, '--out', killed, '--json']).stdout);
    expect(r).toMatchObject({ shards: 6, shardsKept: 1, redone: 1 });
    const tars = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([n]) => n.endsWith('.tar')));
    expect(tars(treeHashes(killed))).toEqual(tars(treeHashes(whole)));
    expect(Object.keys(treeHashes(killed))).toEqual(Object.keys(treeHashes(whole)));
  });
});

describe('buildExport (build --format png|wds)', () => {
  it('writes the same files as export of the built dataset, without a .npy in between', async () => {
    const { buildExport } = await import('../lib/export');
    const { parseBuildOptions } = await import('../lib/options/build');
    const { createReporter } = await import('../lib/progress');
    const reporter = createReporter({ quiet: true });
    for (const settings of [{ to: 'png' as const, gray: false, pngLevel: 6 },
      { to: 'wds' as const, gray: false, pngLevel: 6, shardImages: 8, prefix: 'va' }]) {
      const out = path.join(T, `direct-${settings.to}`);
      const options = parseBuildOptions({ out, classes: '5', 'start-class': '3', instances: '7', 'image-size': '64',
        vertices: '20:60', orbits: '1:12', 'start-pos': '64', 'radius-min': '2', 'line-width': '0.1', seed: '5', threads: '2' });
      const summary = await buildExport(options, settings, { reporter });
      expect(summary.written).toBe(35);
      const viaExport = path.join(T, `via-export-${settings.to}`);
      ok(['export', DS, '--to', settings.to, '--out', viaExport, '--quiet',
        ...(settings.to === 'wds' ? ['--shard-images', '8', '--prefix', 'va'] : [])]);
      const a = treeHashes(out);
      const b = treeHashes(viaExport);
      for (const f of Object.keys(b)) if (!f.endsWith('.txt')) expect([f, a[f]]).toEqual([f, b[f]]);
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      // Same source identity: export of the dataset into the directly built output resumes it.
      expect(cli(['export', DS, '--to', settings.to, '--out', out, '--quiet',
        ...(settings.to === 'wds' ? ['--shard-images', '8', '--prefix', 'va'] : [])]).status).toBe(0);
    }
  });
});
