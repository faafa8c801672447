#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { VatomError, EXIT_BAD_INPUT } from '../errors';
import { describeError } from '../safe-fs';
import buildCommand from './commands/build';
import verifyCommand from './commands/verify';
import infoCommand from './commands/info';
import exportCommand from './commands/export';
import previewCommand from './commands/preview';
import mergeCommand from './commands/merge';

/**
 * `--vertices -5:5` as `--vertices=-5:5`: a value that starts with "-" and a digit is the option's
 * value, so that it is refused naming the option, rather than read as flags ("Unknown argument: 5").
 */
export function attachNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const next = argv[i + 1];
    if (/^--[a-z][a-z0-9-]*$/.test(a) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      ++i;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** A failure that is not a VatomError (a bug, or an fs error that slipped through), in one line. */
function oneLine(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const what = e?.code ? `${describeError(e)}${e.path ? ` (${e.path})` : ''}` : String(e?.message ?? err);
  return what.split('\n')[0];
}

/** Runs the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  try {
    await yargs(attachNegativeValues(argv))
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
    process.stderr.write(`vatom-fast: ${oneLine(err)}\n`);
    if (process.env.VATOM_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
    return 1;
  }
  return exitCode;
}

if (require.main === module) {
  main(hideBin(process.argv)).then((code) => { process.exitCode = code; });
}
