import { checkManifestOnly, renderedImagesProblem, spotCheckProblem } from './dataset/drawn-check';
import { isManifestOnly, Manifest, readManifest, Storage } from './dataset/manifest';
import { describeNonDataset } from './dataset/not-a-dataset';
import { checkShard } from './dataset/shard-check';
import { VatomError } from './errors';
import { defaultThreads } from './options/build';
import { createReporter, Reporter } from './progress';

/** The outcome of checking a dataset against its manifest. */
export interface VerifyReport {
  ok: boolean;
  problems: string[];
  /** `manifest`: no shards; its class parameters were checked against a fresh draw instead. */
  storage: Storage;
  shardsChecked: number;
  bytesChecked: number;
  classesChecked: number;
  /** With `full`: the images rendered again and compared with the stored ones. */
  imagesRendered?: number;
}

/** What verify checks beyond the default, and how it runs. */
export interface VerifyRun {
  /** Also render every image again and compare it with the stored one. */
  full?: boolean;
  /** Rendering threads of the full check (default: every core). */
  threads?: number;
  reporter?: Reporter;
  signal?: AbortSignal;
}

/**
 * Checks DIR against its manifest: every shard's presence, size, .npy header and sha256, every label
 * against its image's index, the class parameters against a fresh draw and two images against a fresh
 * render; with `full`, every image against a fresh render. Of a manifest-only dataset: its class
 * parameters (checkManifestOnly).
 */
export async function verifyDataset(dir: string, run: VerifyRun = {}): Promise<VerifyReport> {
  const notADataset = describeNonDataset(dir);
  if (notADataset !== undefined) return { ok: false, problems: [notADataset], storage: 'npy', shardsChecked: 0, bytesChecked: 0, classesChecked: 0 };
  let manifest: Manifest;
  try {
    manifest = readManifest(dir);
  } catch (err) {
    if (err instanceof VatomError) return { ok: false, problems: [err.message], storage: 'npy', shardsChecked: 0, bytesChecked: 0, classesChecked: 0 };
    throw err;
  }
  if (isManifestOnly(manifest)) {
    const problems = await checkManifestOnly(manifest);
    return { ok: problems.length === 0, problems, storage: 'manifest', shardsChecked: 0, bytesChecked: 0, classesChecked: problems.length === 0 ? manifest.classes : 0 };
  }
  const problems: string[] = [];
  // No checksum covers the identity and class parameters: they are drawn again and compared.
  problems.push(...await checkManifestOnly(manifest));
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
  // Only once the files match the manifest: is the manifest the configuration that made them?
  let imagesRendered: number | undefined;
  if (problems.length === 0 && run.full) {
    const reporter = run.reporter ?? createReporter({ quiet: true });
    const wrong = await renderedImagesProblem(dir, manifest, { threads: run.threads ?? defaultThreads(), reporter, signal: run.signal });
    if (wrong) problems.push(wrong);
    imagesRendered = manifest.shards.reduce((sum, s) => sum + (s.imagesSha256 === null ? 0 : s.count), 0);
  } else if (problems.length === 0) {
    const spot = await spotCheckProblem(dir, manifest);
    if (spot) problems.push(`manifest.json: ${spot}`);
  }
  return { ok: problems.length === 0, problems, storage: 'npy', shardsChecked: manifest.shards.length, bytesChecked, classesChecked: manifest.classes,
    ...(imagesRendered !== undefined ? { imagesRendered } : {}) };
}

