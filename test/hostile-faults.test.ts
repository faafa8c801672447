// Faults that cannot be arranged from outside a process (a disk that fills at one file), injected by
// replacing fs functions inside this test process: the library is run in-process through its API.
// The module object itself (not an import namespace copy), so that replacing its functions reaches the library.
import fs = require('fs');
import * as path from 'path';
import * as vatom from '../lib/index';
import { runCli, tempDir } from './helpers';

const T = tempDir('vatom-faults-');
const SMALL: vatom.GeneratorOptions = { classes: 3, instances: 2, imageSize: 32, vertices: [20, 60], orbits: [1, 12], startPos: 32, radiusMin: 2, seed: 5 };

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

/** Makes every write to a file whose name ends with `suffix` fail as a full disk would, until restored. */
function fillDiskAt(suffix: string): () => void {
  const fds = new Set<number>();
  const openSync = fs.openSync;
  const writeSync = fs.writeSync;
  const spies: Array<{ mockRestore(): void }> = [
    jest.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      const fd = (openSync as (...a: unknown[]) => number)(file, ...rest);
      if (String(file).endsWith(suffix)) fds.add(fd);
      return fd;
    }) as typeof fs.openSync),
    jest.spyOn(fs, 'writeSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
      if (fds.has(fd)) throw enospc();
      return (writeSync as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync),
  ];
  const open = fs.promises.open;
  spies.push(jest.spyOn(fs.promises, 'open').mockImplementation(async (file, ...rest) => {
    const fh = await open(file, ...rest);
    if (String(file).endsWith(suffix)) fh.write = (async () => { throw enospc(); }) as typeof fh.write;
    return fh;
  }));
  return () => spies.forEach((s) => s.mockRestore());
}

async function failure(work: () => Promise<unknown>): Promise<vatom.VatomError> {
  try {
    await work();
  } catch (err) {
    if (err instanceof vatom.VatomError) return err;
    throw err;
  }
  throw new Error('did not fail');
}

let dataset: string | undefined;
async function storedDataset(): Promise<string> {
  if (!dataset) {
    dataset = path.join(T, 'ds');
    await vatom.build({ out: dataset, shardSize: 4, ...SMALL });
  }
  return dataset;
}

describe('a full disk at one file names the file, keeps nothing that looks complete, exit 1', () => {
  it('manifest.json of a build', async () => {
    const out = path.join(T, 'build');
    const restore = fillDiskAt('manifest.json.tmp');
    const err = await failure(() => vatom.build({ out, ...SMALL })).finally(restore);
    expect([err.code, err.exitCode, err.message]).toEqual(['IO', 1, `cannot write ${path.join(out, 'manifest.json')}: no space left on device (disk full)`]);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('the marker of a PNG export', async () => {
    const ds = await storedDataset();
    const restore = fillDiskAt('vatom-export.json.tmp');
    const err = await failure(() => vatom.exportDataset({ dir: ds, to: 'png', out: path.join(T, 'png') })).finally(restore);
    expect([err.code, err.exitCode]).toEqual(['IO', 1]);
    expect(err.message).toContain('vatom-export.json: no space left on device (disk full)');
  });

  it('a WebDataset shard', async () => {
    const ds = await storedDataset();
    const out = path.join(T, 'wds');
    const restore = fillDiskAt('.tar.partial');
    const err = await failure(() => vatom.exportDataset({ dir: ds, to: 'wds', out })).finally(restore);
    expect([err.code, err.exitCode]).toEqual(['IO', 1]);
    expect(err.message).toMatch(/WebDataset export to .*wds failed: no space left on device \(disk full\); finished shards are kept/);
    expect(fs.readdirSync(out)).toEqual(['vatom-export.json']);
    // The same export on a disk with room finishes it.
    expect(runCli(['export', ds, '--to', 'wds', '--out', out, '--quiet']).status).toBe(0);
  });

  it('merge: the lock and the merged manifest', async () => {
    const dir = path.join(T, 'split');
    for (const workerIndex of [0, 1]) await vatom.build({ out: dir, shardSize: 2, workerIndex, workerCount: 2, ...SMALL });
    const parts = fs.readdirSync(dir).filter((f) => f.startsWith('manifest.part-')).sort();
    let restore = fillDiskAt('.tmp');
    let err = await failure(() => vatom.mergeDataset(dir)).finally(restore);
    expect([err.code, err.exitCode, err.message]).toEqual(['IO', 1, `cannot create the lock ${path.join(dir, '.lock')}: no space left on device (disk full)`]);
    restore = fillDiskAt('manifest.json.tmp');
    err = await failure(() => vatom.mergeDataset(dir)).finally(restore);
    expect(err.message).toBe(`cannot write ${path.join(dir, 'manifest.json')}: no space left on device (disk full)`);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('manifest.'))).toEqual(parts);
    expect((await vatom.mergeDataset(dir)).parts).toBe(2);
  });
});
