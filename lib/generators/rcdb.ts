/** The RCDB generator family (Radial Contour DataBase, CVPR 2022; reference make_rcdb.py): its options and rules. */
import { drawingWarnings, GeneratorConfig, GeneratorFamily, scaledToImageSize } from './visualatom';

/** Lines a class draws above --orbits MIN in the reference script: randint(line_num_min, line_num_min + 199). */
export const RCDB_LINE_SPAN = 199;

/** What make_rcdb.py accepts: its integer arguments, its fixed spans, an even size (randint(0, S / 2) raises on an odd one). */
function referenceProblem(c: Readonly<GeneratorConfig>): [string, string, string] | undefined {
  if (c.verticesMin !== 3) {
    return ['vertices', `${c.verticesMin}:${c.verticesMax}`, '3:N with --rng reference (the script keeps V = int(expovariate(1/100)) within 3..vertex_num)'];
  }
  if (c.orbitsMax !== c.orbitsMin + RCDB_LINE_SPAN) {
    return ['orbits', `${c.orbitsMin}:${c.orbitsMax}`,
      `A:A+${RCDB_LINE_SPAN} with --rng reference (the script draws randint(line_num_min, line_num_min + ${RCDB_LINE_SPAN}); ` +
      `--orbits ${c.orbitsMin}:${c.orbitsMin + RCDB_LINE_SPAN} is its line_num_min ${c.orbitsMin})`];
  }
  if (c.imageSize % 2 !== 0) {
    return ['image-size', `${c.imageSize}`, 'an even size with --rng reference (the script\'s randint(0, image_size / 2) fails on an odd one)'];
  }
  if (!Number.isInteger(c.noiseMin)) return ['noise-min', `${c.noiseMin}`, 'an integer with --rng reference (the script\'s --perlin_min is an int)'];
  if (!Number.isInteger(c.ovalRate)) return ['oval-rate', `${c.ovalRate}`, 'an integer with --rng reference (the script\'s --oval_rate is an int)'];
  return undefined;
}

/** RCDB: radial contours of noisy polygons in gray lines on white, one class per draw of (V, L, c, w) and a first shape. */
export const RCDB: GeneratorFamily = {
  name: 'rcdb',
  streams: { philox: 'philox4x32-10/rcdb-1', reference: 'cpython-mt19937/make_rcdb.py' },
  parameters: [
    { option: 'image-size', keys: ['imageSize'], describe: 'Image side S in pixels, 16..8192 (default 512). With --rng philox, the defaults marked "scales" follow it in proportion' },
    { option: 'vertices', keys: ['verticesMin', 'verticesMax'], describe: 'RCDB: vertex count V = int(expovariate(1/100)) kept within MIN:MAX (default 3:200; the script\'s vertex_num is MAX)' },
    { option: 'orbits', keys: ['orbitsMin', 'orbitsMax'], describe: 'RCDB: line count range MIN:MAX (default 1:200; the script\'s line_num_min is MIN, its span 199)' },
    { option: 'noise-min', keys: ['noiseMin'], describe: 'RCDB: lower end of the noise coefficient c ~ U(x, x + 4) (default 0, scales)' },
    { option: 'line-width', keys: ['lineWidth'], describe: 'RCDB: upper end of the offset w ~ U(0, x) in pixels (default 0.1 at 512 pixels, scales)' },
    { option: 'radius-min', keys: ['radiusMin'], describe: 'RCDB: lower end of the radius in pixels (default 0, scales; r ~ randint(x, x + 100) at 512 pixels)' },
    { option: 'oval-rate', keys: ['ovalRate'], describe: 'RCDB: upper end of the oval rates (default 2)' },
    { option: 'start-pos', keys: ['startPos'], describe: 'RCDB: centre offset range in pixels (default 400 at 512 pixels, scales)' },
  ],
  scaledToImageSize,
  configProblem: () => undefined,
  referenceProblem,
  drawingWarnings,
};
