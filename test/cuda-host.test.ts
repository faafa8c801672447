// The CUDA renderer's checks that need no GPU: its kernel's body emulated on the CPU, every thread a
// fiber under a seeded random schedule between the kernel's own barriers, against the CPU renderer; its
// host pipeline (streams, pinned buffers, events) and its failure handling against a stand-in runtime
// with random delays and injected faults; and vatom-native on that stand-in, where every CUDA failure
// must end in a message and an exit status, never an abort. Built when nvcc is found.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, tempDir } from './helpers';

const checks = ['vatom-cuda-emulation', 'vatom-cuda-mock-check'].map((name) => path.join(ROOT, 'build', name));
const nativeMock = path.join(ROOT, 'build', 'vatom-native-mock');
const built = [...checks, nativeMock].every((file) => fs.existsSync(file));
const nvcc = spawnSync('nvcc', ['--version']).status === 0;

const SMALL = ['--classes', '2', '--instances', '3', '--image-size', '64', '--vertices', '50:100', '--orbits', '5:20',
  '--threads', '2'];

function runMock(args: string[], faults = '') {
  return spawnSync(nativeMock, args, { encoding: 'utf8', env: { ...process.env, VATOM_MOCK_CUDA: faults } });
}

function digests(stdout: string): string[] {
  return [...stdout.matchAll(/^shard \d+ images \d+ sha256 ([0-9a-f]{64})/gm)].map((m) => m[1]);
}

(built ? describe : describe.skip)('CUDA renderer without a GPU', () => {
  it.each(checks)('%s passes every case', (file) => {
    const r = spawnSync(file, [], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/MISMATCH|FAILED/);
    expect(r.stdout).toMatch(/(\d+) passed, 0 failed/);
    expect(r.status).toBe(0);
  });

  it('vatom-native on the stand-in runtime gives the CPU bytes, also when memory runs short', () => {
    const cpu = runMock([...SMALL, '--device', 'cpu']);
    expect(cpu.status).toBe(0);
    expect(digests(cpu.stdout)).toHaveLength(1);
    for (const faults of ['', 'malloc-limit=5000', 'pinned-limit=5000']) {
      const gpu = runMock([...SMALL, '--device', 'cuda'], faults);
      expect(gpu.stderr).toBe('');
      expect(gpu.status).toBe(0);
      expect(digests(gpu.stdout)).toEqual(digests(cpu.stdout));
      expect(gpu.stdout).toMatch(/^cuda warm-up \(untimed\): images \[0, 6\)/m);
      expect(gpu.stdout).toMatch(/^cuda raw device-to-host copy: [\d.]+ GB\/s/m);
      expect(gpu.stdout).toMatch(faults ? /device or pinned memory ran short/ : /carveout \d+%, \d+ blocks\/SM/);
    }
  });

  it('vatom-native ends a CUDA failure with a message and an exit status, not an abort', () => {
    const cases: Array<[string, number, RegExp]> = [
      ['driver=12080', 2, /^vatom-native: --device cuda: the NVIDIA driver supports CUDA 12\.8, older than this build's CUDA runtime 13\.0/],
      ['kernel-fault=1', 1, /^vatom-native: the GPU renderer failed on images \[0, 6\): CUDA error: .*cudaErrorIllegalAddress: an illegal memory access/],
      ['kernel-fault=4', 1, /^vatom-native: the GPU renderer failed on images \[0, 6\): CUDA error: .*cudaErrorIllegalAddress/],
      ['launch-error=3', 1, /^vatom-native: the GPU renderer failed on images \[0, 6\): CUDA error: .*launch_render.*cudaErrorLaunchOutOfResources/],
      ['malloc-limit=100', 1, /^vatom-native: the GPU renderer failed on images \[0, 6\): out of memory: .* could not be allocated/],
    ];
    for (const [faults, status, message] of cases) {
      const r = runMock([...SMALL, '--device', 'cuda'], faults);
      expect({ faults, signal: r.signal, status: r.status }).toEqual({ faults, signal: null, status });
      expect(r.stderr).toMatch(message);
      expect(digests(r.stdout)).toEqual([]);
    }
  });

  it('a CUDA failure while writing shards leaves no file behind', () => {
    const dir = tempDir();
    try {
      const r = runMock([...SMALL, '--device', 'cuda', '--out', dir], 'kernel-fault=4');
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/cudaErrorIllegalAddress/);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a device-only measurement prints one PASS or FAIL line against the target', () => {
    const r = runMock([...SMALL, '--device', 'cuda', '--cuda-measure', 'device', '--repeats', '3', '--target', '1e9']);
    expect(r.status).toBe(0);
    expect(r.stdout.match(/^cuda device-only, repeat \d of 3: 6 images in [\d.]+ s/gm)).toHaveLength(3);
    const verdicts = r.stdout.match(/^(PASS|FAIL): .*$/gm);
    expect(verdicts).toHaveLength(1);
    expect(verdicts![0]).toMatch(/^FAIL: cuda device-only \d+ images\/s misses the target of 1000000000 images\/s \(6 images, 3 repeats .*too short to be decisive/);
  });
});

describe('the build', () => {
  it('includes the CUDA renderer exactly when nvcc is present', () => {
    const cuda = require(path.join(ROOT, 'build', 'Release', 'vatom_native.node')).cuda;
    expect(cuda.compiled).toBe(nvcc && process.env.VATOM_NO_CUDA !== '1');
    expect(built).toBe(cuda.compiled);
  });
});
