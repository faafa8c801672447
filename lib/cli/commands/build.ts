import type { CommandModule } from 'yargs';
import { whileInterruptible } from '../interrupt';
import { build, formatBytes } from '../../build';
import { badOption } from '../../errors';
import { buildExport, configureEncoders, exportFormatOptions, parseBuildFormat } from '../../export';
import { parseBuildOptions } from '../../options';
import { createReporter } from '../../progress';
import { generatorOptions, wholePresetNote } from '../generator-options';

/** `vatom-fast build`: render a dataset into memory-mapped .npy shards, a PNG tree or WebDataset shards. */
export default function buildCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'build',
    describe: 'Render a VisualAtom dataset into .npy shards, a PNG tree or WebDataset shards (resumes an interrupted build)',
    builder: (y) => exportFormatOptions(generatorOptions(y)
      .option('format', { type: 'string', describe: 'npy (default): .npy shards; png: DIR/%05d/vertex_%04d_instance_%04d.png; wds: WebDataset tar shards' })
      .option('out', { type: 'string', describe: 'Dataset directory', demandOption: 'the dataset directory to write' })
      .option('shard-size', { type: 'number', requiresArg: true, describe: 'Images per .npy shard (default: whole classes adding up to about 1 GiB)' })
      .option('shard-index', { type: 'number', requiresArg: true, describe: 'Worker index I of a sharded build (default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)' })
      .option('shard-count', { type: 'number', requiresArg: true, describe: 'Number of workers N of a sharded build (default: SLURM_ARRAY_TASK_COUNT)' })
      .option('quiet', { type: 'boolean', describe: 'No progress output' })
      .option('json', { type: 'boolean', describe: 'Print a machine-readable summary at the end' }))
      .example('$0 build --classes 10 --instances 100 --out data/va', '10 classes x 100 images of the paper preset (262 MB)')
      .example('$0 build --image-size 128 --classes 100 --instances 50 --out data/small', 'a smaller canvas; the drawings scale with it')
      .example('$0 build --preset visualatom-21k --out /data/va21k', 'the whole VisualAtom-21k')
      .example('$0 build --classes 10 --instances 100 --format png --out data/png', 'the reference\'s PNG tree')
      .epilog(wholePresetNote()),
    handler: async (argv) => {
      const options = parseBuildOptions(argv);
      const format = parseBuildFormat(argv);
      if (format.format !== 'npy') {
        for (const name of ['shard-size', 'shard-index', 'shard-count']) {
          if (argv[name] !== undefined) throw badOption(name, argv[name], `no --${name} with --format ${format.format} (it applies to .npy shards)`);
        }
        if (options.worker) throw badOption('format', format.format, 'npy for a sharded build (a scheduler array index is set in the environment)');
        // sharp's thread pool is sized when first used, so before any asynchronous work.
        configureEncoders(options.threads);
      }
      const reporter = createReporter({ quiet: options.quiet });
      await whileInterruptible(async (signal) => {
        if (format.format !== 'npy') {
          const summary = await buildExport(options, format.settings, { reporter, signal });
          if (options.json) {
            process.stdout.write(`${JSON.stringify(summary)}\n`);
          } else {
            if (summary.pattern) process.stdout.write(`${summary.pattern}\n`);
            if (!options.quiet) {
              process.stderr.write(`${summary.out}: ${summary.images} images, wrote ${summary.written}, kept ${summary.kept}, ` +
                `${summary.imagesPerSecond.toFixed(0)} images/s\n`);
            }
          }
          setExit(0);
          return;
        }
        const summary = await build(options, reporter, signal);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } else if (!options.quiet) {
          process.stderr.write(
            `${summary.out}: ${summary.images} images in ${summary.shards} shards (${formatBytes(summary.bytes)}); ` +
            `wrote ${summary.shardsWritten}, kept ${summary.shardsReused}, ` +
            `${summary.imagesPerSecond.toFixed(0)} images/s, ${summary.megabytesPerSecond.toFixed(0)} MB/s\n`);
        }
        setExit(0);
      });
    },
  };
}
