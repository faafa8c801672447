// The CUDA renderer's checks that need no GPU: its kernel's phases emulated on the CPU, thread by
// thread and barrier by barrier, against the CPU renderer; and its host pipeline (streams, pinned
// buffers, events) against a stand-in runtime with random delays. Built when nvcc is found.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers';

const checks = ['vatom-cuda-emulation', 'vatom-cuda-mock-check'].map((name) => path.join(ROOT, 'build', name));
const built = checks.every((file) => fs.existsSync(file));
const nvcc = spawnSync('nvcc', ['--version']).status === 0;

(built ? describe : describe.skip)('CUDA renderer without a GPU', () => {
  it.each(checks)('%s passes every case', (file) => {
    const r = spawnSync(file, [], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/MISMATCH|FAILED/);
    expect(r.stdout).toMatch(/(\d+) passed, 0 failed/);
    expect(r.status).toBe(0);
  });
});

describe('the build', () => {
  it('includes the CUDA renderer exactly when nvcc is present', () => {
    const cuda = require(path.join(ROOT, 'build', 'Release', 'vatom_native.node')).cuda;
    expect(cuda.compiled).toBe(nvcc && process.env.VATOM_NO_CUDA !== '1');
    expect(built).toBe(cuda.compiled);
  });
});
