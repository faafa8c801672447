import * as os from 'os';
import type SharpModule from 'sharp';

let loaded: typeof SharpModule | undefined;

/**
 * sharp, loaded on first use: loading it starts libuv's thread pool, whose size is fixed from then on,
 * so configureEncoders must run before (the API calls it before any other work).
 */
export function sharp(): typeof SharpModule {
  if (!loaded) {
    loaded = require('sharp') as typeof SharpModule;
    loaded.concurrency(1);
    loaded.cache(false);
  }
  return loaded;
}

/** How images are written as PNG. */
export interface PngSettings {
  /** One channel instead of RGB with R = G = B. */
  gray: boolean;
  /** zlib level 0..9 (PIL's default is 6). */
  level: number;
}

/**
 * Sets up the thread budget for `threads` parallel encodes: each sharp job on one libvips thread, no
 * operation cache, and a libuv pool large enough for the encodes plus file I/O (UV_THREADPOOL_SIZE,
 * unless set), but no larger than the cores can run: more pool threads than cores only wait, and each
 * costs a stack. The pool size only takes effect if nothing has started the pool yet in this process
 * (no async fs, crypto, native job or sharp load), so it is set before any other work.
 */
export function configureEncoders(threads: number): void {
  if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(encoderPoolSize(threads));
  sharp();
}

/** libuv threads for `threads` parallel encodes: one per encode the cores can run, plus two for file I/O. */
export function encoderPoolSize(threads: number, cores = os.availableParallelism()): number {
  return Math.max(4, Math.min(threads, cores) + 2);
}

/** A gray S x S image as PNG: RGB (R = G = B, as the reference writes) or one channel. */
export function encodePng(pixels: Buffer, size: number, settings: PngSettings): Promise<Buffer> {
  const image = sharp()(pixels, { raw: { width: size, height: size, channels: 1 } }).toColourspace(settings.gray ? 'b-w' : 'srgb');
  return image.png({ compressionLevel: settings.level, adaptiveFiltering: false }).toBuffer();
}

/** Whether a PNG file's bytes decode to exactly these gray pixels in the layout the settings ask for. */
export async function pngMatches(png: Buffer, pixels: Buffer, size: number, settings: PngSettings): Promise<boolean> {
  try {
    const channels = settings.gray ? 1 : 3;
    const meta = await sharp()(png).metadata();
    if (meta.format !== 'png' || meta.channels !== channels || meta.width !== size || meta.height !== size) return false;
    const { data } = await sharp()(png).toColourspace(settings.gray ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true });
    if (data.length !== size * size * channels) return false;
    if (channels === 1) return data.equals(pixels);
    for (let i = 0, j = 0; i < pixels.length; ++i, j += 3) {
      const v = pixels[i];
      if (data[j] !== v || data[j + 1] !== v || data[j + 2] !== v) return false;
    }
    return true;
  } catch {
    return false;
  }
}
