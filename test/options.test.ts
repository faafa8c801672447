// Bad input is refused before any work: the message names the option, the value and what is allowed;
// exit status 2; nothing is written.
import * as fs from 'fs';
import * as path from 'path';
import { parseBuildOptions } from '../lib/options/build';
import { PAPER_CONFIG } from '../lib/generators/presets';
import { native, runCli, tempDir, SMALL } from './helpers';

describe('parseBuildOptions', () => {
  const ok = { out: 'x' };

  it('fills the paper preset by default', () => {
    const o = parseBuildOptions(ok);
    expect(o.config).toEqual(PAPER_CONFIG);
    expect([o.classes, o.instances, o.startClass, o.seed, o.rng]).toEqual([1000, 1000, 0, '0', 'philox']);
    expect(o.threads).toBeGreaterThanOrEqual(1);
  });

  it('takes ranges as MIN:MAX or N, and seeds up to 2^64 - 1', () => {
    const o = parseBuildOptions({ ...ok, vertices: '5', orbits: '2:9', seed: '18446744073709551615' });
    expect([o.config.verticesMin, o.config.verticesMax, o.config.orbitsMin, o.config.orbitsMax]).toEqual([5, 5, 2, 9]);
    expect(o.seed).toBe('18446744073709551615');
  });

  const cases: Array<[Record<string, string>, string]> = [
    [{ classes: '0' }, 'Invalid value for --classes: "0"; expected an integer >= 1'],
    [{ classes: '-3' }, 'Invalid value for --classes: "-3"; expected an integer >= 1'],
    [{ classes: 'ten' }, 'Invalid value for --classes: "ten"; expected an integer >= 1'],
    [{ classes: '2.5' }, 'Invalid value for --classes: "2.5"; expected an integer >= 1'],
    [{ instances: '0' }, 'Invalid value for --instances: "0"; expected an integer from 1 to 4294967295'],
    [{ threads: '0' }, 'Invalid value for --threads: "0"; expected an integer from 1 to 1024'],
    [{ 'shard-size': '0' }, 'Invalid value for --shard-size: "0"; expected an integer >= 1'],
    [{ 'start-class': '-1' }, 'Invalid value for --start-class: "-1"; expected an integer from 0 to 4294967295'],
    [{ seed: '-1' }, 'Invalid value for --seed: "-1"; expected an integer from 0 to 2^64 - 1'],
    [{ seed: '18446744073709551616' }, 'Invalid value for --seed: "18446744073709551616"; expected an integer from 0 to 2^64 - 1'],
    [{ 'image-size': '15' }, 'Invalid value for --image-size: "15"; expected an integer from 16 to 8192'],
    [{ 'image-size': '100000' }, 'Invalid value for --image-size: "100000"; expected an integer from 16 to 8192'],
    [{ vertices: '500:200' }, 'Invalid value for --vertices: "500:200"; expected MIN:MAX or N, integers with 3 <= MIN <= MAX <= 100000 (MIN 500 is greater than MAX 200)'],
    [{ vertices: '2:10' }, 'Invalid value for --vertices: "2:10"; expected MIN:MAX or N, integers with 3 <= MIN <= MAX <= 100000'],
    [{ vertices: 'a:b' }, 'Invalid value for --vertices: "a:b"; expected MIN:MAX or N, integers with 3 <= MIN <= MAX <= 100000'],
    [{ orbits: '0:5' }, 'Invalid value for --orbits: "0:5"; expected MIN:MAX or N, integers with 1 <= MIN <= MAX <= 100000'],
    [{ freq1: '-1:3' }, 'Invalid value for --freq1: "-1:3"; expected MIN:MAX or N, integers with 0 <= MIN <= MAX <= 1000000'],
    [{ freq2: '5' }, 'Invalid value for --freq2: "5"; expected a range that can draw a value other than n1: --freq2 5 alone never differs from an n1 of 5, which --freq1 0:20 can draw (the redraw of n2 would never end)'],
    [{ 'noise-min': '-0.5' }, 'Invalid value for --noise-min: "-0.5"; expected a number from 0 to 1000000'],
    [{ 'line-width': 'wide' }, 'Invalid value for --line-width: "wide"; expected a number from 0 to 1000000'],
    [{ 'oval-rate': '0.5' }, 'Invalid value for --oval-rate: "0.5"; expected a number from 1 to 1000000'],
    [{ 'radius-min': '-2' }, 'Invalid value for --radius-min: "-2"; expected an integer from 0 to 1000000'],
    [{ 'start-pos': 'x' }, 'Invalid value for --start-pos: "x"; expected an integer from 0 to 1000000'],
    [{ rng: 'mt' }, 'Invalid value for --rng: "mt"; expected one of philox, reference'],
    [{ preset: 'visualatom-2k' }, 'Invalid value for --preset: "visualatom-2k"; expected one of visualatom-1k, visualatom-21k'],
    [{ device: 'tpu' }, 'Invalid value for --device: "tpu"; expected one of auto, cpu, cuda'],
    [{ 'reference-threads': '2' }, 'Invalid value for --reference-threads: "2"; expected no --reference-threads without --rng reference'],
    [{ rng: 'reference', seed: '3' }, 'Invalid value for --seed: "3"; expected no --seed with --rng reference (the reference seeds process t with t + 1)'],
    [{ rng: 'reference', classes: '4', 'reference-threads': '5' }, 'Invalid value for --reference-threads: "5"; expected at most --classes (4): the reference gives each process floor(classes / processes) classes'],
  ];
  it.each(cases)('refuses %j', (raw, message) => {
    expect(() => parseBuildOptions({ ...ok, ...raw })).toThrow(message);
    try {
      parseBuildOptions({ ...ok, ...raw });
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
      expect((err as { code: string }).code).toBe('BAD_OPTION');
    }
  });

  it('accepts a single --freq2 value that --freq1 cannot draw, or 0', () => {
    expect(parseBuildOptions({ ...ok, freq1: '0:4', freq2: '7' }).config.freq2Min).toBe(7);
    expect(parseBuildOptions({ ...ok, freq2: '0' }).config.freq2Max).toBe(0);
  });
});

describe('the CLI refuses bad input with exit 2 and writes nothing', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--classes', '0'], /Invalid value for --classes: "0"; expected an integer >= 1/],
    [['--vertices', '9:4'], /Invalid value for --vertices: "9:4".*MIN 9 is greater than MAX 4/],
    [['--image-size', 'big'], /Invalid value for --image-size: "big"; expected an integer from 16 to 8192/],
    [['--threads', '-2'], /Invalid value for --threads: "-2"/],
    [['--seed', '1e3'], /Invalid value for --seed: "1e3"/],
    [['--frobnicate', '3'], /Unknown argument: frobnicate/],
  ];
  it.each(bad)('%j', (args, message) => {
    const dir = tempDir();
    const out = path.join(dir, 'ds');
    const r = runCli(['build', '--out', out, '--classes', '2', '--instances', '2', ...SMALL, ...args]);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses --device cuda where no GPU is usable (a build without CUDA, or no driver or device)', () => {
    if (native().cuda.devices > 0) return;  // a GPU machine
    const out = path.join(tempDir(), 'ds');
    const r = runCli(['build', '--out', out, '--classes', '1', '--instances', '1', ...SMALL, '--device', 'cuda']);
    expect(r.stderr).toMatch(native().cuda.compiled
      ? /Invalid value for --device: "cuda"; no CUDA device is usable \(.+\)\. Use --device cpu or auto/
      : /Invalid value for --device: "cuda"; this build of vatom-fast has no CUDA support/);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses a dataset larger than the free space, giving both sizes', () => {
    const out = path.join(tempDir(), 'ds');
    const r = runCli(['build', '--out', out, '--preset', 'visualatom-21k', '--image-size', '8192']);
    expect(r.stderr).toMatch(/--out .*ds: the dataset needs 1\.4 PB more but only [\d.]+ [kMGT]?B is free/);
    expect(r.status).toBe(2);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses an output that is a non-empty directory of something else, or a file', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    let r = runCli(['build', '--out', dir, '--classes', '1', '--instances', '1', ...SMALL]);
    expect(r.stderr).toMatch(/exists, is not empty \(1 entries\) and is not a vatom-fast dataset/);
    expect(r.status).toBe(2);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
    r = runCli(['build', '--out', path.join(dir, 'notes.txt'), '--classes', '1', '--instances', '1', ...SMALL]);
    expect(r.stderr).toMatch(/exists and is not a directory/);
    expect(r.status).toBe(2);
  });

  it('refuses an unwritable location', () => {
    if (process.getuid && process.getuid() === 0) {
      // root writes anywhere; use a path under a file instead, which nobody can create.
      const file = path.join(tempDir(), 'f');
      fs.writeFileSync(file, '');
      const r = runCli(['build', '--out', path.join(file, 'ds'), '--classes', '1', '--instances', '1', ...SMALL]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--out/);
      return;
    }
    const dir = tempDir();
    fs.chmodSync(dir, 0o500);
    const r = runCli(['build', '--out', path.join(dir, 'ds'), '--classes', '1', '--instances', '1', ...SMALL]);
    expect(r.stderr).toMatch(/Invalid value for --out: .* is not writable/);
    expect(r.status).toBe(2);
  });
});
