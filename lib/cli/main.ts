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

const COMMANDS = ['build', 'verify', 'info', 'merge', 'export', 'preview'];

/**
 * The text after each `--name` (or in `--name=text`). Numeric options are declared as numbers so that
 * --help says so; validation gets the text as typed instead of yargs' conversion (which reads "0x10"
 * as 16, "abc" as NaN and a 64-bit seed rounded), so that it checks and quotes what the user wrote.
 */
function optionTexts(argv: string[]): Map<string, string> {
  const texts = new Map<string, string>();
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--') break;
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(argv[i]);
    if (m === null) continue;
    if (m[2] !== undefined) texts.set(m[1], m[2]);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) texts.set(m[1], argv[i + 1]);
  }
  return texts;
}

/** yargs' "Missing required argument: out\n<what>" as "Missing --out: expected <what>". */
function missingMessage(message: string): string | undefined {
  const m = /^Missing required arguments?: ([^\n]+)\n([^\n]+)$/.exec(message);
  if (m === null) return undefined;
  return `Missing ${m[1].split(', ').map((name) => `--${name}`).join(', ')}: expected ${m[2]}`;
}

/** Runs the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const texts = optionTexts(argv);
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  try {
    if (argv.length > 0 && !argv[0].startsWith('-') && !COMMANDS.includes(argv[0])) {
      throw new VatomError('BAD_OPTION', `Unknown command ${JSON.stringify(argv[0])}: expected one of ${COMMANDS.join(', ')}\n` +
        'Run vatom-fast --help for the commands.', EXIT_BAD_INPUT);
    }
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
      .example('$0 build --classes 10 --instances 100 --out data/va', '10 classes x 100 images of the paper preset')
      .example('$0 verify data/va', 'every shard against the manifest')
      .epilog('Run vatom-fast <command> --help for the options of a command.')
      .middleware((parsed) => {
        for (const [name, text] of texts) {
          if (typeof parsed[name] !== 'number') continue;
          parsed[name] = text;
          parsed[kebab(name)] = text;
        }
      }, true)
      .strict()
      .help()
      .version()
      .fail((message, err) => {
        // yargs reports some of its own checks (requiresArg) as a YError, not a message.
        if (err && err.name !== 'YError') throw err;
        message = message ?? err.message;
        throw new VatomError('BAD_OPTION', missingMessage(message) ?? `${message}\nRun vatom-fast --help for the options.`, EXIT_BAD_INPUT);
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
