import * as fs from 'fs';
import * as path from 'path';
import { datasetIdentity, nativeSpec, resolveDevice } from '../build';
import { EXIT_BAD_INPUT, VatomError } from '../errors';
import { DatasetIdentity, identityOf, isManifestOnly, Manifest, readManifest, resolveShardPath } from '../manifest';
import { ClassParams, loadNative, NativeGenerator } from '../native';
import { readNpyHeader } from '../npy';
import { BuildOptions, optionsOfIdentity } from '../options';
import { checkManifestOnly } from '../verify';
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
  close(): Promise<void>;
}

/** The identity of a dataset, less the shard layout, with keys in a fixed order. */
export function toSourceIdentity(identity: DatasetIdentity): SourceIdentity {
  const { shardSize: _layout, ...source } = identityOf(identity);
  return source;
}

/** Reads images straight from the .npy shards of a complete dataset (pread, no memory map). */
export class DatasetSource implements ImageSource {
  readonly identity: SourceIdentity;
  readonly imageSize: number;
  readonly startClass: number;
  readonly classes: number;
  readonly instances: number;
  readonly imageCount: number;
  readonly classParams: ReadonlyArray<ClassParams & { class: number }>;
  private readonly paths: string[];

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
    this.paths = m.shards.map((s) => resolveShardPath(dir, s.images));
    if (!m.complete || m.shards.some((s) => s.imagesSha256 === null)) {
      throw new VatomError('NOT_A_DATASET',
        `${dir} is an incomplete dataset (${m.shards.filter((s) => s.imagesSha256 !== null).length} of ${m.shards.length} shards written); ` +
        'rerun its build command to finish it first', EXIT_BAD_INPUT);
    }
    if (!Array.isArray(m.classParams) || m.classParams.length !== m.classes) {
      throw new VatomError('BAD_MANIFEST', `${dir}/manifest.json lists parameters for ${m.classParams?.length} classes, expected ${m.classes}`, EXIT_BAD_INPUT);
    }
    const imageBytes = m.imageSize ** 2;
    m.shards.forEach((s, i) => {
      const file = this.paths[i];
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        throw new VatomError('NOT_A_DATASET', `${dir}: shard ${s.images} is missing; run vatom-fast verify ${dir}`, EXIT_BAD_INPUT);
      }
      let offset: number;
      try {
        offset = readNpyHeader(file).dataOffset;
      } catch (err) {
        throw new VatomError('NOT_A_DATASET', `${dir}: shard ${s.images}: ${(err as Error).message}; run vatom-fast verify ${dir}`, EXIT_BAD_INPUT);
      }
      if (size !== s.imagesBytes || offset !== m.imagesDataOffset || size !== offset + s.count * imageBytes) {
        throw new VatomError('NOT_A_DATASET',
          `${dir}: shard ${s.images} has ${size} bytes (data at ${offset}), the manifest says ${s.imagesBytes} (data at ${m.imagesDataOffset}); ` +
          `run vatom-fast verify ${dir}`, EXIT_BAD_INPUT);
      }
    });
  }

  async read(begin: number, end: number): Promise<Buffer> {
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
      const fh = await fs.promises.open(this.paths[s], 'r');
      try {
        const want = (upto - i) * bytes;
        const at = (i - begin) * bytes;
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(out, at + got, want - got,
            this.manifest.imagesDataOffset + (i - shard.first) * bytes + got);
          if (bytesRead === 0) throw new VatomError('IO', `${this.paths[s]} ended early; run vatom-fast verify ${this.dir}`);
          got += bytesRead;
        }
      } finally {
        await fh.close();
      }
      i = upto;
    }
    return out;
  }

  async close(): Promise<void> {}
}

/**
 * The images of dataset directory DIR: read from its shards, or, for a manifest-only dataset, rendered
 * by the native generator with `threads` threads once its class parameters have been checked against
 * a fresh draw (the same images its shards would hold; exit 2 naming the first disagreement).
 */
export async function openDatasetSource(dir: string, threads: number): Promise<ImageSource> {
  const manifest = readManifestForExport(dir);
  if (!isManifestOnly(manifest)) return new DatasetSource(dir, manifest);
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
  private readonly oneJob = new Semaphore(1);

  private constructor(options: BuildOptions) {
    this.identity = toSourceIdentity(datasetIdentity(options));
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
  static async open(options: BuildOptions): Promise<RenderSource> {
    const source = new RenderSource(options);
    if (source.classes === 0) {
      throw new VatomError('BAD_OPTION', `Invalid value for --classes: ${options.classes}; the reference with ${options.referenceThreads} processes makes no class of it`, EXIT_BAD_INPUT);
    }
    const native = loadNative();
    const spec = nativeSpec(options);
    const params = await native.drawClassParams(spec);
    source.params = params.map((p, i) => ({ class: source.startClass + i, ...p }));
    source.generator = new native.Generator({ ...spec, classParams: params }, options.threads, resolveDevice(options, native).device);
    return source;
  }

  read(begin: number, end: number): Promise<Buffer> {
    return this.oneJob.run(() => this.generator!.render(begin, end));
  }

  async close(): Promise<void> {}
}

/** The absolute path of p, for comparing directories. */
export function samePath(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}
