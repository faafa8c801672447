import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { checkManifestOnly, spotCheckProblem } from '../dataset/drawn-check';
import { DatasetIdentity, identityOf, nativeSpec, optionsOfIdentity, renderableIdentity } from '../dataset/identity';
import { isManifestOnly, Manifest, readManifest } from '../dataset/manifest';
import { resolveDevice } from '../device';
import { EXIT_BAD_INPUT, VatomError } from '../errors';
import { ClassParams, loadNative, NativeGenerator, startGenerator } from '../native';
import { parseNpyHeader } from '../npy';
import type { ValidatedBuildOptions } from '../options/build';
import { openRegularInside, openRegularInsideAsync } from '../safe-fs';
import { Semaphore } from './pool';

/** What decides the pixels of a dataset: its identity without the shard layout. */
export type SourceIdentity = Omit<DatasetIdentity, 'shardSize'>;

/** Images in class-major order, from a dataset on disk or rendered on the fly. */
export interface ImageSource {
  readonly identity: SourceIdentity;
  readonly imageSize: number;
  readonly startClass: number;
  readonly classes: number;
  readonly instances: number;
  readonly imageCount: number;
  /** Per class (offset from startClass): what it drew, with its absolute index. */
  readonly classParams: ReadonlyArray<ClassParams & { class: number }>;
  /** Gray S x S images [begin, end) of the class-major order, concatenated. */
  read(begin: number, end: number): Promise<Buffer>;
  /** Resolves once everything read so far is known to be what the source promises (a dataset: its sha256). */
  verified?(): Promise<void>;
  /** Stops a read in progress (Ctrl-C); it rejects. */
  cancel?(): void;
  close(): Promise<void>;
}

/** The identity of a dataset, less the shard layout, with keys in a fixed order. */
export function toSourceIdentity(identity: DatasetIdentity): SourceIdentity {
  const { shardSize: _layout, ...source } = identityOf(identity);
  return source;
}

/** A shard whose bytes differ from its manifest's sha256: images [first, first + count) read from it are not to be trusted. */
export class ShardMismatchError extends VatomError {
  constructor(message: string, readonly first: number, readonly count: number) {
    super('BAD_MANIFEST', message);
  }
}

/** How far one shard's images file has been read and hashed. */
interface ShardHash {
  hash: crypto.Hash | undefined;  // undefined once read out of order: hashed whole by verified()
  at: number;
  done: boolean;
}

const CATCH_UP_CHUNK = 8 << 20;

/**
 * Reads images straight from the .npy shards of a complete dataset (pread, no memory map), checking
 * what it reads: every file is opened as a regular file inside the directory and must be the very
 * file (device, inode, size) checked when the source was opened, and each shard's bytes are hashed
 * as they are read and compared with the manifest's sha256 when its last byte has been read.
 */
export class DatasetSource implements ImageSource {
  readonly identity: SourceIdentity;
  readonly imageSize: number;
  readonly startClass: number;
  readonly classes: number;
  readonly instances: number;
  readonly imageCount: number;
  readonly classParams: ReadonlyArray<ClassParams & { class: number }>;
  private readonly files: Array<{ dev: number; ino: number; size: number }> = [];
  private readonly hashes = new Map<number, ShardHash>();
  private readonly oneRead = new Semaphore(1);

  /** Opens DIR; refuses (exit 2) a directory that is not a complete dataset whose shard files have the sizes the manifest gives. */
  constructor(readonly dir: string, readonly manifest: Manifest = readManifestForExport(dir)) {
    const m = manifest;
    this.identity = toSourceIdentity(m);
    this.imageSize = m.imageSize;
    this.startClass = m.startClass;
    this.classes = m.classes;
    this.instances = m.instances;
    this.imageCount = m.imageCount;
    this.classParams = m.classParams;
    if (m.storage === 'manifest') {
      throw new VatomError('NOT_A_DATASET', `${dir} is a manifest-only dataset (storage "manifest"): it holds no images to read`, EXIT_BAD_INPUT);
    }
    if (!m.complete || m.shards.some((s) => s.imagesSha256 === null)) {
      throw new VatomError('NOT_A_DATASET',
        `${dir} is an incomplete dataset (${m.shards.filter((s) => s.imagesSha256 !== null).length} of ${m.shards.length} shards written); ` +
        'rerun its build command to finish it first', EXIT_BAD_INPUT);
    }
    m.shards.forEach((s) => {
      let opened: { fd: number; stat: fs.Stats };
      try {
        opened = openRegularInside(dir, s.images);
      } catch (err) {
        const why = err instanceof VatomError && err.code === 'NOT_A_DATASET' ? 'is missing' : (err as Error).message;
        throw new VatomError('NOT_A_DATASET', `${dir}: shard ${s.images} ${why}; run vatom-fast verify ${dir}`, EXIT_BAD_INPUT);
      }
      const { fd, stat } = opened;
      let offset: number;
      try {
        const head = Buffer.alloc(Math.min(stat.size, 65536 + 16));
        offset = parseNpyHeader(head.subarray(0, fs.readSync(fd, head, 0, head.length, 0))).dataOffset;
      } catch (err) {
        throw new VatomError('NOT_A_DATASET', `${dir}: shard ${s.images}: ${(err as Error).message}; run vatom-fast verify ${dir}`, EXIT_BAD_INPUT);
      } finally {
        fs.closeSync(fd);
      }
      if (stat.size !== s.imagesBytes || offset !== m.imagesDataOffset) {
        throw new VatomError('NOT_A_DATASET',
          `${dir}: shard ${s.images} has ${stat.size} bytes (data at ${offset}), the manifest says ${s.imagesBytes} (data at ${m.imagesDataOffset}); ` +
          `run vatom-fast verify ${dir}`, EXIT_BAD_INPUT);
      }
      this.files.push({ dev: stat.dev, ino: stat.ino, size: stat.size });
    });
  }

  /** Opens shard s's images file, refusing one that is not the file checked when the source was opened. */
  private async open(s: number): Promise<fs.promises.FileHandle> {
    const name = this.manifest.shards[s].images;
    const { fh, stat } = await openRegularInsideAsync(this.dir, name);
    const f = this.files[s];
    if (stat.dev !== f.dev || stat.ino !== f.ino || stat.size !== f.size) {
      await fh.close();
      throw new VatomError('IO', `${path.join(this.dir, name)} was replaced or changed while it was read; run vatom-fast verify ${this.dir}`);
    }
    return fh;
  }

  private async readFully(fh: fs.promises.FileHandle, s: number, out: Buffer, at: number, want: number, position: number): Promise<void> {
    for (let got = 0; got < want;) {
      const { bytesRead } = await fh.read(out, at + got, want - got, position + got);
      if (bytesRead === 0) {
        throw new VatomError('IO', `${path.join(this.dir, this.manifest.shards[s].images)} ended early; run vatom-fast verify ${this.dir}`);
      }
      got += bytesRead;
    }
  }

  /** Hashes bytes [from, to) of shard s's file that a read skipped, so that the shard's hash stays whole. */
  private async catchUp(fh: fs.promises.FileHandle, s: number, state: ShardHash, to: number): Promise<void> {
    const buffer = Buffer.allocUnsafe(Math.min(CATCH_UP_CHUNK, to - state.at));
    while (state.at < to) {
      const n = Math.min(buffer.length, to - state.at);
      await this.readFully(fh, s, buffer, 0, n, state.at);
      state.hash!.update(buffer.subarray(0, n));
      state.at += n;
    }
  }

  private check(s: number, state: ShardHash, digest: string): void {
    state.done = true;
    const shard = this.manifest.shards[s];
    if (digest !== shard.imagesSha256) {
      throw new ShardMismatchError(`${path.join(this.dir, shard.images)}: sha256 ${digest}, the manifest says ${shard.imagesSha256}; ` +
        `its images are not exported (run vatom-fast verify ${this.dir})`, shard.first, shard.count);
    }
  }

  read(begin: number, end: number): Promise<Buffer> {
    return this.oneRead.run(() => this.readInOrder(begin, end));
  }

  private async readInOrder(begin: number, end: number): Promise<Buffer> {
    const bytes = this.imageSize ** 2;
    const out = Buffer.allocUnsafe((end - begin) * bytes);
    const shards = this.manifest.shards;
    let lo = 0;
    let hi = shards.length - 1;
    while (lo < hi) {  // the last shard with first <= begin
      const mid = (lo + hi + 1) >> 1;
      if (shards[mid].first <= begin) lo = mid; else hi = mid - 1;
    }
    for (let i = begin, s = lo; i < end; ++s) {
      const shard = shards[s];
      const upto = Math.min(end, shard.first + shard.count);
      const fh = await this.open(s);
      try {
        const want = (upto - i) * bytes;
        const at = (i - begin) * bytes;
        const position = this.manifest.imagesDataOffset + (i - shard.first) * bytes;
        let state = this.hashes.get(s);
        if (!state) this.hashes.set(s, state = { hash: crypto.createHash('sha256'), at: 0, done: false });
        if (state.hash && state.at > position) state.hash = undefined;  // read again or backwards
        if (state.hash) await this.catchUp(fh, s, state, position);
        await this.readFully(fh, s, out, at, want, position);
        if (state.hash) {
          state.hash.update(out.subarray(at, at + want));
          state.at = position + want;
          if (state.at === this.files[s].size) this.check(s, state, state.hash.digest('hex'));
        }
      } finally {
        await fh.close();
      }
      i = upto;
    }
    return out;
  }

  /** Completes the hash of every shard read from but not to its end (or read out of order); throws ShardMismatchError for one that differs. */
  async verified(): Promise<void> {
    await this.oneRead.run(async () => {
      for (const [s, state] of [...this.hashes.entries()].sort((a, b) => a[0] - b[0])) {
        if (state.done) continue;
        const fh = await this.open(s);
        try {
          if (!state.hash) Object.assign(state, { hash: crypto.createHash('sha256'), at: 0 });
          await this.catchUp(fh, s, state, this.files[s].size);
          this.check(s, state, state.hash!.digest('hex'));
        } finally {
          await fh.close();
        }
      }
    });
  }

  async close(): Promise<void> {}
}

/**
 * The images of dataset directory DIR: read from its shards, or, for a manifest-only dataset, rendered
 * by the native generator with `threads` threads. Either way only once its class parameters have been
 * checked against a fresh draw (and a stored one's sample images against a fresh render): exit 2
 * naming the first disagreement, before anything is written.
 */
export async function openDatasetSource(dir: string, threads: number): Promise<ImageSource> {
  const manifest = readManifestForExport(dir);
  if (!isManifestOnly(manifest)) {
    const source = new DatasetSource(dir, manifest);
    // Checksums cover the files, not the manifest's own fields: what the images are named and labelled after.
    const problem = (await checkManifestOnly(manifest))[0] ?? await spotCheckProblem(dir, manifest);
    if (problem !== undefined) {
      throw new VatomError('BAD_MANIFEST', `${dir}: the manifest does not describe this dataset: ${problem}; nothing was exported (run vatom-fast verify ${dir})`,
        EXIT_BAD_INPUT);
    }
    return source;
  }
  const problems = await checkManifestOnly(manifest);
  if (problems.length > 0) {
    throw new VatomError('BAD_MANIFEST', `${dir} is a manifest-only dataset that cannot render: ${problems[0]}; run vatom-fast verify ${dir}`, EXIT_BAD_INPUT);
  }
  return RenderSource.open(optionsOfIdentity(manifest, threads));
}

function readManifestForExport(dir: string): Manifest {
  try {
    return readManifest(dir);
  } catch (err) {
    if (err instanceof VatomError) throw new VatomError(err.code, err.message, EXIT_BAD_INPUT);
    throw err;
  }
}

/** Renders images on the fly with the native generator, from validated build options. */
export class RenderSource implements ImageSource {
  readonly identity: SourceIdentity;
  readonly imageSize: number;
  readonly startClass: number;
  readonly classes: number;
  readonly instances: number;
  readonly imageCount: number;
  private params: Array<ClassParams & { class: number }> = [];
  private generator: NativeGenerator | undefined;
  private cancelled = false;
  private readonly oneJob = new Semaphore(1);

  private constructor(options: ValidatedBuildOptions) {
    this.identity = toSourceIdentity(renderableIdentity(options));
    this.imageSize = this.identity.imageSize;
    this.startClass = this.identity.startClass;
    this.classes = this.identity.classes;
    this.instances = this.identity.instances;
    this.imageCount = this.identity.imageCount;
  }

  get classParams(): ReadonlyArray<ClassParams & { class: number }> {
    return this.params;
  }

  /** Draws the class parameters and starts a generator on the device --device picks, with options.threads threads. */
  static async open(options: ValidatedBuildOptions): Promise<RenderSource> {
    const source = new RenderSource(options);
    const native = loadNative();
    const spec = nativeSpec(options);
    const params = await native.drawClassParams(spec);
    source.params = params.map((p, i) => ({ class: source.startClass + i, ...p }));
    source.generator = startGenerator(native, { ...spec, classParams: params }, options.threads, resolveDevice(options, native).device);
    return source;
  }

  read(begin: number, end: number): Promise<Buffer> {
    return this.oneJob.run(() => (this.cancelled ? Promise.reject(new Error('cancelled')) : this.generator!.render(begin, end)));
  }

  /** Stops the render in progress and refuses those queued (Ctrl-C): the native renderers check the flag between orbits. */
  cancel(): void {
    this.cancelled = true;
    this.generator?.cancel();
  }

  async close(): Promise<void> {}
}
