import { VatomError, EXIT_BAD_INPUT } from './errors';

/** The device a build runs on, and why it was chosen. */
export interface DeviceChoice {
  device: 'cpu' | 'cuda';
  reason: string;
}

/** What the loaded addon can do; `cuda` is false in a build without nvcc. */
export interface DeviceSupport {
  cuda: boolean;
  cudaDevices: number;
}

/** Picks the device for --device auto|cpu|cuda; `cuda` without a usable GPU is refused (exit 2). */
export function chooseDevice(requested: 'auto' | 'cpu' | 'cuda', support: DeviceSupport): DeviceChoice {
  if (requested === 'cpu') return { device: 'cpu', reason: 'requested with --device cpu' };
  const usable = support.cuda && support.cudaDevices > 0;
  const why = !support.cuda
    ? 'this build of vatom-fast has no CUDA support: nvcc was not found when it was built'
    : 'no CUDA device is visible';
  if (requested === 'cuda') {
    if (usable) return { device: 'cuda', reason: 'requested with --device cuda' };
    throw new VatomError('BAD_OPTION', `Invalid value for --device: "cuda"; ${why}. Use --device cpu or auto`, EXIT_BAD_INPUT);
  }
  // The GPU renderer is not wired into builds yet, so auto stays on the CPU and says so.
  return { device: 'cpu', reason: usable ? 'the CUDA renderer is not available to builds yet' : why };
}
