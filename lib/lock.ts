import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { VatomError, EXIT_BAD_INPUT } from './errors';

interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock file in a dataset directory, so two builds (or two copies of one worker) never
 * write the same shards at once. A lock whose process is gone on this host is stale and taken over;
 * a lock from another host is refused, naming it, since its process cannot be checked from here.
 */
export class DirectoryLock {
  private constructor(private readonly file: string) {}

  static acquire(dir: string, name: string, command: string): DirectoryLock {
    const file = path.join(dir, name);
    const me: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), command };
    for (let attempt = 0; attempt < 3; ++attempt) {
      try {
        const fd = fs.openSync(file, 'wx');
        fs.writeSync(fd, `${JSON.stringify(me)}\n`);
        fs.closeSync(fd);
        return new DirectoryLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: LockHolder | undefined;
      try {
        holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
      } catch {
        holder = undefined;  // half-written by a process killed while taking it
      }
      const stale = holder === undefined || (holder.host === me.host && !alive(holder.pid));
      if (!stale) {
        throw new VatomError('OUTPUT_CONFLICT',
          `${dir} is in use by another build: process ${holder!.pid} on ${holder!.host} since ${holder!.startedAt} ` +
          `(${holder!.command}); lock file ${file}. If that process is gone, delete the lock file`, EXIT_BAD_INPUT);
      }
      fs.rmSync(file, { force: true });
    }
    throw new VatomError('OUTPUT_CONFLICT', `${dir}: could not take the lock ${file}`, EXIT_BAD_INPUT);
  }

  release(): void {
    fs.rmSync(this.file, { force: true });
  }
}
