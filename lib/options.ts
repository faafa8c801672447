import * as os from 'os';
import { badOption, VatomError, EXIT_BAD_INPUT } from './errors';
import { DEFAULT_PRESET, GeneratorConfig, PIXEL_VALUED, PixelValued, PRESETS, scaledToImageSize } from './config';
import type { DatasetIdentity } from './manifest';
import { workerSlice, WorkerSlice } from './workers';

/** Every option of `build` and `preview`, validated and filled with defaults; the native side trusts it. */
export interface BuildOptions {
  out: string;
  preset: string;
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
  /** This process's part of a sharded (cluster) build; undefined for a whole build. */
  worker?: WorkerSlice;
  quiet: boolean;
  json: boolean;
}

/** Raw option values as the command line gives them (strings keep their text for error messages). */
export type RawOptions = Record<string, unknown>;

/** Upper bounds that keep every index and coordinate of the native side inside 32-bit integers. */
export const LIMITS = Object.freeze({
  classIndex: 2 ** 32,
  instances: 2 ** 32 - 1,
  imageSizeMin: 16,
  imageSizeMax: 8192,
  vertices: 100_000,
  orbits: 100_000,
  frequency: 1_000_000,
  pixels: 1_000_000,
  real: 1_000_000,
  threads: 1024,
  seed: 2n ** 64n,
});

/** The command-line option of each pixel-valued generator parameter. */
const PIXEL_OPTION: Readonly<Record<PixelValued, string>> = { startPos: 'start-pos', radiusMin: 'radius-min', lineWidth: 'line-width', noiseMin: 'noise-min' };

const INTEGER = /^[+-]?\d+$/;
const REAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : String(value);
}

/** An integer in [min, max]; `allowed` describes the set for the message. */
export function parseInteger(option: string, value: unknown, min: number, max: number, allowed?: string): number {
  const raw = text(value);
  const what = allowed ?? (max >= Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
  if (!INTEGER.test(raw)) throw badOption(option, value, what);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badOption(option, value, what);
  return n;
}

/** A finite number in [min, max]. */
export function parseReal(option: string, value: unknown, min: number, max: number): number {
  const raw = text(value);
  const what = `a number from ${min} to ${max}`;
  if (!REAL.test(raw)) throw badOption(option, value, what);
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw badOption(option, value, what);
  return n;
}

/** `MIN:MAX` or a single `N` (= `N:N`), integers with low <= MIN <= MAX <= high. */
export function parseRange(option: string, value: unknown, low: number, high: number): [number, number] {
  const raw = text(value);
  const what = `MIN:MAX or N, integers with ${low} <= MIN <= MAX <= ${high}`;
  const parts = raw.split(':');
  if (parts.length > 2 || !parts.every((p) => INTEGER.test(p.trim()))) throw badOption(option, value, what);
  const [min, max] = parts.length === 1 ? [Number(parts[0]), Number(parts[0])] : [Number(parts[0]), Number(parts[1])];
  if (min > max) throw badOption(option, value, `${what} (MIN ${min} is greater than MAX ${max})`);
  if (min < low || max > high) throw badOption(option, value, what);
  return [min, max];
}

function parseChoice<T extends string>(option: string, value: unknown, choices: readonly T[]): T {
  const raw = text(value);
  if (!(choices as readonly string[]).includes(raw)) throw badOption(option, value, `one of ${choices.join(', ')}`);
  return raw as T;
}

/** Validates `build` options; throws a VatomError (exit 2) naming the first bad option. */
export function parseBuildOptions(raw: RawOptions, requireOut = true, env: NodeJS.ProcessEnv = process.env): BuildOptions {
  const given = (name: string): boolean => raw[name] !== undefined;
  const preset = given('preset') ? parseChoice('preset', raw.preset, Object.keys(PRESETS)) : DEFAULT_PRESET;
  const base = PRESETS[preset];
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

  if (given('image-size')) config.imageSize = parseInteger('image-size', raw['image-size'], LIMITS.imageSizeMin, LIMITS.imageSizeMax);
  if (given('vertices')) [config.verticesMin, config.verticesMax] = parseRange('vertices', raw.vertices, 3, LIMITS.vertices);
  if (given('orbits')) [config.orbitsMin, config.orbitsMax] = parseRange('orbits', raw.orbits, 1, LIMITS.orbits);
  if (given('noise-min')) config.noiseMin = parseReal('noise-min', raw['noise-min'], 0, LIMITS.real);
  if (given('line-width')) config.lineWidth = parseReal('line-width', raw['line-width'], 0, LIMITS.real);
  if (given('radius-min')) config.radiusMin = parseInteger('radius-min', raw['radius-min'], 0, LIMITS.pixels);
  if (given('oval-rate')) config.ovalRate = parseReal('oval-rate', raw['oval-rate'], 1, LIMITS.real);
  if (given('start-pos')) config.startPos = parseInteger('start-pos', raw['start-pos'], 0, LIMITS.pixels);
  if (given('freq1')) [config.freq1Min, config.freq1Max] = parseRange('freq1', raw.freq1, 0, LIMITS.frequency);
  if (given('freq2')) [config.freq2Min, config.freq2Max] = parseRange('freq2', raw.freq2, 0, LIMITS.frequency);
  if (config.freq2Min === config.freq2Max && config.freq2Min !== 0 &&
      config.freq1Min <= config.freq2Min && config.freq2Min <= config.freq1Max) {
    throw badOption('freq2', raw.freq2 ?? `${config.freq2Min}`,
      `a range that can draw a value other than n1: --freq2 ${config.freq2Min} alone never differs from an n1 of ` +
      `${config.freq2Min}, which --freq1 ${config.freq1Min}:${config.freq1Max} can draw (the redraw of n2 would never end)`);
  }

  const rng = given('rng') ? parseChoice('rng', raw.rng, ['philox', 'reference'] as const) : 'philox';
  // The project's stream carries the preset's pixel values to the image size; the reference keeps the script's.
  if (rng === 'philox') {
    const scaled = scaledToImageSize(base.config, config.imageSize);
    for (const name of PIXEL_VALUED) if (!given(PIXEL_OPTION[name])) config[name] = scaled[name];
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
  let referenceThreads = 1;
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

  return {
    out: given('out') ? text(raw.out) : '',
    preset,
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
    quiet: raw.quiet === true,
    json: raw.json === true,
  };
}

/** All cores the process may use. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(LIMITS.threads, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
}

/** Classes the dataset holds: the reference drops the last classes % referenceThreads classes. */
export function producedClasses(options: Pick<BuildOptions, 'classes' | 'rng' | 'referenceThreads'>): number {
  if (options.rng !== 'reference') return options.classes;
  return Math.floor(options.classes / options.referenceThreads) * options.referenceThreads;
}

/**
 * The build options that would write a dataset of the given identity (a manifest's), validated like
 * the command line's, so that a hostile manifest's config reaches the native side only if `build`
 * would accept it. The caller compares datasetIdentity(result) with the manifest's identity.
 */
export function optionsOfIdentity(m: DatasetIdentity, threads = defaultThreads()): BuildOptions {
  const c = m.config ?? {} as GeneratorConfig;
  const raw: RawOptions = {
    'image-size': c.imageSize,
    vertices: `${c.verticesMin}:${c.verticesMax}`,
    orbits: `${c.orbitsMin}:${c.orbitsMax}`,
    'noise-min': c.noiseMin,
    'line-width': c.lineWidth,
    'radius-min': c.radiusMin,
    'oval-rate': c.ovalRate,
    'start-pos': c.startPos,
    freq1: `${c.freq1Min}:${c.freq1Max}`,
    freq2: `${c.freq2Min}:${c.freq2Max}`,
    'start-class': m.startClass,
    classes: m.requestedClasses,
    instances: m.instances,
    rng: m.rng,
    'shard-size': m.shardSize,
    threads,
    quiet: true,
  };
  if (m.rng === 'reference') raw['reference-threads'] = m.referenceThreads;
  else raw.seed = m.seed;
  return parseBuildOptions(raw, false);
}
