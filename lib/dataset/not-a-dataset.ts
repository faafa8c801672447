import * as fs from 'fs';
import * as path from 'path';
import { EXPORT_MARKER, MANIFEST_NAME, PART_MANIFEST_PATTERN } from './layout';

/**
 * What `dir` is when it cannot be a vatom-fast dataset, as one sentence a user can act on; undefined
 * when it holds a manifest (which readManifest then checks). Looks only at names and file types.
 */
export function describeNonDataset(dir: string): string | undefined {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? `${dir} does not exist` : undefined;
  }
  if (!stats.isDirectory()) return `${dir} is not a vatom-fast dataset: it is a file, not a directory`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  if (names.includes(MANIFEST_NAME)) return undefined;
  const exported = names.includes(EXPORT_MARKER) ? 'an export by vatom-fast export or build --format' : undefined;
  if (names.some((n) => n.endsWith('.tar'))) {
    return `${dir} is a WebDataset (tar shards${exported ? `, ${exported}` : ''}), not a .npy dataset: ` +
      'verify and info read the .npy dataset it was made from; read it with webdataset';
  }
  if (names.some((n) => /^\d{5}$/.test(n) && isDirectory(path.join(dir, n)))) {
    return `${dir} is a PNG tree (class folders of PNG files${exported ? `, ${exported}` : ''}), not a .npy dataset: ` +
      'verify and info read the .npy dataset it was made from; read it with torchvision ImageFolder';
  }
  if (names.some((n) => PART_MANIFEST_PATTERN.test(n))) {
    return `${dir} holds the partial manifests of a sharded build but no manifest.json: run vatom-fast merge ${dir} once every worker is done`;
  }
  if (names.length === 0) return `${dir} is not a vatom-fast dataset: the directory is empty`;
  return undefined;
}

function isDirectory(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}
