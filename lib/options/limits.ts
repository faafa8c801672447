import { schemaBound, schemaMaxItems } from '../shared-format';

/**
 * The bounds every entry point enforces, read from the schema so that an option accepts exactly what
 * a manifest may hold (and the native side, which trusts validated input, never sees more).
 */
export const LIMITS = Object.freeze({
  /** Class indices are below this: 2^32. */
  classIndex: schemaBound('identity', 'startClass').max + 1,
  instances: schemaBound('identity', 'instances').max,
  /** Classes one dataset may hold (its manifest lists each). */
  classes: schemaMaxItems('manifest', 'classParams'),
  shards: schemaMaxItems('manifest', 'shards'),
  /** Threads of a build, and processes of the reference split: the native thread pool's limit too. */
  threads: schemaBound('identity', 'referenceThreads').max,
  /** Workers of one sharded build. */
  workers: schemaBound('part', 'count').max,
  /**
   * Instances per class of the reference stream: it replays a class from its start to reach an image,
   * so reading one image costs up to this many renders.
   */
  referenceInstances: 100_000,
  /** Seeds of the philox stream are 64-bit. */
  seed: 2n ** 64n,
});
