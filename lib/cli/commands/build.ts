import type { CommandModule } from 'yargs';
import { runBuild } from '../../api';
import { createReporter, formatBytes } from '../../progress';
import { whileInterruptible } from '../interrupt';
import { generatorOptions, imageFormatOptions, wholePresetNote } from '../option-groups';

/** `vatom-fast build`: render a dataset into memory-mapped .npy shards, a PNG tree or WebDataset shards. */
export default function buildCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'build',
    describe: 'Render a VisualAtom or RCDB dataset into .npy shards, a PNG tree or WebDataset shards, or write its manifest alone (resumes an interrupted build)',
    builder: (y) => imageFormatOptions(generatorOptions(y)
      .option('format', { type: 'string', describe: 'npy (default): .npy shards; manifest: manifest.json alone, images render on access (npy later adds the shards); png: the reference script\'s tree (VisualAtom: DIR/%05d/vertex_%04d_instance_%04d.png; RCDB: DIR/image/%05d/%05d_%04d.png and DIR/param/%05d.csv); wds: WebDataset tar shards' })
      .option('out', { type: 'string', describe: 'Dataset directory', demandOption: 'the dataset directory to write' })
      .option('shard-size', { type: 'number', requiresArg: true, describe: 'Images per .npy shard (default: whole classes adding up to about 1 GiB)' })
      .option('worker-index', { type: 'number', requiresArg: true, describe: 'Worker index I of a cluster build (default: SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)' })
      .option('worker-count', { type: 'number', requiresArg: true, describe: 'Number of workers N of a cluster build (default: SLURM_ARRAY_TASK_COUNT)' })
      .option('shard-index', { type: 'number', requiresArg: true, describe: 'Old name of --worker-index', deprecated: 'use --worker-index' })
      .option('shard-count', { type: 'number', requiresArg: true, describe: 'Old name of --worker-count', deprecated: 'use --worker-count' })
      .option('quiet', { type: 'boolean', describe: 'No progress output' })
      .option('json', { type: 'boolean', describe: 'Print a machine-readable summary at the end' }))
      .example('$0 build --classes 10 --instances 100 --out data/va', '10 classes x 100 images of the paper preset (262 MB)')
      .example('$0 build --image-size 128 --classes 100 --instances 50 --out data/small', 'a smaller canvas; the drawings scale with it')
      .example('$0 build --preset visualatom-21k --out /data/va21k', 'the whole VisualAtom-21k')
      .example('$0 build --classes 10 --instances 100 --format png --out data/png', 'the reference\'s PNG tree')
      .epilog(wholePresetNote()),
    handler: async (argv) => {
      const quiet = argv.quiet === true;
      const reporter = createReporter({ quiet });
      const summary = await whileInterruptible((signal) => runBuild(argv, process.env, { reporter, signal }));
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else if ('storage' in summary) {
        if (!quiet) {
          process.stderr.write(`${summary.out}: manifest only, ${summary.images} images of ${summary.classes} classes render on access; ` +
            `manifest.json ${formatBytes(summary.manifestBytes)} (as .npy shards: ${formatBytes(summary.storedBytes)})\n`);
        }
      } else if ('to' in summary) {
        if (summary.pattern) process.stdout.write(`${summary.pattern}\n`);
        if (!quiet) {
          process.stderr.write(`${summary.out}: ${summary.images} images, wrote ${summary.written}, kept ${summary.kept}, ` +
            `${summary.imagesPerSecond.toFixed(0)} images/s\n`);
        }
      } else if (!quiet) {
        process.stderr.write(
          `${summary.out}: ${summary.images} images in ${summary.shards} shards (${formatBytes(summary.bytes)}); ` +
          `wrote ${summary.shardsWritten}, kept ${summary.shardsReused}, ` +
          `${summary.imagesPerSecond.toFixed(0)} images/s, ${summary.megabytesPerSecond.toFixed(0)} MB/s\n`);
      }
      setExit(0);
    },
  };
}
