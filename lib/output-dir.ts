import * as fs from 'fs';
import * as path from 'path';
import { EXIT_BAD_INPUT, VatomError } from './errors';
import { exists } from './safe-fs';

/** The path itself if it exists, else its nearest existing ancestor. */
export function nearestExisting(p: string): string {
  let dir = path.resolve(p);
  while (!exists(dir)) dir = path.dirname(dir);
  return dir;
}

/** Where `p` points if it is a symbolic link whose target does not exist; undefined otherwise. */
function danglingLink(p: string): string | undefined {
  try {
    if (!fs.lstatSync(p).isSymbolicLink() || exists(p)) return undefined;
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** Refuses (exit 2) an output path that is a file or whose nearest existing directory is not writable. */
export function checkWritableOutput(out: string): void {
  const link = danglingLink(out);
  if (link !== undefined) {
    throw new VatomError('OUTPUT_CONFLICT', `--out ${out} is a symbolic link to ${link}, which does not exist; ` +
      'create that directory, or remove the link and rerun to write a new directory there', EXIT_BAD_INPUT);
  }
  if (exists(out) && !fs.statSync(out).isDirectory()) {
    throw new VatomError('OUTPUT_CONFLICT', `--out ${out} exists and is not a directory`, EXIT_BAD_INPUT);
  }
  const existing = nearestExisting(out);
  if (!fs.statSync(existing).isDirectory()) {
    throw new VatomError('BAD_OPTION', `Invalid value for --out: ${JSON.stringify(out)}; ${existing} is not a directory`, EXIT_BAD_INPUT);
  }
  try {
    fs.accessSync(existing, fs.constants.W_OK);
  } catch {
    throw new VatomError('BAD_OPTION', `Invalid value for --out: ${JSON.stringify(out)}; ${existing} is not writable`, EXIT_BAD_INPUT);
  }
}
