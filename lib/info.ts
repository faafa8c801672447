import { manifestFamily } from './dataset/identity';
import { storedBytes } from './dataset/layout';
import { isManifestOnly, Manifest, readManifest, Storage } from './dataset/manifest';
import { describeNonDataset } from './dataset/not-a-dataset';
import { VatomError } from './errors';
import type { GeneratorConfig } from './generators/visualatom';

/** What a dataset holds and how it was made (`vatom-fast info --json` prints it). */
export interface DatasetInfo {
  dir: string;
  complete: boolean;
  storage: Storage;
  /** Manifest-only: images render on access, and would take storedBytes as .npy shards. */
  rendersOnAccess?: true;
  storedBytes?: number;
  /** The generator family (version 1 datasets: visualatom). */
  family: string;
  rng: 'philox' | 'reference';
  stream: string;
  seed: string;
  referenceThreads?: number;
  classes: number;
  startClass: number;
  instances: number;
  images: number;
  imageSize: number;
  shards: number;
  shardsWritten: number;
  bytes: number;
  config: GeneratorConfig;
  generator: string;
}

/** The manifest of the dataset in `dir`; what is not a dataset is refused with what it is (NOT_A_DATASET). */
export function readDataset(dir: string): Manifest {
  const notADataset = describeNonDataset(dir);
  if (notADataset !== undefined) throw new VatomError('NOT_A_DATASET', notADataset);
  return readManifest(dir);
}

/** What the dataset in `dir` holds and how it was made, from its manifest. */
export function datasetInfo(dir: string, manifest: Manifest = readDataset(dir)): DatasetInfo {
  const m = manifest;
  const written = m.shards.filter((s) => s.imagesSha256 !== null);
  return {
    dir,
    complete: m.complete,
    storage: m.storage ?? 'npy',
    ...(isManifestOnly(m) ? { rendersOnAccess: true as const, storedBytes: storedBytes(m) } : {}),
    family: manifestFamily(m),
    rng: m.rng,
    stream: m.stream,
    seed: m.seed,
    ...(m.referenceThreads !== undefined ? { referenceThreads: m.referenceThreads } : {}),
    classes: m.classes,
    startClass: m.startClass,
    instances: m.instances,
    images: m.imageCount,
    imageSize: m.imageSize,
    shards: m.shards.length,
    shardsWritten: written.length,
    bytes: written.reduce((sum, s) => sum + (s.imagesBytes ?? 0) + (s.labelsBytes ?? 0), 0),
    config: m.config,
    generator: m.generator,
  };
}
