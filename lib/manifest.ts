import * as fs from 'fs';
import * as path from 'path';
import { VatomError, EXIT_FAILURE } from './errors';
import { checkSchema, manifestProblem, MAX_JSON_BYTES, parseFormatJson } from './format';
import { readRegularInside, writeFileAtomic } from './safe-fs';
import { partManifestName } from './workers';
import type { GeneratorConfig } from './config';
import type { ClassParams } from './native';

export const MANIFEST_NAME = 'manifest.json';
export const FORMAT_NAME = 'vatom-fast';
export const FORMAT_VERSION = 1;
/** The default stream's frozen layout (native/core/philox_stream.hpp). */
export const PHILOX_STREAM = 'philox4x32-10/format-1';

/** One shard: images [first, first + count) of the class-major order. Sizes and checksums are null until written. */
export interface ShardEntry {
  images: string;
  labels: string;
  first: number;
  count: number;
  imagesBytes: number | null;
  labelsBytes: number | null;
  imagesSha256: string | null;
  labelsSha256: string | null;
}

/** Everything that decides a dataset's bytes; two builds with equal identities write equal files. */
export interface DatasetIdentity {
  format: string;
  version: number;
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

/** Which part of the shard layout a worker's partial manifest covers (sharded builds). */
export interface PartInfo {
  index: number;
  count: number;
  firstShard: number;
  endShard: number;
  layoutShards: number;
}

/**
 * Where a dataset's images live: `npy` shards, or nowhere (`manifest`: they render on access from the
 * identity and classParams, and `build --format npy` can add the shards later as a cache).
 */
export type Storage = 'npy' | 'manifest';

/** manifest.json: the identity, what each class drew, and every shard with its checksums. */
export interface Manifest extends DatasetIdentity {
  complete: boolean;
  /** Absent in manifests written before manifest-only datasets existed: those are `npy`. */
  storage?: Storage;
  generator: string;
  dtype: 'uint8';
  channels: 1;
  order: 'class-major';
  imagesDataOffset: number;
  referenceExact?: boolean;
  classParams: Array<ClassParams & { class: number }>;
  shards: ShardEntry[];
  /** Present only in a worker's partial manifest. */
  part?: PartInfo;
}

const IDENTITY_KEYS: ReadonlyArray<keyof DatasetIdentity> = [
  'format', 'version', 'rng', 'stream', 'seed', 'referenceThreads', 'config', 'imageSize', 'startClass',
  'requestedClasses', 'classes', 'instances', 'imageCount', 'shardSize',
];

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

export { shardNames } from './format';

/**
 * Reads DIR/NAME (manifest.json or a worker's part manifest) and checks it against the format
 * (lib/format.ts) before anything uses it: read through one fd of a regular file inside DIR, size
 * and nesting bounded, schema, canonical shard names and the arithmetic of counts and sizes.
 */
export function readManifest(dir: string, name = MANIFEST_NAME): Manifest {
  const file = path.join(dir, name);
  let text: string;
  try {
    text = readRegularInside(dir, name, MAX_JSON_BYTES).toString('utf8');
  } catch (err) {
    if (err instanceof VatomError && err.code === 'NOT_A_DATASET') {
      throw new VatomError('NOT_A_DATASET', `${dir} is not a vatom-fast dataset: no ${name}`);
    }
    throw err;
  }
  const m = parseFormatJson(text, file) as Manifest;
  if (m === null || typeof m !== 'object' || (m as { format?: unknown }).format !== FORMAT_NAME) {
    throw new VatomError('NOT_A_DATASET', `${file} is not a vatom-fast manifest`);
  }
  if (m.version !== FORMAT_VERSION) {
    throw new VatomError('BAD_MANIFEST', `${file} has format version ${JSON.stringify(m.version)}; this vatom-fast reads version ${FORMAT_VERSION}`);
  }
  checkSchema('manifest', m, file);
  const problem = manifestProblem(m);
  if (problem) throw new VatomError('BAD_MANIFEST', `${file}: ${problem}`);
  const expectedName = m.part ? partManifestName(m.part.index, m.part.count) : MANIFEST_NAME;
  if (name !== expectedName) {
    throw new VatomError('BAD_MANIFEST', `${file}: its content is that of ${expectedName}`);
  }
  return m;
}

/** Whether a manifest describes a dataset with no shards, whose images render on access. */
export function isManifestOnly(m: Pick<Manifest, 'storage'>): boolean {
  return m.storage === 'manifest';
}

/** The bytes of manifest.json. */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 1)}\n`;
}

/** Writes the manifest under a temporary name created exclusively, syncs it and renames it over the old one. */
export function writeManifest(dir: string, manifest: Manifest, name = MANIFEST_NAME): void {
  writeFileAtomic(dir, name, manifestText(manifest));
}

/** Whether a path exists; errors other than "not found" are raised. */
export function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new VatomError('IO', `cannot read ${p}: ${(err as Error).message}`, EXIT_FAILURE);
  }
}
