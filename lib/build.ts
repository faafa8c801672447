/** `build`: a dataset's .npy shards (resumable, or one worker's part of a cluster build), or its manifest alone. */
import * as fs from 'fs';
import * as path from 'path';
import { buildableIdentity, DatasetIdentity, identityDifferences, nativeSpec } from './dataset/identity';
import { isDatasetFileName, MANIFEST_NAME, PART_MANIFEST_PATTERN, partManifestName, shardBytes, storedBytes, workerShardRange } from './dataset/layout';
import { isManifestOnly, makeManifest, Manifest, manifestText, PartInfo, planShards, readManifest, ShardEntry, writeManifest } from './dataset/manifest';
import { checkShard } from './dataset/shard-check';
import { DeviceChoice, resolveDevice } from './device';
import { badOption, EXIT_BAD_INPUT, VatomError } from './errors';
import { DirectoryLock, LOCK_FILE } from './lock';
import { loadNative, NativeAddon, startGenerator } from './native';
import type { ValidatedBuildOptions } from './options/build';
import { checkWritableOutput, nearestExisting } from './output-dir';
import { formatBytes, Reporter, reportWarnings } from './progress';
import { exists } from './safe-fs';

/** What a finished build reports (`--json` prints it). */
export interface BuildSummary {
  out: string;
  rng: 'philox' | 'reference';
  device: 'cpu' | 'cuda';
  threads: number;
  classes: number;
  instances: number;
  images: number;
  shards: number;
  shardsWritten: number;
  shardsReused: number;
  bytes: number;
  bytesWritten: number;
  seconds: number;
  imagesPerSecond: number;
  megabytesPerSecond: number;
}

/** What `build --format manifest` reports (`--json` prints it). */
export interface ManifestBuildSummary {
  out: string;
  storage: 'manifest';
  rng: 'philox' | 'reference';
  classes: number;
  instances: number;
  images: number;
  /** Size of manifest.json, the whole dataset. */
  manifestBytes: number;
  /** What the same dataset takes as .npy shards. */
  storedBytes: number;
  seconds: number;
}

const isDatasetFile = (name: string) => isDatasetFileName(name) || LOCK_FILE.test(name);

/** The manifests in a dataset directory: the merged or single-build one, and workers' partial ones. */
function manifestsIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f === MANIFEST_NAME || PART_MANIFEST_PATTERN.test(f)).sort();
}

/**
 * Refuses an output that is a file, not ours, not writable, or holds another configuration, before
 * any work. Returns the shard entries already recorded for this build's part of the layout.
 */
function checkOutput(options: ValidatedBuildOptions, identity: DatasetIdentity, plan: ShardEntry[]): ShardEntry[] | undefined {
  const out = options.out;
  let recorded: ShardEntry[] | undefined;
  checkWritableOutput(out);
  if (exists(out)) {
    const foreign = fs.readdirSync(out).filter((f) => !isDatasetFile(f));
    if (foreign.length > 0) {
      const entries = fs.readdirSync(out).length;
      throw new VatomError('OUTPUT_CONFLICT',
        `--out ${out} exists, is not empty (${entries} entries) and is not a vatom-fast dataset; use a new or empty directory`,
        EXIT_BAD_INPUT);
    }
    const own = options.worker ? partManifestName(options.worker.index, options.worker.count) : MANIFEST_NAME;
    for (const name of manifestsIn(out)) {
      let previous: Manifest;
      try {
        previous = readManifest(out, name);
      } catch (err) {
        throw new VatomError('OUTPUT_CONFLICT', `--out ${out} holds a manifest this build cannot resume: ${(err as Error).message}`, EXIT_BAD_INPUT);
      }
      const differences = identityDifferences(identity, previous);
      if (differences.length > 0) {
        throw new VatomError('OUTPUT_CONFLICT',
          `--out ${out} holds a dataset with another configuration (${name}: ${differences.join('; ')}); ` +
          'use another --out, or delete it to start over', EXIT_BAD_INPUT);
      }
      if (name === own || (name === MANIFEST_NAME && recorded === undefined)) {
        // Names and ranges come from the plan; only what was written (sizes, checksums) from the file.
        const byName = new Map(previous.shards.map((s) => [s.images, s]));
        recorded = plan.map((s) => {
          const before = byName.get(s.images);
          return before ? { ...s, imagesBytes: before.imagesBytes, labelsBytes: before.labelsBytes,
            imagesSha256: before.imagesSha256, labelsSha256: before.labelsSha256 } : { ...s };
        });
      }
    }
  }
  return recorded;
}

function checkFreeSpace(out: string, needed: number): void {
  const where = nearestExisting(out);
  const stats = fs.statfsSync(where);
  const free = stats.bavail * stats.bsize;
  if (needed > free) {
    throw new VatomError('NO_SPACE',
      `--out ${out}: the dataset needs ${formatBytes(needed)} more but only ${formatBytes(free)} is free on that file system`,
      EXIT_BAD_INPUT);
  }
}

/**
 * Writes the manifest-only dataset of `options`: manifest.json alone (identity, every class's drawn
 * parameters, `"storage": "manifest"`, no shards), atomically and under the directory lock. A later
 * `build` (npy) of the same options into the same directory adds the shards.
 */
export async function buildManifest(options: ValidatedBuildOptions, reporter?: Reporter): Promise<ManifestBuildSummary> {
  const startedAt = process.hrtime.bigint();
  if (options.worker) {
    throw badOption('format', 'manifest', 'npy for a sharded build (a scheduler array index is set in the environment)');
  }
  const native = loadNative();
  const identity = buildableIdentity(options);
  checkOutput(options, identity, []);
  if (reporter) reportWarnings(reporter, options.warnings);
  const classParams = await native.drawClassParams(nativeSpec(options));
  const manifest: Manifest = { ...makeManifest(identity, classParams, [], native.imageDataOffset, true), storage: 'manifest' };
  const manifestBytes = Buffer.byteLength(manifestText(manifest));
  checkFreeSpace(options.out, manifestBytes);

  fs.mkdirSync(options.out, { recursive: true });
  const lock = DirectoryLock.acquire(options.out, 'vatom-fast build --format manifest');
  try {
    refuseStoredShards(options.out);
    writeManifest(options.out, manifest);
  } finally {
    lock.release();
  }
  return {
    out: options.out,
    storage: 'manifest',
    rng: options.rng,
    classes: identity.classes,
    instances: identity.instances,
    images: identity.imageCount,
    manifestBytes,
    storedBytes: storedBytes(identity),
    seconds: Number(process.hrtime.bigint() - startedAt) / 1e9,
  };
}

/** Refuses to turn a directory with shards (or shards under way) into a manifest-only one, which would leave them unlisted. */
function refuseStoredShards(out: string): void {
  const others = fs.readdirSync(out).filter((f) => f !== MANIFEST_NAME && f !== `${MANIFEST_NAME}.tmp` && !LOCK_FILE.test(f));
  const stored = exists(path.join(out, MANIFEST_NAME)) && !isManifestOnly(readManifest(out));
  if (stored || others.length > 0) {
    throw new VatomError('OUTPUT_CONFLICT',
      `--out ${out} holds this dataset with shards (${stored ? 'manifest.json has storage npy' : others.slice(0, 3).join(', ')}); ` +
      'a manifest-only build would leave them unlisted; use another --out',
      EXIT_BAD_INPUT);
  }
}

/**
 * Builds (or resumes) the dataset of `options` in options.out: shards written under temporary
 * names, synced and renamed, the manifest updated after each one. A rerun skips shards that verify.
 */
export async function build(options: ValidatedBuildOptions, reporter: Reporter, signal?: AbortSignal): Promise<BuildSummary> {
  const native = loadNative();
  const device = resolveDevice(options, native);
  const identity = buildableIdentity(options);
  const layout = planShards(identity);
  const worker = options.worker;
  const [firstShard, endShard] = worker ? workerShardRange(layout.length, worker.index, worker.count) : [0, layout.length];
  const plan = layout.slice(firstShard, endShard);
  const recorded = checkOutput(options, identity, plan);
  const shards = recorded ?? plan;
  const pending = shards.filter((s) => s.imagesSha256 === null);
  checkFreeSpace(options.out, pending.reduce((sum, s) => sum + shardBytes(identity.imageSize, s.count), 0));

  reportWarnings(reporter, options.warnings);
  if (!options.json) reporter.log(`device: ${device.device}, ${options.threads} threads (${device.reason})`);
  if (worker && !options.json) {
    reporter.log(`worker ${worker.index} of ${worker.count} (${worker.source}): shards ${firstShard}..${endShard - 1} of ${layout.length}`);
  }

  fs.mkdirSync(options.out, { recursive: true });
  const lock = DirectoryLock.acquire(options.out, `vatom-fast build${worker ? ` worker ${worker.index}/${worker.count}` : ''}`,
    worker ? { index: worker.index, count: worker.count } : undefined);
  try {
    return await buildLocked(options, identity, shards, worker ? { index: worker.index, count: worker.count, firstShard, endShard, layoutShards: layout.length } : undefined,
      native, device, reporter, signal);
  } finally {
    lock.release();
  }
}

async function buildLocked(options: ValidatedBuildOptions, identity: DatasetIdentity, shards: ShardEntry[], part: PartInfo | undefined,
  native: NativeAddon, device: DeviceChoice, reporter: Reporter, signal?: AbortSignal): Promise<BuildSummary> {
  const startedAt = process.hrtime.bigint();
  const spec = nativeSpec(options);
  const classParams = await native.drawClassParams(spec);
  const manifestName = part ? partManifestName(part.index, part.count) : MANIFEST_NAME;
  const manifest = makeManifest(identity, classParams, shards, native.imageDataOffset, false, part);
  const cancelled = () => new VatomError('CANCELLED', 'build interrupted; rerun the same command to resume');

  let reused = 0;
  let done = 0;
  // A fresh build records itself at once. A rerun writes nothing before the check of what it has, so a
  // rerun interrupted here leaves the manifest as it was (a complete dataset stays complete).
  if (manifest.shards.every((s) => s.imagesSha256 === null)) writeManifest(options.out, manifest, manifestName);
  // Shards the manifest lists as written are kept if they still verify.
  for (const shard of manifest.shards) {
    if (signal?.aborted) throw cancelled();
    if (shard.imagesSha256 !== null && (await checkShard(options.out, manifest, shard, signal)).length === 0) {
      done += shard.count;
      ++reused;
    } else if (shard.imagesSha256 !== null) {
      Object.assign(shard, { imagesBytes: null, labelsBytes: null, imagesSha256: null, labelsSha256: null });
    }
  }
  if (manifest.shards.some((s) => s.imagesSha256 === null)) writeManifest(options.out, manifest, manifestName);

  const generator = startGenerator(native, { ...spec, classParams }, options.threads, device.device);
  const onAbort = () => generator.cancel();
  signal?.addEventListener('abort', onAbort);
  let written = 0;
  let bytesWritten = 0;
  let imagesWritten = 0;
  try {
    reporter.start(manifest.shards.reduce((sum, s) => sum + s.count, 0), done);
    for (const shard of manifest.shards) {
      if (shard.imagesSha256 !== null) continue;
      if (signal?.aborted) throw cancelled();
      const base = done;
      const result = await generator.writeShard({
        first: shard.first,
        count: shard.count,
        imagesPath: path.join(options.out, shard.images),
        labelsPath: path.join(options.out, shard.labels),
      }, (n) => reporter.update(base + n)).catch((err: Error) => {
        if (err.message === 'cancelled') throw cancelled();
        throw new VatomError('IO', `writing shard ${shard.images} failed: ${err.message}; finished shards are kept, rerun to resume`);
      });
      Object.assign(shard, result);
      writeManifest(options.out, manifest, manifestName);
      done += shard.count;
      imagesWritten += shard.count;
      bytesWritten += result.imagesBytes + result.labelsBytes;
      ++written;
      reporter.update(done);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reporter.stop();
  }
  manifest.complete = true;
  writeManifest(options.out, manifest, manifestName);

  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return {
    out: options.out,
    rng: options.rng,
    device: device.device,
    threads: options.threads,
    classes: identity.classes,
    instances: identity.instances,
    images: manifest.shards.reduce((sum, s) => sum + s.count, 0),
    shards: manifest.shards.length,
    shardsWritten: written,
    shardsReused: reused,
    bytes: manifest.shards.reduce((sum, s) => sum + (s.imagesBytes ?? 0) + (s.labelsBytes ?? 0), 0),
    bytesWritten,
    seconds,
    imagesPerSecond: seconds > 0 ? imagesWritten / seconds : 0,
    megabytesPerSecond: seconds > 0 ? bytesWritten / 1e6 / seconds : 0,
  };
}
