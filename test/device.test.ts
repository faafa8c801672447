// --device auto|cpu|cuda: which device a build uses and what it says, for every kind of machine.
import { chooseDevice } from '../lib/device';
import { native } from './helpers';

const NONE = { cuda: false, cudaDevices: 0 };
const DRIVERLESS = { cuda: true, cudaDevices: 0, error: 'cudaGetDeviceCount: no CUDA-capable device is detected' };
const H100 = { cuda: true, cudaDevices: 1, names: 'NVIDIA H100 80GB HBM3' };

describe('chooseDevice', () => {
  it('uses the CPU when asked, whatever the machine has', () => {
    for (const support of [NONE, DRIVERLESS, H100]) expect(chooseDevice('cpu', support).device).toBe('cpu');
  });

  it('auto takes a usable GPU and says which, once the CUDA renderer is verified', () => {
    expect(chooseDevice('auto', H100, 'philox', true)).toEqual({ device: 'cuda', reason: '--device auto found NVIDIA H100 80GB HBM3' });
  });

  it('auto stays on the CPU, saying so, while the CUDA renderer is unverified on a GPU', () => {
    expect(chooseDevice('auto', H100, 'philox', false)).toEqual({ device: 'cpu', reason: '--device auto found NVIDIA H100 80GB HBM3, ' +
      'but the CUDA renderer has not yet passed bench/gpu-check.sh on a GPU; --device cuda uses it anyway' });
  });

  it('auto falls back to the CPU and says why', () => {
    expect(chooseDevice('auto', NONE)).toEqual({ device: 'cpu',
      reason: '--device auto: this build of vatom-fast has no CUDA support: nvcc was not found when it was built, or VATOM_CUDA was off' });
    expect(chooseDevice('auto', DRIVERLESS)).toEqual({ device: 'cpu',
      reason: '--device auto: no CUDA device is usable (cudaGetDeviceCount: no CUDA-capable device is detected)' });
    expect(chooseDevice('auto', H100, 'reference', true)).toEqual({ device: 'cpu', reason: '--rng reference renders on the CPU' });
  });

  it('refuses cuda without a usable GPU, or for the reference stream (exit 2)', () => {
    expect(() => chooseDevice('cuda', NONE)).toThrow(
      'Invalid value for --device: "cuda"; this build of vatom-fast has no CUDA support: nvcc was not found when it was built, or VATOM_CUDA was off. Use --device cpu or auto');
    expect(() => chooseDevice('cuda', DRIVERLESS)).toThrow(
      'Invalid value for --device: "cuda"; no CUDA device is usable (cudaGetDeviceCount: no CUDA-capable device is detected). Use --device cpu or auto');
    expect(() => chooseDevice('cuda', H100, 'reference')).toThrow(
      'Invalid value for --device: "cuda"; --rng reference is a sequential stream and renders on the CPU. Use --device cpu or auto');
    try {
      chooseDevice('cuda', NONE);
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
    }
    expect(chooseDevice('cuda', H100).device).toBe('cuda');
  });
});

describe('the addon reports its CUDA support', () => {
  it('has the fields the device choice reads, consistent with each other', () => {
    const cuda = native().cuda;
    expect(typeof cuda.compiled).toBe('boolean');
    expect(Number.isInteger(cuda.devices)).toBe(true);
    if (!cuda.compiled) {
      expect(cuda.devices).toBe(0);
      expect(cuda.error).toMatch(/no CUDA support/);
    }
    if (cuda.devices === 0) expect(cuda.error).not.toBe('');
  });

  it('refuses a CUDA generator when no GPU is usable, with the reason', () => {
    const cuda = native().cuda;
    if (cuda.devices > 0) return;  // a GPU machine: gpu-check.sh covers the CUDA path there
    const spec = { config: { imageSize: 64, verticesMin: 20, verticesMax: 40, orbitsMin: 1, orbitsMax: 4, noiseMin: 0, lineWidth: 0.1,
      radiusMin: 2, ovalRate: 2, startPos: 64, freq1Min: 0, freq1Max: 20, freq2Min: 0, freq2Max: 20 },
    rng: 'philox' as const, seed: '0', startClass: 0, classes: 1, instances: 1, referenceThreads: 1, classParams: [] };
    const Generator = native().Generator;
    expect(() => new Generator(spec, 1, 'cuda')).toThrow(cuda.compiled ? /device|CUDA/ : /no CUDA support/);
  });
});
