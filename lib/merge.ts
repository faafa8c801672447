import * as fs from 'fs';
import * as path from 'path';
import { makeManifest, planShards } from './build';
import { VatomError, EXIT_FAILURE } from './errors';
import { identityDifferences, identityOf, Manifest, MANIFEST_NAME, readManifest, writeManifest } from './manifest';
import { checkShard, checkShardSizes } from './verify';
import { PART_MANIFEST_PATTERN, partManifestName, workerShardRange } from './workers';

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
  const names = fs.readdirSync(dir).filter((f) => PART_MANIFEST_PATTERN.test(f)).sort();
  if (names.length === 0) {
    throw new VatomError('NOT_A_DATASET', `${dir} holds no partial manifests (manifest.part-*-of-*.json) to merge`, EXIT_FAILURE);
  }
  const counts = new Set(names.map((n) => Number(PART_MANIFEST_PATTERN.exec(n)![2])));
  if (counts.size > 1) {
    throw new VatomError('BAD_MANIFEST', `${dir} holds parts of builds split ${[...counts].join(' and ')} ways; keep the parts of one split`, EXIT_FAILURE);
  }
  const count = [...counts][0];
  const parts: Manifest[] = [];
  const problems: string[] = [];
  for (let index = 0; index < count; ++index) {
    const name = partManifestName(index, count);
    if (!fs.existsSync(path.join(dir, name))) {
      problems.push(`worker ${index} of ${count}: missing (no ${name})`);
      continue;
    }
    const part = readManifest(dir, name);
    parts[index] = part;
    const first = parts.find((p) => p !== undefined)!;
    const differences = identityDifferences(first, part);
    if (differences.length > 0) problems.push(`worker ${index} of ${count}: another configuration (${differences.join('; ')})`);
    if (!part.complete) {
      const written = part.shards.filter((s) => s.imagesSha256 !== null).length;
      problems.push(`worker ${index} of ${count}: incomplete, ${written} of ${part.shards.length} shards written (rerun that worker)`);
    }
  }
  if (problems.length > 0) {
    throw new VatomError('BAD_MANIFEST', `cannot merge ${dir}:\n  ${problems.join('\n  ')}`, EXIT_FAILURE);
  }
  const reference = parts[0];
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
    throw new VatomError('BAD_MANIFEST', `cannot merge ${dir}:\n  ${problems.join('\n  ')}`, EXIT_FAILURE);
  }
  const classParams = reference.classParams.map(({ class: _c, ...p }) => p);
  const merged = makeManifest(identityOf(reference), classParams, shards, reference.imagesDataOffset, true);
  writeManifest(dir, merged, MANIFEST_NAME);
  for (const name of names) fs.rmSync(path.join(dir, name), { force: true });
  return { dir, parts: count, shards: shards.length, images: shards.reduce((sum, s) => sum + s.count, 0) };
}
