import type { Argv } from 'yargs';
import { GENERATOR_PARAMETERS, PRESETS } from '../generators/presets';
import { DEFAULT_PNG_LEVEL, DEFAULT_PREFIX, DEFAULT_SHARD_IMAGES } from '../options/export';
import { formatBytes } from '../progress';

/**
 * The generator options shared by commands that render. Ranges are strings; numbers are declared as
 * numbers for --help, and main.ts hands validation (lib/options) the text the user typed, to quote it.
 */
export function generatorOptions<T>(y: Argv<T>, counts = { classes: 'the preset\'s, 1,000 for visualatom-1k', instances: 'the preset\'s, 1,000' }) {
  let out = y
    .option('preset', { type: 'string', describe: `${Object.keys(PRESETS).join(', ')} (default visualatom-1k): a generator family with its published parameters and counts` })
    .option('classes', { type: 'number', requiresArg: true, describe: `Number of classes (default: ${counts.classes})` })
    .option('instances', { type: 'number', requiresArg: true, describe: `Images per class (default: ${counts.instances})` })
    .option('start-class', { type: 'number', requiresArg: true, describe: 'Index of the first class (default 0)' });
  for (const p of GENERATOR_PARAMETERS) {
    out = p.keys.length === 2
      ? out.option(p.option, { type: 'string', describe: p.describe })
      : out.option(p.option, { type: 'number', requiresArg: true, describe: p.describe });
  }
  return out
    .option('seed', { type: 'number', requiresArg: true, describe: 'Seed of the default stream, 0..2^64-1 (default 0)' })
    .option('rng', { type: 'string', describe: 'philox (default) or reference (the reference script, pixel for pixel)' })
    .option('reference-threads', { type: 'number', requiresArg: true, describe: 'With --rng reference: processes of the reference script (default 1)' })
    .option('device', { type: 'string', describe: 'auto (default), cpu or cuda' })
    .option('threads', { type: 'number', requiresArg: true, describe: 'CPU threads (default: all cores)' });
}

/** The options that say how images are written (--gray, --png-level, --shard-images, --prefix). */
export function imageFormatOptions<T>(y: Argv<T>) {
  return y
    .option('gray', { type: 'boolean', describe: 'One-channel PNGs (default: RGB with R = G = B, as the reference writes)' })
    .option('png-level', { type: 'number', requiresArg: true, describe: `PNG zlib level 0..9 (default ${DEFAULT_PNG_LEVEL}, as PIL)` })
    .option('shard-images', { type: 'number', requiresArg: true, describe: `WebDataset: images per tar shard (default ${DEFAULT_SHARD_IMAGES})` })
    .option('prefix', { type: 'string', describe: `WebDataset: shard name prefix, PREFIX-000000.tar (default ${DEFAULT_PREFIX})` });
}

/** What a build without --classes and --instances makes: the whole preset, and its size on disk. */
export function wholePresetNote(): string {
  const sizes = Object.entries(PRESETS).map(([name, p]) =>
    `${name}: ${p.classes.toLocaleString('en-US')} x ${p.instances.toLocaleString('en-US')} images, ` +
    `${formatBytes(p.classes * p.instances * p.config.imageSize ** 2)} at ${p.config.imageSize} x ${p.config.imageSize}`);
  return `Without --classes and --instances, a build makes the whole preset (${sizes.join('; ')}). ` +
    'A build larger than the free space is refused before any work.';
}
