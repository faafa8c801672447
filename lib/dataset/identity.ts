/** What decides a dataset's bytes, from validated options, and the options that a dataset's identity stands for. */
import { badOption, VatomError, EXIT_BAD_INPUT } from '../errors';
import { FAMILIES, familyPreset } from '../generators/presets';
import type { GeneratorConfig } from '../generators/visualatom';
import type { NativeSpec } from '../native';
import { parseBuildOptions, producedClasses, ValidatedBuildOptions } from '../options/build';
import { LIMITS } from '../options/limits';
import type { RawOptions } from '../options/values';
import { DEFAULT_SHARD_BYTES, MAX_SHARDS } from './layout';

export const FORMAT_NAME = 'vatom-fast';
/**
 * The version new manifests are written with. Version 1 (still read, verified and resumed) is
 * VisualAtom before families: no `family`, no `config.radiusSpan` (a span of 50 at any image size).
 */
export const FORMAT_VERSION = 2;
export const READABLE_VERSIONS: readonly number[] = [1, 2];

/** The frozen name of a family's stream layout, as manifests record it. */
export function streamName(family: string, rng: 'philox' | 'reference'): string | undefined {
  return FAMILIES[family]?.streams[rng];
}

/** The generator family of a manifest (version 1: VisualAtom). */
export function manifestFamily(m: { family?: string }): string {
  return m.family ?? 'visualatom';
}
/** The reference script seeds process t with t + 1; manifests record that in place of a seed. */
export const REFERENCE_SEED = 'per process: t + 1';

/** Everything that decides a dataset's bytes; two builds with equal identities write equal files. */
export interface DatasetIdentity {
  format: string;
  version: number;
  /** Absent in version 1 (VisualAtom). */
  family?: string;
  rng: 'philox' | 'reference';
  stream: string;
  seed: string;
  referenceThreads?: number;
  config: GeneratorConfig;
  imageSize: number;
  startClass: number;
  requestedClasses: number;
  classes: number;
  instances: number;
  imageCount: number;
  shardSize: number;
}

const IDENTITY_KEYS: ReadonlyArray<keyof DatasetIdentity> = [
  'format', 'version', 'family', 'rng', 'stream', 'seed', 'referenceThreads', 'config', 'imageSize', 'startClass',
  'requestedClasses', 'classes', 'instances', 'imageCount', 'shardSize',
];

/** Everything that decides the dataset's bytes, from validated options. */
export function datasetIdentity(options: ValidatedBuildOptions): DatasetIdentity {
  const classes = producedClasses(options);
  const imageBytes = options.config.imageSize ** 2;
  const classesPerShard = Math.max(1, Math.floor(DEFAULT_SHARD_BYTES / (options.instances * imageBytes)));
  // A config without a radius span is a version 1 dataset's (read back by optionsOfIdentity).
  const version1 = options.config.radiusSpan === undefined;
  const identity: DatasetIdentity = {
    format: FORMAT_NAME,
    version: version1 ? 1 : FORMAT_VERSION,
    ...(version1 ? {} : { family: options.family.name }),
    rng: options.rng,
    stream: options.family.streams[options.rng],
    seed: options.rng === 'philox' ? options.seed : REFERENCE_SEED,
    config: { ...options.config },
    imageSize: options.config.imageSize,
    startClass: options.startClass,
    requestedClasses: options.classes,
    classes,
    instances: options.instances,
    imageCount: classes * options.instances,
    shardSize: options.shardSize ?? Math.min(classesPerShard, classes) * options.instances,
  };
  if (options.rng === 'reference') identity.referenceThreads = options.referenceThreads;
  return identity;
}

/**
 * The identity of options that can make a dataset: refuses a reference split that makes no class,
 * more classes than a manifest may list and more shards than it may have, before anything is spent.
 */
export function buildableIdentity(options: ValidatedBuildOptions): DatasetIdentity {
  const identity = renderableIdentity(options);
  const layoutShards = Math.ceil(identity.imageCount / identity.shardSize);
  if (layoutShards > MAX_SHARDS) {
    throw new VatomError('BAD_OPTION',
      `Invalid value for --shard-size: ${identity.shardSize}; ${identity.imageCount} images make ${layoutShards} shards of it, at most ${MAX_SHARDS} are allowed ` +
      `(use --shard-size ${Math.ceil(identity.imageCount / MAX_SHARDS)} or more)`, EXIT_BAD_INPUT);
  }
  return identity;
}

/** The identity of options whose images can be rendered: some classes, no more than a dataset may hold. */
export function renderableIdentity(options: ValidatedBuildOptions): DatasetIdentity {
  const identity = datasetIdentity(options);
  if (identity.classes === 0) {
    throw new VatomError('BAD_OPTION', `Invalid value for --classes: ${options.classes}; the reference with ${options.referenceThreads} processes makes no class of it`, EXIT_BAD_INPUT);
  }
  if (identity.classes > LIMITS.classes) {
    throw badOption('classes', options.classes, `an integer from 1 to ${LIMITS.classes} (the classes one dataset may hold)`);
  }
  return identity;
}

/** The identity fields of a manifest, in their canonical order. */
export function identityOf(m: DatasetIdentity): DatasetIdentity {
  const out: Record<string, unknown> = {};
  for (const key of IDENTITY_KEYS) if (m[key] !== undefined) out[key] = m[key];
  return out as unknown as DatasetIdentity;
}

/** The identity fields of two manifests that differ, as `name: ours vs theirs` lines. */
export function identityDifferences(a: DatasetIdentity, b: DatasetIdentity): string[] {
  const out: string[] = [];
  for (const key of IDENTITY_KEYS) {
    const x = JSON.stringify(a[key]);
    const y = JSON.stringify(b[key]);
    if (x !== y) out.push(`${key}: ${y ?? 'absent'} there, ${x ?? 'absent'} here`);
  }
  return out;
}

/** The native spec of validated options (class parameters added once drawn). */
export function nativeSpec(options: ValidatedBuildOptions): NativeSpec {
  return {
    family: options.family.name,
    config: { ...options.config },
    rng: options.rng,
    seed: options.seed,
    startClass: options.startClass,
    classes: producedClasses(options),
    instances: options.instances,
    referenceThreads: options.referenceThreads,
  };
}

/**
 * The build options that would write a dataset of the given identity (a manifest's), validated like
 * the command line's, so that a hostile manifest's config reaches the native side only if `build`
 * would accept it. The caller compares datasetIdentity(result) with the manifest's identity.
 */
export function optionsOfIdentity(m: DatasetIdentity, threads?: number): ValidatedBuildOptions {
  const c = m.config ?? {} as GeneratorConfig;
  const raw: RawOptions = {
    'start-class': m.startClass,
    classes: m.requestedClasses,
    instances: m.instances,
    rng: m.rng,
    'shard-size': m.shardSize,
    quiet: true,
  };
  if (threads !== undefined) raw.threads = threads;
  const preset = familyPreset(manifestFamily(m));
  if (preset === undefined) throw badOption('family', m.family, `one of ${Object.keys(FAMILIES).join(', ')}`);
  raw.preset = preset;
  for (const { option, keys } of FAMILIES[manifestFamily(m)].parameters) {
    raw[option] = keys.length === 2 ? `${c[keys[0]]}:${c[keys[1]]}` : c[keys[0]];
  }
  if (m.rng === 'reference') raw['reference-threads'] = m.referenceThreads;
  else raw.seed = m.seed;
  const options = parseBuildOptions(raw, false);
  // The radius span is no option: the recorded one stands, and the identity comparison shows a span
  // that the configuration does not give. Version 1 recorded none.
  if (m.version === 1) delete options.config.radiusSpan;
  else if (c.radiusSpan !== undefined) options.config.radiusSpan = c.radiusSpan;
  return options;
}
