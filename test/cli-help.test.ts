// The command line's help and its messages for a first hour: typed options, examples, what a build
// without counts means, unknown commands, and paths that are not datasets.
import * as fs from 'fs';
import * as path from 'path';
import { runCli, SMALL, tempDir } from './helpers';

/** The help line (and its wrapped continuation) of option `name`. */
function helpEntry(help: string, name: string): string {
  const lines = help.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`  --${name} `));
  if (i < 0) throw new Error(`no --${name} in help`);
  let entry = lines[i];
  for (let j = i + 1; j < lines.length && /^ {10,}\S/.test(lines[j]); ++j) entry += ` ${lines[j].trim()}`;
  return entry;
}

describe('help', () => {
  const build = runCli(['build', '--help']);

  it('types numeric options as numbers and marks --out required', () => {
    expect(build.status).toBe(0);
    for (const name of ['classes', 'instances', 'start-class', 'image-size', 'noise-min', 'line-width', 'radius-min', 'oval-rate',
      'start-pos', 'seed', 'reference-threads', 'threads', 'shard-size', 'worker-index', 'worker-count', 'png-level', 'shard-images']) {
      expect(helpEntry(build.stdout, name)).toMatch(/\[number\]$/);
    }
    for (const name of ['vertices', 'orbits', 'freq1', 'freq2', 'rng', 'format']) expect(helpEntry(build.stdout, name)).toMatch(/\[string\]$/);
    expect(helpEntry(build.stdout, 'out')).toMatch(/\[string\] \[required\]$/);
  });

  it('gives examples and says that a build without --classes and --instances is the whole 262 GB preset', () => {
    expect(build.stdout).toMatch(/\nExamples:\n {2}vatom-fast build --classes 10/);
    expect(build.stdout.replace(/\s+/g, ' ')).toContain('Without --classes and --instances, a build makes the whole preset ' +
      '(visualatom-1k: 1,000 x 1,000 images, 262.1 GB at 512 x 512; visualatom-21k: 21,000 x 1,000 images, 5.5 TB at 512 x 512; ' +
      'rcdb-1k: 1,000 x 1,000 images, 262.1 GB at 512 x 512; rcdb-21k: 21,000 x 1,000 images, 5.5 TB at 512 x 512)');
    for (const command of ['verify', 'info', 'export', 'preview', 'merge']) {
      expect(runCli([command, '--help']).stdout).toMatch(new RegExp(`\\nExamples:\\n {2}vatom-fast ${command} `));
    }
    expect(runCli(['preview', '--help']).stdout).toMatch(/--classes +Number of classes \(default: 8, the sheet's rows\)/);
  });
});

describe('messages', () => {
  it('names an unknown command and the known ones, without guessing', () => {
    const r = runCli(['foo']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('vatom-fast: Unknown command "foo": expected one of build, verify, info, merge, export, preview\n' +
      'Run vatom-fast --help for the commands.\n');
  });

  it('checks and quotes the text typed for a numeric option', () => {
    const out = path.join(tempDir(), 'ds');
    for (const [value, shown] of [['0x10', '"0x10"'], ['1e3', '"1e3"'], ['abc', '"abc"'], ['2.5', '"2.5"']]) {
      const r = runCli(['build', '--out', out, '--classes', value]);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: `vatom-fast: Invalid value for --classes: ${shown}; expected an integer >= 1\n` });
    }
    const r = runCli(['build', '--out', out, '--classes']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: 'vatom-fast: Not enough arguments following: classes\nRun vatom-fast --help for the options.\n' });
    expect(runCli(['build', '--classes', '1']).stderr).toBe('vatom-fast: Missing --out: expected the dataset directory to write\n');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('keeps every digit of a 64-bit seed', () => {
    const out = path.join(tempDir(), 'ds');
    expect(runCli(['build', '--out', out, '--classes', '1', '--instances', '1', ...SMALL, '--seed', '18446744073709551615', '--quiet']).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).seed).toBe('18446744073709551615');
  });

  it('says that a missing path does not exist, in verify and info', () => {
    const missing = path.join(tempDir(), 'nope');
    const v = runCli(['verify', missing]);
    expect({ status: v.status, stderr: v.stderr }).toEqual({ status: 1, stderr: `${missing}: ${missing} does not exist\n${missing}: FAILED, 1 problem(s)\n` });
    const i = runCli(['info', missing]);
    expect({ status: i.status, stderr: i.stderr }).toEqual({ status: 1, stderr: `vatom-fast: ${missing} does not exist\n` });
  });

  it('recognises a PNG tree and a WebDataset export, and a file', () => {
    const dir = tempDir();
    const args = ['--classes', '2', '--instances', '2', ...SMALL, '--quiet'];
    expect(runCli(['build', '--out', path.join(dir, 'png'), '--format', 'png', ...args]).status).toBe(0);
    expect(runCli(['build', '--out', path.join(dir, 'wds'), '--format', 'wds', ...args]).status).toBe(0);
    for (const command of ['verify', 'info']) {
      const png = runCli([command, path.join(dir, 'png')]);
      expect(png.status).toBe(1);
      expect(png.stderr).toContain(`${path.join(dir, 'png')} is a PNG tree (class folders of PNG files, an export by vatom-fast export or build --format), ` +
        'not a .npy dataset: verify and info read the .npy dataset it was made from; read it with torchvision ImageFolder');
      const wds = runCli([command, path.join(dir, 'wds')]);
      expect(wds.status).toBe(1);
      expect(wds.stderr).toContain(`${path.join(dir, 'wds')} is a WebDataset (tar shards, an export by vatom-fast export or build --format), not a .npy dataset`);
    }
    const file = path.join(dir, 'png', 'vatom-export.json');
    expect(runCli(['info', file]).stderr).toBe(`vatom-fast: ${file} is not a vatom-fast dataset: it is a file, not a directory\n`);
  });
});
