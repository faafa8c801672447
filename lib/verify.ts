import * as crypto from 'crypto';
import * as fs from 'fs';
import { readManifest, resolveShardPath, Manifest, ShardEntry } from './manifest';
import { readNpyHeader } from './npy';
import { VatomError } from './errors';
import { describeNonDataset } from './identify';

/** The outcome of checking a dataset against its manifest. */
export interface VerifyReport {
  ok: boolean;
  problems: string[];
  shardsChecked: number;
  bytesChecked: number;
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

/** Checks every shard of DIR against its manifest: presence, size, .npy header, sha256. */
export async function verifyDataset(dir: string): Promise<VerifyReport> {
  const notADataset = describeNonDataset(dir);
  if (notADataset !== undefined) return { ok: false, problems: [notADataset], shardsChecked: 0, bytesChecked: 0 };
  let manifest: Manifest;
  try {
    manifest = readManifest(dir);
  } catch (err) {
    if (err instanceof VatomError) return { ok: false, problems: [err.message], shardsChecked: 0, bytesChecked: 0 };
    throw err;
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
  return { ok: problems.length === 0, problems, shardsChecked: manifest.shards.length, bytesChecked };
}
