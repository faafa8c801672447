/** Export: PNG trees (ImageFolder), WebDataset shards, and contact sheets. */
import * as path from 'path';
import { drawingWarnings } from '../config';
import { EXIT_BAD_INPUT, VatomError } from '../errors';
import type { BuildOptions } from '../options';
import type { ExportRun, ExportSummary } from './common';
import type { ExportSettings } from './marker';
import { configureEncoders } from './encode';
import { exportPngTree } from './png-tree';
import { ImageSource, openDatasetSource, RenderSource } from './source';
import { exportWds } from './wds';

export { ExportRun, ExportSummary } from './common';
export { ExportSettings, ExportMarker, EXPORT_MARKER } from './marker';
export { exportFormatOptions, parseBuildFormat, parseExportOptions, parseExportSettings } from './options';
export { classFolder, pngFileName } from './png-tree';
export { configureEncoders } from './encode';
export { bracePattern, sampleKeyFormat } from './wds';
export { DatasetSource, openDatasetSource, RenderSource, ImageSource } from './source';

/** Writes the images of `source` to `out` in the format of `settings`. */
export function exportSource(source: ImageSource, out: string, settings: ExportSettings, run: ExportRun): Promise<ExportSummary> {
  return settings.to === 'png' ? exportPngTree(source, out, settings, run) : exportWds(source, out, settings, run);
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
    return await exportSource(source, out, settings, run);
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
export async function buildExport(options: BuildOptions, settings: ExportSettings, run: Omit<ExportRun, 'threads'>): Promise<ExportSummary> {
  configureEncoders(options.threads);
  for (const warning of drawingWarnings(options.config)) run.reporter.log(`warning: ${warning}`);
  const source = await RenderSource.open(options);
  try {
    return await exportSource(source, options.out, settings, { ...run, threads: options.threads });
  } finally {
    await source.close();
  }
}
