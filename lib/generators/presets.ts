import { presetsFile } from '../shared-format';
import { RCDB } from './rcdb';
import { GeneratorConfig, GeneratorFamily, GeneratorParameter, VISUALATOM } from './visualatom';

/** The generator families by name; a preset or a manifest names its family (VisualAtom when it names none). */
export const FAMILIES: Readonly<Record<string, GeneratorFamily>> = { [VISUALATOM.name]: VISUALATOM, [RCDB.name]: RCDB };

/** A named dataset: its generator family, counts and configuration. */
export interface Preset {
  family: string;
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

/** Named datasets. */
export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze(Object.fromEntries(
  Object.entries(FILE.presets).map(([name, p]) => {
    const family = p.family ?? VISUALATOM.name;
    if (FAMILIES[family] === undefined) throw new Error(`preset ${name} names an unknown generator family ${JSON.stringify(family)}`);
    return [name, Object.freeze({ family, classes: p.classes, instances: p.instances, config: CONFIGS[p.config],
      referenceThreads: p.referenceThreads ?? 1 })];
  }),
));

export const DEFAULT_PRESET: string = FILE.default;

/** The generator family of a preset. */
export function familyOf(preset: string): GeneratorFamily {
  return FAMILIES[PRESETS[preset].family];
}

/** The first preset of a family (whose config a manifest of that family is read against). */
export function familyPreset(family: string): string | undefined {
  return Object.keys(PRESETS).find((name) => PRESETS[name].family === family);
}

/**
 * Every configuration option of every family that a preset names, once each, in the order the
 * families list them; an option two families share has the first family's text, then what it means
 * to the others.
 */
export const GENERATOR_PARAMETERS: readonly GeneratorParameter[] = (() => {
  const byOption = new Map<string, GeneratorParameter>();
  for (const family of new Set(Object.values(PRESETS).map((p) => p.family))) {
    for (const q of FAMILIES[family].parameters) {
      const seen = byOption.get(q.option);
      if (seen === undefined) byOption.set(q.option, q);
      else if (!seen.describe.includes(q.describe)) byOption.set(q.option, { ...seen, describe: `${seen.describe} (${q.describe})` });
    }
  }
  return [...byOption.values()];
})();
