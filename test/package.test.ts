import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, tempDir } from './helpers';

// The npm package as a user gets it: packed from the files of a clean checkout (no dist/, no build/),
// installed into an empty project, used through npx and require().

/**
 * The environment without what the `npm test` running us sets for its own project (prefix, package,
 * lifecycle), which would leak into the nested npm calls; where packages come from stays as configured.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) || /^npm_config_(cache|registry|userconfig)$/i.test(k)) env[k] = v;
  }
  return env;
}

function run(command: string, args: string[], cwd: string): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: npmEnv(), maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The files a clean clone has: tracked, plus new ones git does not ignore. */
function checkoutFiles(): string[] {
  return run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT).split('\0')
    .filter((f) => f !== '' && fs.existsSync(path.join(ROOT, f)));
}

describe('npm package', () => {
  let work: string;
  let tarball: string;
  let contents: string[];
  let app: string;

  beforeAll(() => {
    work = tempDir();
    const clone = path.join(work, 'clone');
    for (const f of checkoutFiles()) {
      fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(clone, f));
    }
    // The clone's devDependencies (tsc for `prepare`), without installing them again.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], clone));
    tarball = path.join(work, packed[0].filename);
    contents = packed[0].files.map((f: { path: string }) => f.path).sort();

    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
  }, 900_000);

  test('the tarball holds compiled JavaScript, the native sources, python/, examples and the license, and nothing test-only', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'CMakeLists.txt', 'dist/index.js', 'dist/index.d.ts',
      'dist/cli/main.js', 'native/addon/addon.cpp', 'native/cli/vatom_native.cpp', 'python/vatom_fast/__init__.py',
      'python/pyproject.toml', 'python/vatom_fast/format/presets.json', 'native/capi/vatom_fast.h',
      'examples/slurm/visualatom-21k.sbatch']) {
      expect(contents).toContain(f);
    }
    const unwanted = contents.filter((f) => /^(test|lib|bench|scripts|build|\.ci)\/|^tsconfig|\.map$|\.ts$(?<!\.d\.ts)|egg-info|__pycache__|^python\/build\/|_check\.(c|cpp|hpp)$|mock_runtime|testing/.test(f));
    expect(unwanted).toEqual([]);
    // "files" keeps native/ whole: the test-only native code lives under test/native, not beside it.
    const files: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).files;
    expect(files.filter((f) => f.startsWith('!native'))).toEqual([]);
    const meta = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'vatom-fast', 'package.json'), 'utf8'));
    expect(meta.license).toBe('MIT');
    expect(meta.repository.url).toMatch(/^git\+https:\/\//);
    expect(meta.bugs.url).toMatch(/^https:\/\//);
    expect(meta.homepage).toMatch(/^https:\/\//);
    expect(Object.keys(meta.dependencies)).not.toContain('typescript');
  });

  test('the install builds the addon and vatom-native, not the test programs or the test addon', () => {
    const build = path.join(app, 'node_modules', 'vatom-fast', 'build');
    expect(fs.existsSync(path.join(build, 'Release', 'vatom_native.node'))).toBe(true);
    expect(fs.readdirSync(build).filter((f) => f.startsWith('vatom-')).sort()).toEqual(['vatom-native']);
    expect(fs.readdirSync(path.join(build, 'Release')).filter((f) => f.endsWith('.node'))).toEqual(['vatom_native.node']);
    const addon = require(path.join(build, 'Release', 'vatom_native.node'));
    expect(Object.keys(addon).sort()).toEqual(['Generator', 'cuda', 'drawClassParams', 'imageDataOffset']);
  });

  test('npx vatom-fast build && npx vatom-fast verify work in the installed project', () => {
    run('npx', ['--no', 'vatom-fast', 'build', '--classes', '2', '--instances', '3', '--image-size', '64',
      '--vertices', '20:60', '--orbits', '1:12', '--out', 'data/va', '--quiet'], app);
    expect(run('npx', ['--no', 'vatom-fast', 'verify', 'data/va'], app)).toMatch(/^data\/va: OK, 1 shards, /);
    const manifest = JSON.parse(fs.readFileSync(path.join(app, 'data', 'va', 'manifest.json'), 'utf8'));
    expect(manifest.imageCount).toBe(6);
  });

  test('require("vatom-fast") gives the typed library API', () => {
    const script = `
      const vatom = require('vatom-fast');
      (async () => {
        const summary = await vatom.build({ out: 'data/lib', classes: 1, instances: 2, imageSize: 32, vertices: [3, 10], orbits: [1, 3] });
        const report = await vatom.verifyDataset('data/lib');
        let refused = '';
        try { vatom.validateBuildOptions({ out: 'x', clases: 2 }); } catch (err) { refused = err.message; }
        console.log(JSON.stringify({ images: summary.images, ok: report.ok, refused }));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const out = JSON.parse(run(process.execPath, ['-e', script], app));
    expect(out).toEqual({ images: 2, ok: true, refused: expect.stringMatching(/^Unknown option clases for build\(\); expected out, /) });
  });

  it('types the options for TypeScript users through the package\'s exports', () => {
    fs.writeFileSync(path.join(app, 'check.ts'), [
      "import { build, BuildOptions, VatomError } from 'vatom-fast';",
      "const ok: BuildOptions = { out: 'x', imageSize: 64, vertices: [3, 10], format: 'png', gray: true };",
      '// @ts-expect-error an unknown option',
      "const misspelt: BuildOptions = { out: 'x', clases: 2 };",
      '// @ts-expect-error a number, not text',
      "const text: BuildOptions = { out: 'x', imageSize: '64' };",
      '// @ts-expect-error out is required',
      'const noOut: BuildOptions = { classes: 2 };',
      'export const all = [build(ok), misspelt, text, noOut, VatomError];',
      '',
    ].join('\n'));
    run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--skipLibCheck',
      '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', 'check.ts'], app);
  });
});
