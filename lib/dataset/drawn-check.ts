/**
 * Whether a manifest describes what its configuration makes: the class parameters against a fresh
 * draw, and sample images against a fresh render. No checksum covers this.
 */
import * as fs from 'fs';
import { VatomError } from '../errors';
import { ClassParams, loadNative } from '../native';
import type { ValidatedBuildOptions } from '../options/build';
import { openRegularInside } from '../safe-fs';
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
  const generator = new (loadNative().Generator)({ ...nativeSpec(optionsOfIdentity(m, 1)), classParams: drawnParams(m) }, 1, 'cpu');
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

