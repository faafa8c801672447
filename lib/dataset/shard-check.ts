/** Whether a shard's files are exactly what its manifest entry records. */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { VatomError } from '../errors';
import { parseNpyHeader } from '../npy';
import { openRegularInside, openRegularInsideAsync } from '../safe-fs';
import { labelOf } from './layout';
import type { Manifest, ShardEntry } from './manifest';

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
  /** A labels file: the label each of its images must have (class-major, from the index). */
  labels?: { first: number; startClass: number; instances: number };
}

const LABEL_CHUNK = 1 << 20;

/** The first label of an open labels file that is not its image's class, as a problem; undefined if all are. */
async function wrongLabel(fh: fs.promises.FileHandle, name: string, dataOffset: number, count: number,
  expected: NonNullable<FileExpectation['labels']>): Promise<string | undefined> {
  const buffer = Buffer.alloc(4 * Math.min(count, LABEL_CHUNK));
  for (let k = 0; k < count;) {
    const n = Math.min(count - k, LABEL_CHUNK);
    const { bytesRead } = await fh.read(buffer, 0, 4 * n, dataOffset + 4 * k);
    if (bytesRead !== 4 * n) return `${name}: ended early`;
    for (let j = 0; j < n; ++j) {
      const index = expected.first + k + j;
      const want = labelOf(expected, index);
      const got = buffer.readInt32LE(4 * j);
      if (got !== want) return `${name}: label ${got} for image ${index}, which is of class ${want} (labels follow from the class-major index)`;
    }
    k += n;
  }
  return undefined;
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
    const label = e.labels ? await wrongLabel(fh, e.name, size - 4 * e.shape[0], e.shape[0], e.labels) : undefined;
    return label ? [label] : [];
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
export async function checkShard(dir: string, m: Pick<Manifest, 'imageSize' | 'imagesDataOffset' | 'startClass' | 'instances'>, s: ShardEntry,
  signal?: AbortSignal): Promise<string[]> {
  return [
    ...await checkShardFile(dir, { name: s.images, bytes: s.imagesBytes, sha256: s.imagesSha256, descr: '|u1',
      shape: [s.count, m.imageSize, m.imageSize], dataOffset: m.imagesDataOffset }, signal),
    ...await checkShardFile(dir, { name: s.labels, bytes: s.labelsBytes, sha256: s.labelsSha256, descr: '<i4', shape: [s.count],
      labels: { first: s.first, startClass: m.startClass, instances: m.instances } }, signal),
  ];
}

