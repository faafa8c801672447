import type { CommandModule } from 'yargs';
import { runVerify } from '../../api';
import { EXIT_FAILURE } from '../../errors';
import { createReporter, formatBytes } from '../../progress';
import { whileInterruptible } from '../interrupt';

/** `vatom-fast verify DIR`: every shard against the manifest; exit 1 naming each problem. */
export default function verifyCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'verify <dir>',
    describe: 'Check every shard of a dataset against its manifest (size, .npy header, sha256, labels); of a manifest-only dataset, its class parameters against a fresh draw',
    builder: (y) => y.positional('dir', { type: 'string', describe: 'Dataset directory' })
      .option('full', { type: 'boolean', describe: 'Also render every image again and compare it with the stored one (at render speed; names the first image that differs)' })
      .option('threads', { type: 'number', requiresArg: true, describe: 'With --full: rendering threads (default: all cores)' })
      .option('quiet', { type: 'boolean', describe: 'No progress output' })
      .option('json', { type: 'boolean', describe: 'Print the report as JSON' })
      .example('$0 verify data/va', 'exit 0 when every shard matches, 1 naming each problem')
      .example('$0 verify data/va --full', 'every image rendered again and compared')
      .epilog('By default verify checks that each file is the one the manifest records (size, .npy header, sha256), that each label ' +
        'is its image\'s class, that the class parameters are what the config and seed draw, and renders two images again. ' +
        'It does not render the other images: a file changed together with its sha256 in the manifest passes unless it holds one ' +
        'of those two. --full renders every image and compares it.'),
    handler: async (argv) => {
      const dir = String(argv.dir);
      const reporter = createReporter({ quiet: argv.quiet === true || argv.json === true });
      const report = await whileInterruptible((signal) => runVerify(dir, argv, { reporter, signal }));
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else if (report.ok && report.storage === 'manifest') {
        process.stdout.write(`${dir}: OK, manifest only (images render on access), ${report.classesChecked} classes' parameters equal what its config and seed draw\n`);
      } else if (report.ok) {
        process.stdout.write(`${dir}: OK, ${report.shardsChecked} shards, ${formatBytes(report.bytesChecked)} verified` +
          `${report.imagesRendered !== undefined ? `, ${report.imagesRendered} images rendered again and equal` : ''}\n`);
      } else {
        for (const problem of report.problems) process.stderr.write(`${dir}: ${problem}\n`);
        process.stderr.write(`${dir}: FAILED, ${report.problems.length} problem(s)\n`);
      }
      setExit(report.ok ? 0 : EXIT_FAILURE);
    },
  };
}
