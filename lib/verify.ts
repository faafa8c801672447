import * as crypto from 'crypto';
import * as fs from 'fs';
import { datasetIdentity, nativeSpec } from './build';
import { identityDifferences, isManifestOnly, readManifest, Manifest, ShardEntry, Storage } from './manifest';
import { ClassParams, loadNative } from './native';
import { parseNpyHeader } from './npy';
import { BuildOptions, optionsOfIdentity } from './options';
import { VatomError } from './errors';
import { describeNonDataset } from './identify';
import { openRegularInside, openRegularInsideAsync } from './safe-fs';

/** The outcome of checking a dataset against its manifest. */
export interface VerifyReport {
  ok: boolean;
  problems: string[];
  /** `manifest`: no shards; its class parameters were checked against a fresh draw instead. */
  storage: Storage;
  shardsChecked: number;
  bytesChecked: number;
  classesChecked: number;
}

const HASH_CHUNK = 8 << 20;

/** sha256 of an open file from byte 0, stopping with CANCELLED once `signal` trips (checked every 8 MiB). */
export async function sha256Handle(fh: fs.promises.FileHandle, signal?: AbortSignal): Promise<string> {
  const hash = crypto.createHash('sha256');
  const buffer = Buffer.allocUnsafe(HASH_CHUNK);
  for (let at = 0; ;) {
    if (signal?.aborted) throw new VatomError('CANCELLED', 'interrupted while checking files; rerun the same command to resume');
    const { bytesRead } = await fh.read(buffer, 0, buffer.length, at);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hash.digest('hex');
}

/** sha256 of DIR/NAME, a regular file inside DIR (never a symlink or FIFO). */
export async function sha256Inside(dir: string, name: string, signal?: AbortSignal): Promise<string> {
  const { fh } = await openRegularInsideAsync(dir, name);
  try {
    return await sha256Handle(fh, signal);
  } finally {
    await fh.close();
  }
}

interface FileExpectation {
  name: string;
  bytes: number | null;
  sha256: string | null;
  descr: string;
  shape: number[];
  dataOffset?: number;
}

/** Problems with one file of a shard; an empty list means it is exactly what the manifest says. */
export async function checkShardFile(dir: string, e: FileExpectation, signal?: AbortSignal): Promise<string[]> {
  if (e.bytes === null || e.sha256 === null) return [`${e.name}: not recorded as written in the manifest`];
  let opened: { fh: fs.promises.FileHandle; stat: fs.Stats };
  try {
    opened = await openRegularInsideAsync(dir, e.name);
  } catch (err) {
    if (err instanceof VatomError) return [err.code === 'NOT_A_DATASET' ? `${e.name}: missing` : err.message];
    throw err;
  }
  const { fh, stat } = opened;
  try {
    const size = stat.size;
    if (size !== e.bytes) return [`${e.name}: ${size} bytes, expected ${e.bytes}`];
    const head = Buffer.alloc(Math.min(size, 65536 + 16));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    try {
      const h = parseNpyHeader(head.subarray(0, bytesRead));
      const itemSize = e.descr === '|u1' ? 1 : 4;
      const problems: string[] = [];
      if (h.descr !== e.descr) problems.push(`dtype ${h.descr}, expected ${e.descr}`);
      if (h.fortranOrder) problems.push('Fortran order, expected C order');
      if (JSON.stringify(h.shape) !== JSON.stringify(e.shape)) problems.push(`shape (${h.shape.join(', ')}), expected (${e.shape.join(', ')})`);
      if (e.dataOffset !== undefined && h.dataOffset !== e.dataOffset) problems.push(`data at byte ${h.dataOffset}, expected ${e.dataOffset}`);
      const dataBytes = e.shape.reduce((a, b) => a * b, 1) * itemSize;
      if (h.dataOffset + dataBytes !== size) problems.push(`header says ${h.dataOffset + dataBytes} bytes, file has ${size}`);
      if (problems.length > 0) return [`${e.name}: ${problems.join('; ')}`];
    } catch (err) {
      return [`${e.name}: ${(err as Error).message}`];
    }
    const actual = await sha256Handle(fh, signal);
    if (actual !== e.sha256) return [`${e.name}: sha256 ${actual}, expected ${e.sha256}`];
    return [];
  } finally {
    await fh.close();
  }
}

/** Problems with one shard's files that their sizes show (cheap: no data is read). */
export function checkShardSizes(dir: string, s: ShardEntry): string[] {
  const problems: string[] = [];
  for (const [name, bytes] of [[s.images, s.imagesBytes], [s.labels, s.labelsBytes]] as const) {
    let size: number;
    try {
      const { fd, stat } = openRegularInside(dir, name);
      fs.closeSync(fd);
      size = stat.size;
    } catch (err) {
      if (!(err instanceof VatomError)) throw err;
      problems.push(err.code === 'NOT_A_DATASET' ? `${name}: missing` : err.message);
      continue;
    }
    if (bytes === null) problems.push(`${name}: not recorded as written`);
    else if (size !== bytes) problems.push(`${name}: ${size} bytes, expected ${bytes}`);
  }
  return problems;
}

/** Problems with one shard (images and labels). */
export async function checkShard(dir: string, m: Pick<Manifest, 'imageSize' | 'imagesDataOffset'>, s: ShardEntry, signal?: AbortSignal): Promise<string[]> {
  return [
    ...await checkShardFile(dir, { name: s.images, bytes: s.imagesBytes, sha256: s.imagesSha256, descr: '|u1',
      shape: [s.count, m.imageSize, m.imageSize], dataOffset: m.imagesDataOffset }, signal),
    ...await checkShardFile(dir, { name: s.labels, bytes: s.labelsBytes, sha256: s.labelsSha256, descr: '<i4', shape: [s.count] }, signal),
  ];
}

/**
 * Problems with a manifest's identity and class parameters, all a manifest-only dataset holds (and
 * what no checksum of a stored dataset covers): its identity must be the one its own configuration
 * gives, and every class's parameters exactly what that configuration and seed draw natively. Only
 * the first differing class is named (and how many differ).
 */
export async function checkManifestOnly(m: Manifest): Promise<string[]> {
  let options: BuildOptions;
  try {
    options = optionsOfIdentity(m, 1);
  } catch (err) {
    if (err instanceof VatomError) return [`manifest.json: its configuration is not one vatom-fast builds (${err.message})`];
    throw err;
  }
  const differences = identityDifferences(datasetIdentity(options), m);
  if (differences.length > 0) {
    return [`manifest.json: fields disagree with what its configuration gives (${differences.join('; ')})`];
  }
  let drawn: ClassParams[];
  try {
    drawn = await loadNative().drawClassParams(nativeSpec(options));
  } catch (err) {
    return [`manifest.json: drawing its class parameters failed: ${(err as Error).message}`];
  }
  // readManifest has checked each entry's shape and class index (schema, lib/format.ts): only the values are compared.
  let first: string | undefined;
  let differing = 0;
  for (const [i, want] of drawn.entries()) {
    const got = m.classParams[i];
    const field = (Object.keys(want) as Array<keyof ClassParams>).find((k) => got[k] !== want[k]);
    if (field !== undefined) {
      first ??= `class ${got.class}: ${field} is ${JSON.stringify(got[field])}, the config and seed draw ${JSON.stringify(want[field])}`;
      ++differing;
    }
  }
  if (first === undefined) return [];
  return [`${first}${differing > 1 ? ` (${differing} classes differ)` : ''}`];
}

/**
 * Checks DIR against its manifest: every shard's presence, size, .npy header and sha256, or for a
 * manifest-only dataset its class parameters (checkManifestOnly).
 */
export async function verifyDataset(dir: string): Promise<VerifyReport> {
  const notADataset = describeNonDataset(dir);
  if (notADataset !== undefined) return { ok: false, problems: [notADataset], storage: 'npy', shardsChecked: 0, bytesChecked: 0, classesChecked: 0 };
  let manifest: Manifest;
  try {
    manifest = readManifest(dir);
  } catch (err) {
    if (err instanceof VatomError) return { ok: false, problems: [err.message], storage: 'npy', shardsChecked: 0, bytesChecked: 0, classesChecked: 0 };
    throw err;
  }
  if (isManifestOnly(manifest)) {
    const problems = await checkManifestOnly(manifest);
    return { ok: problems.length === 0, problems, storage: 'manifest', shardsChecked: 0, bytesChecked: 0, classesChecked: problems.length === 0 ? manifest.classes : 0 };
  }
  const problems: string[] = [];
  // No checksum covers the identity and class parameters: they are drawn again and compared.
  problems.push(...await checkManifestOnly(manifest));
  if (!manifest.complete) {
    const written = manifest.shards.filter((s) => s.imagesSha256 !== null).length;
    problems.push(`build incomplete: ${written} of ${manifest.shards.length} shards written (rerun the same build command to finish it)`);
  }
  let bytesChecked = 0;
  for (const shard of manifest.shards) {
    if (!manifest.complete && shard.imagesSha256 === null) continue;
    try {
      problems.push(...await checkShard(dir, manifest, shard));
    } catch (err) {
      problems.push((err as Error).message);
    }
    bytesChecked += (shard.imagesBytes ?? 0) + (shard.labelsBytes ?? 0);
  }
  // Only once the files match the manifest: is the manifest the configuration that made them?
  if (problems.length === 0) {
    const spot = await spotCheckProblem(dir, manifest);
    if (spot) problems.push(`manifest.json: ${spot}`);
  }
  return { ok: problems.length === 0, problems, storage: 'npy', shardsChecked: manifest.shards.length, bytesChecked, classesChecked: manifest.classes };
}

/**
 * Whether the written shards are what the manifest's identity renders: the first image of the first
 * written shard and the last image of the last one (the reference stream: image 0 only) are rendered
 * again and compared with the files.
 * Checksums only show that files match the manifest; this shows that the manifest's configuration
 * (start position, line width, seed, ...) is the one that made them. Two images: milliseconds.
 */
export async function spotCheckProblem(dir: string, m: Manifest): Promise<string | undefined> {
  const written = m.shards.filter((s) => s.imagesSha256 !== null);
  if (written.length === 0) return undefined;
  const last = written[written.length - 1];
  // The reference stream replays a process's images from its first to reach one: only image 0 is cheap there.
  const samples: Array<[ShardEntry, number]> = m.rng === 'philox'
    ? [[written[0], written[0].first], [last, last.first + last.count - 1]]
    : written[0].first === 0 ? [[written[0], 0]] : [];
  if (samples.length === 0) return undefined;
  const generator = new (loadNative().Generator)({ ...nativeSpec(optionsOfIdentity(m, 1)), classParams: m.classParams.map(({ class: _c, ...p }) => p) }, 1, 'cpu');
  const bytes = m.imageSize ** 2;
  for (const [shard, i] of samples) {
    const expected = await generator.render(i, i + 1);
    const { fd } = openRegularInside(dir, shard.images);
    const actual = Buffer.alloc(bytes);
    try {
      fs.readSync(fd, actual, 0, bytes, m.imagesDataOffset + (i - shard.first) * bytes);
    } finally {
      fs.closeSync(fd);
    }
    if (!actual.equals(expected)) return `image ${i} in ${shard.images} is not what the manifest's configuration renders (the manifest does not describe these shards)`;
  }
  return undefined;
}

