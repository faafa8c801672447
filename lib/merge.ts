import * as fs from 'fs';
import * as path from 'path';
import { checkManifestOnly, spotCheckProblem } from './dataset/drawn-check';
import { identityDifferences, identityOf } from './dataset/identity';
import { MANIFEST_NAME, PART_MANIFEST_PATTERN, partManifestName, workerShardRange } from './dataset/layout';
import { drawnParams, makeManifest, Manifest, planShards, readManifest, writeManifest } from './dataset/manifest';
import { checkShard, checkShardSizes } from './dataset/shard-check';
import { VatomError, EXIT_FAILURE } from './errors';
import { DirectoryLock } from './lock';
import { LIMITS } from './options/limits';
import { listDirectory } from './safe-fs';

/** What `merge` did. */
export interface MergeReport {
  dir: string;
  parts: number;
  shards: number;
  images: number;
}

/**
 * Joins the partial manifests of a sharded build into DIR/manifest.json: every part present, complete
 * and of one configuration, every shard file present with its recorded size (and sha256 with
 * `verify`). The manifest is the one a single-machine build of the same config writes.
 */
export async function mergeDataset(dir: string, options: { verify?: boolean } = {}): Promise<MergeReport> {
  const entries = listDirectory(dir, 'the dataset directory');
  const names = entries.filter((f) => PART_MANIFEST_PATTERN.test(f)).sort();
  if (names.length === 0) {
    throw new VatomError('NOT_A_DATASET', `${dir} holds no partial manifests (manifest.part-*-of-*.json) to merge`, EXIT_FAILURE);
  }
  // The worker count comes from file names: bounded, and checked against the files there, before any loop over it.
  const found = names.map((n) => PART_MANIFEST_PATTERN.exec(n)!.slice(1, 3).map(Number));
  const counts = new Set(found.map(([, c]) => c));
  if (counts.size > 1) {
    throw new VatomError('BAD_MANIFEST', `${dir} holds parts of builds split ${[...counts].join(' and ')} ways; keep the parts of one split`, EXIT_FAILURE);
  }
  const count = [...counts][0];
  const bad = names.find((n, i) => !(count >= 1 && count <= LIMITS.workers && found[i][0] < count && n === partManifestName(found[i][0], count)));
  if (bad !== undefined) {
    throw new VatomError('BAD_MANIFEST', `${path.join(dir, bad)}: not a part manifest name this tool writes (worker index below a count of 1 to ${LIMITS.workers})`, EXIT_FAILURE);
  }
  const present = new Set(found.map(([i]) => i));
  const problems: string[] = [];
  if (present.size < count) {
    const missing: number[] = [];
    for (let index = 0; index < count && missing.length < 5; ++index) if (!present.has(index)) missing.push(index);
    for (const index of missing) problems.push(`worker ${index} of ${count}: missing (no ${partManifestName(index, count)})`);
    if (count - present.size > missing.length) problems.push(`and ${count - present.size - missing.length} more workers missing`);
  }
  const lock = DirectoryLock.acquire(dir, 'vatom-fast merge');
  try {
    return await mergeLocked(dir, names, count, problems, options);
  } finally {
    lock.release();
  }
}

async function mergeLocked(dir: string, names: string[], count: number, problems: string[], options: { verify?: boolean }): Promise<MergeReport> {
  const parts: Manifest[] = [];
  for (const name of names) {
    const part = readManifest(dir, name);
    const index = part.part!.index;
    parts[index] = part;
    const differences = identityDifferences(parts.find((p) => p !== undefined)!, part);
    if (differences.length > 0) problems.push(`worker ${index} of ${count}: another configuration (${differences.join('; ')})`);
    if (!part.complete) {
      const written = part.shards.filter((s) => s.imagesSha256 !== null).length;
      problems.push(`worker ${index} of ${count}: incomplete, ${written} of ${part.shards.length} shards written (rerun that worker)`);
    }
  }
  if (problems.length > 0) {
    throw new VatomError('BAD_MANIFEST', `cannot merge ${dir}: ${problems.join('; ')}`, EXIT_FAILURE);
  }
  const reference = parts[0];
  const drawnProblem = (await checkManifestOnly(reference))[0] ?? await spotCheckProblem(dir, reference);
  if (drawnProblem) throw new VatomError('BAD_MANIFEST', `cannot merge ${dir}: ${names[0]}: ${drawnProblem}`, EXIT_FAILURE);
  const layout = planShards(reference);
  const shards = parts.flatMap((p) => p.shards);
  for (const [index, part] of parts.entries()) {
    const [begin, end] = workerShardRange(layout.length, index, count);
    const expected = layout.slice(begin, end).map((s) => `${s.images}:${s.first}:${s.count}`).join(',');
    const actual = part.shards.map((s) => `${s.images}:${s.first}:${s.count}`).join(',');
    if (expected !== actual) problems.push(`worker ${index} of ${count}: covers other shards than the layout gives it`);
  }
  for (const shard of shards) {
    problems.push(...(options.verify ? await checkShard(dir, reference, shard) : checkShardSizes(dir, shard)));
  }
  if (problems.length > 0) {
    throw new VatomError('BAD_MANIFEST', `cannot merge ${dir}: ${problems.join('; ')}`, EXIT_FAILURE);
  }
  const merged = makeManifest(identityOf(reference), drawnParams(reference), shards, reference.imagesDataOffset, true);
  writeManifest(dir, merged, MANIFEST_NAME);
  for (const name of names) fs.rmSync(path.join(dir, name), { force: true });
  return { dir, parts: count, shards: shards.length, images: shards.reduce((sum, s) => sum + s.count, 0) };
}
