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

/** Refuses (exit 2) an output path that is a file or whose nearest existing directory is not writable. */
export function checkWritableOutput(out: string): void {
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
