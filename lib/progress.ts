import { SingleBar, Presets } from 'cli-progress';

/** Where a long job reports how far it is. */
export interface Reporter {
  start(totalImages: number, alreadyDone: number): void;
  update(imagesDone: number): void;
  log(message: string): void;
  stop(): void;
}

/** A bar with images/s and ETA on a terminal, plain lines now and then otherwise, nothing when quiet. */
export function createReporter(options: { quiet: boolean; stream?: NodeJS.WriteStream }): Reporter {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { start() {}, update() {}, log() {}, stop() {} };
  if (stream.isTTY) return new BarReporter(stream);
  return new LineReporter(stream);
}

function rate(done: number, startedAt: number): number {
  const seconds = (Date.now() - startedAt) / 1000;
  return seconds > 0 ? done / seconds : 0;
}

class BarReporter implements Reporter {
  private readonly bar: SingleBar;
  private startedAt = Date.now();
  private base = 0;

  constructor(stream: NodeJS.WriteStream) {
    this.bar = new SingleBar({
      stream,
      format: ' {bar} {percentage}% | {value}/{total} images | {rate} images/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    }, Presets.shades_classic);
  }

  start(total: number, alreadyDone: number): void {
    this.startedAt = Date.now();
    this.base = alreadyDone;
    this.bar.start(total, alreadyDone, { rate: '0' });
  }

  update(done: number): void {
    this.bar.update(done, { rate: rate(done - this.base, this.startedAt).toFixed(0) });
  }

  log(message: string): void {
    this.bar.stop();
    process.stderr.write(`${message}\n`);
  }

  stop(): void {
    this.bar.stop();
  }
}

class LineReporter implements Reporter {
  private startedAt = Date.now();
  private lastLine = 0;
  private lastDone = -1;
  private total = 0;
  private base = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(total: number, alreadyDone: number): void {
    this.startedAt = Date.now();
    this.total = total;
    this.base = alreadyDone;
  }

  update(done: number): void {
    const now = Date.now();
    if (done === this.lastDone || (now - this.lastLine < 10_000 && done < this.total)) return;
    this.lastLine = now;
    this.lastDone = done;
    const r = rate(done - this.base, this.startedAt);
    const eta = r > 0 ? Math.round((this.total - done) / r) : 0;
    this.stream.write(`${done}/${this.total} images, ${r.toFixed(0)} images/s, ETA ${eta} s\n`);
  }

  log(message: string): void {
    this.stream.write(`${message}\n`);
  }

  stop(): void {}
}

/** Tells the user what they should know before the work starts, one `warning:` line each. */
export function reportWarnings(reporter: Reporter, warnings: readonly string[]): void {
  for (const warning of warnings) reporter.log(`warning: ${warning}`);
}

/** Human-readable size, decimal units as disks are sold. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; ++u; }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
