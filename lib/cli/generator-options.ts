import type { Argv } from 'yargs';
import { formatBytes } from '../build';
import { PRESETS } from '../config';

/**
 * The generator options shared by commands that render. Ranges are strings; numbers are declared as
 * numbers for --help, and main.ts hands validation (options.ts) the text the user typed, to quote it.
 */
export function generatorOptions<T>(y: Argv<T>, counts = { classes: 'the preset\'s, 1,000 for visualatom-1k', instances: 'the preset\'s, 1,000' }) {
  return y
    .option('preset', { type: 'string', describe: 'visualatom-1k (default) or visualatom-21k: the paper parameters and counts' })
    .option('classes', { type: 'number', requiresArg: true, describe: `Number of classes (default: ${counts.classes})` })
    .option('instances', { type: 'number', requiresArg: true, describe: `Images per class (default: ${counts.instances})` })
    .option('start-class', { type: 'number', requiresArg: true, describe: 'Index of the first class (default 0)' })
    .option('image-size', { type: 'number', requiresArg: true, describe: 'Image side S in pixels, 16..8192 (default 512). With --rng philox, the defaults marked "scales" follow it in proportion' })
    .option('vertices', { type: 'string', describe: 'Vertex count q range MIN:MAX (default 200:1000)' })
    .option('orbits', { type: 'string', describe: 'Orbit count K range MIN:MAX (default 1:200)' })
    .option('noise-min', { type: 'number', requiresArg: true, describe: 'Lower end of the noise level eta in pixels (default 0, scales; eta ~ U(x, x + 4))' })
    .option('line-width', { type: 'number', requiresArg: true, describe: 'Upper end of the radial offset lw in pixels (default 0.1 at 512 pixels, scales)' })
    .option('radius-min', { type: 'number', requiresArg: true, describe: 'Lower end of the base radius r0 in pixels (default 10 at 512 pixels, scales; r0 ~ randint(x, x + 50))' })
    .option('oval-rate', { type: 'number', requiresArg: true, describe: 'Upper end of the oval rates ox, oy (default 2)' })
    .option('start-pos', { type: 'number', requiresArg: true, describe: 'Centre offset range in pixels (default 512 at 512 pixels, scales)' })
    .option('freq1', { type: 'string', describe: 'Frequency n1 range MIN:MAX (default 0:20)' })
    .option('freq2', { type: 'string', describe: 'Frequency n2 range MIN:MAX (default 0:20)' })
    .option('seed', { type: 'number', requiresArg: true, describe: 'Seed of the default stream, 0..2^64-1 (default 0)' })
    .option('rng', { type: 'string', describe: 'philox (default) or reference (the reference script, pixel for pixel)' })
    .option('reference-threads', { type: 'number', requiresArg: true, describe: 'With --rng reference: processes of the reference script (default 1)' })
    .option('device', { type: 'string', describe: 'auto (default), cpu or cuda' })
    .option('threads', { type: 'number', requiresArg: true, describe: 'CPU threads (default: all cores)' });
}

/** What a build without --classes and --instances makes: the whole preset, and its size on disk. */
export function wholePresetNote(): string {
  const sizes = Object.entries(PRESETS).map(([name, p]) =>
    `${name}: ${p.classes.toLocaleString('en-US')} x ${p.instances.toLocaleString('en-US')} images, ` +
    `${formatBytes(p.classes * p.instances * p.config.imageSize ** 2)} at ${p.config.imageSize} x ${p.config.imageSize}`);
  return `Without --classes and --instances, a build makes the whole preset (${sizes.join('; ')}). ` +
    'A build larger than the free space is refused before any work.';
}
