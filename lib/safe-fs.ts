/**
 * File access for directories whose contents are untrusted: every
 * name is a plain name inside the directory, every file opened is a regular file (not a symlink,
 * FIFO or device: O_NOFOLLOW and O_NONBLOCK, then fstat), and files are written under a temporary
 * name created exclusively, then renamed, so a planted file or symlink is never written through.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EXIT_FAILURE, VatomError } from './errors';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC } = fs.constants as typeof fs.constants & { O_CLOEXEC?: number };
const CLOEXEC = O_CLOEXEC ?? 0;

/** Whether `name` is one plain entry of a directory (no separator, not `.`/`..`, no NUL). */
export function isPlainName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !/[\\/\0]/.test(name) && name.length <= 255;
}

function plain(dir: string, name: string): string {
  if (!isPlainName(name)) {
    throw new VatomError('BAD_MANIFEST', `${JSON.stringify(name)} is not a plain file name inside ${dir}`);
  }
  return path.join(dir, name);
}

/** Why an open failed, in words, for messages. */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT': return 'missing';
    case 'ELOOP': return 'is a symbolic link (refused)';
    case 'ENOSPC': return 'no space left on device (disk full)';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'EROFS': return 'read-only file system';
    default: return e.code ? `${e.code}` : String((err as Error)?.message ?? err);
  }
}

/** An fd open for reading on DIR/NAME, or a VatomError saying why not; the file is regular and is what was opened. */
export function openRegularInside(dir: string, name: string): { fd: number; stat: fs.Stats } {
  const file = plain(dir, name);
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | CLOEXEC);
  } catch (err) {
    throw new VatomError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_A_DATASET' : 'BAD_MANIFEST', `${file}: ${describeError(err)}`);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new VatomError('BAD_MANIFEST', `${file} is not a regular file (a FIFO, device or directory is refused)`);
  }
  return { fd, stat };
}

/** Async twin of openRegularInside. */
export async function openRegularInsideAsync(dir: string, name: string): Promise<{ fh: fs.promises.FileHandle; stat: fs.Stats }> {
  const file = plain(dir, name);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | CLOEXEC);
  } catch (err) {
    throw new VatomError((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_A_DATASET' : 'BAD_MANIFEST', `${file}: ${describeError(err)}`);
  }
  const stat = await fh.stat();
  if (!stat.isFile()) {
    await fh.close();
    throw new VatomError('BAD_MANIFEST', `${file} is not a regular file (a FIFO, device or directory is refused)`);
  }
  return { fh, stat };
}

/** The whole of DIR/NAME (a regular file of at most maxBytes), read through one fd. */
export function readRegularInside(dir: string, name: string, maxBytes: number): Buffer {
  const { fd, stat } = openRegularInside(dir, name);
  try {
    if (stat.size > maxBytes) {
      throw new VatomError('BAD_MANIFEST', `${path.join(dir, name)} is ${stat.size} bytes, more than the ${maxBytes} a vatom-fast file may have`);
    }
    const out = Buffer.alloc(stat.size);
    let got = 0;
    while (got < out.length) {
      const n = fs.readSync(fd, out, got, out.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether DIR/NAME exists as anything (a dangling symlink counts), without following it. */
export function entryExists(dir: string, name: string): boolean {
  try {
    fs.lstatSync(plain(dir, name));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new VatomError('IO', `cannot read ${path.join(dir, name)}: ${describeError(err)}`, EXIT_FAILURE);
  }
}

/**
 * Creates DIR/NAME exclusively (O_EXCL | O_NOFOLLOW: never through a planted file or symlink).
 * A leftover from a killed run (only ours can be there: writers hold the directory lock) is removed
 * first, which removes a symlink itself, never its target.
 */
export function createExclusive(dir: string, name: string): number {
  const file = plain(dir, name);
  for (let attempt = 0; ; ++attempt) {
    try {
      return fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | CLOEXEC, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new VatomError('IO', `cannot create ${file}: ${describeError(err)}`, EXIT_FAILURE);
      }
      removeLeftover(dir, name);
    }
  }
}

/** Async twin of createExclusive. */
export async function createExclusiveAsync(dir: string, name: string): Promise<fs.promises.FileHandle> {
  const file = plain(dir, name);
  for (let attempt = 0; ; ++attempt) {
    try {
      return await fs.promises.open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | CLOEXEC, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new VatomError('IO', `cannot create ${file}: ${describeError(err)}`, EXIT_FAILURE);
      }
      removeLeftover(dir, name);
    }
  }
}

/**
 * Removes DIR/NAME, a temporary file a killed run left (a symlink itself, never its target). A
 * directory there was not left by vatom-fast: it is refused, naming it and the fix, and kept.
 */
export function removeLeftover(dir: string, name: string): void {
  const file = plain(dir, name);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new VatomError('IO', `cannot remove ${file}: ${describeError(err)}`, EXIT_FAILURE);
  }
  if (stat.isDirectory()) {
    throw new VatomError('OUTPUT_CONFLICT', `${file} is a directory where vatom-fast writes a temporary file; ` +
      `remove it (rmdir ${JSON.stringify(file)}) and rerun the same command`, EXIT_FAILURE);
  }
  try {
    fs.rmSync(file, { force: true });
  } catch (err) {
    throw new VatomError('IO', `cannot remove ${file}: ${describeError(err)}`, EXIT_FAILURE);
  }
}

/** fsync of a directory, so that a rename in it survives a crash. */
export function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, O_RDONLY | CLOEXEC);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces DIR/NAME with `data` atomically: written to NAME.tmp created exclusively, synced, renamed
 * (rename replaces a planted symlink, it does not follow it). Failures, a full disk included, are
 * one-line VatomErrors naming the file; the temporary file is removed.
 */
export function writeFileAtomic(dir: string, name: string, data: string | Buffer): void {
  const temp = `${name}.tmp`;
  const file = plain(dir, name);
  const fd = createExclusive(dir, temp);
  let renamed = false;
  try {
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      for (let at = 0; at < bytes.length;) at += fs.writeSync(fd, bytes, at, bytes.length - at);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(path.join(dir, temp), file);
    renamed = true;
    syncDirectory(dir);
  } catch (err) {
    if (!renamed) fs.rmSync(path.join(dir, temp), { force: true });
    if (err instanceof VatomError) throw err;
    throw new VatomError('IO', `cannot write ${file}: ${describeError(err)}`, EXIT_FAILURE);
  }
}

/** Whether a path exists (following links); errors other than "not found" are raised. */
export function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new VatomError('IO', `cannot read ${p}: ${(err as Error).message}`, EXIT_FAILURE);
  }
}

/** Lists DIR (names only), as a one-line VatomError if it is missing or not a directory. */
export function listDirectory(dir: string, what = 'directory'): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' ? 'is not a directory' : code === 'ENOENT' ? 'does not exist' : describeError(err);
    throw new VatomError('NOT_A_DATASET', `${dir}: ${what} ${why}`, EXIT_FAILURE);
  }
}
