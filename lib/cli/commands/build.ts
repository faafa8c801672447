import type { CommandModule } from 'yargs';
import { whileInterruptible } from '../interrupt';
import { build, buildManifest, formatBytes } from '../../build';
import { badOption } from '../../errors';
import { buildExport, configureEncoders, exportFormatOptions, parseBuildFormat } from '../../export';
import { parseBuildOptions } from '../../options';
import { createReporter } from '../../progress';
import { generatorOptions } from '../generator-options';

/** `vatom-fast build`: render a dataset into memory-mapped .npy shards, a PNG tree or WebDataset shards. */
export default function buildCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'build',
    describe: 'Render a VisualAtom dataset into .npy shards, a PNG tree or WebDataset shards, or write its manifest alone (resumes an interrupted build)',
    builder: (y) => exportFormatOptions(generatorOptions(y)
      .option('format', { type: 'string', describe: 'npy (default): .npy shards; manifest: manifest.json alone, images render on access (npy later adds the shards); png: DIR/%05d/vertex_%04d_instance_%04d.png; wds: WebDataset tar shards' })
      .option('out', { type: 'string', describe: 'Dataset directory', demandOption: false })
      .option('shard-size', { type: 'string', describe: 'Images per .npy shard (default: whole classes adding up to about 1 GiB)' })
      .option('shard-index', { type: 'string', describe: 'Worker index I of a sharded build (default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)' })
      .option('shard-count', { type: 'string', describe: 'Number of workers N of a sharded build (default: SLURM_ARRAY_TASK_COUNT)' })
      .option('quiet', { type: 'boolean', describe: 'No progress output' })
      .option('json', { type: 'boolean', describe: 'Print a machine-readable summary at the end' })),
    handler: async (argv) => {
      const options = parseBuildOptions(argv);
      const format = parseBuildFormat(argv);
      if (format.format === 'manifest') {
        // --shard-size stays allowed: it is part of the identity, the layout a later fill-in writes.
        for (const name of ['shard-index', 'shard-count']) {
          if (argv[name] !== undefined) throw badOption(name, argv[name], `no --${name} with --format manifest (a manifest-only build is one file)`);
        }
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
        for (const name of ['shard-size', 'shard-index', 'shard-count']) {
          if (argv[name] !== undefined) throw badOption(name, argv[name], `no --${name} with --format ${format.format} (it applies to .npy shards)`);
        }
        if (options.worker) throw badOption('format', format.format, 'npy for a sharded build (a scheduler array index is set in the environment)');
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
