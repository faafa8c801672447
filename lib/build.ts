import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_SHARD_BYTES, drawingWarnings } from './config';
import { chooseDevice, DeviceChoice } from './device';
import { badOption, EXIT_BAD_INPUT, VatomError } from './errors';
import { checkClassCount, MAX_SHARDS, shardFileBytes } from './format';
import { DirectoryLock, LOCK_FILE } from './lock';
import { checkWritableOutput, nearestExisting } from './output';
import {
  DatasetIdentity, exists, FORMAT_NAME, FORMAT_VERSION, identityDifferences, identityOf, isManifestOnly, Manifest, MANIFEST_NAME,
  manifestText, PartInfo, PHILOX_STREAM, readManifest, shardNames, ShardEntry, writeManifest,
} from './manifest';
import { ClassParams, loadNative, NativeAddon, NativeSpec } from './native';
import { PART_MANIFEST_PATTERN, partManifestName, workerShardRange } from './workers';
import { BuildOptions, producedClasses } from './options';
import { Reporter } from './progress';
import { checkShard } from './verify';

const GENERATOR = `vatom-fast ${require('../package.json').version as string}`;

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

/** Everything that decides the dataset's bytes, from validated options. */
export function datasetIdentity(options: BuildOptions): DatasetIdentity {
  const classes = producedClasses(options);
  const imageBytes = options.config.imageSize ** 2;
  const classesPerShard = Math.max(1, Math.floor(DEFAULT_SHARD_BYTES / (options.instances * imageBytes)));
  const identity: DatasetIdentity = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    rng: options.rng,
    stream: options.rng === 'philox' ? PHILOX_STREAM : 'cpython-mt19937/render_VisualAtom.py',
    seed: options.rng === 'philox' ? options.seed : 'per process: t + 1',
    config: { ...options.config },
    imageSize: options.config.imageSize,
    startClass: options.startClass,
    requestedClasses: options.classes,
    classes,
    instances: options.instances,
    imageCount: classes * options.instances,
    shardSize: options.shardSize ?? Math.min(classesPerShard, classes) * options.instances,
  };
  if (options.rng === 'reference') identity.referenceThreads = options.referenceThreads;
  return identity;
}

/** The shard list of a dataset: ranges of shardSize images, the last one shorter. */
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

/** Bytes a shard of `count` images takes on disk, images and labels (lib/format.ts). */
function shardBytes(identity: DatasetIdentity, count: number): number {
  const bytes = shardFileBytes(identity.imageSize, count);
  return bytes.images + bytes.labels;
}

/** Bytes the .npy shards of a dataset take: what a manifest-only dataset would take stored. */
export function storedBytes(identity: DatasetIdentity): number {
  const full = Math.floor(identity.imageCount / identity.shardSize);
  const rest = identity.imageCount % identity.shardSize;
  return full * shardBytes(identity, identity.shardSize) + (rest > 0 ? shardBytes(identity, rest) : 0);
}

/** Human-readable size, decimal units as disks are sold. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; ++u; }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Files a build, a worker or a merge may leave in a dataset directory. */
const DATASET_FILE = /^(manifest(\.part-\d+-of-\d+)?\.json|(images|labels)-\d+\.npy)(\.tmp)?$/;
const isDatasetFile = (name: string) => DATASET_FILE.test(name) || LOCK_FILE.test(name);

/** The manifests in a dataset directory: the merged or single-build one, and workers' partial ones. */
function manifestsIn(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f === MANIFEST_NAME || PART_MANIFEST_PATTERN.test(f)).sort();
}

/**
 * Refuses an output that is a file, not ours, not writable, or holds another configuration, before
 * any work. Returns the shard entries already recorded for this build's part of the layout.
 */
function checkOutput(options: BuildOptions, identity: DatasetIdentity, plan: ShardEntry[]): ShardEntry[] | undefined {
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

/** The native spec of validated options (class parameters added once drawn). */
export function nativeSpec(options: BuildOptions): NativeSpec {
  return {
    config: { ...options.config },
    rng: options.rng,
    seed: options.seed,
    startClass: options.startClass,
    classes: producedClasses(options),
    instances: options.instances,
    referenceThreads: options.referenceThreads,
  };
}

/** Refusals that depend on the native build (device support); thrown before any work. */
export function resolveDevice(options: BuildOptions, native: NativeAddon): DeviceChoice {
  const c = native.cuda;
  return chooseDevice(options.device, { cuda: c.compiled, cudaDevices: c.devices, names: c.names, error: c.error }, options.rng);
}

/** Warns of classes a reference split does not produce and of parameters that draw degenerate images. */
function warnOfOptions(options: BuildOptions, identity: DatasetIdentity, reporter: Reporter): void {
  if (options.rng === 'reference' && identity.classes !== options.classes) {
    reporter.log(`warning: the reference with ${options.referenceThreads} processes makes ${identity.classes} of ` +
      `${options.classes} classes (each process makes floor(classes / processes)); the last ` +
      `${options.classes - identity.classes} are not produced`);
  }
  for (const warning of drawingWarnings(options.config)) reporter.log(`warning: ${warning}`);
}

/** The dataset identity of options; refuses a reference split that makes no class, more classes than a manifest may list and more shards than it may have. */
function nonEmptyIdentity(options: BuildOptions): DatasetIdentity {
  const identity = datasetIdentity(options);
  if (identity.classes === 0) {
    throw new VatomError('BAD_OPTION', `Invalid value for --classes: ${options.classes}; the reference with ${options.referenceThreads} processes makes no class of it`, EXIT_BAD_INPUT);
  }
  checkClassCount(options.classes, identity.classes);
  // Sized before anything is spent on it: the plan holds one entry per shard, and a manifest (even a
  // manifest-only one) whose layout has more shards than the format allows is refused when read.
  const layoutShards = Math.ceil(identity.imageCount / identity.shardSize);
  if (layoutShards > MAX_SHARDS) {
    throw new VatomError('BAD_OPTION',
      `Invalid value for --shard-size: ${identity.shardSize}; ${identity.imageCount} images make ${layoutShards} shards of it, at most ${MAX_SHARDS} are allowed ` +
      `(use --shard-size ${Math.ceil(identity.imageCount / MAX_SHARDS)} or more)`, EXIT_BAD_INPUT);
  }
  return identity;
}

/**
 * Writes the manifest-only dataset of `options`: manifest.json alone (identity, every class's drawn
 * parameters, `"storage": "manifest"`, no shards), atomically and under the directory lock. A later
 * `build` (npy) of the same options into the same directory adds the shards.
 */
export async function buildManifest(options: BuildOptions, reporter?: Reporter): Promise<ManifestBuildSummary> {
  const startedAt = process.hrtime.bigint();
  if (options.worker) {
    throw badOption('format', 'manifest', 'npy for a sharded build (a scheduler array index is set in the environment)');
  }
  const native = loadNative();
  const identity = nonEmptyIdentity(options);
  checkOutput(options, identity, []);
  if (reporter) {
    warnOfOptions(options, identity, reporter);
  }
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
export async function build(options: BuildOptions, reporter: Reporter, signal?: AbortSignal): Promise<BuildSummary> {
  const native = loadNative();
  const device = resolveDevice(options, native);
  const identity = nonEmptyIdentity(options);
  const layout = planShards(identity);
  const worker = options.worker;
  const [firstShard, endShard] = worker ? workerShardRange(layout.length, worker.index, worker.count) : [0, layout.length];
  const plan = layout.slice(firstShard, endShard);
  const recorded = checkOutput(options, identity, plan);
  const shards = recorded ?? plan;
  const pending = shards.filter((s) => s.imagesSha256 === null);
  checkFreeSpace(options.out, pending.reduce((sum, s) => sum + shardBytes(identity, s.count), 0));

  warnOfOptions(options, identity, reporter);
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

async function buildLocked(options: BuildOptions, identity: DatasetIdentity, shards: ShardEntry[], part: PartInfo | undefined,
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

  const generator = new native.Generator({ ...spec, classParams }, options.threads, device.device);
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
