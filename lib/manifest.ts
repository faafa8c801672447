import * as fs from 'fs';
import * as path from 'path';
import { VatomError, EXIT_FAILURE } from './errors';
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

/** Shard file names for shard i. */
export function shardNames(index: number): { images: string; labels: string } {
  const n = String(index).padStart(5, '0');
  return { images: `images-${n}.npy`, labels: `labels-${n}.npy` };
}

/**
 * A shard file name from a manifest, resolved inside dir; refuses names that leave it
 * (absolute paths, `..`, separators, symlinks pointing outside).
 */
export function resolveShardPath(dir: string, name: unknown): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[\\/]/.test(name) ||
      path.isAbsolute(name) || name.includes('\0')) {
    throw new VatomError('BAD_MANIFEST', `manifest names a shard outside the dataset directory: ${JSON.stringify(name)}`);
  }
  const full = path.join(dir, name);
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch {
    return full;  // missing files are reported by whoever reads them
  }
  const root = fs.realpathSync(dir);
  if (path.dirname(real) !== root) {
    throw new VatomError('BAD_MANIFEST', `shard ${name} is a link that leaves the dataset directory (to ${real})`);
  }
  return full;
}

/** Reads and checks the structure of DIR/manifest.json (or of a worker's partial manifest). */
export function readManifest(dir: string, name = MANIFEST_NAME): Manifest {
  const file = path.join(dir, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new VatomError('NOT_A_DATASET', `${dir} is not a vatom-fast dataset: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (err) {
    throw new VatomError('BAD_MANIFEST', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (m === null || typeof m !== 'object' || m.format !== FORMAT_NAME) {
    throw new VatomError('NOT_A_DATASET', `${file} is not a vatom-fast manifest`);
  }
  if (m.version !== FORMAT_VERSION) {
    throw new VatomError('BAD_MANIFEST', `${file} has format version ${m.version}; this vatom-fast reads version ${FORMAT_VERSION}`);
  }
  if (!Array.isArray(m.shards)) throw new VatomError('BAD_MANIFEST', `${file} has no shard list`);
  if (m.storage !== undefined && m.storage !== 'npy' && m.storage !== 'manifest') {
    throw new VatomError('BAD_MANIFEST', `${file}: storage ${JSON.stringify(m.storage)}; expected "npy" or "manifest"`);
  }
  if (isManifestOnly(m)) {
    if (m.shards.length > 0 || m.complete !== true || m.part !== undefined) {
      throw new VatomError('BAD_MANIFEST',
        `${file}: a manifest-only dataset (storage "manifest") lists no shards and is complete; this one lists ${m.shards.length} shards` +
        `${m.complete !== true ? ', is not complete' : ''}${m.part !== undefined ? ', is a worker\'s part' : ''}`);
    }
    if (!Number.isSafeInteger(m.imageCount) || m.imageCount !== m.classes * m.instances) {
      throw new VatomError('BAD_MANIFEST', `${file}: imageCount is ${m.imageCount}, classes x instances is ${m.classes * m.instances}`);
    }
    if (!Number.isSafeInteger(m.shardSize) || m.shardSize < 1 || !Number.isSafeInteger(m.imagesDataOffset) || m.imagesDataOffset < 0) {
      throw new VatomError('BAD_MANIFEST', `${file}: shardSize ${m.shardSize} and imagesDataOffset ${m.imagesDataOffset}; expected integers >= 1 and >= 0`);
    }
    return m;
  }
  // A partial manifest covers a contiguous run of the layout; a whole one covers all of it.
  let next = m.part ? (m.shards[0]?.first ?? 0) : 0;
  for (const [i, s] of m.shards.entries()) {
    resolveShardPath(dir, s.images);
    resolveShardPath(dir, s.labels);
    if (s.first !== next || !Number.isSafeInteger(s.count) || s.count < 1) {
      throw new VatomError('BAD_MANIFEST', `${file}: shard ${i} covers images from ${s.first} (count ${s.count}); expected from ${next}`);
    }
    next += s.count;
  }
  if ((!m.part && next !== m.imageCount) || next > m.imageCount || m.imageCount !== m.classes * m.instances) {
    throw new VatomError('BAD_MANIFEST', `${file}: shards hold ${next} images, imageCount is ${m.imageCount}, classes x instances is ${m.classes * m.instances}`);
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

/** Writes the manifest under a temporary name, syncs it and renames it over the old one. */
export function writeManifest(dir: string, manifest: Manifest, name = MANIFEST_NAME): void {
  const file = path.join(dir, name);
  const temp = `${file}.tmp`;
  const fd = fs.openSync(temp, 'w');
  try {
    fs.writeSync(fd, manifestText(manifest));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
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
