import * as fs from 'fs';
import * as path from 'path';
import { manifestFamily } from '../dataset/identity';
import { GENERATOR } from '../dataset/manifest';
import { EXIT_BAD_INPUT, VatomError } from '../errors';
import { rcdbParamFile } from '../generators/rcdb-param-file';
import type { ExportSettings } from '../options/export';
import { createExclusiveAsync, describeError, entryExists, openRegularInsideAsync, removeLeftover, writeFileAtomic } from '../safe-fs';
import { BatchReader, pipelineSizes } from './batches';
import { encodePng, PngSettings, pngMatches } from './encode';
import type { ExportRun, ExportSummary } from './export-run';
import { EXPORT_FORMAT, EXPORT_VERSION, ExportMarker, writeMarker } from './marker';
import { PARAM_FOLDER, paramFileName, pngPlace } from './names';
import { orderedPipeline, Semaphore } from './pool';
import { ImageSource, ShardMismatchError } from './source';

/** An existing PNG of an earlier run, or undefined if it is not a regular file of sane size (then it is rewritten). */
async function readExisting(dir: string, name: string): Promise<Buffer | undefined> {
  let opened: { fh: fs.promises.FileHandle; stat: fs.Stats };
  try {
    opened = await openRegularInsideAsync(dir, name);
  } catch {
    return undefined;
  }
  try {
    if (opened.stat.size > 1 << 30) return undefined;
    const data = Buffer.alloc(opened.stat.size);
    const { bytesRead } = await opened.fh.read(data, 0, data.length, 0);
    return data.subarray(0, bytesRead);
  } finally {
    await opened.fh.close();
  }
}

const MARKER_EVERY_MS = 2000;
const UNCHECKED = 1;
const DONE = 2;

/** A folder of the export (created if missing), refused when something other than a directory is there. */
function exportFolder(out: string, folder: string): string {
  let dir = out;
  for (const part of folder.split('/')) {
    const parent = dir;
    dir = path.join(dir, part);
    if (entryExists(parent, part) && !fs.lstatSync(dir).isDirectory()) {
      throw new VatomError('OUTPUT_CONFLICT', `--out ${out}: ${dir} is not a directory (a symlink or file where a folder goes); ` +
        'remove it and rerun the same command', EXIT_BAD_INPUT);
    }
    fs.mkdirSync(dir, { recursive: true });
  }
  return dir;
}

/**
 * RCDB: the script's param/%05d.csv of every class, text for text (each written whole under a
 * temporary name, and only where it differs).
 */
function writeParamFiles(source: ImageSource, out: string): void {
  const dir = exportFolder(out, PARAM_FOLDER);
  for (const p of source.classParams) {
    const name = paramFileName(p.class);
    const text = rcdbParamFile(p as Required<typeof p>);
    const file = path.join(dir, name);
    const planted = entryExists(dir, name) ? fs.lstatSync(file) : undefined;
    if (planted?.isFile() && fs.readFileSync(file, 'latin1') === text) continue;
    if (planted?.isDirectory()) {
      throw new VatomError('OUTPUT_CONFLICT', `--out ${out}: ${file} is a directory where a param file goes; ` +
        'remove it and rerun the same command', EXIT_BAD_INPUT);
    }
    // Anything else there (a stale file, a symlink, a FIFO) is replaced, never followed or opened.
    fs.rmSync(file, { force: true });
    writeFileAtomic(dir, name, text);
  }
}

/**
 * Writes every image of `source` where the family's reference script does (names.ts pngPlace: for
 * VisualAtom DIR/%05d/vertex_%04d_instance_%04d.png, for RCDB DIR/image/%05d/%05d_%04d.png beside
 * DIR/param/%05d.csv), in parallel with bounded memory. Each file is written under a temporary name and renamed, so a file with its final name is
 * whole. A rerun keeps files before the marker's checkpoint, checks the others it finds by decoding
 * them against the source, and writes the rest. The caller holds OUT's lock (openExportOutput).
 */
export async function exportPngTree(source: ImageSource, out: string, settings: ExportSettings, run: ExportRun,
  previous: ExportMarker | undefined): Promise<ExportSummary> {
  const wanted = { settings, source: source.identity };
  const startedAt = process.hrtime.bigint();
  const marker: ExportMarker = previous ?? {
    format: EXPORT_FORMAT, version: EXPORT_VERSION, generator: GENERATOR, complete: false, ...wanted, doneThrough: 0,
  };
  const n = source.imageCount;
  const S = source.imageSize;
  const png: PngSettings = { gray: settings.gray, level: settings.pngLevel };
  const family = manifestFamily(source.identity);
  const placeOf = (i: number) => {
    const c = Math.floor(i / source.instances);
    const p = source.classParams[c];
    const place = pngPlace(family, p.class, p.vertices, i % source.instances);
    return { dir: path.join(out, place.folder), name: place.name };
  };

  marker.complete = false;
  marker.doneThrough = Math.min(marker.doneThrough ?? 0, n);
  writeMarker(out, marker);

  // Status of each image: 0 to write, UNCHECKED found beyond the checkpoint, DONE.
  // What is there: files with final names are whole; temporary ones are partial and go.
  const status = new Uint8Array(n);
  for (let c = 0; c < source.classes; ++c) {
    const p = source.classParams[c];
    if (run.signal?.aborted) break;
    const dir = exportFolder(out, pngPlace(family, p.class, p.vertices, 0).folder);
    const names = new Set(fs.readdirSync(dir));
    for (const name of names) if (name.endsWith('.tmp')) removeLeftover(dir, name);
    for (let j = 0; j < source.instances; ++j) {
      const i = c * source.instances + j;
      if (names.has(pngPlace(family, p.class, p.vertices, j).name)) status[i] = i < marker.doneThrough ? DONE : UNCHECKED;
    }
  }
  if (family === 'rcdb' && !run.signal?.aborted) writeParamFiles(source, out);
  const runs: Array<[number, number]> = [];
  let kept = 0;
  for (let i = 0; i < n; ++i) {
    if (status[i] === DONE) { ++kept; continue; }
    if (runs.length > 0 && runs[runs.length - 1][1] === i) runs[runs.length - 1][1] = i + 1; else runs.push([i, i + 1]);
  }

  const { batch, window } = pipelineSizes(run.threads, S);
  const reader = new BatchReader(source, runs, batch);
  const encoders = new Semaphore(run.threads);
  let written = 0;
  let checked = 0;
  let redone = 0;
  let bytesWritten = 0;
  let doneThrough = marker.doneThrough;
  let lastMarker = Date.now();
  const advance = () => {
    while (doneThrough < n && status[doneThrough] === DONE) ++doneThrough;
  };
  advance();

  run.reporter.start(n, kept);
  let done = kept;
  type Outcome = { kind: 'kept' | 'written' | 'redone'; bytes: number };
  const produce = async (k: number): Promise<Outcome> => {
    const i = reader.index(k);
    const pixels = await reader.pixels(k);
    const { dir, name } = placeOf(i);
    const encoded = await encoders.run(async (): Promise<Buffer | null> => {
      if (status[i] === UNCHECKED) {
        const found = await readExisting(dir, name);
        if (found && await pngMatches(found, pixels, S, png)) return null;
      }
      return encodePng(pixels, S, png);
    });
    if (encoded === null) return { kind: 'kept', bytes: 0 };
    const fh = await createExclusiveAsync(dir, `${name}.tmp`);
    try {
      for (let at = 0; at < encoded.length;) at += (await fh.write(encoded, at, encoded.length - at)).bytesWritten;
    } finally {
      await fh.close();
    }
    await fs.promises.rename(path.join(dir, `${name}.tmp`), path.join(dir, name));
    return { kind: status[i] === UNCHECKED ? 'redone' : 'written', bytes: encoded.length };
  };
  const consume = (k: number, o: Outcome) => {
    reader.release(k);
    status[reader.index(k)] = DONE;
    if (o.kind === 'kept') { ++kept; ++checked; } else { ++written; bytesWritten += o.bytes; }
    if (o.kind === 'redone') ++redone;
    ++done;
    advance();
    run.reporter.update(done);
    if (Date.now() - lastMarker > MARKER_EVERY_MS) {
      marker.doneThrough = doneThrough;
      writeMarker(out, marker);
      lastMarker = Date.now();
    }
  };
  try {
    await orderedPipeline(reader.count, window, produce, consume, () => run.signal?.aborted === true);
    if (!run.signal?.aborted) await source.verified?.();
  } catch (err) {
    run.reporter.stop();
    if (err instanceof ShardMismatchError) {
      // Images of a shard that failed its checksum may have been written: they go, and the checkpoint before them.
      for (let i = err.first; i < Math.min(n, err.first + err.count); ++i) {
        const { dir, name } = placeOf(i);
        fs.rmSync(path.join(dir, name), { force: true });
      }
      doneThrough = Math.min(doneThrough, err.first);
    }
    marker.doneThrough = doneThrough;
    writeMarker(out, marker);
    if (err instanceof VatomError) throw err;
    throw new VatomError('IO', `PNG export to ${out} failed: ${describeError(err)}; finished files are kept, rerun the same command to resume`);
  }
  marker.doneThrough = doneThrough;
  run.reporter.stop();
  if (run.signal?.aborted) {
    writeMarker(out, marker);
    throw new VatomError('CANCELLED', 'export interrupted; rerun the same command to resume');
  }
  marker.complete = true;
  writeMarker(out, marker);
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return {
    out, to: 'png', images: n, written, kept, checked, redone, bytesWritten, seconds,
    imagesPerSecond: seconds > 0 ? written / seconds : 0,
  };
}
