import { badOption, VatomError, EXIT_BAD_INPUT } from './errors';
import { parseInteger } from './options';

/** Worker `index` of `count` in a sharded (cluster) build, and where the numbers came from. */
export interface WorkerSlice {
  index: number;
  count: number;
  source: string;
}

/** Most workers of one sharded build (the schema's part.count); flags and the environment alike. */
export const MAX_WORKERS = 1_000_000;

/**
 * The worker slice of a build: --shard-index/--shard-count win over the scheduler's environment
 * (Slurm job arrays: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MIN/MAX;
 * Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX, with the count from --shard-count). Undefined for a
 * single-machine build.
 */
export function workerSlice(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): WorkerSlice | undefined {
  const given = (name: string) => raw[name] !== undefined;
  let index: number | undefined;
  let count: number | undefined;
  const sources: string[] = [];
  if (given('shard-count')) {
    count = parseInteger('shard-count', raw['shard-count'], 1, MAX_WORKERS);
    sources.push('--shard-count');
  }
  if (given('shard-index')) {
    index = parseInteger('shard-index', raw['shard-index'], 0, MAX_WORKERS - 1);
    sources.push('--shard-index');
  }
  // The scheduler's numbers get the limits of the flags they stand for, and name the variable.
  const envInt = (name: string, min: number, max: number): number => {
    const value = (env[name] ?? '').trim();
    const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new VatomError('BAD_OPTION', `Invalid environment variable ${name}: ${JSON.stringify(env[name] ?? '')}; expected an integer from ${min} to ${max}`, EXIT_BAD_INPUT);
    }
    return n;
  };
  const taskLimit = Number.MAX_SAFE_INTEGER;
  // The scheduler's numbers fill in whatever the command line did not give.
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? envInt('SLURM_ARRAY_TASK_MIN', 0, taskLimit) : 0;
    if (index === undefined) {
      const id = envInt('SLURM_ARRAY_TASK_ID', min, taskLimit);
      index = id - min;
      if (index > MAX_WORKERS - 1) {
        throw new VatomError('BAD_OPTION', `Invalid environment variable SLURM_ARRAY_TASK_ID: ${id} - SLURM_ARRAY_TASK_MIN ${min} is ${index}; the worker index must be from 0 to ${MAX_WORKERS - 1}`, EXIT_BAD_INPUT);
      }
      sources.push(env.SLURM_ARRAY_TASK_MIN !== undefined ? 'SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN' : 'SLURM_ARRAY_TASK_ID');
    }
    if (count === undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
      count = envInt('SLURM_ARRAY_TASK_COUNT', 1, MAX_WORKERS);
      sources.push('SLURM_ARRAY_TASK_COUNT');
    } else if (count === undefined && env.SLURM_ARRAY_TASK_MAX !== undefined) {
      count = envInt('SLURM_ARRAY_TASK_MAX', min, min + MAX_WORKERS - 1) - min + 1;
      sources.push('SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1');
    }
  } else if (index === undefined && env.JOB_COMPLETION_INDEX !== undefined) {
    index = envInt('JOB_COMPLETION_INDEX', 0, MAX_WORKERS - 1);
    sources.push('JOB_COMPLETION_INDEX');
  }
  if (index === undefined && count === undefined) return undefined;
  if (index === undefined) {
    throw new VatomError('BAD_OPTION', 'Missing --shard-index: --shard-count needs the worker index (or a Slurm array / Kubernetes Indexed Job environment)', EXIT_BAD_INPUT);
  }
  if (count === undefined) {
    throw new VatomError('BAD_OPTION', `Missing --shard-count: the worker index comes from ${sources.join(', ')} but the number of workers is not known; pass --shard-count`, EXIT_BAD_INPUT);
  }
  if (index >= count) {
    throw badOption('shard-index', index, `an integer from 0 to ${count - 1} (--shard-count is ${count}; from ${sources.join(', ')})`);
  }
  return { index, count, source: sources.join(', ') };
}

export { workerShardRange } from './format';

/** File name of a worker's partial manifest. */
export function partManifestName(index: number, count: number): string {
  return `manifest.part-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.json`;
}

export const PART_MANIFEST_PATTERN = /^manifest\.part-(\d{5,})-of-(\d{5,})\.json$/;
