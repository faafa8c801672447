import type { CommandModule } from 'yargs';
import { whileInterruptible } from '../interrupt';
import { build, buildManifest, formatBytes } from '../../build';
import { buildExport, configureEncoders, exportFormatOptions } from '../../export';
import { parseBuildCommand } from '../../export/options';
import { createReporter } from '../../progress';
import { generatorOptions, wholePresetNote } from '../generator-options';

/** `vatom-fast build`: render a dataset into memory-mapped .npy shards, a PNG tree or WebDataset shards. */
export default function buildCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'build',
    describe: 'Render a VisualAtom dataset into .npy shards, a PNG tree or WebDataset shards, or write its manifest alone (resumes an interrupted build)',
    builder: (y) => exportFormatOptions(generatorOptions(y)
      .option('format', { type: 'string', describe: 'npy (default): .npy shards; manifest: manifest.json alone, images render on access (npy later adds the shards); png: DIR/%05d/vertex_%04d_instance_%04d.png; wds: WebDataset tar shards' })
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
      const { options, format } = parseBuildCommand(argv);
      if (format.format === 'manifest') {
        const summary = await buildManifest(options, createReporter({ quiet: options.quiet }));
        if (options.json) {
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } else if (!options.quiet) {
          process.stderr.write(`${summary.out}: manifest only, ${summary.images} images of ${summary.classes} classes render on access; ` +
            `manifest.json ${formatBytes(summary.manifestBytes)} (as .npy shards: ${formatBytes(summary.storedBytes)})\n`);
        }
        setExit(0);
        return;
      }
      if (format.format !== 'npy') {
        // sharp's thread pool is sized when first used, so before any asynchronous work.
        configureEncoders(options.threads);
      }
      const reporter = createReporter({ quiet: options.quiet });
      await whileInterruptible(async (signal) => {
        if ('settings' in format) {
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
