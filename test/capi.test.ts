// Native cancellation through the addon, and the C ABI's error paths from a C program
// (test/native/capi_check.c, built beside the addon by `npm run build`).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PAPER_CONFIG } from '../lib/generators/presets';
import { native, ROOT, tempDir } from './helpers';

// One image so large (8192 px, up to 100,000 vertices x 100,000 orbits) that it would render for hours.
const HUGE = {
  config: { ...PAPER_CONFIG, imageSize: 8192, startPos: 8192, verticesMin: 100_000, verticesMax: 100_000,
    orbitsMin: 100_000, orbitsMax: 100_000 },
  rng: 'philox' as const, seed: '1', startClass: 0, classes: 1, instances: 1, referenceThreads: 1,
};

describe('Generator.cancel()', () => {
  it('stops render() within one image', async () => {
    const addon = native();
    const classParams = await addon.drawClassParams(HUGE);
    const g = new addon.Generator({ ...HUGE, classParams }, 1);
    const started = Date.now();
    const pending = g.render(0, 1);
    setTimeout(() => g.cancel(), 300);
    await expect(pending).rejects.toThrow('cancelled');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops writeShard() within one image and leaves no file', async () => {
    const addon = native();
    const classParams = await addon.drawClassParams(HUGE);
    const g = new addon.Generator({ ...HUGE, classParams }, 2);
    const dir = tempDir();
    try {
      const started = Date.now();
      const pending = g.writeShard({ first: 0, count: 1, imagesPath: path.join(dir, 'images-00000.npy'),
        labelsPath: path.join(dir, 'labels-00000.npy') });
      setTimeout(() => g.cancel(), 300);
      await expect(pending).rejects.toThrow('cancelled');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not stick: after a cancel the next render runs', async () => {
    const addon = native();
    const spec = { ...HUGE, config: { ...PAPER_CONFIG, imageSize: 64, startPos: 64, verticesMin: 20, verticesMax: 40,
      orbitsMin: 1, orbitsMax: 5 }, classes: 1, instances: 2 };
    const classParams = await addon.drawClassParams(spec);
    const g = new addon.Generator({ ...spec, classParams }, 1);
    g.cancel();
    const pixels = await g.render(0, 2);
    expect(pixels.length).toBe(2 * 64 * 64);
    expect(pixels.some((v) => v !== 0)).toBe(true);
  });
});

describe('the C ABI from C', () => {
  it('reports bad specs, bad ranges and cancellation as codes and messages (test/native/capi_check.c)', () => {
    const program = path.join(ROOT, 'build', 'vatom-capi-check');
    expect(fs.existsSync(program)).toBe(true);
    const r = spawnSync(program, [], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/^FAIL/m);
    expect(r.stdout).toContain('message: bad spec: imageSize is 3, expected an integer from 16 to 8192');
    expect(r.stdout.trim().split('\n').pop()).toBe('capi-check: all passed');
    expect(r.status).toBe(0);
  });
});
