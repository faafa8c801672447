// The facts the native side holds as C++ values, against their one definition: the paper preset
// (presets.json), the bounds of a generator config and of referenceThreads (manifest.schema.json), the
// pixel-valued defaults at other image sizes (lib/config.ts) and the thread cap (lib/options.ts).
import * as fs from 'fs';
import * as path from 'path';
import { PAPER_CONFIG } from '../lib/generators/presets';
import { scaledToImageSize } from '../lib/generators/visualatom';
import { LIMITS } from '../lib/options/limits';
import { nativeTesting, ROOT } from './helpers';

const FORMAT = path.join(ROOT, 'python', 'vatom_fast', 'format');
const presets = JSON.parse(fs.readFileSync(path.join(FORMAT, 'presets.json'), 'utf8'));
const schema = JSON.parse(fs.readFileSync(path.join(FORMAT, 'manifest.schema.json'), 'utf8'));
const testing = nativeTesting();

describe('native constants against the shared format files', () => {
  it('the native paper config is presets.json\'s paper config', () => {
    expect(testing.paperConfig(presets.configs.paper.imageSize)).toEqual(presets.configs.paper);
  });

  it.each([16, 64, 100, 128, 224, 333, 1024, 8192])('at %i px, the pixel-valued defaults are those of the command line', (size) => {
    expect(testing.paperConfig(size)).toEqual({ ...PAPER_CONFIG, imageSize: size, ...scaledToImageSize(PAPER_CONFIG, size) });
  });

  it('the native spec check allows what the schema allows of a generator config and of referenceThreads', () => {
    const expected: Record<string, [number, number]> = {};
    for (const [field, rule] of Object.entries<{ minimum: number; maximum: number }>(schema.definitions.generatorConfig.properties)) {
      expected[field] = [rule.minimum, rule.maximum];
    }
    const threads = schema.definitions.threads;
    expected.referenceThreads = [threads.minimum, threads.maximum];
    expect(testing.specLimits()).toEqual(expected);
  });

  it('the native thread cap is the command line\'s', () => {
    expect(testing.maxPoolThreads).toBe(LIMITS.threads);
  });
});
