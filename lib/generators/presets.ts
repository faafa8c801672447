import { presetsFile } from '../shared-format';
import { GeneratorConfig, GeneratorFamily, GeneratorParameter, VISUALATOM } from './visualatom';

/** The generator families by name; a preset names its family (VisualAtom when it names none). */
const FAMILIES: Readonly<Record<string, GeneratorFamily>> = { [VISUALATOM.name]: VISUALATOM };

/** A named dataset: its generator family, counts and configuration. */
export interface Preset {
  family: string;
  classes: number;
  instances: number;
  config: Readonly<GeneratorConfig>;
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
    return [name, Object.freeze({ family, classes: p.classes, instances: p.instances, config: CONFIGS[p.config] })];
  }),
));

export const DEFAULT_PRESET: string = FILE.default;

/** The generator family of a preset. */
export function familyOf(preset: string): GeneratorFamily {
  return FAMILIES[PRESETS[preset].family];
}

/** Every configuration option of every family that a preset names, once each, in the order the families list them. */
export const GENERATOR_PARAMETERS: readonly GeneratorParameter[] = [...new Map(
  Object.values(PRESETS).flatMap((p) => FAMILIES[p.family].parameters.map((q) => [q.option, q] as const)),
).values()];
