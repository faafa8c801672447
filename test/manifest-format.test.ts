// `build --format manifest` (a dataset that is its manifest alone, images rendered on access) as a user
// runs it: exact contents, the preset sizes, info, verify against a fresh draw, filling in the shards,
// and export / preview --from rendering it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildManifest, isManifestOnly, readManifest } from '../lib';
import { parseBuildOptions } from '../lib/options/build';
import { nativeSpec } from '../lib/dataset/identity';
import { directoryHashes, native, runCli, sha256File, tempDir, SMALL } from './helpers';

const T = tempDir('vatom-manifest-format-');
afterAll(() => fs.rmSync(T, { recursive: true, force: true }));

const PHILOX = ['--classes', '6', '--instances', '5', ...SMALL, '--seed', '7', '--shard-size', '8'];
const REFERENCE = ['--classes', '5', '--instances', '3', ...SMALL, '--rng', 'reference', '--reference-threads', '2'];
const STREAMS: Array<[string, string[]]> = [['philox', PHILOX], ['reference', REFERENCE]];

function ok(args: string[]) {
  const r = runCli(args);
  if (r.status !== 0) throw new Error(`vatom-fast ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r;
}

/** Command-line pairs (--name value) as the raw options parseBuildOptions takes. */
function rawOf(args: string[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i += 2) raw[args[i].slice(2)] = args[i + 1];
  return raw;
}

const manifestPath = (dir: string) => path.join(dir, 'manifest.json');
const manifestOf = (dir: string) => JSON.parse(fs.readFileSync(manifestPath(dir), 'utf8'));

/** A fresh copy of a dataset directory, to tamper with. */
function copy(dir: string, name: string): string {
  const to = path.join(T, name);
  fs.cpSync(dir, to, { recursive: true });
  return to;
}

/** Files of a tree (relative paths) with their sha256. */
function treeHashes(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p); else out[p] = sha256File(path.join(root, p));
    }
  };
  walk('');
  return out;
}

describe.each(STREAMS)('the %s stream', (stream, args) => {
  const only = path.join(T, `${stream}-manifest`);
  const stored = path.join(T, `${stream}-stored`);
  let summary: Record<string, unknown>;
  beforeAll(() => {
    summary = JSON.parse(ok(['build', '--format', 'manifest', '--out', only, '--json', ...args]).stdout);
    ok(['build', '--out', stored, '--quiet', ...args]);
  });

  it('writes manifest.json alone: the stored manifest with "storage": "manifest" and no shards', () => {
    expect(fs.readdirSync(only)).toEqual(['manifest.json']);
    const direct = manifestOf(stored);
    expect(direct.storage).toBe('npy');
    expect(direct.shards.length).toBeGreaterThan(0);
    const expected = `${JSON.stringify({ ...direct, storage: 'manifest', shards: [] }, null, 1)}\n`;
    expect(fs.readFileSync(manifestPath(only), 'utf8')).toBe(expected);
  });

  it('lists every class\'s parameters as the native library draws them', async () => {
    const m = manifestOf(only);
    const drawn = await native().drawClassParams(nativeSpec(parseBuildOptions(rawOf(args), false)));
    expect(m.classParams).toEqual(drawn.map((p, i) => ({ class: i, ...p })));
    expect(m.complete).toBe(true);
    expect(m.shards).toEqual([]);
  });

  it('reports its size and the size it would take stored', () => {
    const storedBytes = fs.readdirSync(stored).filter((f) => f.endsWith('.npy'))
      .reduce((sum, f) => sum + fs.statSync(path.join(stored, f)).size, 0);
    expect(summary).toMatchObject({
      out: only, storage: 'manifest', images: manifestOf(only).imageCount,
      manifestBytes: fs.statSync(manifestPath(only)).size, storedBytes,
    });
    const info = JSON.parse(ok(['info', only, '--json']).stdout);
    expect(info).toMatchObject({ storage: 'manifest', rendersOnAccess: true, storedBytes, complete: true, shards: 0, bytes: 0 });
    expect(JSON.parse(ok(['info', stored, '--json']).stdout)).toMatchObject({ storage: 'npy', bytes: storedBytes });
    expect(JSON.parse(ok(['info', stored, '--json']).stdout).rendersOnAccess).toBeUndefined();
  });

  it('info says it renders on access', () => {
    const lines = ok(['info', only]).stdout.split('\n');
    expect(lines[0]).toBe(`dataset     ${only} (manifest only)`);
    expect(lines[2]).toMatch(/^storage {5}none: images render on access \(vatom-fast build --format npy with the same options adds \d+ shards? of up to \d+ images, [\d.]+ kB\)$/);
  });

  it('verify checks its parameters against a fresh draw (exit 0)', () => {
    const m = manifestOf(only);
    const r = runCli(['verify', only]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${only}: OK, manifest only (images render on access), ${m.classes} classes' parameters equal what its config and seed draw\n`);
    const json = runCli(['verify', only, '--json']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, problems: [], storage: 'manifest', shardsChecked: 0, bytesChecked: 0, classesChecked: m.classes });
  });

  it('verify names the class and field of a tampered parameter (exit 1)', () => {
    const dir = copy(only, `${stream}-tampered`);
    const m = manifestOf(dir);
    const drawn = m.classParams[2].ovalY;
    m.classParams[2].ovalY = 1.5;
    fs.writeFileSync(manifestPath(dir), JSON.stringify(m));
    const r = runCli(['verify', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${dir}: class 2: ovalY is 1.5, the config and seed draw ${JSON.stringify(drawn)}\n${dir}: FAILED, 1 problem(s)\n`);
    const json = JSON.parse(runCli(['verify', dir, '--json']).stdout);
    expect(json).toMatchObject({ ok: false, storage: 'manifest', classesChecked: 0 });
    // Rendering it would give other images than the seed's: export and preview refuse it.
    const e = runCli(['export', dir, '--to', 'png', '--out', path.join(T, `${stream}-tampered-png`)]);
    expect(e.status).toBe(2);
    expect(e.stderr).toBe(`vatom-fast: ${dir} is a manifest-only dataset that cannot render: class 2: ovalY is 1.5, ` +
      `the config and seed draw ${JSON.stringify(drawn)}; run vatom-fast verify ${dir}\n`);
    expect(fs.existsSync(path.join(T, `${stream}-tampered-png`))).toBe(false);
  });

  it('build --format npy into it adds the shards: files byte-identical to a direct build', () => {
    const dir = copy(only, `${stream}-filled`);
    ok(['build', '--out', dir, '--quiet', ...args]);
    expect(directoryHashes(dir)).toEqual(directoryHashes(stored));
    expect(runCli(['verify', dir]).status).toBe(0);
  });

  it('export renders it: the same files as an export of the stored dataset', () => {
    for (const to of ['png', 'wds']) {
      const a = path.join(T, `${stream}-export-${to}-rendered`);
      const b = path.join(T, `${stream}-export-${to}-stored`);
      ok(['export', only, '--to', to, '--out', a, '--quiet', '--threads', '2']);
      ok(['export', stored, '--to', to, '--out', b, '--quiet', '--threads', '2']);
      // The WebDataset shard list names its directory.
      const list = path.join(a, 'visualatom-shards.txt');
      if (to === 'wds') fs.writeFileSync(list, fs.readFileSync(list, 'utf8').split(a).join(b));
      const hashes = treeHashes(a);
      expect(Object.keys(hashes).length).toBeGreaterThan(to === 'wds' ? 2 : 10);
      expect(hashes).toEqual(treeHashes(b));
    }
  });

  it('preview --from renders it: the same sheet as from the stored dataset', () => {
    const a = path.join(T, `${stream}-rendered.png`);
    const b = path.join(T, `${stream}-stored.png`);
    const la = JSON.parse(ok(['preview', '--from', only, '--out', a, '--json', '--instances', '3']).stdout);
    const lb = JSON.parse(ok(['preview', '--from', stored, '--out', b, '--json', '--instances', '3']).stdout);
    expect({ ...la, out: '' }).toEqual({ ...lb, out: '' });
    expect(sha256File(a)).toBe(sha256File(b));
  });
});

describe('the presets', () => {
  it.each([['visualatom-1k', 1000, 1e6], ['visualatom-21k', 21000, 25e6]])('%s: a manifest under the size limit that verifies', (preset, classes, limit) => {
    const dir = path.join(T, preset);
    const summary = JSON.parse(ok(['build', '--format', 'manifest', '--preset', preset, '--out', dir, '--json']).stdout);
    const bytes = fs.statSync(manifestPath(dir)).size;
    expect(bytes).toBeLessThan(limit);
    expect(summary.manifestBytes).toBe(bytes);
    expect(summary.storedBytes).toBe(classes / 4 * (4096 + 4000 * 512 * 512 + 128 + 4 * 4000));
    const m = manifestOf(dir);
    expect(m.classParams.length).toBe(classes);
    expect(m.classParams[classes - 1].class).toBe(classes - 1);
    expect(JSON.parse(runCli(['verify', dir, '--json']).stdout)).toEqual(
      { ok: true, problems: [], storage: 'manifest', shardsChecked: 0, bytesChecked: 0, classesChecked: classes });
    fs.rmSync(dir, { recursive: true });
  });
});

describe('verify of a hostile or inconsistent manifest-only dataset (exit 1, problem named)', () => {
  const base = path.join(T, 'hostile-base');
  beforeAll(() => { ok(['build', '--format', 'manifest', '--out', base, '--quiet', ...PHILOX]); });

  const cases: Array<[string, (m: Record<string, any>) => void, string | RegExp]> = [
    ['another seed', (m) => { m.seed = '8'; }, /: class 0: \w+ is [\d.]+, the config and seed draw [\d.]+ \(6 classes differ\)\n/],
    ['a class short', (m) => { m.classParams.pop(); }, 'manifest.json: classParams lists 5 classes, classes is 6'],
    ['classes out of order', (m) => { [m.classParams[0], m.classParams[1]] = [m.classParams[1], m.classParams[0]]; },
      'manifest.json: classParams[0].class is 1, expected 0'],
    ['an unknown field', (m) => { m.classParams[4].extra = 1; }, 'manifest.json: /classParams/4 has an unknown field "extra" (schema manifest.schema.json)'],
    ['a missing field', (m) => { delete m.classParams[5].noise; }, "manifest.json: /classParams/5 must have required property 'noise'"],
    ['a string for a number', (m) => { m.classParams[1].radius = String(m.classParams[1].radius); }, /manifest\.json: \/classParams\/1\/radius \("\d+"\) must be integer/],
    ['a config the parameters were not drawn with', (m) => { m.config.verticesMax = 61; },
      /: class 0: vertices is 59, the config and seed draw 60 \(3 classes differ\)\n/],
    ['counts its configuration does not give', (m) => { m.requestedClasses = 7; },
      'manifest.json: classes 6 is not what requestedClasses 7 makes with rng philox (7)'],
    ['a config build refuses', (m) => { m.config.imageSize = 4; },
      'manifest.json: /config/imageSize (4) must be >= 16'],
    ['shards listed', (m) => {
      m.shards = [{ images: 'images-00000.npy', labels: 'labels-00000.npy', first: 0, count: 30, imagesBytes: null, labelsBytes: null, imagesSha256: null, labelsSha256: null }];
    }, 'manifest.json: a manifest-only dataset (storage "manifest") lists no shards and no part'],
    ['an incomplete one', (m) => { m.complete = false; }, 'manifest.json: a manifest-only dataset (storage "manifest") is always complete'],
    ['an unknown storage', (m) => { m.storage = 'zip'; }, 'manifest.json: /storage ("zip") must be one of "npy", "manifest"'],
    ['a shard size of 0', (m) => { m.shardSize = 0; }, 'manifest.json: /shardSize (0) must be >= 1'],
  ];
  it.each(cases)('%s', (name, tamper, problem) => {
    const dir = copy(base, `hostile-${name.replace(/\W+/g, '-')}`);
    const m = manifestOf(dir);
    tamper(m);
    fs.writeFileSync(manifestPath(dir), JSON.stringify(m));
    const r = runCli(['verify', dir]);
    expect(r.status).toBe(1);
    if (typeof problem === 'string') expect(r.stderr).toContain(problem); else expect(r.stderr).toMatch(problem);
    expect(r.stderr.endsWith(`${dir}: FAILED, 1 problem(s)\n`)).toBe(true);
  });
});

describe('refusals (exit 2, nothing changed)', () => {
  const only = path.join(T, 'refusals-manifest');
  const stored = path.join(T, 'refusals-stored');
  beforeAll(() => {
    ok(['build', '--format', 'manifest', '--out', only, '--quiet', ...PHILOX]);
    ok(['build', '--out', stored, '--quiet', ...PHILOX]);
  });

  function refused(args: string[], message: string, dir: string) {
    const before = fs.existsSync(dir) ? directoryHashes(dir) : undefined;
    const r = runCli(args);
    expect(r.stderr).toBe(`vatom-fast: ${message}\n`);
    expect(r.status).toBe(2);
    expect(fs.existsSync(dir) ? directoryHashes(dir) : undefined).toEqual(before);
  }

  it('refuses build --format npy of another configuration into a manifest-only directory', () => {
    refused(['build', '--out', only, '--quiet', ...PHILOX.slice(0, -4), '--seed', '8', '--shard-size', '8'],
      `--out ${only} holds a dataset with another configuration (manifest.json: seed: "7" there, "8" here); use another --out, or delete it to start over`, only);
  });

  it('refuses build --format manifest of another configuration', () => {
    refused(['build', '--format', 'manifest', '--out', only, '--quiet', ...PHILOX.slice(0, -2)],
      `--out ${only} holds a dataset with another configuration (manifest.json: shardSize: 8 there, 30 here); use another --out, or delete it to start over`, only);
  });

  it('rewrites a manifest-only directory of the same configuration to the same bytes', () => {
    const before = directoryHashes(only);
    ok(['build', '--format', 'manifest', '--out', only, '--quiet', ...PHILOX]);
    expect(directoryHashes(only)).toEqual(before);
  });

  it('refuses to turn a stored dataset into a manifest-only one', () => {
    refused(['build', '--format', 'manifest', '--out', stored, '--quiet', ...PHILOX],
      `--out ${stored} holds this dataset with shards (manifest.json has storage npy); a manifest-only build would leave them unlisted; use another --out`, stored);
  });

  it('reads a manifest written before the storage field as a stored dataset', () => {
    const dir = copy(stored, 'legacy');
    const { storage: _storage, ...legacy } = manifestOf(dir);
    fs.writeFileSync(manifestPath(dir), `${JSON.stringify(legacy, null, 1)}\n`);
    expect(JSON.parse(ok(['info', dir, '--json']).stdout)).toMatchObject({ storage: 'npy', complete: true });
    expect(JSON.parse(ok(['verify', dir, '--json']).stdout)).toMatchObject({ ok: true, storage: 'npy', shardsChecked: 4 });
    refused(['build', '--format', 'manifest', '--out', dir, '--quiet', ...PHILOX],
      `--out ${dir} holds this dataset with shards (manifest.json has storage npy); a manifest-only build would leave them unlisted; use another --out`, dir);
  });

  it('refuses a directory that is not a dataset', () => {
    const dir = path.join(T, 'foreign');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    refused(['build', '--format', 'manifest', '--out', dir, '--quiet', ...PHILOX],
      `--out ${dir} exists, is not empty (1 entries) and is not a vatom-fast dataset; use a new or empty directory`, dir);
  });

  it('refuses a directory another build holds the lock of', () => {
    const dir = copy(only, 'locked');
    const holder = { pid: process.pid, host: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z', command: 'vatom-fast build' };
    fs.writeFileSync(path.join(dir, '.lock'), `${JSON.stringify(holder)}\n`);
    refused(['build', '--format', 'manifest', '--out', dir, '--quiet', ...PHILOX],
      `${dir} is in use by another build: process ${process.pid} on ${holder.host} since ${holder.startedAt} (vatom-fast build); ` +
      `lock file ${path.join(dir, '.lock')}. If that process is gone, delete the lock file`, dir);
  });

  it.each([
    ['--shard-index', ['--shard-index', '0', '--shard-count', '2'], 'Invalid value for --shard-index: "0"; expected no --shard-index with --format manifest (a manifest-only build is one file)'],
    ['--gray', ['--gray'], 'Invalid value for --gray: true; expected no --gray with --format manifest (it applies to --format png and wds)'],
  ])('refuses %s with --format manifest', (_name, extra, message) => {
    const dir = path.join(T, 'never');
    refused(['build', '--format', 'manifest', '--out', dir, ...PHILOX, ...extra], message, dir);
  });

  it('refuses --format manifest in a sharded build (a scheduler array index in the environment)', () => {
    const dir = path.join(T, 'never');
    const r = runCli(['build', '--format', 'manifest', '--out', dir, ...PHILOX], { env: { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '2' } });
    expect(r.stderr).toBe('vatom-fast: Invalid value for --format: "manifest"; expected npy for a sharded build (a scheduler array index is set in the environment)\n');
    expect(r.status).toBe(2);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('names the formats it knows', () => {
    const r = runCli(['build', '--format', 'zip', '--out', path.join(T, 'never'), ...PHILOX]);
    expect(r.stderr).toBe('vatom-fast: Invalid value for --format: "zip"; expected one of npy, manifest, png, wds\n');
    expect(r.status).toBe(2);
  });
});

describe('the library API', () => {
  it('buildManifest writes what the command line writes', async () => {
    const cli = path.join(T, 'api-cli');
    const api = path.join(T, 'api-lib');
    ok(['build', '--format', 'manifest', '--out', cli, '--quiet', ...PHILOX]);
    const summary = await buildManifest(parseBuildOptions({ ...rawOf(PHILOX), out: api }));
    expect(summary).toMatchObject({ out: api, storage: 'manifest', classes: 6, instances: 5, images: 30 });
    expect(directoryHashes(api)).toEqual(directoryHashes(cli));
    expect(isManifestOnly(readManifest(api))).toBe(true);
  });
});
