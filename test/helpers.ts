import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { NativeAddon } from '../lib/native';

export const ROOT = path.resolve(__dirname, '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
/** Debian's interpreter, which has numpy, PIL 9.4, noise and torch (the first python3 on PATH may not). */
export const PYTHON = process.env.VATOM_PYTHON ?? '/usr/bin/python3';

/** The addon's entry points for component tests (not part of the library's typed surface). */
export interface NativeTesting {
  philox(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): Uint32Array;
  rasterize(width: number, height: number, segments: Int32Array, walk: boolean): Uint8Array;
  /** `portable` forces the code without the CPU's SHA extensions. */
  sha256(data: Buffer, portable?: boolean): string;
  detSinCos(n: number, d: number): Float64Array;
  mtWords(seed: number, n: number): Uint32Array;
  pyRandomCalls(seed: number, calls: Array<[string, ...number[]]>): number[];
  pnoise1(xs: Float64Array): Float64Array;
}

export function native(): NativeAddon & { testing: NativeTesting } {
  return require(path.join(ROOT, 'build', 'Release', 'vatom_native.node')) as NativeAddon & { testing: NativeTesting };
}

/** The shared native components on their own (test/native/addon/testing.cpp; not shipped). */
export interface NativeTesting {
  philox(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): Uint32Array;
  rasterize(width: number, height: number, segments: Int32Array, walk: boolean): Uint8Array;
  /** `portable` forces the code without the CPU's SHA extensions. */
  sha256(data: Buffer, portable?: boolean): string;
  detSinCos(n: number, d: number): Float64Array;
  mtWords(seed: number, n: number): Uint32Array;
  pyRandomCalls(seed: number, calls: Array<[string, ...number[]]>): number[];
  pnoise1(xs: Float64Array): Float64Array;
  /** The native paper config at an image size (pixel-valued parameters scaled), in the presets' names. */
  paperConfig(imageSize: number): Record<string, number>;
  /** What the native spec check allows, field by field: [min, max]. */
  specLimits(): Record<string, [number, number]>;
  maxPoolThreads: number;
}

export function nativeTesting(): NativeTesting {
  return require(path.join(ROOT, 'build', 'Release', 'vatom_testing.node')) as NativeTesting;
}

const madeTempDirs: string[] = [];
// jest gives every test file its own copy of this module, so each file removes the directories it made.
if (typeof afterAll === 'function') {
  afterAll(() => {
    for (const dir of madeTempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
}

/** A fresh directory under the system temp dir, removed when the test file ends. */
export function tempDir(prefix = 'vatom-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeTempDirs.push(dir);
  return dir;
}

/** Runs the built CLI as a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...options.env } });
}

/** Starts the CLI without waiting (for kill tests). */
export function startCli(args: string[]) {
  return spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a Python snippet with Debian's python3; stdin is passed as text, stdout returned. */
export function python(code: string, input = ''): string {
  const r = spawnSync(PYTHON, ['-c', code], { input, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function sha256(data: Buffer | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(fs.readFileSync(file));
}

/** Every file of a directory with its sha256, for byte-for-byte comparisons of whole datasets. */
export function directoryHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) out[name] = sha256File(path.join(dir, name));
  return out;
}

/** The pixel bytes of all image shards of a dataset, concatenated in order. */
export function allPixels(dir: string): Buffer {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  return Buffer.concat(manifest.shards.map((s: { images: string }) =>
    fs.readFileSync(path.join(dir, s.images)).subarray(manifest.imagesDataOffset)));
}

/** A small, fast config used across tests (64x64, few vertices and orbits, radii that fit the canvas). */
export const SMALL = ['--image-size', '64', '--vertices', '20:60', '--orbits', '1:12', '--start-pos', '64', '--radius-min', '2', '--line-width', '0.1'];
