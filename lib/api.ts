/**
 * The library API: the command line's operations with typed camelCase options. Each call checks its
 * options with the command line's own validation (lib/options), so the rules and messages are one;
 * errors name options as this API spells them (`imageSize`, not `--image-size`). The command line's
 * commands are thin clients of the `run*` functions here.
 */
import { build as buildNpy, buildManifest, BuildSummary, ManifestBuildSummary } from './build';
import type { Manifest } from './dataset/manifest';
import { shown } from './dataset/format-rules';
import { EXIT_BAD_INPUT, VatomError } from './errors';
import { configureEncoders } from './export/encode';
import { buildExport, exportDataset as exportStored, ExportSummary } from './export';
import { datasetInfo as infoOf, DatasetInfo, readDataset } from './info';
import { mergeDataset as mergeParts, MergeReport } from './merge';
import { GENERATOR_PARAMETERS } from './generators/presets';
import type { ValidatedBuildOptions } from './options/build';
import { parseBuildCommand, parseExportOptions } from './options/export';
import { parsePreviewOptions } from './options/preview';
import { LIMITS } from './options/limits';
import { parseInteger, RawOptions } from './options/values';
import { makeContactSheet, SheetSummary } from './preview/contact-sheet';
import { createReporter, reportWarnings, Reporter } from './progress';
import { verifyDataset as verifyDir, VerifyReport } from './verify';

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
  /** Worker index of a cluster build; the library does not read the scheduler's environment. */
  workerIndex?: number;
  /** Number of workers of a cluster build. */
  workerCount?: number;
  /** Old name of workerIndex (warned of through the reporter). */
  shardIndex?: number;
  /** Old name of workerCount (warned of through the reporter). */
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

/** Options of {@link verifyDataset}. */
export interface VerifyOptions {
  /** Also render every image again and compare it with the stored one (at render speed). */
  full?: boolean;
  /** Rendering threads of the full check (default: every core). */
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

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const FAMILY_KEYS = GENERATOR_PARAMETERS.map((p) => camel(p.option));
const GENERATOR_KEYS = ['preset', 'classes', 'instances', 'startClass', ...FAMILY_KEYS, 'seed', 'rng', 'referenceThreads', 'device', 'threads'];
const IMAGE_FORMAT_KEYS = ['gray', 'pngLevel', 'shardImages', 'prefix'];
const BUILD_KEYS = ['out', 'format', 'shardSize', 'workerIndex', 'workerCount', ...GENERATOR_KEYS, ...IMAGE_FORMAT_KEYS, 'shardIndex', 'shardCount'];
const PREVIEW_KEYS = ['out', 'from', 'cellSize', ...GENERATOR_KEYS];
const EXPORT_KEYS = ['dir', 'out', 'to', 'threads', ...IMAGE_FORMAT_KEYS];
const MERGE_KEYS = ['verify'];
const VERIFY_KEYS = ['full', 'threads'];

/** The JavaScript type each option must have, and how a message says it. */
type Kind = 'string' | 'number' | 'boolean' | 'range' | 'seed';
const EXPECTED: Readonly<Record<Kind, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  range: 'a number, [min, max] or the text "min:max"',
  seed: 'a number, a bigint or decimal text',
};
const STRING_KEYS = ['out', 'format', 'dir', 'to', 'from', 'prefix', 'preset', 'rng', 'device'];
const BOOLEAN_KEYS = ['gray', 'verify', 'full'];

function kindOf(key: string): Kind {
  if (STRING_KEYS.includes(key)) return 'string';
  if (BOOLEAN_KEYS.includes(key)) return 'boolean';
  if (key === 'seed') return 'seed';
  if (GENERATOR_PARAMETERS.some((p) => camel(p.option) === key && p.keys.length === 2)) return 'range';
  return 'number';
}

function hasKind(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number';
    case 'boolean': return typeof value === 'boolean';
    case 'range': return typeof value === 'number' || typeof value === 'string' ||
      (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number'));
    case 'seed': return typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string';
  }
}

/** A refusal of an argument or option of the wrong type, named as the API spells it (exit status 2). */
function wrongType(name: string, value: unknown, expected: string): VatomError {
  const scalar = value === null || typeof value !== 'object';
  return new VatomError('BAD_OPTION', `Invalid value for ${name}: ${shown(value)}${scalar && value !== null ? ` (${typeof value})` : ''}; expected ${expected}`,
    EXIT_BAD_INPUT);
}

/** Refuses a path argument that is not a string. */
function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string') throw wrongType(name, value, 'a string (a directory path)');
  return value;
}

/** Refuses run options (`reporter`, `signal`) of the wrong type. */
function checkRun(run: unknown): RunOptions {
  if (run === undefined) return {};
  if (run === null || typeof run !== 'object' || Array.isArray(run)) throw wrongType('run', run, 'an object with reporter and signal');
  const { reporter, signal, ...rest } = run as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new VatomError('BAD_OPTION', `Unknown run option ${unknown.join(', ')}; expected reporter, signal`, EXIT_BAD_INPUT);
  if (reporter !== undefined && (reporter === null || typeof reporter !== 'object' ||
      !['start', 'update', 'log', 'stop'].every((f) => typeof (reporter as Record<string, unknown>)[f] === 'function'))) {
    throw wrongType('reporter', reporter, 'a Reporter (an object with start, update, log and stop functions)');
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw wrongType('signal', signal, 'an AbortSignal');
  return run as RunOptions;
}

/**
 * The options record in the command line's spelling, refusing keys `call` does not know and values of
 * the wrong type. Ranges given as [min, max] become "min:max"; other values pass as they are, so
 * messages quote them as given.
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
    const kind = kindOf(key);
    if (!hasKind(value, kind)) throw wrongType(key, value, EXPECTED[kind]);
    raw[kebab(key)] = Array.isArray(value) ? `${value[0]}:${value[1]}` : value;
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
 * Sets what a process that encodes PNG files needs before its thread pool starts (sharp's threads,
 * libuv's pool size); the first call in a process decides.
 */
function prepareProcess(threads: number): void {
  configureEncoders(threads);
}

/** What a run reports to, and how it is cancelled; quiet by default. */
function runOf(run: RunOptions): { reporter: Reporter; signal?: AbortSignal } {
  return { reporter: run.reporter ?? createReporter({ quiet: true }), signal: run.signal };
}

/** `build` from options in the command line's spelling; `env` gives the scheduler's worker index. */
export function runBuild(raw: RawOptions, env: NodeJS.ProcessEnv, run: RunOptions): Promise<BuildSummary | ManifestBuildSummary | ExportSummary> {
  const { options, format } = parseBuildCommand(raw, env);
  const { reporter, signal } = runOf(run);
  if ('settings' in format) {
    prepareProcess(options.threads);
    return buildExport(options, format.settings, { reporter, signal });
  }
  return format.format === 'manifest' ? buildManifest(options, reporter) : buildNpy(options, reporter, signal);
}

/** `preview` from options in the command line's spelling. */
export function runPreview(raw: RawOptions, run: RunOptions): Promise<SheetSummary> {
  const options = parsePreviewOptions(raw);
  prepareProcess(options.threads);
  if (options.build) reportWarnings(runOf(run).reporter, options.build.warnings);
  return makeContactSheet(options);
}

/** `export` from options in the command line's spelling. */
export function runExport(raw: RawOptions, run: RunOptions): Promise<ExportSummary> {
  const options = parseExportOptions(raw);
  prepareProcess(options.threads);
  return exportStored(options.dir, options.out, options.settings, { threads: options.threads, ...runOf(run) });
}

/** `verify` from options in the command line's spelling (`threads` as text). */
export function runVerify(dir: string, raw: RawOptions, run: RunOptions): Promise<VerifyReport> {
  const threads = raw.threads === undefined ? undefined : parseInteger('threads', raw.threads, 1, LIMITS.threads);
  return verifyDir(dir, { full: raw.full === true, threads, ...runOf(run) });
}

/**
 * Renders a dataset into `options.out` (.npy shards, its manifest alone, a PNG tree or WebDataset
 * shards with `format`), resuming an interrupted build of the same options. Refuses bad options before
 * any work.
 */
export function build(options: BuildOptions, run: RunOptions = {}): Promise<BuildSummary | ManifestBuildSummary | ExportSummary> {
  return speakingApi(BUILD_KEYS, () => runBuild(toRaw(options, BUILD_KEYS, 'build()'), {}, checkRun(run)));
}

/** Writes a contact sheet of `classes` rows x `instances` columns to `options.out`, rendered or read `from` a dataset. */
export function preview(options: PreviewOptions, run: RunOptions = {}): Promise<SheetSummary> {
  return speakingApi(PREVIEW_KEYS, () => runPreview(toRaw(options, PREVIEW_KEYS, 'preview()'), checkRun(run)));
}

/** Writes the .npy dataset `options.dir` as a PNG tree or WebDataset shards, resuming an interrupted export. */
export function exportDataset(options: ExportOptions, run: RunOptions = {}): Promise<ExportSummary> {
  return speakingApi(EXPORT_KEYS, () => runExport(toRaw(options, EXPORT_KEYS, 'exportDataset()'), checkRun(run)));
}

/** Joins the partial manifests of a cluster build in `dir` into manifest.json. */
export function mergeDataset(dir: string, options: MergeOptions = {}): Promise<MergeReport> {
  return speakingApi(MERGE_KEYS, () => mergeParts(checkPath('dir', dir), { verify: toRaw(options, MERGE_KEYS, 'mergeDataset()').verify === true }));
}

/**
 * Checks the dataset in `dir` against its manifest (with `full`, every image rendered again); problems
 * are reported, not thrown.
 */
export function verifyDataset(dir: string, options: VerifyOptions = {}, run: RunOptions = {}): Promise<VerifyReport> {
  return speakingApi(VERIFY_KEYS, () => runVerify(checkPath('dir', dir), toRaw(options, VERIFY_KEYS, 'verifyDataset()'), checkRun(run)));
}

/** What the dataset in `dir` holds and how it was made. */
export function datasetInfo(dir: string): DatasetInfo {
  return infoOf(checkPath('dir', dir));
}

/** The manifest of the dataset in `dir`, checked against the format; what is not a dataset is refused with what it is. */
export function readManifest(dir: string): Manifest {
  return readDataset(checkPath('dir', dir));
}
