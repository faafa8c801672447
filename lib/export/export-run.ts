import { Reporter } from '../progress';

/** How an export runs (none of this changes its bytes). */
export interface ExportRun {
  threads: number;
  reporter: Reporter;
  signal?: AbortSignal;
}

/** What a finished export reports (`--json` prints it). */
export interface ExportSummary {
  out: string;
  to: 'png' | 'wds';
  images: number;
  /** Images encoded and written by this run. */
  written: number;
  /** Images found already written by an earlier run and kept. */
  kept: number;
  /** Of the kept images, those decoded and compared with the source before keeping them. */
  checked: number;
  /** Files (PNG) or shards (WebDataset) found incomplete or wrong and written again. */
  redone: number;
  bytesWritten: number;
  seconds: number;
  imagesPerSecond: number;
  shards?: number;
  shardsWritten?: number;
  shardsKept?: number;
  /** WebDataset: brace pattern of the shard files, absolute. */
  pattern?: string;
  /** WebDataset: the file that holds the pattern. */
  shardList?: string;
}
