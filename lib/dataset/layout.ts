/** The names and sizes of the files a dataset directory holds: what every reader and writer agrees on. */
import { LIMITS } from '../options/limits';

export const MANIFEST_NAME = 'manifest.json';
/** The file an export keeps in its output directory: what it was made from, how, and how far it got. */
export const EXPORT_MARKER = 'vatom-export.json';

/** Shards hold whole classes adding up to about this many bytes unless --shard-size says otherwise. */
export const DEFAULT_SHARD_BYTES = 1 << 30;
/** Bytes before the first image of an images shard, and before the first label of a labels shard. */
export const IMAGES_DATA_OFFSET = 4096;
export const LABELS_DATA_OFFSET = 128;
/** Shards one layout may have (the manifest lists each). */
export const MAX_SHARDS = LIMITS.shards;

/** Images shard and labels shard of shard i: the only names a dataset's shards may have. */
export function shardNames(index: number): { images: string; labels: string } {
  const n = String(index).padStart(5, '0');
  return { images: `images-${n}.npy`, labels: `labels-${n}.npy` };
}

/** File name of a worker's partial manifest. */
export function partManifestName(index: number, count: number): string {
  return `manifest.part-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.json`;
}

export const PART_MANIFEST_PATTERN = /^manifest\.part-(\d{5,})-of-(\d{5,})\.json$/;

/** Files a build, a worker or a merge may leave in a dataset directory (besides its lock). */
const DATASET_FILE = /^(manifest(\.part-\d+-of-\d+)?\.json|(images|labels)-\d+\.npy)(\.tmp)?$/;

/** Whether `name` is one of the files a build, a worker or a merge writes. */
export function isDatasetFileName(name: string): boolean {
  return DATASET_FILE.test(name);
}

/** Shards [begin, end) of the layout that worker `index` of `count` writes: contiguous runs. */
export function workerShardRange(shards: number, index: number, count: number): [number, number] {
  return [Math.floor((index * shards) / count), Math.floor(((index + 1) * shards) / count)];
}

/** Bytes of an images shard and of a labels shard of `count` images of S x S. */
export function shardFileBytes(imageSize: number, count: number): { images: number; labels: number } {
  return { images: IMAGES_DATA_OFFSET + count * imageSize * imageSize, labels: LABELS_DATA_OFFSET + 4 * count };
}

/** Bytes both files of a shard of `count` images take. */
export function shardBytes(imageSize: number, count: number): number {
  const bytes = shardFileBytes(imageSize, count);
  return bytes.images + bytes.labels;
}

/** Bytes the .npy shards of a dataset take: what a manifest-only dataset would take stored. */
export function storedBytes(layout: { imageSize: number; imageCount: number; shardSize: number }): number {
  const full = Math.floor(layout.imageCount / layout.shardSize);
  const rest = layout.imageCount % layout.shardSize;
  return full * shardBytes(layout.imageSize, layout.shardSize) + (rest > 0 ? shardBytes(layout.imageSize, rest) : 0);
}

/** The label of image `index` in the class-major order: a pure function of the index. */
export function labelOf(layout: { startClass: number; instances: number }, index: number): number {
  return layout.startClass + Math.floor(index / layout.instances);
}
