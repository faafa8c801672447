/**
 * The library API: the command line's operations with typed camelCase options. Each call checks its
 * options with the command line's own validation (lib/options.ts, lib/export/options.ts), so the rules
 * and messages are one; errors name options as this API spells them (`imageSize`, not `--image-size`).
 */
import { build as buildDataset, buildManifest, BuildSummary, ManifestBuildSummary } from './build';
import { EXIT_BAD_INPUT, VatomError } from './errors';
import { buildExport, configureEncoders, exportDataset as exportNpyDataset, ExportSummary, parseExportOptions } from './export';
import { parseBuildCommand } from './export/options';
import { makeContactSheet, parsePreviewOptions, SheetSummary } from './export/preview';
import { mergeDataset as mergeParts, MergeReport } from './merge';
import { BuildOptions as ValidatedBuildOptions, RawOptions } from './options';
import { createReporter, Reporter } from './progress';

/** A `MIN:MAX` range of integers: `[min, max]`, one number (= `[n, n]`) or the text `"min:max"`. */
export type IntegerRange = number | readonly [number, number] | string;

/** The generator's options; each one left out takes its value from the preset. */
export interface GeneratorOptions {
  /** `visualatom-1k` (default) or `visualatom-21k`: the paper's parameters and counts. */
  preset?: 'visualatom-1k' | 'visualatom-21k';
  classes?: number;
  /** Images per class. */
  instances?: number;
  startClass?: number;
  /** Image side in pixels, 16..8192. With the philox stream, the pixel-valued defaults follow it. */
  imageSize?: number;
  vertices?: IntegerRange;
  orbits?: IntegerRange;
  noiseMin?: number;
  lineWidth?: number;
  radiusMin?: number;
  ovalRate?: number;
  startPos?: number;
  freq1?: IntegerRange;
  freq2?: IntegerRange;
  /** Seed of the philox stream, 0..2^64-1 (a bigint or decimal text above 2^53). */
  seed?: number | bigint | string;
  rng?: 'philox' | 'reference';
  referenceThreads?: number;
  device?: 'auto' | 'cpu' | 'cuda';
  /** CPU threads (default: every core). */
  threads?: number;
}

/** How images are written as PNG files (`png`, `wds`). */
export interface ImageFormatOptions {
  /** One-channel PNGs instead of RGB with R = G = B. */
  gray?: boolean;
  /** zlib level 0..9 (default 6). */
  pngLevel?: number;
  /** WebDataset: images per tar shard (default 10,000). */
  shardImages?: number;
  /** WebDataset: shard file name prefix (default `visualatom`). */
  prefix?: string;
}

/** Options of {@link build}. */
export interface BuildOptions extends GeneratorOptions, ImageFormatOptions {
  /** The dataset directory. */
  out: string;
  /**
   * `npy` (default): memory-mapped .npy shards; `manifest`: manifest.json alone (images render on access,
   * a later `npy` build adds the shards); `png`: the reference's PNG tree; `wds`: WebDataset shards.
   */
  format?: 'npy' | 'manifest' | 'png' | 'wds';
  /** Images per .npy shard (default: whole classes adding up to about 1 GiB). */
  shardSize?: number;
  /** Worker index of a sharded (cluster) build; the library does not read the scheduler's environment. */
  shardIndex?: number;
  shardCount?: number;
}

/** Options of {@link preview}. */
export interface PreviewOptions extends GeneratorOptions {
  /** The PNG file to write. */
  out: string;
  /** Take the images from this dataset instead of rendering them. */
  from?: string;
  /** Cell side in pixels, 16..4096. */
  cellSize?: number;
}

/** Options of {@link exportDataset}. */
export interface ExportOptions extends ImageFormatOptions {
  /** The .npy dataset to export. */
  dir: string;
  /** The directory to write. */
  out: string;
  to: 'png' | 'wds';
  /** Parallel PNG encoders (default: every core). */
  threads?: number;
}

/** Options of {@link mergeDataset}. */
export interface MergeOptions {
  /** Also re-hash every shard. */
  verify?: boolean;
}

/** How a long call runs: where progress goes (nowhere by default) and what cancels it. */
export interface RunOptions {
  reporter?: Reporter;
  signal?: AbortSignal;
}

const GENERATOR_KEYS = ['preset', 'classes', 'instances', 'startClass', 'imageSize', 'vertices', 'orbits', 'noiseMin', 'lineWidth',
  'radiusMin', 'ovalRate', 'startPos', 'freq1', 'freq2', 'seed', 'rng', 'referenceThreads', 'device', 'threads'] as const;
const IMAGE_FORMAT_KEYS = ['gray', 'pngLevel', 'shardImages', 'prefix'] as const;
const BUILD_KEYS = ['out', 'format', 'shardSize', 'shardIndex', 'shardCount', ...GENERATOR_KEYS, ...IMAGE_FORMAT_KEYS] as const;
const PREVIEW_KEYS = ['out', 'from', 'cellSize', ...GENERATOR_KEYS] as const;
const EXPORT_KEYS = ['dir', 'out', 'to', 'threads', ...IMAGE_FORMAT_KEYS] as const;
const MERGE_KEYS = ['verify'] as const;

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * The options record in the command line's spelling, refusing keys `call` does not know. Ranges given
 * as [min, max] become "min:max"; other values pass as they are, so messages quote them as given.
 */
function toRaw(options: object | undefined, known: readonly string[], call: string): RawOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new VatomError('BAD_OPTION', `Invalid options for ${call}: expected an object of options`, EXIT_BAD_INPUT);
  }
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new VatomError('BAD_OPTION', `Unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} for ${call}; ` +
      `expected ${known.join(', ')}`, EXIT_BAD_INPUT);
  }
  const raw: RawOptions = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    raw[kebab(key)] = Array.isArray(value) && value.length === 2 ? `${value[0]}:${value[1]}` : value;
  }
  return raw;
}

/** Runs `work` so that a refusal names each option as the API spells it. */
async function speakingApi<T>(known: readonly string[], work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw inApiTerms(err, known);
  }
}

/** A refusal (exit status 2) with each `--flag` of `known` options spelled as the API spells it. */
function inApiTerms(err: unknown, known: readonly string[]): unknown {
  if (err instanceof VatomError && err.exitCode === EXIT_BAD_INPUT) {
    const flagged = err.message;
    err.message = flagged.replace(/--([a-z][a-z0-9-]*)/g, (flag, name: string) => (known.includes(camel(name)) ? camel(name) : flag));
    if (err.stack !== undefined) err.stack = err.stack.replace(flagged, err.message);
  }
  return err;
}

/** The options of {@link build} checked as the command line checks its flags, with the output format. */
function checkBuild(options: BuildOptions) {
  return parseBuildCommand(toRaw(options, BUILD_KEYS, 'build()'), {});
}

/** Validates the options of {@link build} and fills in the defaults (the preset's, scaled to the image size). */
export function validateBuildOptions(options: BuildOptions): ValidatedBuildOptions {
  try {
    return checkBuild(options).options;
  } catch (err) {
    throw inApiTerms(err, BUILD_KEYS);
  }
}

/**
 * Renders a dataset into `options.out` (.npy shards, its manifest alone, a PNG tree or WebDataset
 * shards with `format`), resuming an interrupted build of the same options. Refuses bad options before
 * any work.
 */
export function build(options: BuildOptions, run: RunOptions = {}): Promise<BuildSummary | ManifestBuildSummary | ExportSummary> {
  return speakingApi<BuildSummary | ManifestBuildSummary | ExportSummary>(BUILD_KEYS, () => {
    const { options: validated, format } = checkBuild(options);
    const reporter = run.reporter ?? createReporter({ quiet: true });
    if ('settings' in format) return buildExport(validated, format.settings, { reporter, signal: run.signal });
    return format.format === 'manifest' ? buildManifest(validated, reporter) : buildDataset(validated, reporter, run.signal);
  });
}

/** Writes a contact sheet of `classes` rows x `instances` columns to `options.out`, rendered or read `from` a dataset. */
export function preview(options: PreviewOptions): Promise<SheetSummary> {
  return speakingApi(PREVIEW_KEYS, () => {
    const validated = parsePreviewOptions(toRaw(options, PREVIEW_KEYS, 'preview()'));
    configureEncoders(validated.threads);
    return makeContactSheet(validated);
  });
}

/** Writes the .npy dataset `options.dir` as a PNG tree or WebDataset shards, resuming an interrupted export. */
export function exportDataset(options: ExportOptions, run: RunOptions = {}): Promise<ExportSummary> {
  return speakingApi(EXPORT_KEYS, () => {
    const validated = parseExportOptions(toRaw(options, EXPORT_KEYS, 'exportDataset()'));
    configureEncoders(validated.threads);
    return exportNpyDataset(validated.dir, validated.out, validated.settings,
      { threads: validated.threads, reporter: run.reporter ?? createReporter({ quiet: true }), signal: run.signal });
  });
}

/** Joins the partial manifests of a sharded build in `dir` into manifest.json. */
export function mergeDataset(dir: string, options: MergeOptions = {}): Promise<MergeReport> {
  return speakingApi(MERGE_KEYS, () => mergeParts(dir, { verify: toRaw(options, MERGE_KEYS, 'mergeDataset()').verify === true }));
}
