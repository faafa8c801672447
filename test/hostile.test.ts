// Every file in a dataset directory is untrusted input: one case per class of problem
// found by the adversarial run. Nothing written or read outside the directory, no wrong data
// accepted, no hang, and every failure is one line with exit 1 or 2.
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkSchema, manifestProblem } from '../lib/dataset/format-rules';
import { CLI, directoryHashes, PYTHON, ROOT, runCli, sha256File, tempDir } from './helpers';

const T = tempDir('vatom-hostile-');
afterAll(() => fs.rmSync(T, { recursive: true, force: true }));

// Seed 5 draws no blank image in this small config, so that a wrong image cannot pass for a right one.
const ARGS = ['--classes', '3', '--instances', '2', '--image-size', '32', '--vertices', '20:60', '--orbits', '1:12',
  '--start-pos', '32', '--radius-min', '2', '--shard-size', '4', '--seed', '5'];
let counter = 0;

/** A fresh copy of one small, valid dataset (2 shards: 4 and 2 images), beside a file that must not change. */
function fresh(): { dir: string; ds: string; victim: string } {
  const dir = path.join(T, `case-${++counter}`);
  fs.mkdirSync(dir);
  fs.cpSync(pristine(), path.join(dir, 'ds'), { recursive: true });
  const victim = path.join(dir, 'victim.txt');
  fs.writeFileSync(victim, 'precious\n');
  return { dir, ds: path.join(dir, 'ds'), victim };
}

let pristineDir: string | undefined;
function pristine(): string {
  if (!pristineDir) {
    pristineDir = path.join(T, 'pristine');
    const r = runCli(['build', '--out', pristineDir, '--quiet', ...ARGS]);
    if (r.status !== 0) throw new Error(r.stderr);
  }
  return pristineDir;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout });
}

/** A refusal: the status, one line on stderr naming what is wrong, no stack trace. */
function expectOneLine(r: SpawnSyncReturns<string>, status: number, pattern: RegExp | string): void {
  expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status });
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  if (typeof pattern === 'string') expect(r.stderr).toContain(pattern); else expect(r.stderr).toMatch(pattern);
}

const manifestOf = (ds: string, name = 'manifest.json') => JSON.parse(fs.readFileSync(path.join(ds, name), 'utf8'));
const writeJson = (file: string, value: unknown) => fs.writeFileSync(file, JSON.stringify(value, null, 1));

describe('one definition of the format', () => {
  it('the CLI (ajv) and the Python loader (its schema interpreter) give the same verdict on each variant of a manifest', () => {
    const m = manifestOf(pristine());
    const variants: unknown[] = [m];
    const values: unknown[] = [-1, 0, 3, 2 ** 32, 2 ** 53, 1e300, 'x', '../x', '', null, true, false, [], {}, 'images-00000.npy', '0', 5.5];
    const paths: string[][] = [['version'], ['format'], ['rng'], ['seed'], ['imageSize'], ['classes'], ['instances'], ['startClass'],
      ['imageCount'], ['shardSize'], ['complete'], ['storage'], ['generator'], ['channels'], ['imagesDataOffset'], ['config', 'verticesMin'],
      ['config', 'lineWidth'], ['classParams', '0', 'class'], ['classParams', '1', 'vertices'], ['classParams', '2', 'noise'],
      ['shards', '0', 'images'], ['shards', '1', 'first'], ['shards', '0', 'count'], ['shards', '1', 'imagesBytes'], ['shards', '0', 'labelsSha256'],
      ['part'], ['extra']];
    for (const [i, at] of paths.entries()) {
      for (const value of [values[i % values.length], values[(3 * i + 5) % values.length], values[(7 * i + 2) % values.length]]) {
        const v = JSON.parse(JSON.stringify(m));
        let node = v;
        for (const key of at.slice(0, -1)) node = node[key];
        node[at[at.length - 1]] = value;
        variants.push(v);
      }
    }
    // What format 2 adds: the family and its stream, config.radiusSpan, RCDB's centres (version 1 has none of them).
    const edit = (f: (v: any) => void) => { const v = JSON.parse(JSON.stringify(m)); f(v); variants.push(v); };  // eslint-disable-line @typescript-eslint/no-explicit-any
    edit((v) => { delete v.family; });
    edit((v) => { delete v.config.radiusSpan; });
    edit((v) => { v.version = 1; });
    edit((v) => { v.version = 1; delete v.family; delete v.config.radiusSpan; });
    edit((v) => { v.classParams[0].centreY = 1; });
    edit((v) => { v.family = 'rcdb'; });
    edit((v) => { v.family = 'rcdb'; v.stream = 'philox4x32-10/rcdb-1'; });
    const rcdb = (v: any) => {  // eslint-disable-line @typescript-eslint/no-explicit-any
      Object.assign(v, { family: 'rcdb', stream: 'philox4x32-10/rcdb-1' });
      Object.assign(v.config, { freq1Min: 0, freq1Max: 0, freq2Min: 0, freq2Max: 0 });
      for (const p of v.classParams) Object.assign(p, { freq1: 0, freq2: 0, centreY: 10.5, centreX: 3 });
    };
    edit(rcdb);
    edit((v) => { rcdb(v); delete v.classParams[1].centreX; });
    edit((v) => { rcdb(v); v.config.freq2Max = 1; });
    edit((v) => { rcdb(v); v.family = 'other'; });
    // JSON text as written, for what JSON.stringify cannot spell: integral numbers written as reals
    // (JavaScript reads 32.0 as 32), and NaN and Infinity (not JSON).
    const text = JSON.stringify(m);
    const spellings: Array<[RegExp, string, string]> = [[/"imageSize":32\b/g, '"imageSize":32.0', 'ok'],
      [/"imageSize":32\b/g, '"imageSize":3.2e1', 'ok'], [/"instances":2\b/g, '"instances":2.0', 'ok'],
      [/"imageSize":32\b/g, '"imageSize":32.5', 'refused'], [/"lineWidth":[^,}]+/, '"lineWidth":NaN', 'refused'],
      [/"ovalRate":[^,}]+/, '"ovalRate":Infinity', 'refused'], [/"noiseMin":[^,}]+/, '"noiseMin":-Infinity', 'refused']];
    const texts = [...variants.map((v) => JSON.stringify(v)), ...spellings.map(([from, to]) => text.replace(from, to))];
    const nodeVerdicts = texts.map((t) => {
      try {
        const v = JSON.parse(t);
        checkSchema('manifest', v, 'manifest.json');
        return manifestProblem(v as Parameters<typeof manifestProblem>[0]) === undefined ? 'ok' : 'refused';
      } catch {
        return 'refused';
      }
    });
    expect(nodeVerdicts.slice(variants.length)).toEqual(spellings.map(([, , verdict]) => verdict));
    const py = spawnSync(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))})
from vatom_fast import schema
from vatom_fast.rules import manifest_problem
for line in sys.stdin:
    try:
        v = schema.loads(line)
    except ValueError:
        print("refused")
        continue
    print("refused" if schema.validate(v) or manifest_problem(v) else "ok")`], { input: texts.join('\n'), encoding: 'utf8' });
    expect(py.stderr).toBe('');
    const pyVerdicts = py.stdout.trim().split('\n');
    expect(pyVerdicts).toEqual(nodeVerdicts);
    expect(nodeVerdicts[0]).toBe('ok');
    expect(nodeVerdicts.slice(variants.length - 11, variants.length)).toEqual(['refused', 'refused', 'refused', 'ok', 'refused', 'refused', 'refused', 'ok', 'refused', 'refused', 'refused']);
    expect(nodeVerdicts.filter((x) => x === 'ok').length).toBeGreaterThan(3);  // some variants are valid (e.g. complete: false)
  });
});

describe('writes and reads outside the directory', () => {
  it('never writes through a planted temp symlink (manifest, shard, part manifest, export marker)', () => {
    const { dir, ds, victim } = fresh();
    // A resumed build that has a shard to write, with every temp name it uses planted.
    const m = manifestOf(ds);
    Object.assign(m.shards[1], { imagesBytes: null, labelsBytes: null, imagesSha256: null, labelsSha256: null });
    m.complete = false;
    writeJson(path.join(ds, 'manifest.json'), m);
    fs.rmSync(path.join(ds, 'images-00001.npy'));
    for (const name of ['manifest.json.tmp', 'images-00001.npy.tmp', 'labels-00001.npy.tmp']) fs.symlinkSync(victim, path.join(ds, name));
    expect(cli(['build', '--out', ds, '--quiet', ...ARGS]).status).toBe(0);
    expect(directoryHashes(ds)).toEqual(directoryHashes(pristine()));

    // A worker and merge.
    const split = path.join(dir, 'split');
    fs.mkdirSync(split);
    fs.symlinkSync(victim, path.join(split, 'manifest.part-00000-of-00001.json.tmp'));
    expect(cli(['build', '--out', split, '--quiet', ...ARGS, '--shard-index', '0', '--shard-count', '1']).status).toBe(0);
    fs.symlinkSync(victim, path.join(split, 'manifest.json.tmp'));
    expect(cli(['merge', split]).status).toBe(0);
    expect(directoryHashes(split)).toEqual(directoryHashes(pristine()));

    // Exports: the marker's and a tar shard's temporary names.
    const wds = path.join(dir, 'wds');
    fs.mkdirSync(wds);
    fs.symlinkSync(victim, path.join(wds, 'vatom-export.json.tmp'));
    const r = cli(['export', ds, '--to', 'wds', '--out', wds, '--quiet']);
    // The planted entry makes the directory "not empty and not an export": refused before writing.
    expectOneLine(r, 2, 'is not empty');
    fs.rmSync(path.join(wds, 'vatom-export.json.tmp'));
    expect(cli(['export', ds, '--to', 'wds', '--out', wds, '--quiet']).status).toBe(0);
    fs.symlinkSync(victim, path.join(wds, 'vatom-export.json.tmp'));
    fs.symlinkSync(victim, path.join(wds, 'visualatom-000000.tar.partial'));
    fs.rmSync(path.join(wds, 'visualatom-000000.tar'));
    expect(cli(['export', ds, '--to', 'wds', '--out', wds, '--quiet']).status).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['ds', 'split', 'victim.txt', 'wds']);
  });

  it('takes class folders and member names from checked integers: a class of "../../x" or a startClass of "../x" is refused', () => {
    const { dir, ds } = fresh();
    const m = manifestOf(ds);
    m.classParams[0].class = '../../x';
    writeJson(path.join(ds, 'manifest.json'), m);
    expectOneLine(cli(['export', ds, '--to', 'png', '--out', path.join(dir, 'png')]), 2, '/classParams/0/class ("../../x") must be integer');
    m.classParams[0].class = 0;
    m.startClass = '../x';
    writeJson(path.join(ds, 'manifest.json'), m);
    for (const command of ['verify', 'info']) {
      const r = cli([command, ds]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('/startClass ("../x") must be integer');
    }
    expectOneLine(cli(['export', ds, '--to', 'wds', '--out', path.join(dir, 'wds')]), 2, '/startClass ("../x") must be integer');
    expect(fs.readdirSync(dir).sort()).toEqual(['ds', 'victim.txt']);
  });

  it('refuses a manifest that is a symlink, without quoting the file it points to', () => {
    const { dir, ds } = fresh();
    const secret = path.join(dir, 'secret.json');
    fs.writeFileSync(secret, '{"format": "vatom-fast", "password": "hunter2"}');
    fs.rmSync(path.join(ds, 'manifest.json'));
    fs.symlinkSync(secret, path.join(ds, 'manifest.json'));
    for (const command of ['info', 'verify']) {
      const r = cli([command, ds]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('manifest.json: is a symbolic link (refused)');
      expect(r.stderr).not.toContain('hunter2');
    }
  });
});

describe('wrong data accepted, data lost', () => {
  it('a whole build and a worker, or two exports, into one directory: the second is refused while the first runs', async () => {
    const { dir } = fresh();
    const out = path.join(dir, 'busy');
    const slow = ['--classes', '40', '--instances', '10', '--image-size', '128', '--vertices', '200:400', '--orbits', '50:100',
      '--start-pos', '128', '--shard-size', '10', '--threads', '1'];
    const first = spawn(process.execPath, [CLI, 'build', '--out', out, '--quiet', ...slow], { stdio: 'ignore' });
    const exited = new Promise((r) => first.on('exit', r));
    try {
      for (let i = 0; i < 12000 && !fs.existsSync(path.join(out, '.lock')); ++i) await new Promise((r) => setTimeout(r, 5));
      // Frozen while it holds the lock, however fast this machine renders (killed in finally, whatever fails).
      first.kill('SIGSTOP');
      expect(fs.existsSync(path.join(out, '.lock'))).toBe(true);
      const worker = cli(['build', '--out', out, '--quiet', ...slow, '--shard-index', '0', '--shard-count', '2']);
      expectOneLine(worker, 2, new RegExp(`is in use by another build: process ${first.pid} on \\S+ since \\S+ \\(vatom-fast build\\)`));
      expectOneLine(cli(['merge', out]), 1, 'holds no partial manifests');
    } finally {
      first.kill('SIGKILL');
      await exited;
    }
    // Two exports into one --out.
    const target = path.join(dir, 'png');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, '.lock'), `${JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: 'now', command: 'vatom-fast export' })}\n`);
    expectOneLine(cli(['export', pristine(), '--to', 'png', '--out', target]), 2, `is in use by another build: process ${process.pid}`);
  });

  it('a lock is never taken from a live holder: garbage is refused, a dead pid or a reused pid is taken over', () => {
    const { ds } = fresh();
    const lock = path.join(ds, '.lock');
    const me = { pid: process.pid, host: os.hostname(), startedAt: 'then', command: 'vatom-fast build' };
    fs.writeFileSync(lock, '');
    expectOneLine(cli(['build', '--out', ds, '--quiet', ...ARGS]), 2, 'is not a vatom-fast lock');
    fs.writeFileSync(lock, JSON.stringify(me));
    expectOneLine(cli(['build', '--out', ds, '--quiet', ...ARGS]), 2, `process ${process.pid}`);
    // This pid is alive, but its start time is not the one recorded: the pid was reused, the holder is gone.
    fs.writeFileSync(lock, JSON.stringify({ ...me, processStart: '1' }));
    expect(cli(['build', '--out', ds, '--quiet', ...ARGS]).status).toBe(0);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(lock, JSON.stringify({ ...me, pid: Number(dead.stdout) }));
    expect(cli(['build', '--out', ds, '--quiet', ...ARGS]).status).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('a resumed build writes canonical names only: a manifest naming another shard is refused, nothing is overwritten', () => {
    const { ds } = fresh();
    for (const [name, why] of [['images-00001.npy', 'must match pattern'], ['manifest.json', 'must match pattern'],
      ['labels-00001.npy', 'shards[0] names images-00000.npy and labels-00001.npy; shard 0 is images-00000.npy and labels-00000.npy']]) {
      const m = manifestOf(ds);
      m.shards[0].labels = name;
      writeJson(path.join(ds, 'manifest.json'), m);
      const before = directoryHashes(ds);
      expectOneLine(cli(['build', '--out', ds, '--quiet', ...ARGS]), 2, why);
      expect(directoryHashes(ds)).toEqual(before);
    }
  });

  it('verify refuses swapped and duplicated shard entries; export hashes what it reads and exports nothing of a bad shard', () => {
    const { dir, ds } = fresh();
    const good = manifestOf(ds);
    for (const shards of [[good.shards[1], good.shards[0]], [good.shards[0], good.shards[0]]]) {
      writeJson(path.join(ds, 'manifest.json'), { ...good, shards });
      const r = cli(['verify', ds]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/swapped or duplicated entries are refused/);
    }
    writeJson(path.join(ds, 'manifest.json'), good);
    // Same size, one pixel changed: only the sha256 can tell.
    const shard = path.join(ds, 'images-00000.npy');
    const bytes = fs.readFileSync(shard);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(shard, bytes);
    for (const to of ['png', 'wds']) {
      const out = path.join(dir, to);
      expectOneLine(cli(['export', ds, '--to', to, '--out', out, '--quiet']), 1, /images-00000\.npy: sha256 [0-9a-f]{64}, the manifest says/);
      const marker = JSON.parse(fs.readFileSync(path.join(out, 'vatom-export.json'), 'utf8'));
      expect(marker.complete).toBe(false);
      if (to === 'png') {
        // Images 0..3 (classes 0 and 1) came from the bad shard: none of them is left.
        expect(fs.readdirSync(path.join(out, '00000'))).toEqual([]);
        expect(fs.readdirSync(path.join(out, '00001'))).toEqual([]);
      } else {
        expect(fs.readdirSync(out).filter((f) => f.endsWith('.tar'))).toEqual([]);
      }
    }
  });

  it('a no-op rerun, killed at any moment, leaves a complete dataset complete', async () => {
    const { ds } = fresh();
    const before = fs.readFileSync(path.join(ds, 'manifest.json'));
    for (const delay of [30, 120, 250]) {
      const child = spawn(process.execPath, [CLI, 'build', '--out', ds, '--quiet', ...ARGS], { stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      expect(manifestOf(ds).complete).toBe(true);
      expect(fs.readFileSync(path.join(ds, 'manifest.json')).equals(before)).toBe(true);
    }
  });

  it('Python: a shard truncated after the dataset was opened raises DatasetError naming it (no SIGBUS); a replaced one is detected', () => {
    const { ds } = fresh();
    const script = `
import os, sys
sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))})
from vatom_fast import VisualAtomDataset, DatasetError
root = sys.argv[1]
ds = VisualAtomDataset(root, output="numpy", channels=1)
ds[0]
os.truncate(os.path.join(root, "images-00000.npy"), 5000)
try:
    ds[3]
    print("served")
except DatasetError as e:
    print("refused", e)
ds2 = VisualAtomDataset(os.path.join(root, "..", "ds2"), output="numpy", channels=1)
p = os.path.join(root, "..", "ds2", "images-00001.npy")
data = open(p, "rb").read()
os.remove(p)
open(p, "wb").write(data)  # same bytes, another file: not the one validated
try:
    ds2[4]
    print("served")
except DatasetError as e:
    print("refused", e)
try:
    ds2[True]
    print("served")
except TypeError as e:
    print("refused", e)
`;
    fs.cpSync(pristine(), path.join(ds, '..', 'ds2'), { recursive: true });
    const r = spawnSync(PYTHON, ['-c', script, ds], { encoding: 'utf8', timeout: 120_000 });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^refused invalid vatom-fast dataset at .*: shard file images-00000\.npy was changed since the dataset was opened \(now 5000 bytes\)$/);
    expect(lines[1]).toMatch(/^refused invalid vatom-fast dataset at .*ds2: shard file images-00001\.npy was replaced or changed since the dataset was opened$/);
    expect(lines[2]).toBe('refused dataset indices must be integers, not bool');
  });
});

describe('hangs and unbounded work', () => {
  it('a FIFO where a shard or the manifest goes never blocks: refused at once', () => {
    const { dir, ds } = fresh();
    fs.rmSync(path.join(ds, 'images-00001.npy'));
    spawnSync('mkfifo', [path.join(ds, 'images-00001.npy')]);
    const started = Date.now();
    expectOneLine(cli(['export', ds, '--to', 'png', '--out', path.join(dir, 'png')], {}, 20_000), 2,
      'images-00001.npy is not a regular file (a FIFO, device or directory is refused)');
    const v = cli(['verify', ds], {}, 20_000);
    expect(v.status).toBe(1);
    expect(v.stderr).toContain('images-00001.npy is not a regular file');
    fs.rmSync(path.join(ds, 'manifest.json'));
    spawnSync('mkfifo', [path.join(ds, 'manifest.json')]);
    expectOneLine(cli(['info', ds], {}, 20_000), 1, 'manifest.json is not a regular file');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('plans, worker counts and manifest sizes are bounded before anything is spent on them', () => {
    const { ds } = fresh();
    const started = Date.now();
    expectOneLine(cli(['build', '--out', path.join(T, 'huge'), '--classes', '1000000', '--instances', '1000', '--image-size', '16', '--shard-size', '1']),
      2, 'Invalid value for --shard-size: 1; 1000000000 images make 1000000000 shards of it, at most 100000 are allowed');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(fs.existsSync(path.join(T, 'huge'))).toBe(false);
    // A manifest-only build too: its manifest would be refused when read.
    expectOneLine(cli(['build', '--format', 'manifest', '--out', path.join(T, 'huge'), '--classes', '10', '--instances', '100000', '--image-size', '16', '--shard-size', '1']),
      2, 'Invalid value for --shard-size: 1; 1000000 images make 1000000 shards of it, at most 100000 are allowed');
    expect(fs.existsSync(path.join(T, 'huge'))).toBe(false);
    // merge: a worker count from a file name.
    const split = path.join(T, `split-${++counter}`);
    fs.mkdirSync(split);
    fs.copyFileSync(path.join(ds, 'manifest.json'), path.join(split, 'manifest.part-00000-of-99999999999.json'));
    expectOneLine(cli(['merge', split], {}, 20_000), 1, 'not a part manifest name this tool writes');
    // A 600 MB (sparse) manifest and a deeply nested one.
    fs.truncateSync(path.join(ds, 'manifest.json'), 600 << 20);
    expectOneLine(cli(['info', ds], {}, 20_000), 1, 'is 629145600 bytes, more than the 536870912 a vatom-fast file may have');
    fs.writeFileSync(path.join(ds, 'manifest.json'), `{"format": "vatom-fast", "version": 1, "x": ${'['.repeat(100000)}${']'.repeat(100000)}}`);
    expectOneLine(cli(['info', ds], {}, 20_000), 1, 'nests arrays or objects more than 16 deep');
    const py = spawnSync(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))})
from vatom_fast import load_manifest, DatasetError
try:
    load_manifest(sys.argv[1])
except DatasetError as e:
    print(e)`, ds], { encoding: 'utf8' });
    expect(py.stdout).toMatch(/manifest\.json nests arrays or objects too deeply/);
  });

  it('Ctrl-C and SIGTERM stop a rerun that is re-checking existing shards within about a second', async () => {
    const out = path.join(T, `many-${++counter}`);
    const many = ['--classes', '100', '--instances', '2', '--image-size', '256', '--vertices', '3:4', '--orbits', '1:1',
      '--start-pos', '256', '--shard-size', '2', '--seed', '1'];
    expect(cli(['build', '--out', out, '--quiet', ...many], {}, 300_000).status).toBe(0);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const child = spawn(process.execPath, [CLI, 'build', '--out', out, '--quiet', ...many], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      // Wait until it holds the lock (it re-checks shards only then).
      for (let i = 0; i < 2000 && !fs.existsSync(path.join(out, '.lock')); ++i) await new Promise((r) => setTimeout(r, 2));
      const sent = Date.now();
      child.kill(signal);
      const code = await exited;
      expect(Date.now() - sent).toBeLessThan(1500);
      expect(code === 1 || code === 0).toBe(true);
      if (code === 1) expect(stderr.trim()).toMatch(/^vatom-fast: (build interrupted|interrupted while checking files); rerun the same command to resume$/);
      expect(manifestOf(out).complete).toBe(true);
    }
  });

  it('Ctrl-C and SIGTERM stop the native render of one huge image within about a second', async () => {
    // 100,000 vertices x 100,000 orbits: minutes of one core for this single image unless cancelled inside it.
    const huge = ['--classes', '1', '--instances', '1', '--vertices', '100000', '--orbits', '100000', '--threads', '1'];
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const out = path.join(T, `huge-${++counter}`);
      const child = spawn(process.execPath, [CLI, 'build', '--out', out, '--quiet', ...huge], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        // The manifest appears once planning is over and rendering has begun; give the render a moment more.
        for (let i = 0; i < 5000 && !fs.existsSync(path.join(out, 'manifest.json')); ++i) await new Promise((r) => setTimeout(r, 2));
        await new Promise((r) => setTimeout(r, 500));
        const sent = Date.now();
        child.kill(signal);
        const code = await exited;
        expect(Date.now() - sent).toBeLessThan(1500);
        expect(code).toBe(1);
        expect(stderr.trim()).toBe('vatom-fast: build interrupted; rerun the same command to resume');
        expect(manifestOf(out).complete).toBe(false);
        expect(fs.readdirSync(out).filter((f) => f.endsWith('.npy'))).toEqual([]);
      } finally {
        child.kill('SIGKILL');
      }
    }
  });
});

describe('refused with a clear message', () => {
  it('scheduler variables get the limits of the flags they stand for', () => {
    const out = path.join(T, 'never');
    expectOneLine(cli(['build', '--out', out, ...ARGS], { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_COUNT: '4' }),
      2, 'Invalid environment variable SLURM_ARRAY_TASK_ID: "1"; expected an integer from 3 to');
    expectOneLine(cli(['build', '--out', out, ...ARGS], { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '1000001' }),
      2, 'Invalid environment variable SLURM_ARRAY_TASK_COUNT: "1000001"; expected an integer from 1 to 1000000');
    expectOneLine(cli(['build', '--out', out, ...ARGS], { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '1e20' }),
      2, 'Invalid environment variable SLURM_ARRAY_TASK_COUNT: "1e20"');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('merge of a missing path or a file', () => {
    const { dir } = fresh();
    expectOneLine(cli(['merge', path.join(dir, 'nothing')]), 1, 'the dataset directory does not exist');
    expectOneLine(cli(['merge', path.join(dir, 'victim.txt')]), 1, 'the dataset directory is not a directory');
  });

  it('--vertices -5:5 names the option and what is allowed', () => {
    expectOneLine(cli(['build', '--out', path.join(T, 'never'), '--vertices', '-5:5']), 2,
      'Invalid value for --vertices: "-5:5"; expected MIN:MAX or N, integers with 3 <= MIN <= MAX <= 100000');
  });

  it('Python: malformed input raises DatasetError naming the file, never RecursionError', () => {
    const { ds } = fresh();
    const m = manifestOf(ds);
    const cases: Array<[string, string]> = [
      ['nested', `{"format": "vatom-fast", "version": 1, "config": ${'['.repeat(5000)}${']'.repeat(5000)}}`],
      ['swapped', JSON.stringify({ ...m, shards: [m.shards[1], m.shards[0]] })],
      ['string-count', JSON.stringify({ ...m, shards: [{ ...m.shards[0], count: '4' }, m.shards[1]] })],
    ];
    for (const [label, text] of cases) {
      fs.writeFileSync(path.join(ds, 'manifest.json'), text as string);
      const py = spawnSync(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'python'))})
from vatom_fast import load_manifest, DatasetError
try:
    load_manifest(sys.argv[1])
except DatasetError as e:
    print(type(e).__name__, e)`, ds], { encoding: 'utf8' });
      expect({ label, stderr: py.stderr }).toEqual({ label, stderr: '' });
      expect(py.stdout).toMatch(/^DatasetError invalid vatom-fast dataset at .*: manifest\.json/);
    }
    expect(sha256File(path.join(ds, 'images-00000.npy'))).toBe(sha256File(path.join(pristine(), 'images-00000.npy')));
  });
});
