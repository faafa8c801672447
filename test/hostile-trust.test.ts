// The data is a pure function of the manifest: checks that use that (verify --full, labels from the
// index, class parameters redrawn before an export), bounded replay cost, and refusals that name the
// file or option and the fix. Each case runs the CLI as a user would.
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, runCli, tempDir } from './helpers';

const T = tempDir('vatom-trust-');
// Seed 5 draws no blank image in this small config, so that a changed image cannot pass for a right one.
const ARGS = ['--classes', '3', '--instances', '2', '--image-size', '32', '--vertices', '20:60', '--orbits', '1:12',
  '--start-pos', '32', '--radius-min', '2', '--shard-size', '4', '--seed', '5'];
const IMAGE_BYTES = 32 * 32;
let counter = 0;

let pristineDir: string | undefined;
/** A fresh copy of one small dataset (shards of 4 and 2 images). */
function fresh(): string {
  if (!pristineDir) {
    pristineDir = path.join(T, 'pristine');
    const r = runCli(['build', '--out', pristineDir, '--quiet', ...ARGS]);
    if (r.status !== 0) throw new Error(r.stderr);
  }
  const ds = path.join(T, `case-${++counter}`);
  fs.cpSync(pristineDir, ds, { recursive: true });
  return ds;
}

function cli(args: string[], timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
}

/** A refusal: the status, one line on stderr naming what is wrong, no stack trace. */
function expectOneLine(r: SpawnSyncReturns<string>, status: number, pattern: RegExp | string): void {
  expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status });
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  if (typeof pattern === 'string') expect(r.stderr).toContain(pattern); else expect(r.stderr).toMatch(pattern);
}

const manifestOf = (ds: string) => JSON.parse(fs.readFileSync(path.join(ds, 'manifest.json'), 'utf8'));
const writeManifest = (ds: string, m: unknown) => fs.writeFileSync(path.join(ds, 'manifest.json'), JSON.stringify(m, null, 1));
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Changes bytes of a shard file and records its new size and sha256 in the manifest, as a careful forger would. */
function forge(ds: string, shard: number, file: 'images' | 'labels', at: number, bytes: Buffer): void {
  const m = manifestOf(ds);
  const name = m.shards[shard][file];
  const fd = fs.openSync(path.join(ds, name), 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, at);
  fs.closeSync(fd);
  m.shards[shard][`${file}Sha256`] = sha256(path.join(ds, name));
  writeManifest(ds, m);
}

describe('wrong data is not accepted', () => {
  it('verify --full finds a changed image with a matching sha256 at any position, naming class, instance and shard', () => {
    const places: Array<[number, number, string]> = [[0, 0, 'images-00000.npy'], [0, 2, 'images-00000.npy'], [0, 3, 'images-00000.npy'],
      [1, 4, 'images-00001.npy'], [1, 5, 'images-00001.npy']];
    for (const [shard, image, name] of places) {
      const ds = fresh();
      const first = shard === 0 ? 0 : 4;
      // One pixel in the middle of the image, changed and re-hashed.
      const at = 4096 + (image - first) * IMAGE_BYTES + IMAGE_BYTES / 2 + 16;
      const old = fs.readFileSync(path.join(ds, name))[at];
      forge(ds, shard, 'images', at, Buffer.from([old ^ 0x80]));
      const r = cli(['verify', ds, '--full', '--quiet']);
      expect({ image, status: r.status }).toEqual({ image, status: 1 });
      expect(r.stderr).toContain(`image ${image} (class ${Math.floor(image / 2)}, instance ${image % 2}) in ${name} is not what the manifest's configuration renders`);
    }
    // Without --full, verify renders the first and last image only (its --help says so): image 2 passes there.
    const ds = fresh();
    forge(ds, 0, 'images', 4096 + 2 * IMAGE_BYTES + 500, Buffer.from([7]));
    expect(cli(['verify', ds]).status).toBe(0);
    expect(cli(['verify', fresh(), '--full']).stdout).toMatch(/OK, 2 shards, .* verified, 6 images rendered again and equal/);
  });

  it('verify --help says what the default checks and what it does not', () => {
    const help = cli(['verify', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--full');
    expect(help).toContain('It does not render the other images');
  });

  it('verify checks every label against its index: a rewritten labels file with a matching sha256 fails', () => {
    const ds = fresh();
    // Image 1 is of class 0: label it 2.
    forge(ds, 0, 'labels', 128 + 4, Buffer.from([2, 0, 0, 0]));
    const r = cli(['verify', ds]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('labels-00000.npy: label 2 for image 1, which is of class 0');
  });

  it('export redraws the class parameters of a stored dataset and refuses a changed one before writing anything', () => {
    for (const [label, tamper, problem] of [
      ['a vertex count', (m: Record<string, any>) => { m.classParams[0].vertices += 1; }, /class 0: vertices is \d+, the config and seed draw \d+/],
      ['the seed', (m: Record<string, any>) => { m.seed = '6'; }, /class 0: \w+ is .*, the config and seed draw/],
      ['the config', (m: Record<string, any>) => { m.config.lineWidth = 0.2; }, /manifest does not describe this dataset: .*(lineWidth|line-width|class)/],
    ] as const) {
      const ds = fresh();
      const m = manifestOf(ds);
      tamper(m);
      writeManifest(ds, m);
      const out = path.join(T, `export-${++counter}`);
      const r = cli(['export', ds, '--to', 'png', '--out', out, '--quiet']);
      expect({ label, status: r.status }).toEqual({ label, status: 2 });
      expect(r.stderr).toMatch(problem);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});

describe('bounded replay cost of the reference stream', () => {
  it('refuses more than 100000 instances per class with --rng reference, in options and in a manifest', () => {
    const out = path.join(T, 'never');
    for (const command of ['build', 'preview']) {
      expectOneLine(cli([command, '--out', out, '--rng', 'reference', '--classes', '1', '--instances', '100001']), 2,
        'Invalid value for --instances: "100001"; expected at most 100000 with --rng reference');
    }
    // A 1 kB manifest that asks for 2^32 - 1 images of one class: refused when read, at once.
    const ds = path.join(T, 'replay');
    expect(cli(['build', '--format', 'manifest', '--out', ds, '--rng', 'reference', '--classes', '1', '--instances', '4',
      '--image-size', '32', '--vertices', '20:60', '--orbits', '1:12']).status).toBe(0);
    const m = manifestOf(ds);
    Object.assign(m, { instances: 2 ** 32 - 1, imageCount: 2 ** 32 - 1, shardSize: 2 ** 32 - 1 });
    writeManifest(ds, m);
    const limit = 'instances 4294967295 is more than the 100000 the reference stream allows';
    const started = Date.now();
    expectOneLine(cli(['info', ds]), 1, limit);
    const v = cli(['verify', ds]);
    expect(v.status).toBe(1);
    expect(v.stderr).toContain(limit);
    expectOneLine(cli(['export', ds, '--to', 'png', '--out', path.join(T, 'replay-png')]), 2, limit);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('Ctrl-C stops the export of a manifest-only reference dataset within about a second, inside a long native render', async () => {
    // Each image takes about a second of one core: a batch of them is one long native call.
    const ds = path.join(T, 'slow-reference');
    expect(cli(['build', '--format', 'manifest', '--out', ds, '--rng', 'reference', '--classes', '1', '--instances', '64',
      '--image-size', '256', '--orbits', '3000:4000', '--vertices', '20000:30000', '--start-pos', '256']).status).toBe(0);
    const out = path.join(T, 'slow-reference-png');
    const child = spawn(process.execPath, [CLI, 'export', ds, '--to', 'png', '--out', out, '--quiet', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      // The marker is written before the first render starts.
      for (let i = 0; i < 3000 && !fs.existsSync(path.join(out, 'vatom-export.json')); ++i) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 1000));
      const sent = Date.now();
      child.kill('SIGINT');
      const code = await exited;
      expect(Date.now() - sent).toBeLessThan(1500);
      expect(code).toBe(1);
      expect(stderr.trim()).toBe('vatom-fast: export interrupted; rerun the same command to resume');
      expect(JSON.parse(fs.readFileSync(path.join(out, 'vatom-export.json'), 'utf8')).complete).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('command-line booleans take only what yargs documents', () => {
  it('--gray=maybe is refused by name; --gray=false and --no-gray are taken', () => {
    const ds = fresh();
    expectOneLine(cli(['export', ds, '--to', 'png', '--out', path.join(T, 'maybe'), '--gray=maybe']), 2,
      'Invalid value for --gray: "maybe"; expected --gray alone, --gray=true, --gray=false or --no-gray');
    expect(fs.existsSync(path.join(T, 'maybe'))).toBe(false);
    expectOneLine(cli(['build', '--out', path.join(T, 'maybe'), '--quiet=yes']), 2, 'Invalid value for --quiet: "yes"');
    expect(cli(['export', ds, '--to', 'png', '--out', path.join(T, 'gray-false'), '--gray=false', '--quiet']).status).toBe(0);
  });
});

describe('messages that name the file and the fix', () => {
  it('--out naming a dangling symlink says what it is', () => {
    const link = path.join(T, `dangling-${++counter}`);
    fs.symlinkSync(path.join(T, 'nowhere', 'at-all'), link);
    expectOneLine(cli(['build', '--out', link, ...ARGS]), 2,
      `--out ${link} is a symbolic link to ${path.join(T, 'nowhere', 'at-all')}, which does not exist; create that directory, or remove the link`);
    const ds = fresh();
    expectOneLine(cli(['export', ds, '--to', 'wds', '--out', link]), 2, 'which does not exist');
  });

  it('a directory planted at a temporary file name is named, with the fix', () => {
    const fix = (file: string) => `${file} is a directory where vatom-fast writes a temporary file; remove it (rmdir ${JSON.stringify(file)})`;
    // manifest.json.tmp of a build, and a worker's part manifest temp name.
    for (const [name, extra] of [['manifest.json.tmp', []], ['manifest.part-00000-of-00002.json.tmp', ['--worker-index', '0', '--worker-count', '2']]] as const) {
      const out = path.join(T, `planted-${++counter}`);
      fs.mkdirSync(path.join(out, name), { recursive: true });
      expectOneLine(cli(['build', '--out', out, '--quiet', ...ARGS, ...extra]), 1, fix(path.join(out, name)));
      expect(fs.statSync(path.join(out, name)).isDirectory()).toBe(true);
    }
    // An export marker's temp name and a WebDataset shard's, on a rerun of a finished export.
    const ds = fresh();
    for (const [to, name] of [['png', 'vatom-export.json.tmp'], ['wds', 'visualatom-000000.tar.partial']] as const) {
      const out = path.join(T, `planted-${++counter}`);
      expect(cli(['export', ds, '--to', to, '--out', out, '--quiet']).status).toBe(0);
      fs.mkdirSync(path.join(out, name));
      expectOneLine(cli(['export', ds, '--to', to, '--out', out, '--quiet']), 1, fix(path.join(out, name)));
    }
  });

  it('a class folder of a PNG export that is a symlink is named, with the fix', () => {
    const ds = fresh();
    const out = path.join(T, `symlinked-${++counter}`);
    expect(cli(['export', ds, '--to', 'png', '--out', out, '--quiet']).status).toBe(0);
    for (const target of [path.join(T, 'no-such-dir'), path.join(out, '00000')]) {
      fs.rmSync(path.join(out, '00001'), { recursive: true, force: true });
      fs.symlinkSync(target, path.join(out, '00001'));
      expectOneLine(cli(['export', ds, '--to', 'png', '--out', out, '--quiet']), 2,
        `${path.join(out, '00001')} is not a directory (a symlink or file where a folder goes); remove it and rerun the same command`);
    }
  });
});
