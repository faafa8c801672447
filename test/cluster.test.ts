// Sharded (cluster) builds: workers, environment mapping, merge, and the faults a cluster meets.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { workerShardRange } from '../lib/dataset/layout';
import { workerSlice } from '../lib/options/cluster-worker';
import { CLI, directoryHashes, runCli, startCli, tempDir, SMALL } from './helpers';

const ARGS = ['--classes', '8', '--instances', '5', ...SMALL, '--seed', '11', '--shard-size', '3'];  // 14 shards

function runAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => { stdout += d; });
    child.on('exit', (status) => resolve({ status, stderr, stdout }));
  });
}

describe('worker slices from the command line and the scheduler environment', () => {
  it('is undefined for a single-machine build', () => {
    expect(workerSlice({}, {})).toBeUndefined();
  });
  it('takes --worker-index and --worker-count, and their old names --shard-index and --shard-count', () => {
    expect(workerSlice({ 'worker-index': '2', 'worker-count': '5' }, {})).toMatchObject({ index: 2, count: 5 });
    expect(workerSlice({ 'shard-index': '2', 'shard-count': '5' }, {})).toMatchObject({ index: 2, count: 5 });
    expect(workerSlice({ 'shard-index': '2', 'worker-count': '5' }, {})).toMatchObject({ index: 2, count: 5 });
  });
  it('maps Slurm job arrays: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT', () => {
    expect(workerSlice({}, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '8' })).toMatchObject({ index: 3, count: 8 });
  });
  it('maps Slurm arrays that start at 1 through SLURM_ARRAY_TASK_MIN/MAX', () => {
    expect(workerSlice({}, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '10' }))
      .toMatchObject({ index: 0, count: 10 });
    expect(workerSlice({}, { SLURM_ARRAY_TASK_ID: '10', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '10', SLURM_ARRAY_TASK_COUNT: '10' }))
      .toMatchObject({ index: 9, count: 10 });
  });
  it('maps Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX with --worker-count', () => {
    expect(workerSlice({ 'worker-count': '6' }, { JOB_COMPLETION_INDEX: '5' })).toMatchObject({ index: 5, count: 6 });
    expect(() => workerSlice({}, { JOB_COMPLETION_INDEX: '5' })).toThrow(
      'Missing --worker-count: the worker index comes from JOB_COMPLETION_INDEX but the number of workers is not known; pass --worker-count');
  });
  it('lets the command line win over the environment', () => {
    expect(workerSlice({ 'worker-index': '1', 'worker-count': '2' }, { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_COUNT: '9' }))
      .toMatchObject({ index: 1, count: 2 });
    expect(workerSlice({ 'worker-index': '0' }, { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_COUNT: '9' }))
      .toMatchObject({ index: 0, count: 9 });
  });
  it('refuses an index outside the count and bad variables', () => {
    expect(() => workerSlice({ 'worker-index': '4', 'worker-count': '4' }, {})).toThrow(
      'Invalid value for --worker-index: 4; expected an integer from 0 to 3 (--worker-count is 4; from --worker-count, --worker-index)');
    expect(() => workerSlice({ 'shard-index': '4', 'shard-count': '4' }, {})).toThrow(
      'Invalid value for --shard-index: 4; expected an integer from 0 to 3 (--shard-count is 4; from --shard-count, --shard-index)');
    expect(() => workerSlice({}, { SLURM_ARRAY_TASK_ID: 'x' })).toThrow('Invalid environment variable SLURM_ARRAY_TASK_ID: "x"');
    expect(() => workerSlice({ 'worker-count': '0' }, {})).toThrow('Invalid value for --worker-count: "0"');
  });
  it('splits the layout into contiguous, disjoint runs that cover it', () => {
    for (const [shards, workers] of [[14, 4], [3, 5], [1000, 7]]) {
      const covered: number[] = [];
      for (let i = 0; i < workers; ++i) {
        const [b, e] = workerShardRange(shards, i, workers);
        for (let s = b; s < e; ++s) covered.push(s);
      }
      expect(covered).toEqual(Array.from({ length: shards }, (_, i) => i));
    }
  });
});

describe('a build split over 4 workers', () => {
  it('merges into a dataset byte-identical to a one-process build', async () => {
    const dirs = tempDir();
    const whole = path.join(dirs, 'whole');
    expect(runCli(['build', '--out', whole, '--quiet', ...ARGS]).status).toBe(0);
    const split = path.join(dirs, 'split');
    const results = await Promise.all([0, 1, 2, 3].map((i) =>
      runAsync(['build', '--out', split, '--quiet', ...ARGS, '--threads', '1'], { SLURM_ARRAY_TASK_ID: String(i), SLURM_ARRAY_TASK_COUNT: '4' })));
    for (const r of results) expect(r.status).toBe(0);
    const merged = runCli(['merge', split]);
    expect(merged.stdout).toMatch(/merged 4 parts, 14 shards, 40 images/);
    expect(merged.status).toBe(0);
    expect(directoryHashes(split)).toEqual(directoryHashes(whole));
    expect(runCli(['verify', split]).status).toBe(0);
  });

  it('refuses to merge when a worker is missing or unfinished, naming it', () => {
    const out = path.join(tempDir(), 'split');
    for (const i of [0, 2]) expect(runCli(['build', '--out', out, '--quiet', ...ARGS, '--worker-index', String(i), '--worker-count', '4']).status).toBe(0);
    // Worker 3 stopped after its first shard: its part manifest says incomplete.
    const r3 = runCli(['build', '--out', out, '--quiet', ...ARGS, '--worker-index', '3', '--worker-count', '4'],
      { env: { VATOM_TEST_FAIL_WRITE_AFTER: String(3 * 64 * 64 + 4096 + 200) } });
    expect(r3.status).toBe(1);
    const m = runCli(['merge', out]);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/worker 1 of 4: missing \(no manifest\.part-00001-of-00004\.json\)/);
    expect(m.stderr).toMatch(/worker 3 of 4: incomplete, 1 of 4 shards written \(rerun that worker\)/);
    expect(fs.existsSync(path.join(out, 'manifest.json'))).toBe(false);
  });

  it('refuses a worker whose configuration differs from the parts already there', () => {
    const out = path.join(tempDir(), 'split');
    expect(runCli(['build', '--out', out, '--quiet', ...ARGS, '--worker-index', '0', '--worker-count', '2']).status).toBe(0);
    const r = runCli(['build', '--out', out, '--quiet', ...ARGS.slice(0, -4), '--seed', '12', '--shard-size', '3',
      '--worker-index', '1', '--worker-count', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/holds a dataset with another configuration \(manifest\.part-00000-of-00002\.json: seed: "11" there, "12" here\)/);
  });
});

describe('faults', () => {
  it('SIGKILL of a worker at a random moment, then a rerun, loses nothing', async () => {
    const dirs = tempDir();
    const whole = path.join(dirs, 'whole');
    const big = ['--classes', '12', '--instances', '6', '--image-size', '96', '--vertices', '100:300', '--orbits', '20:60',
      '--start-pos', '96', '--shard-size', '4', '--seed', '5'];
    expect(runCli(['build', '--out', whole, '--quiet', ...big]).status).toBe(0);
    const split = path.join(dirs, 'split');
    expect(runCli(['build', '--out', split, '--quiet', ...big, '--worker-index', '0', '--worker-count', '2']).status).toBe(0);
    const child = startCli(['build', '--out', split, '--quiet', ...big, '--worker-index', '1', '--worker-count', '2', '--threads', '1']);
    const exited = new Promise((r) => child.on('exit', r));
    await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 400)));
    child.kill('SIGKILL');
    await exited;
    const again = runCli(['build', '--out', split, '--quiet', ...big, '--worker-index', '1', '--worker-count', '2']);
    expect(again.status).toBe(0);
    expect(runCli(['merge', split, '--verify']).status).toBe(0);
    expect(directoryHashes(split)).toEqual(directoryHashes(whole));
  });

  it('a second build into the same directory refuses, naming the lock holder; a stale lock is taken over', async () => {
    const out = path.join(tempDir(), 'ds');
    const slow = ['--classes', '40', '--instances', '10', '--image-size', '128', '--vertices', '200:400', '--orbits', '50:100',
      '--start-pos', '128', '--shard-size', '10', '--threads', '1'];
    const first = startCli(['build', '--out', out, '--quiet', ...slow]);
    const firstExited = new Promise((r) => first.on('exit', r));
    // Wait until the first holds the lock, then freeze it there, so that it still holds it however
    // fast this machine renders.
    for (let i = 0; i < 1000 && !fs.existsSync(path.join(out, '.lock')); ++i) await new Promise((r) => setTimeout(r, 2));
    first.kill('SIGSTOP');
    // Whatever an assertion below does, the stopped child is killed (a stopped child would hang npm test).
    try {
      expect(fs.existsSync(path.join(out, '.lock'))).toBe(true);
      const second = spawnSync(process.execPath, [CLI, 'build', '--out', out, '--quiet', ...slow], { encoding: 'utf8', timeout: 60_000 });
      expect(second.status).toBe(2);
      expect(second.stderr).toMatch(new RegExp(`is in use by another build: process ${first.pid} on \\S+ since \\S+ \\(vatom-fast build\\); lock file .*\\.lock`));
    } finally {
      first.kill('SIGKILL');
      await firstExited;
    }
    // The killed build left its lock behind; its process is gone, so the next build takes over.
    expect(fs.existsSync(path.join(out, '.lock'))).toBe(true);
    const third = runCli(['build', '--out', out, '--quiet', ...slow.slice(0, -2), '--threads', '2']);
    expect(third.status).toBe(0);
    expect(fs.existsSync(path.join(out, '.lock'))).toBe(false);
    expect(runCli(['verify', out]).status).toBe(0);
  });

  it('a full disk gives a clear error, removes the partial file and keeps every finished shard', () => {
    const dirs = tempDir();
    const out = path.join(dirs, 'ds');
    const shardBytes = 4096 + 3 * 64 * 64;
    const r = runCli(['build', '--out', out, '--quiet', ...ARGS], { env: { VATOM_TEST_FAIL_WRITE_AFTER: String(2 * shardBytes + 500) } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/writing shard images-00002\.npy failed: cannot write .*images-00002\.npy\.tmp: No space left on device; finished shards are kept, rerun to resume/);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(fs.existsSync(path.join(out, 'images-00002.npy'))).toBe(false);
    const v = runCli(['verify', out]);
    expect(v.stderr).toMatch(/build incomplete: 2 of 14 shards written/);
    expect(v.stderr).toMatch(/FAILED, 1 problem\(s\)/);  // the two finished shards verify
    expect(runCli(['build', '--out', out, '--quiet', ...ARGS]).status).toBe(0);
    const whole = path.join(dirs, 'whole');
    runCli(['build', '--out', whole, '--quiet', ...ARGS]);
    expect(directoryHashes(out)).toEqual(directoryHashes(whole));
  });

  it('refuses manifests whose shard names leave the directory: verify, info, merge', () => {
    const dirs = tempDir();
    const out = path.join(dirs, 'ds');
    // The old flag names still work, with one warning for both.
    const old = runCli(['build', '--out', out, ...ARGS, '--shard-index', '0', '--shard-count', '1']);
    expect(old.status).toBe(0);
    expect(old.stderr.split('\n').filter((l) => l.startsWith('warning: --'))).toEqual([
      'warning: --shard-index and --shard-count are old names of --worker-index and --worker-count (they select a worker of a cluster build, not a shard); use the new name']);
    const part = path.join(out, 'manifest.part-00000-of-00001.json');
    const m = JSON.parse(fs.readFileSync(part, 'utf8'));
    m.shards[1].labels = '../labels-00001.npy';
    fs.writeFileSync(part, JSON.stringify(m));
    const merged = runCli(['merge', out]);
    expect(merged.status).toBe(1);
    expect(merged.stderr).toMatch(/manifest\.part-00000-of-00001\.json: \/shards\/1\/labels \("\.\.\/labels-00001\.npy"\) must match pattern/);

    // A symlink that leaves the directory.
    const full = path.join(dirs, 'full');
    expect(runCli(['build', '--out', full, '--quiet', ...ARGS]).status).toBe(0);
    const outside = path.join(dirs, 'elsewhere.npy');
    fs.renameSync(path.join(full, 'images-00000.npy'), outside);
    fs.symlinkSync(outside, path.join(full, 'images-00000.npy'));
    // verify opens shards with O_NOFOLLOW: no symlink is followed, inside the directory or out.
    const r = runCli(['verify', full]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/images-00000\.npy: is a symbolic link \(refused\)/);
  });
});
