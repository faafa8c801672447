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
