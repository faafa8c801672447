import type { Argv } from 'yargs';

/**
 * The generator options shared by commands that render. Values are strings so that validation in
 * options.ts sees the text the user typed and can quote it in its message.
 */
export function generatorOptions<T>(y: Argv<T>) {
  return y
    .option('preset', { type: 'string', describe: 'visualatom-1k (default) or visualatom-21k: the paper parameters and counts' })
    .option('classes', { type: 'string', describe: 'Number of classes' })
    .option('instances', { type: 'string', describe: 'Images per class' })
    .option('start-class', { type: 'string', describe: 'Index of the first class (default 0)' })
    .option('image-size', { type: 'string', describe: 'Image side S in pixels, 16..8192 (default 512)' })
    .option('vertices', { type: 'string', describe: 'Vertex count q range MIN:MAX (default 200:1000)' })
    .option('orbits', { type: 'string', describe: 'Orbit count K range MIN:MAX (default 1:200)' })
    .option('noise-min', { type: 'string', describe: 'Lower end of the noise level eta (default 0; eta ~ U(x, x + 4))' })
    .option('line-width', { type: 'string', describe: 'Upper end of the radial offset lw (default 0.1)' })
    .option('radius-min', { type: 'string', describe: 'Lower end of the base radius r0 (default 10; r0 ~ randint(x, x + 50))' })
    .option('oval-rate', { type: 'string', describe: 'Upper end of the oval rates ox, oy (default 2)' })
    .option('start-pos', { type: 'string', describe: 'Centre offset range in pixels (default 512)' })
    .option('freq1', { type: 'string', describe: 'Frequency n1 range MIN:MAX (default 0:20)' })
    .option('freq2', { type: 'string', describe: 'Frequency n2 range MIN:MAX (default 0:20)' })
    .option('seed', { type: 'string', describe: 'Seed of the default stream, 0..2^64-1 (default 0)' })
    .option('rng', { type: 'string', describe: 'philox (default) or reference (the reference script, pixel for pixel)' })
    .option('reference-threads', { type: 'string', describe: 'With --rng reference: processes of the reference script (default 1)' })
    .option('device', { type: 'string', describe: 'auto (default), cpu or cuda' })
    .option('threads', { type: 'string', describe: 'CPU threads (default: all cores)' });
}
