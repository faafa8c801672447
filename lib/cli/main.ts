#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { VatomError, EXIT_BAD_INPUT } from '../errors';
import buildCommand from './commands/build';
import verifyCommand from './commands/verify';
import infoCommand from './commands/info';
import exportCommand from './commands/export';
import previewCommand from './commands/preview';
import mergeCommand from './commands/merge';

/** Runs the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  try {
    await yargs(argv)
      .scriptName('vatom-fast')
      .parserConfiguration({ 'duplicate-arguments-array': false })
      .command(buildCommand((code) => { exitCode = code; }))
      .command(verifyCommand((code) => { exitCode = code; }))
      .command(infoCommand((code) => { exitCode = code; }))
      .command(exportCommand((code) => { exitCode = code; }))
      .command(previewCommand((code) => { exitCode = code; }))
      .command(mergeCommand((code) => { exitCode = code; }))
      .demandCommand(1, 'Name a command: build, verify, info, merge, export or preview')
      .strict()
      .recommendCommands()
      .help()
      .version()
      .fail((message, err) => {
        if (err) throw err;
        throw new VatomError('BAD_OPTION', `${message}\nRun vatom-fast --help for the options.`, EXIT_BAD_INPUT);
      })
      .parseAsync();
  } catch (err) {
    if (err instanceof VatomError) {
      process.stderr.write(`vatom-fast: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`vatom-fast: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  return exitCode;
}

if (require.main === module) {
  main(hideBin(process.argv)).then((code) => { process.exitCode = code; });
}
