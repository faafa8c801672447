/** The VisualAtom generator family (CVPR 2023): its configuration, its options and what they scale with. */
import { SchemaBound, schemaBound } from '../shared-format';

/** The generator's parameters; names match the native side and the manifest's `config`. */
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
  /**
   * The span of the radius draw above radiusMin in the default stream (r ~ randint(radiusMin, radiusMin +
   * radiusSpan)); not an option: the preset's, carried to the image size. Absent in a version 1
   * manifest, whose VisualAtom span is 50 at any size. The reference streams keep their script's span.
   */
  radiusSpan?: number;
}

/**
 * One option of a family: its command-line name, the config field it sets (two for a `MIN:MAX`
 * range) and its help text. Bounds and kind come from the schema's generatorConfig.
 */
export interface GeneratorParameter {
  option: string;
  keys: readonly [keyof GeneratorConfig] | readonly [keyof GeneratorConfig, keyof GeneratorConfig];
  describe: string;
}

/** What a build needs to know of a generator family. */
export interface GeneratorFamily {
  name: string;
  /** The frozen name of each stream's layout, as manifests record it. */
  streams: { philox: string; reference: string };
  /** What `--rng reference` needs beyond the options' bounds (what the reference script accepts), as configProblem. */
  referenceProblem(config: Readonly<GeneratorConfig>): [string, string, string] | undefined;
  /** Every configuration option, in the order they are checked and listed. */
  parameters: readonly GeneratorParameter[];
  /** The parameters measured in pixels, carried to another image size in proportion (the philox stream). */
  scaledToImageSize(preset: Readonly<GeneratorConfig>, imageSize: number): Partial<GeneratorConfig>;
  /** A configuration the generator cannot draw from, as [option, text given, what is allowed]; undefined if fine. */
  configProblem(config: Readonly<GeneratorConfig>): [string, string, string] | undefined;
  /** Why some images of a configuration come out empty, one sentence each. */
  drawingWarnings(config: Readonly<GeneratorConfig>): string[];
}

/** The bounds of one config field, as the schema states them. */
export function parameterBound(key: keyof GeneratorConfig): SchemaBound {
  return schemaBound('generatorConfig', key);
}

/** The generator parameters measured in pixels: a preset gives them for its own image size. */
export const PIXEL_VALUED = ['startPos', 'radiusMin', 'lineWidth', 'noiseMin', 'radiusSpan'] as const;
export type PixelValued = (typeof PIXEL_VALUED)[number];

/**
 * The pixel-valued parameters of `preset` carried to `imageSize`, in proportion, so that the drawings
 * keep their place and size on a smaller or larger canvas (at the preset's own size: its values,
 * unchanged). Integers round to the nearest.
 */
export function scaledToImageSize(preset: Readonly<GeneratorConfig>, imageSize: number): Pick<GeneratorConfig, PixelValued> {
  if (imageSize === preset.imageSize) {
    return { startPos: preset.startPos, radiusMin: preset.radiusMin, lineWidth: preset.lineWidth, noiseMin: preset.noiseMin,
      radiusSpan: preset.radiusSpan };
  }
  const scale = (value: number) => (value * imageSize) / preset.imageSize;
  return {
    startPos: Math.round(scale(preset.startPos)),
    radiusMin: Math.round(scale(preset.radiusMin)),
    lineWidth: scale(preset.lineWidth),
    noiseMin: scale(preset.noiseMin),
    radiusSpan: preset.radiusSpan === undefined ? undefined : Math.round(scale(preset.radiusSpan)),
  };
}

/** VisualAtom's radius span where a config records none (version 1 manifests) and in its reference stream. */
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
  const span = config.radiusSpan ?? RADIUS_SPAN;
  const radiusMax = config.radiusMin + span;
  if (radiusMax > size / Math.SQRT2) {
    warnings.push(`base radius up to ${radiusMax} pixels (the minimum radius ${config.radiusMin} + ${span}) on a ${size}-pixel ` +
      'canvas: a drawing whose first orbit encloses the whole canvas leaves its image empty, so some images come out blank');
  }
  return warnings;
}

/** n2 is redrawn until it differs from n1: a single n2 that n1's range can draw would never end. */
function configProblem(c: Readonly<GeneratorConfig>): [string, string, string] | undefined {
  if (c.freq2Min === c.freq2Max && c.freq2Min !== 0 && c.freq1Min <= c.freq2Min && c.freq2Min <= c.freq1Max) {
    return ['freq2', `${c.freq2Min}`,
      `a range that can draw a value other than n1: --freq2 ${c.freq2Min} alone never differs from an n1 of ` +
      `${c.freq2Min}, which --freq1 ${c.freq1Min}:${c.freq1Max} can draw (the redraw of n2 would never end)`];
  }
  return undefined;
}

/** VisualAtom: orbits of sine-wave contours, one class per draw of (q, K, r0, n1, n2, eta, lw, ox, oy). */
export const VISUALATOM: GeneratorFamily = {
  name: 'visualatom',
  streams: { philox: 'philox4x32-10/format-1', reference: 'cpython-mt19937/render_VisualAtom.py' },
  referenceProblem: () => undefined,
  parameters: [
    { option: 'image-size', keys: ['imageSize'], describe: 'Image side S in pixels, 16..8192 (default 512). With --rng philox, the defaults marked "scales" follow it in proportion' },
    { option: 'vertices', keys: ['verticesMin', 'verticesMax'], describe: 'Vertex count q range MIN:MAX (default 200:1000)' },
    { option: 'orbits', keys: ['orbitsMin', 'orbitsMax'], describe: 'Orbit count K range MIN:MAX (default 1:200)' },
    { option: 'noise-min', keys: ['noiseMin'], describe: 'Lower end of the noise level eta in pixels (default 0, scales; eta ~ U(x, x + 4))' },
    { option: 'line-width', keys: ['lineWidth'], describe: 'Upper end of the radial offset lw in pixels (default 0.1 at 512 pixels, scales)' },
    { option: 'radius-min', keys: ['radiusMin'], describe: 'Lower end of the base radius r0 in pixels (default 10 at 512 pixels, scales; r0 ~ randint(x, x + 50))' },
    { option: 'oval-rate', keys: ['ovalRate'], describe: 'Upper end of the oval rates ox, oy (default 2)' },
    { option: 'start-pos', keys: ['startPos'], describe: 'Centre offset range in pixels (default 512 at 512 pixels, scales)' },
    { option: 'freq1', keys: ['freq1Min', 'freq1Max'], describe: 'Frequency n1 range MIN:MAX (default 0:20)' },
    { option: 'freq2', keys: ['freq2Min', 'freq2Max'], describe: 'Frequency n2 range MIN:MAX (default 0:20)' },
  ],
  scaledToImageSize,
  configProblem,
  drawingWarnings,
};
