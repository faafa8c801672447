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
