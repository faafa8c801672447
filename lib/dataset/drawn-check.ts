/**
 * Whether a manifest describes what its configuration makes: the class parameters against a fresh
 * draw, and sample images against a fresh render. No checksum covers this.
 */
import * as fs from 'fs';
import { VatomError } from '../errors';
import { ClassParams, loadNative, NativeGenerator, startGenerator } from '../native';
import type { ValidatedBuildOptions } from '../options/build';
import type { Reporter } from '../progress';
import { openRegularInside, openRegularInsideAsync } from '../safe-fs';
import { datasetIdentity, identityDifferences, nativeSpec, optionsOfIdentity } from './identity';
import { drawnParams, Manifest, ShardEntry } from './manifest';

/**
 * Problems with a manifest's identity and class parameters, all a manifest-only dataset holds (and
 * what no checksum of a stored dataset covers): its identity must be the one its own configuration
 * gives, and every class's parameters exactly what that configuration and seed draw natively. Only
 * the first differing class is named (and how many differ).
 */
export async function checkManifestOnly(m: Manifest): Promise<string[]> {
  let options: ValidatedBuildOptions;
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
  // readManifest has checked each entry's shape and class index (schema and format rules): only the values are compared.
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
  const generator = generatorOf(m, 1);
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


/** A CPU generator of the dataset a manifest describes (the CPU renderer is the reference for every device). */
function generatorOf(m: Manifest, threads: number): NativeGenerator {
  return startGenerator(loadNative(), { ...nativeSpec(optionsOfIdentity(m, threads)), classParams: drawnParams(m) }, threads, 'cpu');
}

/** Images compared per render: bounded memory; the reference stream renders whole classes, as it replays each from its start. */
function renderBatch(m: Manifest): number {
  const bytes = m.imageSize ** 2;
  const batch = Math.max(1, Math.floor((64 << 20) / bytes));
  return m.rng === 'reference' && m.instances * bytes <= 256 << 20 ? Math.max(batch, m.instances) : batch;
}

/** How a full render check runs. */
export interface RenderCheckRun {
  threads: number;
  reporter: Reporter;
  signal?: AbortSignal;
}

/**
 * The first written image that is not what the manifest's configuration renders, every one rendered
 * again and compared with the file (at render speed), named by class, instance and shard; undefined
 * if all are. A checksum only shows that a file is what the manifest records; this shows that the
 * bytes are what the dataset is, wherever a change hides.
 */
export async function renderedImagesProblem(dir: string, m: Manifest, run: RenderCheckRun): Promise<string | undefined> {
  const written = m.shards.filter((s) => s.imagesSha256 !== null);
  const bytes = m.imageSize ** 2;
  const batch = renderBatch(m);
  const generator = generatorOf(m, run.threads);
  const onAbort = () => generator.cancel();
  run.signal?.addEventListener('abort', onAbort);
  let done = 0;
  run.reporter.start(written.reduce((sum, s) => sum + s.count, 0), 0);
  try {
    for (const shard of written) {
      const { fh } = await openRegularInsideAsync(dir, shard.images);
      try {
        for (let begin = shard.first; begin < shard.first + shard.count; begin += batch) {
          if (run.signal?.aborted) throw new VatomError('CANCELLED', 'verify interrupted');
          const end = Math.min(shard.first + shard.count, begin + batch);
          const expected = await generator.render(begin, end).catch((err: Error) => {
            if (err.message === 'cancelled') throw new VatomError('CANCELLED', 'verify interrupted');
            throw err;
          });
          const actual = Buffer.alloc(expected.length);
          const { bytesRead } = await fh.read(actual, 0, actual.length, m.imagesDataOffset + (begin - shard.first) * bytes);
          if (bytesRead !== actual.length || !actual.equals(expected)) {
            let i = begin;
            while (i < end - 1 && actual.subarray((i - begin) * bytes, (i - begin + 1) * bytes).equals(expected.subarray((i - begin) * bytes, (i - begin + 1) * bytes))) ++i;
            const c = Math.floor(i / m.instances);
            return `image ${i} (class ${m.startClass + c}, instance ${i - c * m.instances}) in ${shard.images} is not what the manifest's configuration renders`;
          }
          done += end - begin;
          run.reporter.update(done);
        }
      } finally {
        await fh.close();
      }
    }
    return undefined;
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
    run.reporter.stop();
  }
}
