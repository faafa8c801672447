/** Export: a dataset, or images rendered on the fly, as a PNG tree (ImageFolder) or WebDataset shards. */
import * as path from 'path';
import { EXIT_BAD_INPUT, VatomError } from '../errors';
import type { ValidatedBuildOptions } from '../options/build';
import type { ExportSettings } from '../options/export';
import { reportWarnings } from '../progress';
import type { ExportRun, ExportSummary } from './export-run';
import { openExportOutput } from './marker';
import { exportPngTree } from './png-tree';
import { ImageSource, openDatasetSource, RenderSource } from './source';
import { exportWds } from './wds';

export { ExportRun, ExportSummary } from './export-run';

/** Writes the images of `source` to `out` in the format of `settings`, holding OUT's lock; `run.signal` also stops a read in progress. */
async function exportSource(command: 'build' | 'export', source: ImageSource, out: string, settings: ExportSettings, run: ExportRun): Promise<ExportSummary> {
  const { previous, lock } = openExportOutput(out, { settings, source: source.identity });
  const onAbort = () => source.cancel?.();
  run.signal?.addEventListener('abort', onAbort);
  try {
    return settings.to === 'png' ? await exportPngTree(source, out, settings, run, previous) : await exportWds(source, out, settings, run, previous);
  } catch (err) {
    if (run.signal?.aborted) throw new VatomError('CANCELLED', `${command} interrupted; rerun the same command to resume`);
    throw err;
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
    lock.release();
  }
}

/** `vatom-fast export DIR --to png|wds --out DIR2`: a complete dataset (.npy, or manifest-only: rendered) as a PNG tree or WebDataset shards. */
export async function exportDataset(dir: string, out: string, settings: ExportSettings, run: ExportRun): Promise<ExportSummary> {
  const root = path.resolve(dir);
  const target = path.resolve(out);
  if (target === root || root.startsWith(`${target}${path.sep}`)) {
    throw new VatomError('BAD_OPTION', `Invalid value for --out: ${JSON.stringify(out)}; it holds the dataset ${dir}, choose a directory outside it`, EXIT_BAD_INPUT);
  }
  const source = await openDatasetSource(dir, run.threads);
  try {
    return await exportSource('export', source, out, settings, run);
  } finally {
    await source.close();
  }
}

/**
 * `vatom-fast build --format png|wds`: renders the dataset of `options` (threads, counts, generator)
 * and writes it straight to options.out as a PNG tree or WebDataset shards, with no .npy in between.
 * Resumes like `export`; the marker's source identity equals that of `build --format npy` with the
 * same options, so the files equal an `export` of that dataset.
 */
export async function buildExport(options: ValidatedBuildOptions, settings: ExportSettings, run: Omit<ExportRun, 'threads'>): Promise<ExportSummary> {
  reportWarnings(run.reporter, options.warnings);
  const source = await RenderSource.open(options);
  try {
    return await exportSource('build', source, options.out, settings, { ...run, threads: options.threads });
  } finally {
    await source.close();
  }
}
