import * as os from 'os';
import { badOption, VatomError, EXIT_BAD_INPUT } from '../errors';
import { DEFAULT_PRESET, FAMILIES, familyOf, PRESETS } from '../generators/presets';
import { GeneratorConfig, GeneratorFamily, parameterBound, PIXEL_VALUED } from '../generators/visualatom';
import { renamedFlagsWarning, workerSlice, WorkerSlice } from './cluster-worker';
import { LIMITS } from './limits';
import { parseChoice, parseInteger, parseRange, parseReal, RawOptions, text } from './values';

/** Every option of `build` and of a rendered `preview`, validated and filled with defaults; the native side trusts it. */
export interface ValidatedBuildOptions {
  out: string;
  preset: string;
  /** The preset's generator family. */
  family: GeneratorFamily;
  classes: number;
  instances: number;
  startClass: number;
  config: GeneratorConfig;
  seed: string;
  rng: 'philox' | 'reference';
  referenceThreads: number;
  device: 'auto' | 'cpu' | 'cuda';
  threads: number;
  /** Images per shard; undefined means whole classes adding up to about 1 GiB. */
  shardSize?: number;
  /** This process's part of a cluster build; undefined for a whole build. */
  worker?: WorkerSlice;
  /** What the user should know before the work starts (old flag names, degenerate drawings, classes a split drops). */
  warnings: string[];
  quiet: boolean;
  json: boolean;
}

/** Classes the dataset holds: the reference drops the last classes % referenceThreads classes. */
export function producedClasses(options: { classes: number; rng: string; referenceThreads?: number }): number {
  if (options.rng !== 'reference') return options.classes;
  return Math.floor(options.classes / options.referenceThreads!) * options.referenceThreads!;
}

/** Validates `build` options; throws a VatomError (exit 2) naming the first bad option. */
export function parseBuildOptions(raw: RawOptions, requireOut = true, env: NodeJS.ProcessEnv = process.env): ValidatedBuildOptions {
  const given = (name: string): boolean => raw[name] !== undefined;
  const preset = given('preset') ? parseChoice('preset', raw.preset, Object.keys(PRESETS)) : DEFAULT_PRESET;
  const base = PRESETS[preset];
  const family = familyOf(preset);
  const config: GeneratorConfig = { ...base.config };

  if (requireOut && (!given('out') || text(raw.out) === '')) {
    throw new VatomError('BAD_OPTION', 'Missing --out: expected the dataset directory to write', EXIT_BAD_INPUT);
  }
  const startClass = given('start-class') ? parseInteger('start-class', raw['start-class'], 0, LIMITS.classIndex - 1) : 0;
  const classes = given('classes') ? parseInteger('classes', raw.classes, 1, Number.MAX_SAFE_INTEGER) : base.classes;
  if (startClass + classes > LIMITS.classIndex) {
    throw badOption('classes', raw.classes ?? classes, `an integer >= 1 with --start-class + --classes <= ${LIMITS.classIndex}`);
  }
  const instances = given('instances') ? parseInteger('instances', raw.instances, 1, LIMITS.instances) : base.instances;
  if (classes * instances > Number.MAX_SAFE_INTEGER) {
    throw badOption('instances', raw.instances, 'a count with --classes x --instances below 2^53');
  }

  // An option of another family only: refused by name, never ignored.
  for (const other of Object.values(FAMILIES)) {
    for (const { option } of other.parameters) {
      if (given(option) && !family.parameters.some((p) => p.option === option)) {
        throw badOption(option, raw[option], `no --${option} with the ${family.name} family (preset ${preset}): ` +
          `it is a parameter of ${other.name} only; ${family.name} takes ${family.parameters.map((p) => `--${p.option}`).join(', ')}`);
      }
    }
  }
  for (const { option, keys } of family.parameters) {
    if (!given(option)) continue;
    const low = parameterBound(keys[0]);
    if (keys.length === 2) {
      [config[keys[0]], config[keys[1]]] = parseRange(option, raw[option], low.min, parameterBound(keys[1]).max);
    } else {
      config[keys[0]] = low.integer ? parseInteger(option, raw[option], low.min, low.max) : parseReal(option, raw[option], low.min, low.max);
    }
  }
  const problem = family.configProblem(config);
  if (problem) throw badOption(problem[0], raw[problem[0]] ?? problem[1], problem[2]);

  const rng = given('rng') ? parseChoice('rng', raw.rng, ['philox', 'reference'] as const) : 'philox';
  // The project's stream carries the preset's pixel values to the image size; the reference keeps the script's.
  if (rng === 'philox') {
    const scaled = family.scaledToImageSize(base.config, config.imageSize);
    for (const key of PIXEL_VALUED) {
      const option = family.parameters.find((p) => p.keys[0] === key)?.option;
      if ((option === undefined || !given(option)) && scaled[key] !== undefined) config[key] = scaled[key]!;
    }
  } else {
    const problem = family.referenceProblem(config);
    if (problem) throw badOption(problem[0], raw[problem[0]] ?? problem[1], problem[2]);
  }
  if (rng === 'reference' && instances > LIMITS.referenceInstances) {
    throw badOption('instances', raw.instances ?? instances,
      `at most ${LIMITS.referenceInstances} with --rng reference (it replays a class from its first image to reach any other)`);
  }
  if (rng === 'reference' && given('seed')) {
    throw badOption('seed', raw.seed, 'no --seed with --rng reference (the reference seeds process t with t + 1)');
  }
  let seed = '0';
  if (given('seed')) {
    const s = text(raw.seed);
    const what = 'an integer from 0 to 2^64 - 1';
    if (!/^\d+$/.test(s) || BigInt(s) >= LIMITS.seed) throw badOption('seed', raw.seed, what);
    seed = BigInt(s).toString();
  }
  let referenceThreads = rng === 'reference' ? base.referenceThreads : 1;
  if (given('reference-threads')) {
    if (rng !== 'reference') throw badOption('reference-threads', raw['reference-threads'], 'no --reference-threads without --rng reference');
    referenceThreads = parseInteger('reference-threads', raw['reference-threads'], 1, LIMITS.threads);
    if (referenceThreads > classes) {
      throw badOption('reference-threads', raw['reference-threads'],
        `at most --classes (${classes}): the reference gives each process floor(classes / processes) classes`);
    }
  }

  const device = given('device') ? parseChoice('device', raw.device, ['auto', 'cpu', 'cuda'] as const) : 'auto';
  const threads = given('threads') ? parseInteger('threads', raw.threads, 1, LIMITS.threads) : defaultThreads();
  const shardSize = given('shard-size') ? parseInteger('shard-size', raw['shard-size'], 1, Number.MAX_SAFE_INTEGER) : undefined;

  const worker = requireOut ? workerSlice(raw, env) : undefined;

  const warnings: string[] = [];
  const renamed = renamedFlagsWarning(raw);
  if (renamed !== undefined) warnings.push(renamed);
  const produced = producedClasses({ classes, rng, referenceThreads });
  if (produced !== classes && produced > 0) {
    warnings.push(`the reference with ${referenceThreads} processes makes ${produced} of ${classes} classes (each process ` +
      `makes floor(classes / processes)); the last ${classes - produced} are not produced`);
  }
  warnings.push(...family.drawingWarnings(config));

  return {
    out: given('out') ? text(raw.out) : '',
    preset,
    family,
    classes,
    instances,
    startClass,
    config,
    seed,
    rng,
    referenceThreads,
    device,
    threads,
    shardSize,
    worker,
    warnings,
    quiet: raw.quiet === true,
    json: raw.json === true,
  };
}

/** All cores the process may use. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(LIMITS.threads, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
}
