import * as crypto from 'crypto';
import * as fs from 'fs';
import { datasetIdentity, nativeSpec } from './build';
import { identityDifferences, isManifestOnly, readManifest, resolveShardPath, Manifest, ShardEntry, Storage } from './manifest';
import { loadNative } from './native';
import { readNpyHeader } from './npy';
import { BuildOptions, optionsOfIdentity } from './options';
import { VatomError } from './errors';
import { describeNonDataset } from './identify';

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

/** sha256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  const stream = fs.createReadStream(file, { highWaterMark: 8 << 20 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
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
export async function checkShardFile(dir: string, e: FileExpectation): Promise<string[]> {
  const file = resolveShardPath(dir, e.name);
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return [`${e.name}: missing`];
  }
  if (e.bytes === null || e.sha256 === null) return [`${e.name}: not recorded as written in the manifest`];
  if (size !== e.bytes) return [`${e.name}: ${size} bytes, expected ${e.bytes}`];
  try {
    const h = readNpyHeader(file);
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
  const actual = await sha256File(file);
  if (actual !== e.sha256) return [`${e.name}: sha256 ${actual}, expected ${e.sha256}`];
  return [];
}

/** Problems with one shard's files that their sizes show (cheap: no data is read). */
export function checkShardSizes(dir: string, s: ShardEntry): string[] {
  const problems: string[] = [];
  for (const [name, bytes] of [[s.images, s.imagesBytes], [s.labels, s.labelsBytes]] as const) {
    let size: number;
    try {
      size = fs.statSync(resolveShardPath(dir, name)).size;
    } catch {
      problems.push(`${name}: missing`);
      continue;
    }
    if (bytes === null) problems.push(`${name}: not recorded as written`);
    else if (size !== bytes) problems.push(`${name}: ${size} bytes, expected ${bytes}`);
  }
  return problems;
}

/** Problems with one shard (images and labels). */
export async function checkShard(dir: string, m: Pick<Manifest, 'imageSize' | 'imagesDataOffset'>, s: ShardEntry): Promise<string[]> {
  return [
    ...await checkShardFile(dir, { name: s.images, bytes: s.imagesBytes, sha256: s.imagesSha256, descr: '|u1',
      shape: [s.count, m.imageSize, m.imageSize], dataOffset: m.imagesDataOffset }),
    ...await checkShardFile(dir, { name: s.labels, bytes: s.labelsBytes, sha256: s.labelsSha256, descr: '<i4', shape: [s.count] }),
  ];
}

/**
 * Problems with a manifest-only dataset, which holds nothing but its manifest: its identity must be
 * the one its own configuration gives, and every class's parameters exactly what that configuration
 * and seed draw natively. Only the first differing class is named (and how many differ).
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
  const listed: unknown = m.classParams;
  if (!Array.isArray(listed) || listed.length !== m.classes) {
    return [`manifest.json lists parameters for ${Array.isArray(listed) ? listed.length : 'no'} classes, expected ${m.classes}`];
  }
  let drawn: Array<Record<string, unknown>>;
  try {
    drawn = await loadNative().drawClassParams(nativeSpec(options)) as unknown as Array<Record<string, unknown>>;
  } catch (err) {
    return [`manifest.json: drawing its class parameters failed: ${(err as Error).message}`];
  }
  let first: string | undefined;
  let differing = 0;
  for (const [i, want] of drawn.entries()) {
    const cls = m.startClass + i;
    const got = listed[i] as Record<string, unknown> | null;
    let problem: string | undefined;
    if (got === null || typeof got !== 'object' || Array.isArray(got)) {
      problem = `class ${cls}: its entry is ${JSON.stringify(got)}, not an object`;
    } else if (got.class !== cls) {
      problem = `classParams[${i}]: class is ${JSON.stringify(got.class)}, expected ${cls}`;
    } else {
      const field = Object.keys(want).find((k) => got[k] !== want[k]);
      const extra = Object.keys(got).find((k) => k !== 'class' && !(k in want));
      if (field !== undefined) {
        problem = `class ${cls}: ${field} is ${JSON.stringify(got[field]) ?? 'absent'}, the config and seed draw ${JSON.stringify(want[field])}`;
      } else if (extra !== undefined) {
        problem = `class ${cls}: unknown field ${JSON.stringify(extra)}`;
      }
    }
    if (problem !== undefined) {
      first ??= problem;
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
  return { ok: problems.length === 0, problems, storage: 'npy', shardsChecked: manifest.shards.length, bytesChecked, classesChecked: 0 };
}
