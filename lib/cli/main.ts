#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { badOption, VatomError, EXIT_BAD_INPUT } from '../errors';
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

const COMMANDS = ['build', 'verify', 'info', 'merge', 'export', 'preview'];

/**
 * The text after each `--name` (or in `--name=text`). Numeric options are declared as numbers so that
 * --help says so; validation gets the text as typed instead of yargs' conversion (which reads "0x10"
 * as 16, "abc" as NaN and a 64-bit seed rounded), so that it checks and quotes what the user wrote.
 */
function optionTexts(argv: string[]): { texts: Map<string, string>; attached: Map<string, string> } {
  const texts = new Map<string, string>();
  const attached = new Map<string, string>();
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--') break;
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(argv[i]);
    if (m === null) continue;
    if (m[2] !== undefined) {
      texts.set(m[1], m[2]);
      attached.set(m[1], m[2]);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      texts.set(m[1], argv[i + 1]);
    }
  }
  return { texts, attached };
}

/** The values yargs documents for a boolean option given as `--name=VALUE`. */
const BOOLEAN_TEXTS = ['true', 'false'];

/** yargs' "Missing required argument: out\n<what>" as "Missing --out: expected <what>". */
function missingMessage(message: string): string | undefined {
  const m = /^Missing required arguments?: ([^\n]+)\n([^\n]+)$/.exec(message);
  if (m === null) return undefined;
  return `Missing ${m[1].split(', ').map((name) => `--${name}`).join(', ')}: expected ${m[2]}`;
}

/** Runs the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const { texts, attached } = optionTexts(argv);
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  try {
    if (argv.length > 0 && !argv[0].startsWith('-') && !COMMANDS.includes(argv[0])) {
      throw new VatomError('BAD_OPTION', `Unknown command ${JSON.stringify(argv[0])}: expected one of ${COMMANDS.join(', ')}\n` +
        'Run vatom-fast --help for the commands.', EXIT_BAD_INPUT);
    }
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
      .example('$0 build --classes 10 --instances 100 --out data/va', '10 classes x 100 images of the paper preset')
      .example('$0 verify data/va', 'every shard against the manifest')
      .epilog('Run vatom-fast <command> --help for the options of a command.')
      .middleware((parsed) => {
        // yargs reads any --flag=TEXT of a boolean flag as true; only its documented spellings are taken.
        for (const [name, text] of attached) {
          if (typeof parsed[name] === 'boolean' && !BOOLEAN_TEXTS.includes(text)) {
            throw badOption(name, text, `--${name} alone, --${name}=true, --${name}=false or --no-${name}`);
          }
        }
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
    process.stderr.write(`vatom-fast: ${oneLine(err)}\n`);
    if (process.env.VATOM_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
    return 1;
  }
  return exitCode;
}

if (require.main === module) {
  main(hideBin(process.argv)).then((code) => { process.exitCode = code; });
}
