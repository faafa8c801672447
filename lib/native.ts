import * as path from 'path';
import { VatomError } from './errors';
import type { GeneratorConfig } from './generators/visualatom';

/** Parameters one class draws once; names match the native side and the manifest. */
export interface ClassParams {
  vertices: number;
  orbits: number;
  radius: number;
  freq1: number;
  freq2: number;
  noise: number;
  lineWidth: number;
  ovalX: number;
  ovalY: number;
  /** RCDB only: the first instance's centre (the script's start_pos_h, start_pos_w). */
  centreY?: number;
  centreX?: number;
}

/** What the native side needs to know about a dataset; validated by options.ts before it gets here. */
export interface NativeSpec {
  /** The generator family; absent: VisualAtom. */
  family?: string;
  config: GeneratorConfig;
  rng: 'philox' | 'reference';
  /** Decimal string: seeds go up to 2^64 - 1. */
  seed: string;
  startClass: number;
  classes: number;
  instances: number;
  referenceThreads: number;
  classParams?: ClassParams[];
}

export interface ShardTask {
  first: number;
  count: number;
  imagesPath: string;
  labelsPath: string;
}

export interface ShardResult {
  imagesBytes: number;
  labelsBytes: number;
  imagesSha256: string;
  labelsSha256: string;
}

/** A dataset's renderer and thread pool; one job at a time. */
export interface NativeGenerator {
  writeShard(task: ShardTask, onProgress?: (imagesDone: number) => void): Promise<ShardResult>;
  render(begin: number, end: number): Promise<Buffer>;
  /** Stops the job in progress (writeShard or render) within about one orbit of one image: its promise rejects with "cancelled". */
  cancel(): void;
}

/** The whole native surface, typed in one place. */
export interface NativeAddon {
  drawClassParams(spec: NativeSpec): Promise<ClassParams[]>;
  Generator: new (spec: NativeSpec, threads: number, device?: 'cpu' | 'cuda') => NativeGenerator;
  imageDataOffset: number;
  /** What this build and machine offer for --device cuda. */
  cuda: { compiled: boolean; devices: number; names: string; error: string };
}

let cached: NativeAddon | undefined;

/** Loads the addon built by `npm install` (cmake-js) or node-gyp; one error lists why and the fixes. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const root = path.resolve(__dirname, '..');
  const candidates = [
    path.join(root, 'build', 'Release', 'vatom_native.node'),
    path.join(root, 'build', 'Debug', 'vatom_native.node'),
  ];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      cached = require(candidate) as NativeAddon;
      return cached;
    } catch (err) {
      failures.push(`${candidate}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new VatomError(
    'NATIVE_LOAD',
    ['Could not load the vatom-fast native addon.', ...failures.map((f) => `  - ${f}`),
      'Possible fixes:',
      '  - build it: npm run build (needs a C++17 compiler and CMake >= 3.18)',
      '  - or with node-gyp (CPU only): npx node-gyp rebuild'].join('\n'),
  );
}

/**
 * A generator of `spec` with `threads` rendering threads; a native failure to start them (threads or
 * memory the system will not give) becomes one message naming the thread count and what to do.
 */
export function startGenerator(native: NativeAddon, spec: NativeSpec, threads: number, device: 'cpu' | 'cuda'): NativeGenerator {
  try {
    return new native.Generator(spec, threads, device);
  } catch (err) {
    throw new VatomError('IO', `cannot start the renderer with ${threads} thread${threads === 1 ? '' : 's'} on the ${device}: ` +
      `${(err as Error).message.split('\n')[0]}; use fewer --threads or raise the process limits`);
  }
}
