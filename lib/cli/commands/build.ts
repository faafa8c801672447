import type { CommandModule } from 'yargs';
import { build, formatBytes } from '../../build';
import { parseBuildOptions } from '../../options';
import { createReporter } from '../../progress';
import { generatorOptions } from '../generator-options';

/** `vatom-fast build`: render a dataset into memory-mapped .npy shards. */
export default function buildCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'build',
    describe: 'Render a VisualAtom dataset into .npy shards (resumes an interrupted build)',
    builder: (y) => generatorOptions(y)
      .option('out', { type: 'string', describe: 'Dataset directory', demandOption: false })
      .option('shard-size', { type: 'string', describe: 'Images per shard (default: whole classes adding up to about 1 GiB)' })
      .option('shard-index', { type: 'string', describe: 'Worker index I of a sharded build (default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)' })
      .option('shard-count', { type: 'string', describe: 'Number of workers N of a sharded build (default: SLURM_ARRAY_TASK_COUNT)' })
      .option('quiet', { type: 'boolean', describe: 'No progress output' })
      .option('json', { type: 'boolean', describe: 'Print a machine-readable summary at the end' }),
    handler: async (argv) => {
      const options = parseBuildOptions(argv);
      const reporter = createReporter({ quiet: options.quiet });
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const summary = await build(options, reporter, controller.signal);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } else if (!options.quiet) {
          process.stderr.write(
            `${summary.out}: ${summary.images} images in ${summary.shards} shards (${formatBytes(summary.bytes)}); ` +
            `wrote ${summary.shardsWritten}, kept ${summary.shardsReused}, ` +
            `${summary.imagesPerSecond.toFixed(0)} images/s, ${summary.megabytesPerSecond.toFixed(0)} MB/s\n`);
        }
        setExit(0);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
  };
}
