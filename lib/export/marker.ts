import * as fs from 'fs';
import * as path from 'path';
import { EXIT_BAD_INPUT, VatomError } from '../errors';
import { exists } from '../manifest';
import { checkWritableOutput } from '../output';
import type { SourceIdentity } from './source';

/** The file an export keeps in its output directory: what it was made from, how, and how far it got. */
export const EXPORT_MARKER = 'vatom-export.json';
export const EXPORT_FORMAT = 'vatom-fast-export';
export const EXPORT_VERSION = 1;

/** One WebDataset shard; bytes and sha256 are null until it is written. */
export interface TarShardEntry {
  name: string;
  first: number;
  count: number;
  bytes: number | null;
  sha256: string | null;
}

/** Options that decide the bytes of an export (threads do not). */
export interface ExportSettings {
  to: 'png' | 'wds';
  gray: boolean;
  pngLevel: number;
  shardImages?: number;
  prefix?: string;
}

/** vatom-export.json. */
export interface ExportMarker {
  format: string;
  version: number;
  generator: string;
  complete: boolean;
  settings: ExportSettings;
  source: SourceIdentity;
  /** PNG tree: images [0, doneThrough) are known written (files with final names are always whole). */
  doneThrough?: number;
  /** WebDataset: the shard list, and the brace pattern of the shard files. */
  shards?: TarShardEntry[];
  pattern?: string;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value as object).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The fields of source and settings that differ between two markers, as `name: there vs here` lines. */
export function markerDifferences(here: Pick<ExportMarker, 'settings' | 'source'>, there: Pick<ExportMarker, 'settings' | 'source'>): string[] {
  const out: string[] = [];
  for (const group of ['settings', 'source'] as const) {
    const a = (here[group] ?? {}) as unknown as Record<string, unknown>;
    const b = (there[group] ?? {}) as unknown as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const x = canonical(a[key]);
      const y = canonical(b[key]);
      if (x !== y) out.push(`${group === 'source' ? 'source ' : ''}${key}: ${y ?? 'absent'} there, ${x ?? 'absent'} here`);
    }
  }
  return out;
}

/** Reads DIR2/vatom-export.json, or undefined if there is none. */
export function readMarker(out: string): ExportMarker | undefined {
  const file = path.join(out, EXPORT_MARKER);
  if (!exists(file)) return undefined;
  let m: ExportMarker;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as ExportMarker;
  } catch (err) {
    throw new VatomError('OUTPUT_CONFLICT', `--out ${out}: ${EXPORT_MARKER} cannot be read (${(err as Error).message}); use another --out or delete it`, EXIT_BAD_INPUT);
  }
  if (m === null || typeof m !== 'object' || m.format !== EXPORT_FORMAT || m.version !== EXPORT_VERSION) {
    throw new VatomError('OUTPUT_CONFLICT', `--out ${out}: ${EXPORT_MARKER} is not a vatom-fast export marker of version ${EXPORT_VERSION}`, EXIT_BAD_INPUT);
  }
  return m;
}

/** Writes the marker under a temporary name, syncs it and renames it over the old one. */
export function writeMarker(out: string, marker: ExportMarker): void {
  const file = path.join(out, EXPORT_MARKER);
  const temp = `${file}.tmp`;
  const fd = fs.openSync(temp, 'w');
  try {
    fs.writeSync(fd, `${JSON.stringify(marker, null, 1)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
}

/**
 * Refuses an output directory that is a file, not writable, not empty and not an export, or an
 * export of another source or with other settings (exit 2, nothing written). Returns the marker of
 * an earlier run of the same export, if any.
 */
export function checkExportOutput(out: string, wanted: Pick<ExportMarker, 'settings' | 'source'>): ExportMarker | undefined {
  let previous: ExportMarker | undefined;
  checkWritableOutput(out);
  if (exists(out)) {
    previous = readMarker(out);
    if (previous) {
      const differences = markerDifferences(wanted, previous);
      if (differences.length > 0) {
        throw new VatomError('OUTPUT_CONFLICT',
          `--out ${out} holds an export of another source or with other options (${differences.join('; ')}); ` +
          'use another --out, or delete it to start over', EXIT_BAD_INPUT);
      }
    } else {
      const entries = fs.readdirSync(out);
      if (entries.length > 0) {
        throw new VatomError('OUTPUT_CONFLICT',
          `--out ${out} exists, is not empty (${entries.length} entries) and is not a vatom-fast export; use a new or empty directory`,
          EXIT_BAD_INPUT);
      }
    }
  }
  return previous;
}
