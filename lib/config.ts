import * as fs from 'fs';
import * as path from 'path';

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

export interface Preset {
  classes: number;
  instances: number;
  config: Readonly<GeneratorConfig>;
}

/**
 * The named datasets of the paper and their config live in one file shared with Python
 * (python/vatom_fast/format/presets.json, shipped in both packages).
 */
interface PresetsFile {
  configs: Record<string, GeneratorConfig>;
  default: string;
  presets: Record<string, { classes: number; instances: number; config: string }>;
}

const PRESETS_FILE: PresetsFile = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', 'python', 'vatom_fast', 'format', 'presets.json'), 'utf8'),
);

const CONFIGS: Readonly<Record<string, Readonly<GeneratorConfig>>> = Object.freeze(Object.fromEntries(
  Object.entries(PRESETS_FILE.configs).map(([name, c]) => [name, Object.freeze({ ...c })]),
));

/** The paper's parameters (`make_VisualAtom.sh` of the CVPR 2023 repository). */
export const PAPER_CONFIG: Readonly<GeneratorConfig> = CONFIGS.paper;

/** Named datasets of the paper. */
export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze(Object.fromEntries(
  Object.entries(PRESETS_FILE.presets).map(([name, p]) => [name, Object.freeze({
    classes: p.classes, instances: p.instances, config: CONFIGS[p.config],
  })]),
));

export const DEFAULT_PRESET: string = PRESETS_FILE.default;

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
