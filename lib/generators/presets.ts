import { presetsFile } from '../shared-format';
import { RCDB } from './rcdb';
import { GeneratorConfig, GeneratorFamily, VISUALATOM } from './visualatom';

/** The generator families by the name a preset or a manifest gives. */
export const FAMILIES: Readonly<Record<string, GeneratorFamily>> = { [VISUALATOM.name]: VISUALATOM, [RCDB.name]: RCDB };

/** A named dataset: its generator family, counts and configuration. */
export interface Preset {
  family: GeneratorFamily;
  classes: number;
  instances: number;
  config: Readonly<GeneratorConfig>;
  /** The reference script's process count of the preset's published run (`--rng reference` without --reference-threads). */
  referenceThreads: number;
}

const FILE = presetsFile();

const CONFIGS: Readonly<Record<string, Readonly<GeneratorConfig>>> = Object.freeze(Object.fromEntries(
  Object.entries(FILE.configs).map(([name, c]) => [name, Object.freeze({ ...c } as unknown as GeneratorConfig)]),
));

/** The paper's parameters (`make_VisualAtom.sh` of the CVPR 2023 repository). */
export const PAPER_CONFIG: Readonly<GeneratorConfig> = CONFIGS.paper;

/** Named datasets; a preset that names no family is VisualAtom. */
export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze(Object.fromEntries(
  Object.entries(FILE.presets).map(([name, p]) => {
    const family = FAMILIES[p.family ?? VISUALATOM.name];
    if (family === undefined) throw new Error(`preset ${name} names an unknown generator family ${JSON.stringify(p.family)}`);
    return [name, Object.freeze({ family, classes: p.classes, instances: p.instances, config: CONFIGS[p.config],
      referenceThreads: p.referenceThreads ?? 1 })];
  }),
));

export const DEFAULT_PRESET: string = FILE.default;

/** The first preset of a family (whose config a manifest of that family is read against). */
export function familyPreset(family: string): string | undefined {
  return Object.keys(PRESETS).find((name) => PRESETS[name].family.name === family);
}
