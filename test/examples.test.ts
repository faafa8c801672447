// The cluster examples run as they are: the Slurm script's worker and submit paths, and the
// Kubernetes Indexed Job's worker command and structure.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { CLI, directoryHashes, ROOT, runCli, tempDir } from './helpers';

const TINY = ['--classes', '6', '--instances', '3', '--image-size', '64', '--vertices', '20:40', '--orbits', '1:8',
  '--start-pos', '64', '--radius-min', '2', '--shard-size', '3'];
const SBATCH = path.join(ROOT, 'examples', 'slurm', 'visualatom-21k.sbatch');

describe('examples/slurm/visualatom-21k.sbatch', () => {
  it('runs as array tasks that merge into the single-machine dataset', () => {
    const dirs = tempDir();
    const out = path.join(dirs, 'va');
    for (const task of ['0', '1', '2']) {
      const r = spawnSync('bash', [SBATCH], { encoding: 'utf8', env: { ...process.env, SLURM_ARRAY_TASK_ID: task,
        SLURM_ARRAY_TASK_COUNT: '3', SLURM_CPUS_PER_TASK: '1', VATOM_OUT: out, VATOM_ARGS: `${TINY.join(' ')} --quiet`,
        VATOM_FAST: `${process.execPath} ${CLI}` } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    expect(fs.readdirSync(out).filter((f) => f.startsWith('manifest.part-')).length).toBe(3);
    expect(runCli(['merge', out]).status).toBe(0);
    const whole = path.join(dirs, 'whole');
    expect(runCli(['build', '--out', whole, '--preset', 'visualatom-21k', ...TINY, '--quiet']).status).toBe(0);
    expect(directoryHashes(out)).toEqual(directoryHashes(whole));
  });

  it('on a login node submits the array, then a merge that depends on it', () => {
    const bin = tempDir();
    const log = path.join(bin, 'calls');
    // A stand-in for sbatch that records its arguments and answers with a job id.
    fs.writeFileSync(path.join(bin, 'sbatch'), `#!/bin/bash\necho "$*" >> ${log}\necho 4242\n`, { mode: 0o755 });
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, VATOM_OUT: '/shared/va21k' };
    delete env.SLURM_ARRAY_TASK_ID;
    const r = spawnSync('bash', [SBATCH], { encoding: 'utf8', env });
    expect(r.status).toBe(0);
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(calls[0]).toBe(`--parsable --export=ALL ${SBATCH}`);
    expect(calls[1]).toMatch(/--dependency=afterok:4242 .*--wrap=npx --no-install vatom-fast merge '\/shared\/va21k'/);
    expect(r.stdout).toMatch(/submitted workers as job 4242/);
  });
});

describe('examples/kubernetes/visualatom-21k.yaml', () => {
  const docs = yaml.loadAll(fs.readFileSync(path.join(ROOT, 'examples', 'kubernetes', 'visualatom-21k.yaml'), 'utf8')) as any[];
  const workers = docs.find((d) => d.kind === 'Job' && d.metadata.name === 'visualatom-21k-workers');
  const merge = docs.find((d) => d.kind === 'Job' && d.metadata.name === 'visualatom-21k-merge');
  const command: string[] = workers.spec.template.spec.containers[0].command;

  it('is an Indexed Job whose --shard-count equals its completions, sharing one volume with the merge', () => {
    expect(workers.spec.completionMode).toBe('Indexed');
    expect(command[command.indexOf('--shard-count') + 1]).toBe(String(workers.spec.completions));
    expect(merge.spec.template.spec.containers[0].command.join(' ')).toMatch(/until vatom-fast merge \/data\/visualatom-21k/);
    const claim = (job: any) => job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName;
    expect(claim(workers)).toBe(claim(merge));
    expect(docs.find((d) => d.kind === 'PersistentVolumeClaim').metadata.name).toBe(claim(workers));
  });

  it('runs its worker command as pod JOB_COMPLETION_INDEX would (tiny overrides appended)', () => {
    const out = path.join(tempDir(), 'va');
    const args = command.slice(1).map((a) => (a === '/data/visualatom-21k' ? out : a));
    const r = spawnSync(process.execPath, [CLI, ...args, ...TINY, '--quiet', '--threads', '1'],
      { encoding: 'utf8', env: { ...process.env, JOB_COMPLETION_INDEX: '99' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const part = JSON.parse(fs.readFileSync(path.join(out, 'manifest.part-00099-of-00100.json'), 'utf8'));
    expect(part.part).toMatchObject({ index: 99, count: 100 });
    expect(part.complete).toBe(true);
  });
});
