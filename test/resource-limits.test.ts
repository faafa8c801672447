// Threads and memory the system will not give: under `ulimit -v` (address space) and, as a user other
// than root, `ulimit -u` (a container's pids limit), every native entry point ends in a message that
// says what was asked and what to change (exit 1, an Error, a C ABI status), never in an abort, a crash
// or a hang.
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PAPER_CONFIG } from '../lib/generators/presets';
import { ROOT } from './helpers';

const AS_ROOT = process.getuid?.() === 0;

/**
 * The programs under test, where the unprivileged user can run them: under root they are copied to a
 * world-readable directory of their own (the checkout and TMPDIR may be private to root).
 */
function stagePrograms(): { dir: string | null; vatomNative: string; capiCheck: string; addon: string } {
  const built = {
    vatomNative: path.join(ROOT, 'build', 'vatom-native'),
    capiCheck: path.join(ROOT, 'build', 'vatom-capi-check'),
    addon: path.join(ROOT, 'build', 'Release', 'vatom_native.node'),
  };
  if (!AS_ROOT) return { dir: null, ...built };
  const dir = fs.mkdtempSync('/tmp/vatom-limits-');
  fs.chmodSync(dir, 0o755);
  const staged = (file: string) => {
    const to = path.join(dir, path.basename(file));
    fs.copyFileSync(file, to);
    fs.chmodSync(to, 0o755);
    return to;
  };
  staged(path.join(ROOT, 'build', 'Release', 'libvatom_fast.so'));  // found through LD_LIBRARY_PATH
  return { dir, vatomNative: staged(built.vatomNative), capiCheck: staged(built.capiCheck), addon: staged(built.addon) };
}

const PROGRAMS = stagePrograms();
afterAll(() => {
  if (PROGRAMS.dir) fs.rmSync(PROGRAMS.dir, { recursive: true, force: true });
});
const VATOM_NATIVE = PROGRAMS.vatomNative;
const CAPI_CHECK = PROGRAMS.capiCheck;
const ADDON = PROGRAMS.addon;

/** Enough address space to start the program, too little for 1024 thread stacks of 8 MiB. */
const ADDRESS_SPACE_KIB = 1_500_000;

type Limit = { kind: 'memory' } | { kind: 'processes'; count: number };

/**
 * Runs argv under the limit in a shell of its own. RLIMIT_NPROC does not bind root, so under root the
 * process limit is tried as the unprivileged user nobody (setpriv); elsewhere as the current user.
 */
function limited(limit: Limit, argv: string[]): SpawnSyncReturns<string> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = limit.kind === 'memory' ? `ulimit -v ${ADDRESS_SPACE_KIB}; exec ${quoted}` : `ulimit -u ${limit.count}; exec ${quoted}`;
  const command = limit.kind === 'processes' && AS_ROOT
    ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', script]
    : ['bash', '-c', script];
  const env = PROGRAMS.dir ? { ...process.env, LD_LIBRARY_PATH: PROGRAMS.dir } : process.env;
  return spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 60_000, cwd: '/', env });
}

const refusedThreads = (asked: number) =>
  new RegExp(`cannot start ${asked} threads: the system allowed \\d+ \\(.+\\); use fewer threads or raise the process's thread or memory limit`);

/** Ended by itself (no signal, no timeout) with the status and the one-line message. */
function expectRefusal(r: SpawnSyncReturns<string>, status: number, stderr: RegExp): void {
  expect(r.error).toBeUndefined();
  expect(r.signal).toBeNull();
  expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status, stderr: expect.stringMatching(stderr) });
  expect(r.stderr).not.toMatch(/terminate called|Aborted|core dumped|Segmentation/);
}

const limits: Array<[string, Limit]> = [
  ['ulimit -v', { kind: 'memory' }],
  ['ulimit -u 64', { kind: 'processes', count: 64 }],
];

describe.each(limits)('under %s', (_name, limit) => {
  const asked = limit.kind === 'memory' ? 1024 : 200;

  it(`vatom-native --threads ${asked}: a message and exit 1`, () => {
    const r = limited(limit, [VATOM_NATIVE, '--classes', '2', '--instances', '2', '--image-size', '64', '--threads', String(asked)]);
    expectRefusal(r, 1, new RegExp(`^vatom-native: ${refusedThreads(asked).source}`));
  });

  it(`the addon's Generator with ${asked} threads: an Error, and the process goes on`, () => {
    const spec = { config: { ...PAPER_CONFIG, imageSize: 64, startPos: 64, radiusMin: 1 }, rng: 'philox', seed: '3',
      startClass: 0, classes: 2, instances: 2, referenceThreads: 1 };
    const script = `
      const addon = require(${JSON.stringify(ADDON)});
      const spec = ${JSON.stringify(spec)};
      addon.drawClassParams(spec).then((classParams) => {
        try {
          new addon.Generator({ ...spec, classParams }, ${asked});
          console.log('made');
        } catch (err) {
          console.error(err.message);
        }
        const g = new addon.Generator({ ...spec, classParams }, 1);
        return g.render(0, 4).then((pixels) => console.log('after: ' + pixels.length + ' bytes'));
      });`;
    const r = limited(limit, [process.execPath, '-e', script]);
    expectRefusal(r, 0, new RegExp(`^${refusedThreads(asked).source}`));
    expect(r.stdout).toBe(`after: ${4 * 64 * 64} bytes\n`);
  });

  it(`the C ABI with ${asked} threads: VATOM_ERROR_OUT_OF_MEMORY and its message`, () => {
    const r = limited(limit, [CAPI_CHECK, 'threads', String(asked)]);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^status 4: ${refusedThreads(asked).source}`));
  });
});

describe('without the limits', () => {
  it('the same calls succeed (the refusals above come from the limits)', () => {
    const env = PROGRAMS.dir ? { ...process.env, LD_LIBRARY_PATH: PROGRAMS.dir } : process.env;
    expect(spawnSync(CAPI_CHECK, ['threads', '200'], { encoding: 'utf8', env }).stdout).toBe('status 0: \n');
    const r = spawnSync(VATOM_NATIVE, ['--classes', '2', '--instances', '2', '--image-size', '64', '--threads', '200'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
  });
});

describe('under ulimit -v, memory a render cannot have', () => {
  it('vatom-native rendering a shard larger than the limit: "out of memory" and exit 1', () => {
    const r = limited({ kind: 'memory' }, [VATOM_NATIVE, '--classes', '100', '--instances', '10', '--image-size', '2048',
      '--vertices', '3:3', '--orbits', '1:1', '--threads', '1']);
    expectRefusal(r, 1, /^vatom-native: out of memory: use fewer threads, a smaller shard or chunk, or raise the process's memory limit \(ulimit -v\)$/);
  });

  it('vatom-native --threads beyond the cap is refused before any work', () => {
    const r = spawnSync(VATOM_NATIVE, ['--threads', '1025'], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: 'vatom-native: --threads must be from 1 to 1024, not 1025\n' });
  });
});
