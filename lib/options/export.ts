import { badOption, EXIT_BAD_INPUT, VatomError } from '../errors';
import { defaultThreads, parseBuildOptions, ValidatedBuildOptions } from './build';
import { WORKER_FLAG_ALIASES } from './cluster-worker';
import { LIMITS } from './limits';
import { parseInteger, RawOptions, text } from './values';

/** Options that decide the bytes of an export (threads do not). */
export interface ExportSettings {
  to: 'png' | 'wds';
  gray: boolean;
  pngLevel: number;
  shardImages?: number;
  prefix?: string;
}

/** Default images per WebDataset shard (the paper's 21k run: 2,100 shards of 10,000). */
export const DEFAULT_SHARD_IMAGES = 10_000;
export const DEFAULT_PREFIX = 'visualatom';
export const DEFAULT_PNG_LEVEL = 6;

/** Everything `vatom-fast export` needs, validated. */
export interface ValidatedExportOptions {
  dir: string;
  out: string;
  settings: ExportSettings;
  threads: number;
  quiet: boolean;
  json: boolean;
}

const given = (raw: RawOptions, name: string): boolean => raw[name] !== undefined && raw[name] !== false;

/**
 * Validates how images are written for output format `to`; throws a VatomError (exit 2) naming the
 * first bad option. Options that do not apply to `to` are refused rather than ignored.
 */
export function parseExportSettings(raw: RawOptions, to: 'png' | 'wds'): ExportSettings {
  const gray = raw.gray === true;
  const pngLevel = given(raw, 'png-level') ? parseInteger('png-level', raw['png-level'], 0, 9) : DEFAULT_PNG_LEVEL;
  if (to === 'png') {
    for (const name of ['shard-images', 'prefix']) {
      if (given(raw, name)) throw badOption(name, raw[name], `no --${name} with png output (it applies to WebDataset shards, wds)`);
    }
    return { to, gray, pngLevel };
  }
  const shardImages = given(raw, 'shard-images')
    ? parseInteger('shard-images', raw['shard-images'], 1, Number.MAX_SAFE_INTEGER) : DEFAULT_SHARD_IMAGES;
  let prefix = DEFAULT_PREFIX;
  if (given(raw, 'prefix')) {
    prefix = text(raw.prefix);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(prefix)) {
      throw badOption('prefix', raw.prefix, 'a file name prefix of letters, digits, ".", "_" and "-", starting with a letter or digit, at most 100 characters');
    }
  }
  return { to, gray, pngLevel, shardImages, prefix };
}

/** What `build` writes: .npy shards or the manifest alone, or a PNG tree or WebDataset shards and how. */
export type BuildFormat = { format: 'npy' | 'manifest' } | { format: 'png' | 'wds'; settings: ExportSettings };

/**
 * `build --format npy|manifest|png|wds` (default npy) and, for png and wds, how images are written; --gray,
 * --png-level, --shard-images and --prefix are refused where they do not apply (exit 2).
 */
export function parseBuildFormat(raw: RawOptions): BuildFormat {
  const format = raw.format === undefined ? 'npy' : text(raw.format);
  if (format !== 'npy' && format !== 'manifest' && format !== 'png' && format !== 'wds') throw badOption('format', raw.format, 'one of npy, manifest, png, wds');
  if (format === 'npy' || format === 'manifest') {
    for (const name of ['gray', 'png-level', 'shard-images', 'prefix']) {
      if (given(raw, name)) throw badOption(name, raw[name], `no --${name} with --format ${format} (it applies to --format png and wds)`);
    }
    return { format };
  }
  return { format, settings: parseExportSettings(raw, format) };
}

/** Validates the options of `vatom-fast export DIR --to png|wds --out DIR2`. */
export function parseExportOptions(raw: RawOptions): ValidatedExportOptions {
  const dir = text(raw.dir ?? '');
  if (dir === '') throw new VatomError('BAD_OPTION', 'Missing DIR: expected the dataset directory to export', EXIT_BAD_INPUT);
  if (!given(raw, 'to')) throw new VatomError('BAD_OPTION', 'Missing --to: expected png or wds', EXIT_BAD_INPUT);
  const to = text(raw.to);
  if (to !== 'png' && to !== 'wds') throw badOption('to', raw.to, 'one of png, wds');
  if (!given(raw, 'out') || text(raw.out) === '') {
    throw new VatomError('BAD_OPTION', 'Missing --out: expected the directory to write the export to', EXIT_BAD_INPUT);
  }
  const settings = parseExportSettings(raw, to);
  const threads = given(raw, 'threads') ? parseInteger('threads', raw.threads, 1, LIMITS.threads) : defaultThreads();
  return { dir, out: text(raw.out), settings, threads, quiet: raw.quiet === true, json: raw.json === true };
}

const WORKER_FLAGS: string[] = [...Object.values(WORKER_FLAG_ALIASES), ...Object.keys(WORKER_FLAG_ALIASES)];

/**
 * Refuses the sharding and worker options where `build --format` does not write .npy shards (exit 2).
 * A manifest-only build keeps --shard-size: it is part of the identity, the layout a later fill-in writes.
 */
function refuseShardOptions(raw: RawOptions, format: 'npy' | 'manifest' | 'png' | 'wds', sharded: boolean): void {
  if (format === 'npy') return;
  if (format === 'manifest') {
    for (const name of WORKER_FLAGS) {
      if (raw[name] !== undefined) throw badOption(name, raw[name], `no --${name} with --format manifest (a manifest-only build is one file)`);
    }
    return;
  }
  for (const name of ['shard-size', ...WORKER_FLAGS]) {
    if (raw[name] !== undefined) throw badOption(name, raw[name], `no --${name} with --format ${format} (it applies to .npy shards)`);
  }
  if (sharded) throw badOption('format', format, 'npy for a sharded build (a scheduler array index is set in the environment)');
}

/**
 * The options of `build` checked, for the command line and the library alike: the generator's
 * (parseBuildOptions; `env` gives the scheduler's worker index), the output format, and the sharding
 * options that format allows.
 */
export function parseBuildCommand(raw: RawOptions, env: NodeJS.ProcessEnv = process.env): { options: ValidatedBuildOptions; format: BuildFormat } {
  const options = parseBuildOptions(raw, true, env);
  const format = parseBuildFormat(raw);
  refuseShardOptions(raw, format.format, options.worker !== undefined);
  return { options, format };
}
