// Manifest fuzzer (issue 11): from one valid small dataset, mutate the manifest (types, `..` and
// absolute strings in every string field, huge and negative numbers, duplicates, swaps, deep nesting)
// and the directory (symlinks, FIFOs, planted temp files), then run verify, info, export to PNG and
// to WebDataset, the Python loader and a resumed build on each; and merge on mutated part manifests.
// For every mutation: exit 0, 1 or 2 with a one-line message (verify: one line per problem), no run
// past the time bound, nothing created or changed outside the case directory's dataset and export
// targets (a sibling directory is snapshotted before and after), and no image or label served or
// exported that differs from the pristine dataset. Seeded and of fixed size, so CI cost is fixed.
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI, PYTHON, ROOT, tempDir } from './helpers';

const SEED = Number(process.env.VATOM_FUZZ_SEED ?? 11);
const RANDOM_MUTATIONS = Number(process.env.VATOM_FUZZ_RANDOM ?? 16);
const MERGE_MUTATIONS = Number(process.env.VATOM_FUZZ_MERGE ?? 14);
const RUN_BOUND_MS = 30_000;
// Cases are independent directories, so their runs go side by side on every core: the same cases in
// a fraction of the wall time.
const PARALLEL_RUNS = Math.max(2, Math.min(4, os.availableParallelism()));
// Seed 5 draws no blank image in this small config, so that a wrong image cannot pass for a right one.
const ARGS = ['--classes', '3', '--instances', '2', '--image-size', '32', '--vertices', '20:60', '--orbits', '1:12',
  '--start-pos', '32', '--radius-min', '2', '--shard-size', '4', '--seed', '5'];

const T = tempDir('vatom-fuzz-');
afterAll(() => fs.rmSync(T, { recursive: true, force: true }));

/** mulberry32: a small seeded PRNG, so that a failing case can be replayed with VATOM_FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

function leaves(value: Json, at: Path = []): Array<{ path: Path; value: Json }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...at, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]));
  return [{ path: at, value }];
}

function setAt(root: Json, at: Path, value: Json | undefined): void {
  let node = root as Record<string | number, Json>;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = at[at.length - 1];
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(last as number, 1); else delete node[last];
  } else {
    node[last] = value;
  }
}

/** One mutation: what it does to a copy of the dataset directory (DS) beside SIBLING, and how to name it. */
interface Mutation {
  name: string;
  /** Edits the manifest text (JSON mutations); absent for directory mutations. */
  json?: (m: Json, sibling: string) => string;
  fs?: (ds: string, sibling: string) => void;
  /** Changes shard bytes, not the manifest: only checksums can tell (the Python loader's verify_checksums). */
  content?: boolean;
}

const clone = (m: Json): Json => JSON.parse(JSON.stringify(m));
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

function jsonMutation(name: string, edit: (m: Json, sibling: string) => Json | string): Mutation {
  return { name, json: (m, sibling) => {
    const out = edit(clone(m), sibling);
    return typeof out === 'string' ? out : JSON.stringify(out, null, 1);
  } };
}

const HOSTILE_STRINGS = (sibling: string): string[] => ['../x', path.join(sibling, 'victim.txt'), '..', '', 'images-00001.npy',
  'manifest.json', 'a\u0000b', '../../../../etc/passwd', 'x'.repeat(5000), '%05d', '00000/../..'];
const HOSTILE_NUMBERS: Json[] = [-1, 0, 1.5, 1e300, 2 ** 53, -(2 ** 53), 4294967296, 1e20, '5', null, true, [], {}];

function mutations(pristine: Json): Mutation[] {
  const out: Mutation[] = [];
  const all = leaves(pristine);
  // `..` and an absolute path in every string field.
  for (const leaf of all.filter((l) => typeof l.value === 'string')) {
    out.push(jsonMutation(`${leaf.path.join('.')} = "../x"`, (m) => { setAt(m, leaf.path, '../x'); return m; }));
    out.push(jsonMutation(`${leaf.path.join('.')} = absolute`, (m, sibling) => { setAt(m, leaf.path, path.join(sibling, 'victim.txt')); return m; }));
  }
  // Structure: duplicates, swaps, missing and extra entries, deep nesting, other storage.
  const shards = (m: Json) => (m as { shards: Json[] }).shards;
  const params = (m: Json) => (m as { classParams: Json[] }).classParams;
  out.push(jsonMutation('shards swapped', (m) => { shards(m).reverse(); return m; }));
  out.push(jsonMutation('shards[1] = shards[0]', (m) => { shards(m)[1] = clone(shards(m)[0]); return m; }));
  out.push(jsonMutation('shards[0] duplicated', (m) => { shards(m).unshift(clone(shards(m)[0])); return m; }));
  out.push(jsonMutation('last shard dropped', (m) => { shards(m).pop(); return m; }));
  out.push(jsonMutation('classParams swapped', (m) => { params(m).reverse(); return m; }));
  out.push(jsonMutation('classParams[0] duplicated', (m) => { params(m)[1] = clone(params(m)[0]); return m; }));
  out.push(jsonMutation('shard sha256 swapped', (m) => {
    const [a, b] = shards(m) as Array<Record<string, Json>>;
    [a.imagesSha256, b.imagesSha256] = [b.imagesSha256, a.imagesSha256];
    return m;
  }));
  out.push(jsonMutation('unknown field', (m) => { (m as Record<string, Json>).extra = '../x'; return m; }));
  out.push(jsonMutation('deep nesting in config', (m) => JSON.stringify(m).replace('"config":', `"config": ${deep(100000)}, "c2":`)));
  out.push(jsonMutation('deep nesting at the top', () => deep(200000)));
  out.push(jsonMutation('storage "manifest" with shards', (m) => { (m as Record<string, Json>).storage = 'manifest'; return m; }));
  out.push(jsonMutation('storage "manifest", no shards', (m) => { (m as Record<string, Json>).storage = 'manifest'; (m as Record<string, Json>).shards = []; return m; }));
  out.push(jsonMutation('not JSON', () => '{"format": "vatom-fast", '));
  out.push(jsonMutation('an array', () => '[]'));
  out.push(jsonMutation('shardSize 1, same shards', (m) => { (m as Record<string, Json>).shardSize = 1; return m; }));
  out.push(jsonMutation('imageCount huge', (m) => { Object.assign(m as object, { imageCount: 2 ** 53 - 1, classes: 1000000, instances: 9007199254 }); return m; }));
  // Huge, negative and mistyped numbers, and removed fields, at random leaves.
  const numeric = all.filter((l) => typeof l.value === 'number' || typeof l.value === 'boolean' || l.value === null);
  for (let i = 0; i < RANDOM_MUTATIONS; ++i) {
    const leaf = pick(numeric);
    const value = pick(HOSTILE_NUMBERS);
    out.push(jsonMutation(`${leaf.path.join('.')} = ${JSON.stringify(value)}`, (m) => { setAt(m, leaf.path, value); return m; }));
  }
  for (let i = 0; i < RANDOM_MUTATIONS / 4; ++i) {
    const leaf = pick(all);
    out.push(jsonMutation(`${leaf.path.join('.')} removed`, (m) => { setAt(m, leaf.path, undefined); return m; }));
    const text = pick(all.filter((l) => typeof l.value === 'string'));
    out.push(jsonMutation(`${text.path.join('.')} = hostile string`, (m, sibling) => { setAt(m, text.path, pick(HOSTILE_STRINGS(sibling))); return m; }));
  }
  // The directory: symlinks, FIFOs, planted temp files, changed shards.
  const link = (ds: string, name: string, target: string) => { fs.rmSync(path.join(ds, name), { force: true }); fs.symlinkSync(target, path.join(ds, name)); };
  const fifo = (ds: string, name: string) => { fs.rmSync(path.join(ds, name), { force: true }); spawnSync('mkfifo', [path.join(ds, name)]); };
  out.push({ name: 'manifest.json -> sibling copy', fs: (ds, s) => link(ds, 'manifest.json', path.join(s, 'manifest.json')) });
  out.push({ name: 'images-00000.npy -> sibling copy', fs: (ds, s) => link(ds, 'images-00000.npy', path.join(s, 'images-00000.npy')) });
  out.push({ name: 'labels-00001.npy -> ../sibling', fs: (ds) => link(ds, 'labels-00001.npy', '../sibling/labels-00001.npy') });
  out.push({ name: 'images-00001.npy is a FIFO', fs: (ds) => fifo(ds, 'images-00001.npy') });
  out.push({ name: 'labels-00000.npy is a FIFO', fs: (ds) => fifo(ds, 'labels-00000.npy') });
  out.push({ name: 'manifest.json is a FIFO', fs: (ds) => fifo(ds, 'manifest.json') });
  out.push({ name: 'images-00000.npy is a directory', fs: (ds) => { fs.rmSync(path.join(ds, 'images-00000.npy')); fs.mkdirSync(path.join(ds, 'images-00000.npy')); } });
  out.push({ name: 'planted temp symlinks', fs: (ds, s) => {
    for (const name of ['manifest.json.tmp', 'images-00000.npy.tmp', 'labels-00000.npy.tmp', '.lock']) link(ds, name, path.join(s, 'victim.txt'));
  } });
  out.push({ name: 'planted temp FIFO', fs: (ds) => fifo(ds, 'manifest.json.tmp') });
  out.push({ name: 'one byte of a shard flipped', content: true, fs: (ds) => {
    const file = path.join(ds, 'images-00001.npy');
    const b = fs.readFileSync(file);
    b[b.length - 7] ^= 0x5a;
    fs.writeFileSync(file, b);
  } });
  out.push({ name: 'a shard truncated', fs: (ds) => fs.truncateSync(path.join(ds, 'images-00000.npy'), 5000) });
  out.push({ name: 'shards swapped on disk', fs: (ds) => {
    fs.renameSync(path.join(ds, 'images-00000.npy'), path.join(ds, 'x'));
    fs.renameSync(path.join(ds, 'images-00001.npy'), path.join(ds, 'images-00000.npy'));
    fs.renameSync(path.join(ds, 'x'), path.join(ds, 'images-00001.npy'));
  } });
  return out;
}

/** Every entry under a directory (not following links): type, and the sha256 of regular files. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const full = path.join(d, name);
      const st = fs.lstatSync(full);
      const key = path.join(rel, name);
      if (st.isDirectory()) { out[key] = 'dir'; walk(full, key); } else if (st.isFile()) {
        out[key] = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex');
      } else out[key] = st.isSymbolicLink() ? `link:${fs.readlinkSync(full)}` : 'other';
    }
  };
  walk(dir, '');
  return out;
}

type Outcome = Pick<SpawnSyncReturns<string>, 'status' | 'signal' | 'stdout' | 'stderr' | 'error'> & { ms: number };

function run(args: string[]): Outcome {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: RUN_BOUND_MS });
  return Object.assign(r, { ms: Date.now() - started });
}

/** `run` without blocking, so that several cases' runs overlap; the same time bound. */
function runAsync(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    let error: Error | undefined;
    const timer = setTimeout(() => { error = new Error(`timed out after ${RUN_BOUND_MS} ms`); child.kill('SIGKILL'); }, RUN_BOUND_MS);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal: error ? null : signal, stdout, stderr, error, ms: Date.now() - started });
    });
  });
}

/** `work` on every index, at most PARALLEL_RUNS at a time. */
async function forEachParallel(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => { while (next < count) await work(next++); };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_RUNS, count) }, lane));
}

/** Problems with one run's outcome: status, time, the shape of its message. */
function outcomeProblems(what: string, r: Outcome, ds: string): string[] {
  if (r.error || r.signal) return [`${what}: ${r.error ? r.error.message : `killed by ${r.signal}`} (bound ${RUN_BOUND_MS} ms)`];
  if (r.status !== 0 && r.status !== 1 && r.status !== 2) return [`${what}: exit ${r.status}`];
  if (/^\s+at /m.test(r.stderr)) return [`${what}: stack trace: ${r.stderr.slice(0, 300)}`];
  const lines = r.stderr.trim() === '' ? [] : r.stderr.trim().split('\n');
  if (r.status !== 0 && lines.length === 0) return [`${what}: exit ${r.status} without a message`];
  if (what.startsWith('verify')) {
    if (lines.some((l) => !l.startsWith(`${ds}: `))) return [`${what}: a line that does not name the dataset: ${r.stderr.slice(0, 300)}`];
  } else if (r.status !== 0 && lines.length !== 1) {
    return [`${what}: ${lines.length} lines: ${r.stderr.slice(0, 300)}`];
  }
  return [];
}

describe('manifest fuzzer', () => {
  it(`holds on every mutation (seed ${SEED})`, async () => {
    const pristine = path.join(T, 'pristine');
    expect(run(['build', '--out', pristine, '--quiet', ...ARGS]).status).toBe(0);
    const pristinePart = path.join(T, 'pristine-part');
    expect(run(['build', '--out', pristinePart, '--quiet', ...ARGS, '--shard-index', '0', '--shard-count', '1']).status).toBe(0);
    const pristinePng = snapshot((() => { const o = path.join(T, 'pristine-png'); expect(run(['export', pristine, '--to', 'png', '--out', o, '--quiet']).status).toBe(0); return o; })());
    const pristineWds = snapshot((() => { const o = path.join(T, 'pristine-wds'); expect(run(['export', pristine, '--to', 'wds', '--out', o, '--quiet']).status).toBe(0); return o; })());
    const pristineFiles = snapshot(pristine);
    // The pristine images are not blank: a wrong image cannot pass for a right one.
    for (const name of ['images-00000.npy', 'images-00001.npy']) {
      const data = fs.readFileSync(path.join(pristine, name)).subarray(4096);
      for (let i = 0; i < data.length; i += 32 * 32) expect(data.subarray(i, i + 32 * 32).some((v) => v !== 0)).toBe(true);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(pristine, 'manifest.json'), 'utf8')) as Json;
    const partName = 'manifest.part-00000-of-00001.json';
    const partManifest = JSON.parse(fs.readFileSync(path.join(pristinePart, partName), 'utf8')) as Json;

    const cases = mutations(manifest);
    const failures: Record<string, string[]> = {};
    const fail = (name: string, problems: string[]) => { if (problems.length > 0) (failures[name] ??= []).push(...problems); };
    const setUp = (i: number, m: Mutation, from: string, manifestName: string, base: Json) => {
      const dir = path.join(T, `case-${i}`);
      const ds = path.join(dir, 'ds');
      const sibling = path.join(dir, 'sibling');
      fs.mkdirSync(sibling, { recursive: true });
      fs.cpSync(from, ds, { recursive: true });
      for (const name of fs.readdirSync(from)) fs.copyFileSync(path.join(from, name), path.join(sibling, name));
      fs.writeFileSync(path.join(sibling, 'victim.txt'), 'precious\n');
      if (m.json) fs.writeFileSync(path.join(ds, manifestName), m.json(base, sibling));
      if (m.fs) m.fs(ds, sibling);
      return { dir, ds, sibling, before: snapshot(sibling) };
    };

    // 1. verify, info, export to both formats on every mutation.
    const dirs = cases.map((m, i) => setUp(i, m, pristine, 'manifest.json', manifest));
    await forEachParallel(cases.length, async (i) => {
      const m = cases[i];
      const { dir, ds } = dirs[i];
      for (const args of [['verify', ds], ['info', ds]]) fail(m.name, outcomeProblems(args[0], await runAsync(args), ds));
      for (const [to, expected] of [['png', pristinePng], ['wds', pristineWds]] as const) {
        const out = path.join(dir, to);
        const r = await runAsync(['export', ds, '--to', to, '--out', out, '--quiet']);
        fail(m.name, outcomeProblems(`export --to ${to}`, r, ds));
        if (!fs.existsSync(out)) continue;
        const got = snapshot(out);
        for (const [file, hash] of Object.entries(got)) {
          if (!/\.(png|tar)$/.test(file)) continue;
          if (expected[file] !== hash) fail(m.name, [`export --to ${to} wrote ${file}, which differs from the pristine export`]);
        }
        if (r.status === 0) {
          const images = (o: Record<string, string>) => Object.entries(o).filter(([f]) => /\.(png|tar)$/.test(f)).sort();
          if (JSON.stringify(images(got)) !== JSON.stringify(images(expected))) fail(m.name, [`export --to ${to} succeeded with other files than the pristine export`]);
        }
      }
    });

    // 2. The Python loader on every mutated directory, in one process.
    // The native library built beside the addon lets the loader render manifest-only datasets.
    const env = { ...process.env, VATOM_FAST_LIBRARY: path.join(ROOT, 'build', 'Release', 'libvatom_fast.so') };
    const py = spawnSync(PYTHON, [path.join(ROOT, 'test', 'tools', 'fuzz_loader.py'), path.join(ROOT, 'python'), '20'],
      { input: `${dirs.map((d) => d.ds).join('\n')}\n`, encoding: 'utf8', timeout: 20_000 * cases.length, env });
    const pyLines = py.stdout.split('\n');
    const pristinePy = spawnSync(PYTHON, [path.join(ROOT, 'test', 'tools', 'fuzz_loader.py'), path.join(ROOT, 'python')],
      { input: `${pristine}\n`, encoding: 'utf8', env }).stdout.trim();
    const [pristineDefault, pristineVerified] = pristinePy.split(' ');
    expect(pristineDefault).toMatch(/^OK:[0-9a-f]{64}:[0-9a-f]{64}$/);
    expect(pristineVerified).toBe(pristineDefault);
    cases.forEach((m, i) => {
      const line = pyLines[i] ?? `(no line: the loader process ended with ${py.signal ?? py.status}: ${py.stderr.slice(-300)})`;
      const words = line.split(' ');
      for (const [mode, word] of [['default', words[0]], ['verify_checksums', words[1]]] as const) {
        if (word?.startsWith('OK:')) {
          // Without verify_checksums the loader checks structure and sizes, not content (a flipped byte is served).
          if (word !== pristineDefault && !(mode === 'default' && m.content)) fail(m.name, [`Python loader (${mode}) served data that differs from the pristine dataset`]);
        } else if (!word?.startsWith('REFUSED_')) {
          fail(m.name, [`Python loader (${mode}): ${word ?? line}`]);
        } else if (!word.includes(dirs[i].ds)) {
          fail(m.name, [`Python loader (${mode}): the message does not name the dataset: ${word}`]);
        }
      }
    });

    // 3. A resumed build: refused with nothing changed, or a dataset equal to the pristine one.
    await forEachParallel(cases.length, async (i) => {
      const m = cases[i];
      const { ds } = dirs[i];
      const before = fs.existsSync(ds) ? snapshot(ds) : {};
      const r = await runAsync(['build', '--out', ds, '--quiet', ...ARGS]);
      fail(m.name, outcomeProblems('build (resume)', r, ds));
      if (r.status === 0) {
        const after = snapshot(ds);
        if (JSON.stringify(after) !== JSON.stringify(pristineFiles)) fail(m.name, ['resumed build succeeded but the dataset differs from the pristine one']);
      } else if (r.status === 2) {
        const after = snapshot(ds);
        if (JSON.stringify(after) !== JSON.stringify(before)) fail(m.name, ['resumed build refused (exit 2) but changed the directory']);
      }
    });

    // 4. merge on mutated part manifests.
    const partCases = [...cases.filter((m) => m.json)].sort(() => random() - 0.5).slice(0, MERGE_MUTATIONS);
    const partDirs = partCases.map((m, i) => setUp(cases.length + i, m, pristinePart, partName, partManifest));
    await forEachParallel(partCases.length, async (i) => {
      const m = partCases[i];
      const { ds } = partDirs[i];
      const r = await runAsync(['merge', ds]);
      fail(`merge: ${m.name}`, outcomeProblems('merge', r, ds));
      if (r.status === 0) {
        const v = await runAsync(['verify', ds]);
        if (v.status !== 0 || JSON.stringify(snapshot(ds)) !== JSON.stringify(pristineFiles)) fail(`merge: ${m.name}`, ['merge succeeded but the dataset differs from the pristine one']);
      }
    });

    // 5. Nothing outside the dataset and the export targets was created or changed.
    for (const [i, d] of [...dirs, ...partDirs].entries()) {
      const name = i < cases.length ? cases[i].name : `merge: ${partCases[i - cases.length].name}`;
      if (JSON.stringify(snapshot(d.sibling)) !== JSON.stringify(d.before)) fail(name, ['the sibling directory changed']);
      const extra = fs.readdirSync(d.dir).filter((f) => !['ds', 'sibling', 'png', 'wds'].includes(f));
      if (extra.length > 0) fail(name, [`created outside the targets: ${extra.join(', ')}`]);
    }
    if (fs.readdirSync(T).some((f) => !/^(case-\d+|pristine(-part|-png|-wds)?)$/.test(f))) fail('all', [`created in the parent: ${fs.readdirSync(T).join(', ')}`]);

    const tried = cases.length + partCases.length;
    const held = tried - Object.keys(failures).length;
    process.stdout.write(`manifest fuzzer (seed ${SEED}): tried ${tried} mutations (${cases.length} x verify, info, export png, export wds, ` +
      `Python loader, resumed build; ${partCases.length} x merge), held ${held}\n`);
    expect(failures).toEqual({});
  });
});
