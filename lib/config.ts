/** The generator's parameters (DESIGN.md, "The generator"); names match the native side. */
export interface GeneratorConfig {
  imageSize: number;
  verticesMin: number;
  verticesMax: number;
  orbitsMin: number;
  orbitsMax: number;
  noiseMin: number;
  lineWidth: number;
  radiusMin: number;
  ovalRate: number;
  startPos: number;
  freq1Min: number;
  freq1Max: number;
  freq2Min: number;
  freq2Max: number;
}

/** The paper's parameters (`make_VisualAtom.sh` of the CVPR 2023 repository). */
export const PAPER_CONFIG: Readonly<GeneratorConfig> = Object.freeze({
  imageSize: 512,
  verticesMin: 200,
  verticesMax: 1000,
  orbitsMin: 1,
  orbitsMax: 200,
  noiseMin: 0,
  lineWidth: 0.1,
  radiusMin: 10,
  ovalRate: 2,
  startPos: 512,
  freq1Min: 0,
  freq1Max: 20,
  freq2Min: 0,
  freq2Max: 20,
});

export interface Preset {
  classes: number;
  instances: number;
  config: Readonly<GeneratorConfig>;
}

/** Named datasets of the paper. */
export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({
  'visualatom-1k': { classes: 1000, instances: 1000, config: PAPER_CONFIG },
  'visualatom-21k': { classes: 21000, instances: 1000, config: PAPER_CONFIG },
});

export const DEFAULT_PRESET = 'visualatom-1k';

/** Shards hold whole classes adding up to about this many bytes unless --shard-size says otherwise. */
export const DEFAULT_SHARD_BYTES = 1 << 30;

/** The generator parameters measured in pixels: a preset gives them for its own image size. */
export const PIXEL_VALUED = ['startPos', 'radiusMin', 'lineWidth', 'noiseMin'] as const;
export type PixelValued = (typeof PIXEL_VALUED)[number];

/**
 * The pixel-valued parameters of `preset` carried to `imageSize`, in proportion, so that the drawings
 * keep their place and size on a smaller or larger canvas (at the preset's own size: its values,
 * unchanged). Integers round to the nearest.
 */
export function scaledToImageSize(preset: Readonly<GeneratorConfig>, imageSize: number): Pick<GeneratorConfig, PixelValued> {
  if (imageSize === preset.imageSize) {
    return { startPos: preset.startPos, radiusMin: preset.radiusMin, lineWidth: preset.lineWidth, noiseMin: preset.noiseMin };
  }
  const scale = (value: number) => (value * imageSize) / preset.imageSize;
  return {
    startPos: Math.round(scale(preset.startPos)),
    radiusMin: Math.round(scale(preset.radiusMin)),
    lineWidth: scale(preset.lineWidth),
    noiseMin: scale(preset.noiseMin),
  };
}

/** The span of the base radius, r0 ~ randint(radiusMin, radiusMin + 50): fixed by the generator, not an option. */
export const RADIUS_SPAN = 50;

/** Why some images of `config` would come out empty, one sentence each; none for the paper preset. */
export function drawingWarnings(config: Readonly<GeneratorConfig>): string[] {
  const size = config.imageSize;
  const warnings: string[] = [];
  if (config.startPos > size) {
    warnings.push(`start position ${config.startPos} is larger than the image size ${size}: image centres fall up to ` +
      `${config.startPos / 2} pixels from the middle of the canvas, outside it for part of the images, which come out ` +
      `empty or cropped (a start position of ${size} keeps every centre on the canvas)`);
  }
  const radiusMax = config.radiusMin + RADIUS_SPAN;
  if (radiusMax > size / Math.SQRT2) {
    warnings.push(`base radius up to ${radiusMax} pixels (the minimum radius ${config.radiusMin} + ${RADIUS_SPAN}) on a ${size}-pixel ` +
      'canvas: a drawing whose first orbit encloses the whole canvas leaves its image empty, so some images come out blank');
  }
  return warnings;
}
