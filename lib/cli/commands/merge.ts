import type { CommandModule } from 'yargs';
import { mergeDataset } from '../../api';

/** `vatom-fast merge DIR`: join the partial manifests of a sharded (cluster) build. */
export default function mergeCommand(setExit: (code: number) => void): CommandModule {
  return {
    command: 'merge <dir>',
    describe: 'Join the partial manifests of a cluster build (--worker-index/--worker-count) into manifest.json',
    builder: (y) => y.positional('dir', { type: 'string', describe: 'Dataset directory the workers wrote' })
      .option('verify', { type: 'boolean', describe: 'Also check every shard\'s sha256 (reads the whole dataset)' })
      .option('json', { type: 'boolean', describe: 'Print the result as JSON' })
      .example('$0 merge /shared/va21k --verify', 'after every worker of a cluster build has finished'),
    handler: async (argv) => {
      const report = await mergeDataset(String(argv.dir), { verify: argv.verify === true });
      if (argv.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else process.stdout.write(`${report.dir}: merged ${report.parts} parts, ${report.shards} shards, ${report.images} images\n`);
      setExit(0);
    },
  };
}
