import { badOption, VatomError, EXIT_BAD_INPUT } from './errors';
import { parseInteger } from './options';

/** Worker `index` of `count` in a sharded (cluster) build, and where the numbers came from. */
export interface WorkerSlice {
  index: number;
  count: number;
  source: string;
}

const MAX_WORKERS = 1_000_000;

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
  const envInt = (name: string): number => {
    const value = env[name] ?? '';
    if (!/^\d+$/.test(value.trim())) {
      throw new VatomError('BAD_OPTION', `Invalid environment variable ${name}: ${JSON.stringify(value)}; expected an integer >= 0`, EXIT_BAD_INPUT);
    }
    return Number(value);
  };
  // The scheduler's numbers fill in whatever the command line did not give.
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? envInt('SLURM_ARRAY_TASK_MIN') : 0;
    if (index === undefined) {
      index = envInt('SLURM_ARRAY_TASK_ID') - min;
      sources.push(env.SLURM_ARRAY_TASK_MIN !== undefined ? 'SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN' : 'SLURM_ARRAY_TASK_ID');
    }
    if (count === undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
      count = envInt('SLURM_ARRAY_TASK_COUNT');
      sources.push('SLURM_ARRAY_TASK_COUNT');
    } else if (count === undefined && env.SLURM_ARRAY_TASK_MAX !== undefined) {
      count = envInt('SLURM_ARRAY_TASK_MAX') - min + 1;
      sources.push('SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1');
    }
  } else if (index === undefined && env.JOB_COMPLETION_INDEX !== undefined) {
    index = envInt('JOB_COMPLETION_INDEX');
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

/** Shards [begin, end) of the global layout that worker `index` of `count` writes: contiguous runs. */
export function workerShardRange(shards: number, index: number, count: number): [number, number] {
  return [Math.floor((index * shards) / count), Math.floor(((index + 1) * shards) / count)];
}

/** File name of a worker's partial manifest. */
export function partManifestName(index: number, count: number): string {
  return `manifest.part-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.json`;
}

export const PART_MANIFEST_PATTERN = /^manifest\.part-(\d{5,})-of-(\d{5,})\.json$/;
