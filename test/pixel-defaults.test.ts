// The pixel-valued defaults (start position, base radius, line width, noise level) follow the image
// size with the philox stream, keep the reference script's values with --rng reference (with a
// warning when the drawing leaves the canvas), and leave the paper preset at 512 x 512 as it was.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PAPER_CONFIG } from '../lib/generators/presets';
import { drawingWarnings } from '../lib/generators/visualatom';
import { parseBuildOptions } from '../lib/options/build';
import { ROOT, runCli, sha256, tempDir } from './helpers';

const pixelValues = (raw: Record<string, unknown>) => {
  const { startPos, radiusMin, lineWidth, noiseMin } = parseBuildOptions({ out: 'x', ...raw }).config;
  return { startPos, radiusMin, lineWidth, noiseMin };
};

/** The images of a built dataset, one Buffer each. */
function images(dir: string): Buffer[] {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const size = m.imageSize * m.imageSize;
  const out: Buffer[] = [];
  for (const s of m.shards) {
    const data = fs.readFileSync(path.join(dir, s.images)).subarray(m.imagesDataOffset);
    for (let i = 0; i < s.count; ++i) out.push(data.subarray(i * size, (i + 1) * size));
  }
  return out;
}

describe('pixel-valued defaults', () => {
  it('scale with --image-size in the philox stream, rounding integers to the nearest', () => {
    expect(pixelValues({ 'image-size': '64' })).toEqual({ startPos: 64, radiusMin: 1, lineWidth: 0.0125, noiseMin: 0 });
    expect(pixelValues({ 'image-size': '1024' })).toEqual({ startPos: 1024, radiusMin: 20, lineWidth: 0.2, noiseMin: 0 });
    expect(pixelValues({ 'image-size': '100' })).toEqual({ startPos: 100, radiusMin: 2, lineWidth: (0.1 * 100) / 512, noiseMin: 0 });
  });

  it('leave alone what the user gave, each option on its own', () => {
    expect(pixelValues({ 'image-size': '64', 'start-pos': '100', 'noise-min': '1' }))
      .toEqual({ startPos: 100, radiusMin: 1, lineWidth: 0.0125, noiseMin: 1 });
  });

  it('keep the reference script\'s values with --rng reference', () => {
    expect(pixelValues({ 'image-size': '64', rng: 'reference' })).toEqual({ startPos: 512, radiusMin: 10, lineWidth: 0.1, noiseMin: 0 });
  });

  it('leave the paper preset at 512 x 512 exactly as it was', () => {
    expect(parseBuildOptions({ out: 'x' }).config).toEqual(PAPER_CONFIG);
    expect(parseBuildOptions({ out: 'x', 'image-size': '512' }).config).toEqual(PAPER_CONFIG);
    expect(parseBuildOptions({ out: 'x', preset: 'visualatom-21k', 'image-size': '512' }).config).toEqual(PAPER_CONFIG);
  });

  it('build the paper preset through the command line to the golden hashes of class 3', () => {
    const out = path.join(tempDir(), 'paper');
    const r = runCli(['build', '--start-class', '3', '--classes', '1', '--instances', '3', '--out', out, '--quiet']);
    expect(r.status).toBe(0);
    expect(images(out).map(sha256)).toEqual([  // the same hashes as build.test.ts, "the paper preset"
      '6bbc0bc934c737ecfa2253799a54f84b53b0bb30510f9dd36b21519409ac8b0c',
      'c7e2d1f4d67c0f93ff6babaa7305ba8f4c8651422b6784de22e5686ce33716a5',
      'b9ac784080dc2c0378b489658c2f7f4f1cb55de275822ae3aa946763e9b160ab',
    ]);
  });

  // The radius span follows the image size like the other pixel values (6 at 64 pixels, 50 at 512), so
  // no first orbit encloses the canvas; the 512-pixel start position still leaves 36 of these 100 blank.
  it('leave no image blank at --image-size 64 alone (the radius span scales too), where the 512-pixel start position left 36', () => {
    const dir = tempDir();
    const blank = (name: string) => images(path.join(dir, name)).filter((image) => image.every((v) => v === 0)).length;
    const args = ['build', '--image-size', '64', '--classes', '10', '--instances', '10'];
    const r = runCli([...args, '--out', path.join(dir, 'small')]);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/start position/);
    expect(r.stderr).not.toMatch(/base radius/);
    expect(blank('small')).toBe(0);
    expect(runCli([...args, '--start-pos', '512', '--radius-min', '10', '--line-width', '0.1', '--quiet', '--out', path.join(dir, 'paper-pixels')]).status).toBe(0);
    expect(blank('paper-pixels')).toBe(36);

    const reference = runCli([...args, '--rng', 'reference', '--out', path.join(dir, 'reference')]);
    expect(reference.status).toBe(0);
    expect(reference.stderr).toMatch(/^warning: start position 512 is larger than the image size 64: image centres fall up to 256 pixels from the middle of the canvas/m);
    expect(blank('reference')).toBe(29);
  });

  it('warn about nothing at the paper preset or at 256 pixels', () => {
    expect(drawingWarnings(PAPER_CONFIG)).toEqual([]);
    expect(drawingWarnings(parseBuildOptions({ out: 'x', 'image-size': '256' }).config)).toEqual([]);
    expect(drawingWarnings(parseBuildOptions({ out: 'x', 'image-size': '64' }).config)).toEqual([]);
    expect(drawingWarnings(parseBuildOptions({ out: 'x', 'image-size': '64', 'radius-min': '40' }).config)).toHaveLength(1);
    expect(drawingWarnings(parseBuildOptions({ out: 'x', 'image-size': '64', rng: 'reference' }).config)).toHaveLength(2);
  });

  it('are the same in vatom-native, whose hashes equal the build\'s', () => {
    const out = path.join(tempDir(), 'ds');
    const args = ['--image-size', '48', '--classes', '2', '--instances', '3', '--vertices', '20:60', '--orbits', '1:12', '--radius-min', '3'];
    expect(runCli(['build', ...args, '--out', out, '--quiet']).status).toBe(0);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(m.config).toMatchObject({ startPos: 48, radiusMin: 3, lineWidth: (0.1 * 48) / 512 });
    const native = spawnSync(path.join(ROOT, 'build', 'vatom-native'), [...args, '--threads', '1'], { encoding: 'utf8' });
    expect(native.status).toBe(0);
    expect(native.stdout).toContain(`shard 0 images 6 sha256 ${m.shards[0].imagesSha256}`);
  });
});

describe('vatom-native --help', () => {
  it('prints its usage and exits 0; a missing value points to it', () => {
    const help = spawnSync(path.join(ROOT, 'build', 'vatom-native'), ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: vatom-native \[--family visualatom\|rcdb\] \[--classes N\]/);
    const bad = spawnSync(path.join(ROOT, 'build', 'vatom-native'), ['--classes'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('vatom-native: missing value for --classes (vatom-native --help for the options)\n');
  });
});
