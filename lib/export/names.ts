/** The names an export gives its files: the reference's PNG tree and WebDataset shards and sample keys. */
import type { ImageSource } from './source';

/** One WebDataset shard; bytes and sha256 are null until it is written. */
export interface TarShardEntry {
  name: string;
  first: number;
  count: number;
  bytes: number | null;
  sha256: string | null;
}

/** n in decimal, zero-padded to at least `width` digits (printf %0Nd). */
export function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** The reference script's class folder: `%05d` of the absolute class index. */
export function classFolder(cls: number): string {
  return pad(cls, 5);
}

/** The reference script's file name: `vertex_%04d_instance_%04d.png`. */
export function pngFileName(vertices: number, instance: number): string {
  return `vertex_${pad(vertices, 4)}_instance_${pad(instance, 4)}.png`;
}

/**
 * Where a family's reference script writes an image, relative to its output root: VisualAtom's
 * `%05d/vertex_%04d_instance_%04d.png`, RCDB's `image/%05d/%05d_%04d.png`.
 */
export function pngPlace(family: string, cls: number, vertices: number, instance: number): { folder: string; name: string } {
  if (family === 'rcdb') return { folder: `image/${classFolder(cls)}`, name: `${pad(cls, 5)}_${pad(instance, 4)}.png` };
  return { folder: classFolder(cls), name: pngFileName(vertices, instance) };
}

/** RCDB's per-class parameter file, `param/%05d.csv`. */
export const PARAM_FOLDER = 'param';
export function paramFileName(cls: number): string {
  return `${pad(cls, 5)}.csv`;
}

/** Shard file names for `count` images: PREFIX-000000.tar, ... */
export function planTarShards(prefix: string, images: number, perShard: number): TarShardEntry[] {
  const shards: TarShardEntry[] = [];
  for (let first = 0, j = 0; first < images; first += perShard, ++j) {
    shards.push({ name: `${prefix}-${pad(j, 6)}.tar`, first, count: Math.min(perShard, images - first), bytes: null, sha256: null });
  }
  return shards;
}

/** The brace pattern of a shard list (`PREFIX-{000000..000020}.tar`), as WebDataset and pretrain.py --trainshards take it. */
export function bracePattern(prefix: string, shards: number): string {
  return `${prefix}-{${pad(0, 6)}..${pad(shards - 1, 6)}}.tar`;
}

/**
 * Sample keys: `CLASS_INSTANCE`, zero-padded to the same widths throughout a dataset (at least 5 and
 * 4 digits), so that keys sort in dataset order. No dots: WebDataset splits key and extension at the first.
 */
export function sampleKeyFormat(source: Pick<ImageSource, 'startClass' | 'classes' | 'instances'>): (cls: number, instance: number) => string {
  const classWidth = Math.max(5, String(source.startClass + source.classes - 1).length);
  const instanceWidth = Math.max(4, String(source.instances - 1).length);
  return (cls, instance) => `${pad(cls, classWidth)}_${pad(instance, instanceWidth)}`;
}
