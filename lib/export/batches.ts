import type { ImageSource } from './source';

interface Batch {
  begin: number;
  end: number;
  /** Position of the batch's first image among all images to process. */
  start: number;
}

/**
 * Reads the images of some index ranges in batches, one batch ahead of the one being used, and
 * forgets each batch once its last image is released. Images are asked for and released in order.
 */
export class BatchReader {
  readonly count: number;
  private readonly batches: Batch[] = [];
  private readonly loaded = new Map<number, Promise<Buffer>>();
  private readonly imageBytes: number;

  constructor(private readonly source: ImageSource, runs: ReadonlyArray<readonly [number, number]>, batchSize: number) {
    let start = 0;
    for (const [begin, end] of runs) {
      for (let b = begin; b < end; b += batchSize) {
        const e = Math.min(end, b + batchSize);
        this.batches.push({ begin: b, end: e, start });
        start += e - b;
      }
    }
    this.count = start;
    this.imageBytes = source.imageSize ** 2;
  }

  private batchOf(k: number): number {
    let lo = 0;
    let hi = this.batches.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.batches[mid].start <= k) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  private load(b: number): Promise<Buffer> {
    let p = this.loaded.get(b);
    if (!p) {
      const batch = this.batches[b];
      p = this.source.read(batch.begin, batch.end);
      p.catch(() => {});
      this.loaded.set(b, p);
    }
    return p;
  }

  /** The dataset index of the k-th image to process. */
  index(k: number): number {
    const b = this.batches[this.batchOf(k)];
    return b.begin + (k - b.start);
  }

  /** The pixels of the k-th image to process (and starts reading the next batch). */
  async pixels(k: number): Promise<Buffer> {
    const b = this.batchOf(k);
    if (b + 1 < this.batches.length) this.load(b + 1);
    const data = await this.load(b);
    const offset = (k - this.batches[b].start) * this.imageBytes;
    return data.subarray(offset, offset + this.imageBytes);
  }

  /** Done with the k-th image; frees its batch after its last image. */
  release(k: number): void {
    const b = this.batchOf(k);
    const batch = this.batches[b];
    if (k === batch.start + (batch.end - batch.begin) - 1) this.loaded.delete(b);
  }
}

/** Images per read and images in flight for `threads` encoders of S x S images: bounded memory. */
export function pipelineSizes(threads: number, imageSize: number): { batch: number; window: number } {
  const bytes = imageSize ** 2;
  const batch = Math.max(1, Math.min(threads * 8, Math.floor((32 << 20) / bytes)));
  const window = Math.max(threads, Math.min(threads * 4, Math.floor((128 << 20) / bytes)));
  return { batch, window };
}
