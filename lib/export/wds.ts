import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tar from 'tar-stream';
import { GENERATOR } from '../dataset/manifest';
import { sha256Inside } from '../dataset/shard-check';
import { VatomError } from '../errors';
import type { ExportSettings } from '../options/export';
import { createExclusiveAsync, describeError, removeLeftover, writeFileAtomic } from '../safe-fs';
import { BatchReader, pipelineSizes } from './batches';
import { encodePng, PngSettings } from './encode';
import type { ExportRun, ExportSummary } from './export-run';
import { EXPORT_FORMAT, EXPORT_VERSION, ExportMarker, writeMarker } from './marker';
import { bracePattern, planTarShards, sampleKeyFormat } from './names';
import { orderedPipeline, Semaphore } from './pool';
import { ImageSource, ShardMismatchError } from './source';

/** Every member gets this time, so that equal inputs give equal shard bytes. */
const MEMBER_MTIME = new Date(Date.UTC(2023, 5, 18));

async function writeAll(fh: fs.promises.FileHandle, chunk: Buffer, name: string): Promise<void> {
  for (let at = 0; at < chunk.length;) {
    const { bytesWritten } = await fh.write(chunk, at, chunk.length - at);
    at += bytesWritten;
  }
}

function addEntry(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: data.length, mode: 0o644, mtime: MEMBER_MTIME, uid: 0, gid: 0, uname: '', gname: '', type: 'file' },
      data, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Writes `source` as WebDataset tar shards PREFIX-000000.tar, ... of settings.shardImages images each,
 * each sample KEY.cls (the absolute class index in ASCII, as the .npy labels) then KEY.png. Shards are
 * written under a temporary name, synced and renamed, and recorded with their sha256 in the marker; a
 * rerun keeps shards whose bytes match the marker and writes the others. The caller holds OUT's lock
 * (openExportOutput).
 */
export async function exportWds(source: ImageSource, out: string, settings: ExportSettings, run: ExportRun,
  previous: ExportMarker | undefined): Promise<ExportSummary> {
  const prefix = settings.prefix!;
  const perShard = settings.shardImages!;
  const wanted = { settings, source: source.identity };
  const startedAt = process.hrtime.bigint();
  const shards = planTarShards(prefix, source.imageCount, perShard);
  for (const [j, before] of (previous?.shards ?? []).entries()) {
    const s = shards[j];
    if (s && before.name === s.name && before.first === s.first && before.count === s.count) {
      s.bytes = before.bytes;
      s.sha256 = before.sha256;
    }
  }
  const pattern = bracePattern(prefix, shards.length);
  const marker: ExportMarker = {
    format: EXPORT_FORMAT, version: EXPORT_VERSION, generator: previous?.generator ?? GENERATOR, complete: false, ...wanted, shards, pattern,
  };
  marker.complete = false;
  writeMarker(out, marker);
  for (const name of fs.readdirSync(out)) {
    if (name.startsWith(`${prefix}-`) && name.endsWith('.tar.partial')) removeLeftover(out, name);
  }

  let kept = 0;
  let shardsKept = 0;
  let redone = 0;
  for (const shard of shards) {
    if (shard.sha256 === null) continue;
    if (run.signal?.aborted) throw new VatomError('CANCELLED', 'export interrupted; rerun the same command to resume');
    const sha = await sha256Inside(out, shard.name, run.signal).catch((err) => {
      if (err instanceof VatomError && err.code === 'CANCELLED') throw err;
      return undefined;  // missing, or not a regular file: written again
    });
    if (sha === shard.sha256) {
      kept += shard.count;
      ++shardsKept;
    } else {
      shard.bytes = null;
      shard.sha256 = null;
      ++redone;
    }
  }

  const png: PngSettings = { gray: settings.gray, level: settings.pngLevel };
  const keyOf = sampleKeyFormat(source);
  const { batch, window } = pipelineSizes(run.threads, source.imageSize);
  const encoders = new Semaphore(run.threads);
  let done = kept;
  let written = 0;
  let bytesWritten = 0;
  let shardsWritten = 0;
  run.reporter.start(source.imageCount, kept);
  try {
    for (const shard of shards) {
      if (shard.sha256 !== null) continue;
      if (run.signal?.aborted) break;
      const file = path.join(out, shard.name);
      const temp = `${file}.partial`;
      const fh = await createExclusiveAsync(out, `${shard.name}.partial`);
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      const pack = tar.pack();
      const drain = (async () => {
        for await (const chunk of pack as AsyncIterable<Buffer>) {
          hash.update(chunk);
          await writeAll(fh, chunk, temp);
          bytes += chunk.length;
        }
      })();
      let writeFailure: unknown;
      drain.catch((err: Error) => {
        writeFailure = err;
        pack.destroy(err);
      });
      try {
        const reader = new BatchReader(source, [[shard.first, shard.first + shard.count]], batch);
        await orderedPipeline(reader.count, window,
          async (k) => {
            const pixels = await reader.pixels(k);
            return encoders.run(() => encodePng(pixels, source.imageSize, png));
          },
          async (k, encoded) => {
            reader.release(k);
            const i = shard.first + k;
            const c = Math.floor(i / source.instances);
            const cls = source.startClass + c;
            const key = keyOf(cls, i % source.instances);
            await addEntry(pack, `${key}.cls`, Buffer.from(String(cls), 'ascii'));
            await addEntry(pack, `${key}.png`, encoded);
            bytesWritten += encoded.length;
            run.reporter.update(++done);
          },
          () => run.signal?.aborted === true);
        if (run.signal?.aborted) {
          pack.destroy();
          await drain.catch(() => {});
          await fh.close();
          await fs.promises.rm(temp, { force: true });
          break;
        }
        pack.finalize();
        await drain;
        await fh.sync();
      } catch (err) {
        // A failed write (a full disk) destroys the pack; its error, not the pack's "destroyed", is the cause.
        const cause = writeFailure;
        pack.destroy();
        await drain.catch(() => {});
        await fh.close().catch(() => {});
        await fs.promises.rm(temp, { force: true });
        throw cause ?? err;
      }
      await fh.close();
      await fs.promises.rename(temp, file);
      shard.bytes = bytes;
      shard.sha256 = hash.digest('hex');
      writeMarker(out, marker);
      written += shard.count;
      ++shardsWritten;
    }
    if (!run.signal?.aborted) await source.verified?.();
  } catch (err) {
    run.reporter.stop();
    if (err instanceof ShardMismatchError) {
      // Tar shards holding images of a .npy shard that failed its checksum go.
      for (const shard of shards) {
        if (shard.first < err.first + err.count && err.first < shard.first + shard.count) {
          fs.rmSync(path.join(out, shard.name), { force: true });
          shard.bytes = null;
          shard.sha256 = null;
        }
      }
      writeMarker(out, marker);
    }
    if (err instanceof VatomError) throw err;
    throw new VatomError('IO', `WebDataset export to ${out} failed: ${describeError(err)}; finished shards are kept, rerun the same command to resume`);
  }
  run.reporter.stop();
  if (run.signal?.aborted) throw new VatomError('CANCELLED', 'export interrupted; rerun the same command to resume');

  const absolutePattern = path.join(path.resolve(out), pattern);
  const shardList = path.join(out, `${prefix}-shards.txt`);
  writeFileAtomic(out, `${prefix}-shards.txt`, `${absolutePattern}\n`);
  marker.complete = true;
  writeMarker(out, marker);
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return {
    out, to: 'wds', images: source.imageCount, written, kept, checked: kept, redone, bytesWritten, seconds,
    imagesPerSecond: seconds > 0 ? written / seconds : 0,
    shards: shards.length, shardsWritten, shardsKept, pattern: absolutePattern, shardList,
  };
}
