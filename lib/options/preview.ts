import { badOption, EXIT_BAD_INPUT, VatomError } from '../errors';
import { GENERATOR_PARAMETERS } from '../generators/presets';
import { defaultThreads, parseBuildOptions, ValidatedBuildOptions } from './build';
import { LIMITS } from './limits';
import { parseInteger, RawOptions } from './values';

/** Contact-sheet size limits: enough for a 64 x 64 sheet of 96-pixel cells. */
export const PREVIEW_LIMITS = Object.freeze({ cellMin: 16, cellMax: 4096, sheetPixels: 64_000_000 });
export const DEFAULT_ROWS = 8;
export const DEFAULT_COLUMNS = 8;

/** The options that only make sense when rendering (refused with --from): every family's parameters and the stream's. */
const RENDER_ONLY = ['preset', ...GENERATOR_PARAMETERS.map((p) => p.option),
  'seed', 'rng', 'reference-threads', 'device'];

/** Validated `preview` options: a sheet of `rows` classes from startClass x `columns` instances. */
export interface ValidatedPreviewOptions {
  out: string;
  /** Render with these (rows = classes, columns = instances), or read from a dataset. */
  build?: ValidatedBuildOptions;
  from?: string;
  startClass: number;
  rows: number;
  columns: number;
  cellSize?: number;
  threads: number;
  quiet: boolean;
  json: boolean;
}

/** Validates `preview` options (exit 2 naming the first bad one). */
export function parsePreviewOptions(raw: RawOptions): ValidatedPreviewOptions {
  const has = (name: string) => raw[name] !== undefined;
  if (!has('out') || String(raw.out).trim() === '') {
    throw new VatomError('BAD_OPTION', 'Missing --out: expected the PNG file to write the contact sheet to', EXIT_BAD_INPUT);
  }
  const out = String(raw.out).trim();
  const cellSize = has('cell-size') ? parseInteger('cell-size', raw['cell-size'], PREVIEW_LIMITS.cellMin, PREVIEW_LIMITS.cellMax) : undefined;
  const common = { out, cellSize, quiet: raw.quiet === true, json: raw.json === true };
  if (has('from')) {
    const from = String(raw.from).trim();
    for (const name of RENDER_ONLY) {
      if (has(name)) throw badOption(name, raw[name], 'no generator option with --from (the dataset already fixes them); leave it out');
    }
    const threads = has('threads') ? parseInteger('threads', raw.threads, 1, LIMITS.threads) : defaultThreads();
    const rows = has('classes') ? parseInteger('classes', raw.classes, 1, Number.MAX_SAFE_INTEGER) : -1;
    const columns = has('instances') ? parseInteger('instances', raw.instances, 1, LIMITS.instances) : -1;
    const startClass = has('start-class') ? parseInteger('start-class', raw['start-class'], 0, LIMITS.classIndex - 1) : -1;
    return { ...common, from, rows, columns, startClass, threads };
  }
  const build = parseBuildOptions({
    ...raw,
    classes: raw.classes ?? String(DEFAULT_ROWS),
    instances: raw.instances ?? String(DEFAULT_COLUMNS),
  }, false);
  return { ...common, build, rows: build.classes, columns: build.instances, startClass: build.startClass, threads: build.threads };
}
