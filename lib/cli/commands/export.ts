import type { CommandModule } from 'yargs';
import { runExport } from '../../api';
import { createReporter, formatBytes } from '../../progress';
import { whileInterruptible } from '../interrupt';
import { imageFormatOptions } from '../option-groups';

/** `vatom-fast export DIR --to png|wds --out DIR2`: a dataset as a PNG tree (ImageFolder) or WebDataset shards. */
export default function exportCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'export <dir>',
    describe: 'Write a dataset as a PNG tree (the reference layout, ImageFolder) or WebDataset tar shards (resumes an interrupted export)',
    builder: (y) => imageFormatOptions(y.positional('dir', { type: 'string', describe: 'Dataset directory (.npy shards, or manifest only: the images are rendered)' })
      .option('to', { type: 'string', describe: 'png: the reference script\'s tree (VisualAtom: DIR2/%05d/vertex_%04d_instance_%04d.png; RCDB: DIR2/image/%05d/%05d_%04d.png and DIR2/param/%05d.csv); wds: DIR2/PREFIX-000000.tar, ...' })
      .option('out', { type: 'string', describe: 'Output directory', demandOption: 'the directory to write the export to' }))
      .option('threads', { type: 'number', requiresArg: true, describe: 'Parallel PNG encoders (default: all cores)' })
      .option('quiet', { type: 'boolean', describe: 'No progress output' })
      .option('json', { type: 'boolean', describe: 'Print a machine-readable summary at the end' })
      .example('$0 export data/va --to png --out data/va-png', 'a PNG tree for torchvision ImageFolder')
      .example('$0 export data/va --to wds --out data/va-wds --shard-images 1000', 'WebDataset tar shards of 1,000 images'),
    handler: async (argv) => {
      const quiet = argv.quiet === true;
      const reporter = createReporter({ quiet });
      const summary = await whileInterruptible((signal) => runExport(argv, { reporter, signal }));
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        if (summary.pattern) process.stdout.write(`${summary.pattern}\n`);
        if (!quiet) {
          process.stderr.write(
            `${summary.out}: ${summary.images} images as ${summary.to === 'png' ? 'PNG files' : `${summary.shards} WebDataset shards`}; ` +
            `wrote ${summary.written} (${formatBytes(summary.bytesWritten)}), kept ${summary.kept}` +
            `${summary.redone > 0 ? `, redid ${summary.redone} incomplete ${summary.to === 'png' ? 'files' : 'shards'}` : ''}, ` +
            `${summary.imagesPerSecond.toFixed(0)} images/s` +
            `${summary.shardList ? `; shard pattern in ${summary.shardList}` : ''}\n`);
        }
      }
      setExit(0);
    },
  };
}
