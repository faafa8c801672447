/**
 * The on-disk format, checked: python/vatom_fast/format/manifest.schema.json (the one definition,
 * shared with the Python loader) through ajv, then what a schema cannot say (canonical names from
 * the shard index, the arithmetic of counts and sizes) in code. Nothing read from a dataset
 * directory is used before it passes here.
 */
import * as path from 'path';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { VatomError } from '../errors';
import type { GeneratorConfig } from '../generators/visualatom';
import type { ClassParams } from '../native';
import { producedClasses } from '../options/build';
import { LIMITS } from '../options/limits';
import { formatSchema, SCHEMA_FILE } from '../shared-format';
import { manifestFamily, streamName } from './identity';
import { MAX_SHARDS, shardFileBytes, shardNames, workerShardRange } from './layout';

/** A manifest larger than this is refused before it is read (1M classes and 100k shards fit). */
export const MAX_JSON_BYTES = 512 << 20;
/** Deepest nesting of objects and arrays in any file of the format (it uses 4); deeper is refused before parsing. */
export const MAX_JSON_DEPTH = 16;

let validators: { manifest: ValidateFunction; exportMarker: ValidateFunction } | undefined;

function compiled(): NonNullable<typeof validators> {
  if (!validators) {
    const schema = formatSchema();
    const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, verbose: true });
    ajv.addSchema(schema);
    const id = schema.$id as string;
    validators = {
      manifest: ajv.getSchema(`${id}#/definitions/manifest`)!,
      exportMarker: ajv.getSchema(`${id}#/definitions/exportMarker`)!,
    };
  }
  return validators;
}

/** The deepest nesting of arrays and objects in JSON text (strings skipped), stopping past `limit`. */
function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; ++i) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) ++i;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) {
      --depth;
    }
  }
  return deepest;
}

/** JSON text of a format file, parsed after its depth is bounded. */
export function parseFormatJson(text: string, file: string): unknown {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new VatomError('BAD_MANIFEST', `${file} nests arrays or objects more than ${MAX_JSON_DEPTH} deep; not a vatom-fast file`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new VatomError('BAD_MANIFEST', `${file} is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** A value for a message: scalars as JSON (at most 80 characters), containers by kind. */
export function shown(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}

function describe(e: ErrorObject): string {
  const path = e.instancePath === '' ? 'the top level' : e.instancePath;
  if (e.keyword === 'additionalProperties') return `${path} has an unknown field ${shown((e.params as { additionalProperty: string }).additionalProperty)}`;
  if (e.keyword === 'required') return `${path} ${e.message}`;
  const where = `${path} (${shown(e.data)})`;
  if (e.keyword === 'const') return `${where} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
  if (e.keyword === 'enum') return `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${where} ${e.message}`;
}

/** Checks a parsed value against one definition of the schema; throws a one-line BAD_MANIFEST naming the file and the field. */
export function checkSchema(kind: 'manifest' | 'exportMarker', value: unknown, file: string): void {
  const validate = compiled()[kind];
  if (!validate(value)) {
    const e = validate.errors![0];
    throw new VatomError('BAD_MANIFEST', `${file}: ${describe(e)} (schema ${path.basename(SCHEMA_FILE)})`);
  }
}

/** Minimal shape the format checks below read (the full Manifest type lives in manifest.ts). */
interface Checked {
  version: number; family?: string; rng: string; stream: string; seed: string; referenceThreads?: number;
  config: GeneratorConfig; imageSize: number; startClass: number; requestedClasses: number;
  classes: number; instances: number; imageCount: number; shardSize: number; storage?: string; complete: boolean;
  classParams: Array<ClassParams & { class: number }>;
  shards: Array<{ images: string; labels: string; first: number; count: number; imagesBytes: number | null;
    labelsBytes: number | null; imagesSha256: string | null; labelsSha256: string | null }>;
  part?: { index: number; count: number; firstShard: number; endShard: number; layoutShards: number };
}

/** Class parameters only RCDB draws (the first instance's centre). */
export const RCDB_ONLY_PARAMS = ['centreY', 'centreX'] as const;

/** What a version and a family require of the fields they add. */
function versionProblem(m: Pick<Checked, 'version' | 'family' | 'config'>): string | undefined {
  const c = m.config;
  if (m.version === 1) {
    if (m.family !== undefined || c.radiusSpan !== undefined) return 'a version 1 manifest has no family and no config.radiusSpan';
    return undefined;
  }
  if (m.family === undefined) return `family is missing (version ${m.version})`;
  if (c.radiusSpan === undefined) return `config.radiusSpan is missing (version ${m.version})`;
  if (m.family === 'rcdb' && [c.freq1Min, c.freq1Max, c.freq2Min, c.freq2Max].some((v) => v !== 0)) {
    return 'config.freq1Min..freq2Max must be 0 for family rcdb (RCDB has no frequencies)';
  }
  return undefined;
}

/** The identity checks an export marker's source shares with a manifest. */
export function identityProblem(m: Omit<Checked, 'shardSize' | 'complete' | 'classParams' | 'shards'>): string | undefined {
  const c = m.config;
  const version = versionProblem(m);
  if (version) return version;
  if (m.imageSize !== c.imageSize) return `imageSize ${m.imageSize} differs from config.imageSize ${c.imageSize}`;
  const ranges: Array<['verticesMin' | 'orbitsMin' | 'freq1Min' | 'freq2Min', 'verticesMax' | 'orbitsMax' | 'freq1Max' | 'freq2Max']> = [['verticesMin', 'verticesMax'], ['orbitsMin', 'orbitsMax'], ['freq1Min', 'freq1Max'], ['freq2Min', 'freq2Max']];
  for (const [lo, hi] of ranges) {
    if (c[lo] > c[hi]) return `config.${lo} ${c[lo]} is greater than config.${hi} ${c[hi]}`;
  }
  if (m.imageCount !== m.classes * m.instances) return `imageCount ${m.imageCount} is not classes x instances = ${m.classes * m.instances}`;
  if (m.startClass + m.classes > LIMITS.classIndex) return `startClass + classes ${m.startClass + m.classes} is more than 2^32`;
  if (m.requestedClasses < m.classes) return `requestedClasses ${m.requestedClasses} is less than classes ${m.classes}`;
  const philox = m.rng === 'philox';
  if (m.stream !== streamName(manifestFamily(m), m.rng as 'philox' | 'reference')) {
    return `stream ${m.stream} is not that of rng ${m.rng} and family ${manifestFamily(m)}`;
  }
  if (philox !== /^\d+$/.test(m.seed)) return `seed ${JSON.stringify(m.seed)} is not that of rng ${m.rng}`;
  if (philox !== (m.referenceThreads === undefined)) return `referenceThreads is ${philox ? 'set' : 'missing'} with rng ${m.rng}`;
  if (philox && BigInt(m.seed) >= LIMITS.seed) return `seed ${m.seed} is not below 2^64`;
  if (!philox && m.instances > LIMITS.referenceInstances) {
    return `instances ${m.instances} is more than the ${LIMITS.referenceInstances} the reference stream allows (it replays a class from its first image)`;
  }
  const produced = producedClasses({ classes: m.requestedClasses, rng: m.rng, referenceThreads: m.referenceThreads });
  if (m.classes !== produced) return `classes ${m.classes} is not what requestedClasses ${m.requestedClasses} makes with rng ${m.rng} (${produced})`;
  return undefined;
}

/** What is wrong with a manifest that passed the schema, or undefined: the rules a schema cannot state. */
export function manifestProblem(m: Checked): string | undefined {
  const identity = identityProblem(m);
  if (identity) return identity;
  const c = m.config;
  const rcdb = manifestFamily(m) === 'rcdb';
  if (m.classParams.length !== m.classes) return `classParams lists ${m.classParams.length} classes, classes is ${m.classes}`;
  for (const [i, p] of m.classParams.entries()) {
    if (p.class !== m.startClass + i) return `classParams[${i}].class is ${p.class}, expected ${m.startClass + i}`;
    if (p.vertices < c.verticesMin || p.vertices > c.verticesMax) return `classParams[${i}].vertices ${p.vertices} is outside config ${c.verticesMin}:${c.verticesMax}`;
    if (p.orbits < c.orbitsMin || p.orbits > c.orbitsMax) return `classParams[${i}].orbits ${p.orbits} is outside config ${c.orbitsMin}:${c.orbitsMax}`;
    for (const key of RCDB_ONLY_PARAMS) {
      if ((key in p) !== rcdb) return `classParams[${i}].${key} is ${rcdb ? 'missing' : 'set'} with family ${manifestFamily(m)}`;
    }
  }
  const layoutShards = Math.ceil(m.imageCount / m.shardSize);
  if (layoutShards > MAX_SHARDS) return `imageCount ${m.imageCount} in shards of ${m.shardSize} makes ${layoutShards} shards, more than ${MAX_SHARDS}`;
  if (m.storage === 'manifest') {
    if (m.shards.length !== 0 || m.part !== undefined) return 'a manifest-only dataset (storage "manifest") lists no shards and no part';
    if (!m.complete) return 'a manifest-only dataset (storage "manifest") is always complete';
    return undefined;
  }
  let firstShard = 0;
  let endShard = layoutShards;
  if (m.part) {
    const p = m.part;
    if (p.index >= p.count) return `part.index ${p.index} is not below part.count ${p.count}`;
    if (p.layoutShards !== layoutShards) return `part.layoutShards ${p.layoutShards}, the layout has ${layoutShards} shards`;
    [firstShard, endShard] = workerShardRange(layoutShards, p.index, p.count);
    if (p.firstShard !== firstShard || p.endShard !== endShard) {
      return `part covers shards ${p.firstShard}..${p.endShard - 1}, worker ${p.index} of ${p.count} writes ${firstShard}..${endShard - 1}`;
    }
  }
  if (m.shards.length !== endShard - firstShard) return `lists ${m.shards.length} shards, expected ${endShard - firstShard}`;
  for (const [k, s] of m.shards.entries()) {
    const g = firstShard + k;
    const names = shardNames(g);
    if (s.images !== names.images || s.labels !== names.labels) {
      return `shards[${k}] names ${s.images} and ${s.labels}; shard ${g} is ${names.images} and ${names.labels} (swapped or duplicated entries are refused)`;
    }
    const first = g * m.shardSize;
    const count = Math.min(m.shardSize, m.imageCount - first);
    if (s.first !== first || s.count !== count) return `shards[${k}] holds images ${s.first} + ${s.count}; shard ${g} holds ${first} + ${count}`;
    const written = [s.imagesBytes, s.labelsBytes, s.imagesSha256, s.labelsSha256].filter((v) => v !== null).length;
    if (written !== 0 && written !== 4) return `shards[${k}] records some sizes and checksums but not all`;
    if (written === 0 && m.complete) return `complete is true but shards[${k}] is not recorded as written`;
    const bytes = shardFileBytes(m.imageSize, count);
    if (written === 4 && (s.imagesBytes !== bytes.images || s.labelsBytes !== bytes.labels)) {
      return `shards[${k}] records ${s.imagesBytes} and ${s.labelsBytes} bytes; ${count} images of ${m.imageSize}x${m.imageSize} take ${bytes.images} and ${bytes.labels}`;
    }
  }
  return undefined;
}
