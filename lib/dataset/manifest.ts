/** manifest.json: reading it (checked against the format before use), making it and writing it. */
import * as path from 'path';
import { VatomError } from '../errors';
import type { ClassParams } from '../native';
import { readRegularInside, writeFileAtomic } from '../safe-fs';
import { checkSchema, manifestProblem, MAX_JSON_BYTES, parseFormatJson } from './format-rules';
import { DatasetIdentity, FORMAT_NAME, identityOf, READABLE_VERSIONS } from './identity';
import { MANIFEST_NAME, partManifestName, shardNames } from './layout';

/** Who wrote a manifest or an export marker. */
export const GENERATOR = `vatom-fast ${require('../../package.json').version as string}`;

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

/**
 * Reads DIR/NAME (manifest.json or a worker's part manifest) and checks it against the format
 * (format-rules.ts) before anything uses it: read through one fd of a regular file inside DIR, size
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
  if (!READABLE_VERSIONS.includes(m.version)) {
    throw new VatomError('BAD_MANIFEST', `${file} has format version ${JSON.stringify(m.version)}; this vatom-fast reads versions ${READABLE_VERSIONS.join(' and ')}`);
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

/** The shard list of a dataset: ranges of shardSize images, the last one shorter; nothing written yet. */
export function planShards(identity: Pick<DatasetIdentity, 'imageCount' | 'shardSize'>): ShardEntry[] {
  const shards: ShardEntry[] = [];
  for (let first = 0, i = 0; first < identity.imageCount; first += identity.shardSize, ++i) {
    shards.push({
      ...shardNames(i),
      first,
      count: Math.min(identity.shardSize, identity.imageCount - first),
      imagesBytes: null,
      labelsBytes: null,
      imagesSha256: null,
      labelsSha256: null,
    });
  }
  return shards;
}

/** The manifest of a dataset (or of one worker's part of it, with `part` set). */
export function makeManifest(identity: DatasetIdentity, classParams: ClassParams[], shards: ShardEntry[],
  imagesDataOffset: number, complete: boolean, part?: PartInfo): Manifest {
  return {
    ...identityOf(identity),
    complete,
    storage: 'npy',
    generator: GENERATOR,
    dtype: 'uint8',
    channels: 1,
    order: 'class-major',
    imagesDataOffset,
    ...(identity.rng === 'reference' ? { referenceExact: true } : {}),
    classParams: classParams.map((p, i) => ({ class: identity.startClass + i, ...p })),
    shards,
    ...(part ? { part } : {}),
  };
}

/** The class parameters of a manifest as the native side takes them (without their class index). */
export function drawnParams(m: Pick<Manifest, 'classParams'>): ClassParams[] {
  return m.classParams.map(({ class: _c, ...p }) => p);
}
