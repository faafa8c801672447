import * as fs from 'fs';
import * as path from 'path';
import { EXIT_BAD_INPUT, VatomError } from '../errors';
import { checkSchema, identityProblem, MAX_JSON_BYTES, parseFormatJson } from '../dataset/format-rules';
import { EXPORT_MARKER } from '../dataset/layout';
import { DirectoryLock, LOCK_FILE } from '../lock';
import type { ExportSettings } from '../options/export';
import { checkWritableOutput } from '../output-dir';
import { entryExists, exists, readRegularInside, writeFileAtomic } from '../safe-fs';
import { bracePattern, planTarShards, TarShardEntry } from './names';
import type { SourceIdentity } from './source';
export const EXPORT_FORMAT = 'vatom-fast-export';
export const EXPORT_VERSION = 1;

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

/** What is wrong with a marker that passed the schema, or undefined: the rules a schema cannot state. */
function markerProblem(m: ExportMarker): string | undefined {
  const identity = identityProblem(m.source as Parameters<typeof identityProblem>[0]);
  if (identity) return `source: ${identity}`;
  const st = m.settings;
  if (st.to === 'png') {
    if (st.shardImages !== undefined || st.prefix !== undefined || m.shards !== undefined || m.pattern !== undefined) {
      return 'a PNG export has no shardImages, prefix, shards or pattern';
    }
    if ((m.doneThrough ?? 0) > m.source.imageCount) return `doneThrough ${m.doneThrough} is beyond the ${m.source.imageCount} images`;
    return undefined;
  }
  if (st.shardImages === undefined || st.prefix === undefined || m.shards === undefined || m.pattern === undefined || m.doneThrough !== undefined) {
    return 'a WebDataset export has shardImages, prefix, shards and pattern, and no doneThrough';
  }
  const expected = Math.ceil(m.source.imageCount / st.shardImages);
  if (m.shards.length !== expected) return `lists ${m.shards.length} shards, ${m.source.imageCount} images in shards of ${st.shardImages} make ${expected}`;
  const plan = planTarShards(st.prefix, m.source.imageCount, st.shardImages);
  for (const [j, s] of m.shards.entries()) {
    if (s.name !== plan[j].name || s.first !== plan[j].first || s.count !== plan[j].count) {
      return `shards[${j}] is ${s.name} (images ${s.first} + ${s.count}); shard ${j} is ${plan[j].name} (images ${plan[j].first} + ${plan[j].count})`;
    }
    if ((s.bytes === null) !== (s.sha256 === null)) return `shards[${j}] records bytes or sha256 but not both`;
    if (m.complete && s.sha256 === null) return `complete is true but shards[${j}] is not recorded as written`;
  }
  if (m.pattern !== bracePattern(st.prefix, expected)) return `pattern ${m.pattern} is not ${bracePattern(st.prefix, expected)}`;
  return undefined;
}

/** Reads DIR2/vatom-export.json, or undefined if there is none; refuses (exit 2) one that does not pass the format. */
export function readMarker(out: string): ExportMarker | undefined {
  const file = path.join(out, EXPORT_MARKER);
  if (!entryExists(out, EXPORT_MARKER)) return undefined;
  let m: ExportMarker;
  try {
    m = parseFormatJson(readRegularInside(out, EXPORT_MARKER, MAX_JSON_BYTES).toString('utf8'), file) as ExportMarker;
    if (m === null || typeof m !== 'object' || m.format !== EXPORT_FORMAT || m.version !== EXPORT_VERSION) {
      throw new VatomError('BAD_MANIFEST', `${file} is not a vatom-fast export marker of version ${EXPORT_VERSION}`);
    }
    checkSchema('exportMarker', m, file);
    const problem = markerProblem(m);
    if (problem) throw new VatomError('BAD_MANIFEST', `${file}: ${problem}`);
  } catch (err) {
    if (!(err instanceof VatomError)) throw err;
    throw new VatomError('OUTPUT_CONFLICT', `--out ${out}: ${err.message}; use another --out or delete it`, EXIT_BAD_INPUT);
  }
  return m;
}

/** Writes the marker under a temporary name created exclusively, syncs it and renames it over the old one. */
export function writeMarker(out: string, marker: ExportMarker): void {
  writeFileAtomic(out, EXPORT_MARKER, `${JSON.stringify(marker, null, 1)}\n`);
}

/**
 * Checks the output (checkExportOutput), creates it and takes its directory lock, then checks it
 * again under the lock: what it returns is what no other export can change until `lock` is released.
 */
export function openExportOutput(out: string, wanted: Pick<ExportMarker, 'settings' | 'source'>): { previous: ExportMarker | undefined; lock: DirectoryLock } {
  checkExportOutput(out, wanted);
  fs.mkdirSync(out, { recursive: true });
  const lock = DirectoryLock.acquire(out, 'vatom-fast export');
  try {
    return { previous: checkExportOutput(out, wanted), lock };
  } catch (err) {
    lock.release();
    throw err;
  }
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
      const entries = fs.readdirSync(out).filter((f) => !LOCK_FILE.test(f));
      if (entries.length > 0) {
        throw new VatomError('OUTPUT_CONFLICT',
          `--out ${out} exists, is not empty (${entries.length} entries) and is not a vatom-fast export; use a new or empty directory`,
          EXIT_BAD_INPUT);
      }
    }
  }
  return previous;
}
