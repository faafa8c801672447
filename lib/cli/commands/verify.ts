import type { CommandModule } from 'yargs';
import { verifyDataset } from '../../api';
import { EXIT_FAILURE } from '../../errors';
import { formatBytes } from '../../progress';

/** `vatom-fast verify DIR`: every shard against the manifest; exit 1 naming each problem. */
export default function verifyCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'verify <dir>',
    describe: 'Check every shard of a dataset against its manifest (size, .npy header, sha256); of a manifest-only dataset, its class parameters against a fresh draw',
    builder: (y) => y.positional('dir', { type: 'string', describe: 'Dataset directory' })
      .option('json', { type: 'boolean', describe: 'Print the report as JSON' })
      .example('$0 verify data/va', 'exit 0 when every shard matches, 1 naming each problem'),
    handler: async (argv) => {
      const dir = String(argv.dir);
      const report = await verifyDataset(dir);
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else if (report.ok && report.storage === 'manifest') {
        process.stdout.write(`${dir}: OK, manifest only (images render on access), ${report.classesChecked} classes' parameters equal what its config and seed draw\n`);
      } else if (report.ok) {
        process.stdout.write(`${dir}: OK, ${report.shardsChecked} shards, ${formatBytes(report.bytesChecked)} verified\n`);
      } else {
        for (const problem of report.problems) process.stderr.write(`${dir}: ${problem}\n`);
        process.stderr.write(`${dir}: FAILED, ${report.problems.length} problem(s)\n`);
      }
      setExit(report.ok ? 0 : EXIT_FAILURE);
    },
  };
}
