import { badOption, VatomError, EXIT_BAD_INPUT } from '../errors';
import { LIMITS } from './limits';
import { parseInteger, RawOptions } from './values';

/** Worker `index` of `count` in a cluster build, and where the numbers came from. */
export interface WorkerSlice {
  index: number;
  count: number;
  source: string;
}

/** The old names of --worker-index and --worker-count, still accepted. */
export const WORKER_FLAG_ALIASES: Readonly<Record<string, string>> = { 'shard-index': 'worker-index', 'shard-count': 'worker-count' };

/** The warning for old flag names among `raw`'s options, once for all of them; undefined if none is used. */
export function renamedFlagsWarning(raw: RawOptions): string | undefined {
  const used = Object.keys(WORKER_FLAG_ALIASES).filter((old) => raw[old] !== undefined);
  if (used.length === 0) return undefined;
  return `${used.map((old) => `--${old}`).join(' and ')} ${used.length > 1 ? 'are old names' : 'is an old name'} of ` +
    `${used.map((old) => `--${WORKER_FLAG_ALIASES[old]}`).join(' and ')} (they select a worker of a cluster build, not a shard); use the new name`;
}

/** The value of a worker flag under its name or its old name, and the name the user gave. */
function workerFlag(raw: RawOptions, name: string): [string, unknown] | undefined {
  if (raw[name] !== undefined) return [name, raw[name]];
  const old = Object.keys(WORKER_FLAG_ALIASES).find((o) => WORKER_FLAG_ALIASES[o] === name);
  if (old !== undefined && raw[old] !== undefined) return [old, raw[old]];
  return undefined;
}

/**
 * The worker slice of a build: --worker-index/--worker-count win over the scheduler's environment
 * (Slurm job arrays: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MIN/MAX;
 * Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX, with the count from --worker-count). Undefined for a
 * single-machine build.
 */
export function workerSlice(raw: RawOptions, env: NodeJS.ProcessEnv): WorkerSlice | undefined {
  let index: number | undefined;
  let count: number | undefined;
  const sources: string[] = [];
  const countFlag = workerFlag(raw, 'worker-count');
  const indexFlag = workerFlag(raw, 'worker-index');
  const countName = `--${countFlag?.[0] ?? 'worker-count'}`;
  if (countFlag) {
    count = parseInteger(countFlag[0], countFlag[1], 1, LIMITS.workers);
    sources.push(countName);
  }
  if (indexFlag) {
    index = parseInteger(indexFlag[0], indexFlag[1], 0, LIMITS.workers - 1);
    sources.push(`--${indexFlag[0]}`);
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
      if (index > LIMITS.workers - 1) {
        throw new VatomError('BAD_OPTION', `Invalid environment variable SLURM_ARRAY_TASK_ID: ${id} - SLURM_ARRAY_TASK_MIN ${min} is ${index}; the worker index must be from 0 to ${LIMITS.workers - 1}`, EXIT_BAD_INPUT);
      }
      sources.push(env.SLURM_ARRAY_TASK_MIN !== undefined ? 'SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN' : 'SLURM_ARRAY_TASK_ID');
    }
    if (count === undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
      count = envInt('SLURM_ARRAY_TASK_COUNT', 1, LIMITS.workers);
      sources.push('SLURM_ARRAY_TASK_COUNT');
    } else if (count === undefined && env.SLURM_ARRAY_TASK_MAX !== undefined) {
      count = envInt('SLURM_ARRAY_TASK_MAX', min, min + LIMITS.workers - 1) - min + 1;
      sources.push('SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1');
    }
  } else if (index === undefined && env.JOB_COMPLETION_INDEX !== undefined) {
    index = envInt('JOB_COMPLETION_INDEX', 0, LIMITS.workers - 1);
    sources.push('JOB_COMPLETION_INDEX');
  }
  if (index === undefined && count === undefined) return undefined;
  if (index === undefined) {
    throw new VatomError('BAD_OPTION', `Missing --worker-index: ${countName} needs the worker index (or a Slurm array / Kubernetes Indexed Job environment)`, EXIT_BAD_INPUT);
  }
  if (count === undefined) {
    throw new VatomError('BAD_OPTION', `Missing --worker-count: the worker index comes from ${sources.join(', ')} but the number of workers is not known; pass --worker-count`, EXIT_BAD_INPUT);
  }
  if (index >= count) {
    throw badOption(indexFlag?.[0] ?? 'worker-index', index, `an integer from 0 to ${count - 1} (${countName} is ${count}; from ${sources.join(', ')})`);
  }
  return { index, count, source: sources.join(', ') };
}
