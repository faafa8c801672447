// The README's code runs as written: its quick start (the commands after `npm install`) and every other
// vatom-fast command, every Node and Python block, and its apt-get line is the one .ci/run installs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, PYTHON, ROOT, tempDir } from './helpers';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The fenced code blocks of the README in `languages`, in order. */
function blocks(...languages: string[]): string[] {
  const found: string[] = [];
  for (const m of README.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) if (languages.includes(m[1])) found.push(m[2]);
  return found;
}

/** The packages of the first `apt-get install` in `text` (options and line continuations dropped). */
function aptPackages(text: string): string[] {
  const m = /apt-get install((?:\\\n|[^\n])*)/.exec(text);
  if (m === null) throw new Error('no apt-get install line');
  return m[1].replace(/\\\n/g, ' ').split(/\s+/).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w)).sort();
}

describe('README', () => {
  const work = tempDir();
  let quickStart: string[];

  beforeAll(() => {
    const line = blocks('sh').find((b) => b.startsWith('npm install &&'));
    if (line === undefined) throw new Error('no quick start line (npm install && ...) in the README');
    // `npm install` is what made this checkout; the rest is run here as a user would, through npx's target.
    quickStart = line.trim().split('&&').map((c) => c.trim()).slice(1);
    // Every vatom-fast command of the README, in order, so that the blocks after them find their data.
    const commands = blocks('sh').flatMap((b) => b.trim().split('&&').map((c) => c.trim())).filter((c) => c.startsWith('npx vatom-fast '));
    expect(commands.slice(0, quickStart.length)).toEqual(quickStart);
    for (const command of commands) {
      const args = command.split(/\s+/);
      const r = spawnSync(process.execPath, [CLI, ...args.slice(2)], { cwd: work, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${command} failed (${r.status}): ${r.stderr}`);
    }
  }, 600_000);

  it('quick start builds and verifies data/va', () => {
    expect(quickStart.map((c) => c.split(/\s+/)[2])).toEqual(['build', 'verify']);
    const manifest = JSON.parse(fs.readFileSync(path.join(work, 'data', 'va', 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ classes: 10, instances: 100, imageSize: 512, complete: true });
  });

  it('names the system packages in one apt-get line, the ones .ci/run installs', () => {
    const lines = blocks('sh').filter((b) => b.includes('apt-get install'));
    expect(lines).toHaveLength(1);
    expect(lines[0].trim().split('\n')).toHaveLength(1);
    expect(aptPackages(lines[0])).toEqual(aptPackages(fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')));
  });

  it('runs its Node blocks as written, printing what their `// =>` comments say', () => {
    const node = blocks('js', 'javascript');
    expect(node.length).toBeGreaterThan(0);
    // require('vatom-fast') resolves to this checkout, as it would to the installed package.
    const modules = path.join(work, 'node_modules');
    fs.mkdirSync(modules, { recursive: true });
    fs.symlinkSync(ROOT, path.join(modules, 'vatom-fast'));
    node.forEach((code, i) => {
      const file = path.join(work, `snippet-${i}.js`);
      fs.writeFileSync(file, code);
      const r = spawnSync(process.execPath, [file], { cwd: work, encoding: 'utf8', env: { ...process.env, NODE_PATH: modules } });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      for (const [, said] of code.matchAll(/console\.log\([^\n]*\/\/ => (.+)$/gm)) expect(r.stdout).toContain(said.trim());
    });
  });

  it('runs its Python blocks as written, in one session, against the datasets its commands built', () => {
    const python = blocks('python');
    expect(python.length).toBeGreaterThan(0);
    // The package from the checkout, as the other Python tests use it, with the C library this checkout built.
    // Its own temp directory, removed with the work directory: a DataLoader worker that the interpreter's
    // exit kills while Python probes the temp directory leaves the probe file behind (torch, not this package).
    const pythonTmp = path.join(work, 'python-tmp');
    fs.mkdirSync(pythonTmp, { recursive: true });
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: path.join(ROOT, 'python'),
      VATOM_FAST_LIBRARY: path.join(ROOT, 'build', 'Release', 'libvatom_fast.so'), TMPDIR: pythonTmp };
    // One session, as a reader runs them: later blocks use the imports of earlier ones.
    const code = python.join('\n');
    const r = spawnSync(PYTHON, ['-c', code], { cwd: work, encoding: 'utf8', env, maxBuffer: 1 << 26 });
    expect({ status: r.status, stderr: r.stderr.split('\n').filter((l) => /Error|Traceback/.test(l)) }).toEqual({ status: 0, stderr: [] });
    for (const [, said] of code.matchAll(/print\([^\n]*# => (.+)$/gm)) expect(r.stdout).toContain(said.trim());
  });
});
