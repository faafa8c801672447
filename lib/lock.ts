import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { VatomError, EXIT_BAD_INPUT } from './errors';
import { createExclusive, describeError, openRegularInside } from './safe-fs';

interface LockHolder {
  pid: number;
  host: string;
  /** Kernel start time of the process (/proc/PID/stat field 22), so a reused pid is not taken for the holder. */
  processStart?: string;
  startedAt: string;
  command: string;
  part?: { index: number; count: number };
}

/** The directory lock every writer takes: build, sharded worker, merge, export into its --out. */
export const LOCK_NAME = '.lock';
/** Names a lock may leave in a directory (the lock, workers' part locks, their temporary and displaced files). */
export const LOCK_FILE = /^\.lock(-part-\d+-of-\d+)?(\.[0-9a-f]+-[0-9a-f]+\.(tmp|stale))?$/;
const PART_LOCK = /^\.lock-part-(\d+)-of-(\d+)$/;
/** How long a worker waits for a sibling that is registering its part lock (which takes milliseconds). */
const SIBLING_WAIT_MS = 10_000;

function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the holder may still be running; a holder on another host always may (it cannot be checked from here). */
function mayBeAlive(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(holder.pid);
  return holder.processStart === undefined || start === undefined || start === holder.processStart;
}

function describeHolder(holder: LockHolder): string {
  return `process ${holder.pid} on ${holder.host} since ${holder.startedAt} (${holder.command})`;
}

interface Found { holder?: LockHolder; ino: number }

/** The lock DIR/NAME as found (undefined if there is none); `holder` is undefined when it is not a vatom-fast lock. */
function readLock(dir: string, name: string): Found | undefined {
  let opened: { fd: number; stat: fs.Stats };
  try {
    opened = openRegularInside(dir, name);
  } catch (err) {
    if (err instanceof VatomError && err.code === 'NOT_A_DATASET') return undefined;
    throw new VatomError('OUTPUT_CONFLICT', `${dir}: the lock ${path.join(dir, name)} cannot be read: ${(err as Error).message}; delete it`, EXIT_BAD_INPUT);
  }
  try {
    const buffer = Buffer.alloc(4096);
    const n = fs.readSync(opened.fd, buffer, 0, buffer.length, 0);
    let holder: LockHolder | undefined;
    try {
      const h = JSON.parse(buffer.subarray(0, n).toString('utf8')) as LockHolder;
      if (Number.isSafeInteger(h.pid) && h.pid > 0 && typeof h.host === 'string') holder = h;
    } catch {
      holder = undefined;
    }
    return { holder, ino: opened.stat.ino };
  } finally {
    fs.closeSync(opened.fd);
  }
}

/**
 * Creates DIR/NAME holding `holder`, atomically with its contents: written to a temporary file
 * created exclusively, then hard-linked to NAME (link fails if NAME exists, symlink or not). A
 * lock is therefore never seen empty or half-written. Returns its inode, or undefined if NAME exists.
 */
function createLock(dir: string, name: string, holder: LockHolder): number | undefined {
  const temp = `${name}.${process.pid.toString(16)}-${crypto.randomBytes(4).toString('hex')}.tmp`;
  const fd = createExclusive(dir, temp);
  try {
    try {
      fs.writeSync(fd, `${JSON.stringify(holder)}\n`);
      fs.fsyncSync(fd);
    } catch (err) {
      throw new VatomError('IO', `cannot create the lock ${path.join(dir, name)}: ${describeError(err)}`);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(path.join(dir, temp), path.join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw new VatomError('IO', `cannot create the lock ${path.join(dir, name)}: ${describeError(err)}`);
    }
    return fs.lstatSync(path.join(dir, name)).ino;
  } finally {
    fs.rmSync(path.join(dir, temp), { force: true });
  }
}

/**
 * Removes the stale lock DIR/NAME found with inode `ino`, and only it: it is first renamed aside and
 * its inode compared, so that a live lock another process created meanwhile is put back, not removed.
 */
function removeStale(dir: string, name: string, ino: number): void {
  const aside = path.join(dir, `${name}.${process.pid.toString(16)}-${crypto.randomBytes(4).toString('hex')}.stale`);
  try {
    fs.renameSync(path.join(dir, name), aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new VatomError('IO', `cannot remove the stale lock ${path.join(dir, name)}: ${describeError(err)}`);
  }
  if (fs.lstatSync(aside).ino !== ino) {
    try {
      fs.linkSync(aside, path.join(dir, name));
    } catch {
      // Another process took the lock meanwhile; theirs stands.
    }
  }
  fs.rmSync(aside, { force: true });
}

/**
 * An exclusive lock on a dataset (or export) directory, taken by every writer so that two never write
 * the same files: a whole build, merge or export holds DIR/.lock throughout. Workers of one sharded
 * build run at once, so a worker holds DIR/.lock only while it registers DIR/.lock-part-I-of-N, which
 * it then holds; a whole writer refuses while any worker's part lock is live, and a worker refuses a
 * live part lock of its own index or of another split. A lock whose process is gone on this host
 * (pid and kernel start time) is stale and taken over; one from another host is refused, naming it.
 */
export class DirectoryLock {
  private constructor(private readonly dir: string, private readonly name: string, private readonly ino: number) {}

  static acquire(dir: string, command: string, part?: { index: number; count: number }): DirectoryLock {
    const holder: LockHolder = {
      pid: process.pid, host: os.hostname(), processStart: processStart(process.pid), startedAt: new Date().toISOString(), command,
      ...(part ? { part } : {}),
    };
    const main = DirectoryLock.take(dir, LOCK_NAME, holder);
    try {
      for (const name of fs.readdirSync(dir).filter((f) => PART_LOCK.test(f)).sort()) {
        const found = readLock(dir, name);
        if (!found) continue;
        if (found.holder && !mayBeAlive(found.holder)) {
          removeStale(dir, name, found.ino);
          continue;
        }
        const [, index, count] = PART_LOCK.exec(name)!.map(Number);
        if (part && count === part.count && index !== part.index) continue;  // a sibling worker of the same split
        const who = found.holder ? describeHolder(found.holder) : 'an unreadable lock';
        throw new VatomError('OUTPUT_CONFLICT',
          `${dir} is in use by another build: ${who}; lock file ${path.join(dir, name)}. If that process is gone, delete the lock file`,
          EXIT_BAD_INPUT);
      }
      if (!part) return main;
      const own = DirectoryLock.take(dir, `.lock-part-${part.index}-of-${part.count}`, holder);
      main.release();
      return own;
    } catch (err) {
      main.release();
      throw err;
    }
  }

  private static take(dir: string, name: string, holder: LockHolder): DirectoryLock {
    const file = path.join(dir, name);
    const waitUntil = Date.now() + SIBLING_WAIT_MS;
    for (let attempt = 0; attempt < 5; ++attempt) {
      const ino = createLock(dir, name, holder);
      if (ino !== undefined) return new DirectoryLock(dir, name, ino);
      const found = readLock(dir, name);
      if (!found) continue;  // released meanwhile
      if (!found.holder) {
        throw new VatomError('OUTPUT_CONFLICT', `${dir}: the lock file ${file} is not a vatom-fast lock; if no vatom-fast runs there, delete it`, EXIT_BAD_INPUT);
      }
      // A sibling worker of the same split holds the directory lock only while it registers: wait for it.
      if (holder.part && found.holder.part?.count === holder.part.count && found.holder.part.index !== holder.part.index && mayBeAlive(found.holder) &&
          Date.now() < waitUntil) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        --attempt;
        continue;
      }
      if (mayBeAlive(found.holder)) {
        throw new VatomError('OUTPUT_CONFLICT',
          `${dir} is in use by another build: ${describeHolder(found.holder)}; lock file ${file}. If that process is gone, delete the lock file`,
          EXIT_BAD_INPUT);
      }
      removeStale(dir, name, found.ino);
    }
    throw new VatomError('OUTPUT_CONFLICT', `${dir}: could not take the lock ${file}`, EXIT_BAD_INPUT);
  }

  /** Removes the lock if it is still the one this process created. */
  release(): void {
    try {
      if (fs.lstatSync(path.join(this.dir, this.name)).ino === this.ino) fs.rmSync(path.join(this.dir, this.name), { force: true });
    } catch {
      // Already gone.
    }
  }
}
