import { VatomError, EXIT_BAD_INPUT } from './errors';
import type { NativeAddon } from './native';
import type { ValidatedBuildOptions } from './options/build';

/** The device a build runs on, and why it was chosen. */
export interface DeviceChoice {
  device: 'cpu' | 'cuda';
  reason: string;
}

/** What the loaded addon and this machine offer; `cuda` is false in a build without the CUDA renderer. */
export interface DeviceSupport {
  cuda: boolean;
  cudaDevices: number;
  /** GPU names, for the message. */
  names?: string;
  /** Why no device is usable, as the native side says. */
  error?: string;
}

/**
 * Whether the CUDA renderer has passed bench/gpu-check.sh (byte parity with the CPU on a real GPU).
 * Until it has, --device auto stays on the CPU, so that nobody gets unchecked bytes without asking;
 * --device cuda uses it.
 */
export const CUDA_RENDERER_VERIFIED = false;

/**
 * Picks the device for --device auto|cpu|cuda. `auto` takes the GPU when one is usable and the stream
 * can run there; `cuda` without one, or with the reference stream (sequential, CPU only), is refused
 * (exit 2).
 */
export function chooseDevice(requested: 'auto' | 'cpu' | 'cuda', support: DeviceSupport, rng: 'philox' | 'reference' = 'philox',
  cudaVerified = CUDA_RENDERER_VERIFIED, family = 'visualatom'): DeviceChoice {
  if (requested === 'cpu') return { device: 'cpu', reason: 'requested with --device cpu' };
  // The CUDA kernels draw VisualAtom only; another family renders on the CPU, never with unchecked bytes.
  if (family !== 'visualatom') {
    if (requested === 'cuda') {
      throw new VatomError('BAD_OPTION', `Invalid value for --device: "cuda"; the CUDA renderer draws VisualAtom only, the ${family} family renders on the CPU. Use --device cpu or auto`, EXIT_BAD_INPUT);
    }
    return { device: 'cpu', reason: `the ${family} family renders on the CPU` };
  }
  const usable = support.cuda && support.cudaDevices > 0;
  const why = !support.cuda
    ? 'this build of vatom-fast has no CUDA support: nvcc was not found when it was built, or VATOM_CUDA was off'
    : `no CUDA device is usable${support.error ? ` (${support.error})` : ''}`;
  if (requested === 'cuda') {
    if (rng === 'reference') {
      throw new VatomError('BAD_OPTION', 'Invalid value for --device: "cuda"; --rng reference is a sequential stream and renders on the CPU. Use --device cpu or auto', EXIT_BAD_INPUT);
    }
    if (usable) return { device: 'cuda', reason: `requested with --device cuda: ${support.names ?? 'GPU 0'}` };
    throw new VatomError('BAD_OPTION', `Invalid value for --device: "cuda"; ${why}. Use --device cpu or auto`, EXIT_BAD_INPUT);
  }
  if (usable && rng === 'reference') return { device: 'cpu', reason: '--rng reference renders on the CPU' };
  if (usable && !cudaVerified) {
    return { device: 'cpu', reason: `--device auto found ${support.names ?? 'a GPU'}, but the CUDA renderer has not yet ` +
      'passed bench/gpu-check.sh on a GPU; --device cuda uses it anyway' };
  }
  if (usable) return { device: 'cuda', reason: `--device auto found ${support.names ?? 'a GPU'}` };
  return { device: 'cpu', reason: `--device auto: ${why}` };
}

/** The device validated options run on with the loaded addon; refusals (device support) come before any work. */
export function resolveDevice(options: Pick<ValidatedBuildOptions, 'device' | 'rng' | 'family'>, native: NativeAddon): DeviceChoice {
  const c = native.cuda;
  return chooseDevice(options.device, { cuda: c.compiled, cudaDevices: c.devices, names: c.names, error: c.error }, options.rng,
    CUDA_RENDERER_VERIFIED, options.family.name);
}
