// The library API (lib/index.ts): typed camelCase options, unknown keys refused by name, errors in the
// API's own spelling, every entry point usable without the command line or a reporter.
import * as fs from 'fs';
import * as path from 'path';
import * as vatom from '../lib/index';
import { directoryHashes, runCli, tempDir } from './helpers';

const SMALL: vatom.GeneratorOptions = { imageSize: 64, vertices: [20, 60], orbits: '1:12', startPos: 64, radiusMin: 2, seed: 3 };

/** The message of the VatomError `work` throws (synchronously or as a rejection), with its code. */
async function refusal(work: () => unknown): Promise<string> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof vatom.VatomError)) throw err;
    return `${err.code} ${err.exitCode}: ${err.message}`;
  }
  throw new Error('not refused');
}

describe('library API', () => {
  const dir = tempDir();

  it.each([
    [{ out: 'x', clases: 2 }, /^BAD_OPTION 2: Unknown option clases for build\(\); expected out, format, shardSize, /],
    [{ out: 'x', clases: 2, image_size: 64 }, /^BAD_OPTION 2: Unknown options clases, image_size for build\(\)/],
    [{ out: 'x', imageSize: 8 }, /^BAD_OPTION 2: Invalid value for imageSize: 8; expected an integer from 16 to 8192$/],
    [{ out: 'x', startClass: -1 }, /^BAD_OPTION 2: Invalid value for startClass: -1; expected an integer from 0 to /],
    [{ out: 'x', vertices: [9, 3] }, /^BAD_OPTION 2: Invalid value for vertices: "9:3"; expected MIN:MAX or N, .*\(MIN 9 is greater than MAX 3\)$/],
    [{ out: 'x', rng: 'reference', seed: 1 }, /^BAD_OPTION 2: Invalid value for seed: 1; expected no seed with rng reference /],
    [{ out: 'x', gray: true }, /^BAD_OPTION 2: Invalid value for gray: true; expected no gray with format npy \(it applies to format png and wds\)$/],
    [{ classes: 2 }, /^BAD_OPTION 2: Missing out: expected the dataset directory to write$/],
  ])('validateBuildOptions(%j) is refused, naming the option as the API spells it', async (options, message) => {
    expect(await refusal(() => vatom.validateBuildOptions(options as unknown as vatom.BuildOptions))).toMatch(message);
  });

  it('validates with the command line\'s rules and fills the defaults', () => {
    const v = vatom.validateBuildOptions({ ...SMALL, out: 'x', classes: 3, seed: 2n ** 64n - 1n });
    expect(v).toMatchObject({ out: 'x', classes: 3, instances: 1000, seed: '18446744073709551615', rng: 'philox',
      config: { imageSize: 64, verticesMin: 20, verticesMax: 60, orbitsMin: 1, orbitsMax: 12, startPos: 64, radiusMin: 2 } });
    expect(v.worker).toBeUndefined();
  });

  it('does not read the scheduler\'s environment: a build is one machine\'s unless shardIndex/shardCount say otherwise', () => {
    const saved = process.env.SLURM_ARRAY_TASK_ID;
    process.env.SLURM_ARRAY_TASK_ID = '3';
    try {
      expect(vatom.validateBuildOptions({ out: 'x' }).worker).toBeUndefined();
      expect(vatom.validateBuildOptions({ out: 'x', shardIndex: 1, shardCount: 4 }).worker).toMatchObject({ index: 1, count: 4 });
    } finally {
      if (saved === undefined) delete process.env.SLURM_ARRAY_TASK_ID; else process.env.SLURM_ARRAY_TASK_ID = saved;
    }
  });

  it('builds without a reporter the same bytes as the command line', async () => {
    const out = path.join(dir, 'api');
    const summary = await vatom.build({ out, classes: 3, instances: 4, shardSize: 5, ...SMALL });
    expect(summary).toMatchObject({ out, images: 12, shards: 3, shardsWritten: 3 });
    const cli = path.join(dir, 'cli');
    expect(runCli(['build', '--out', cli, '--classes', '3', '--instances', '4', '--shard-size', '5', '--image-size', '64',
      '--vertices', '20:60', '--orbits', '1:12', '--start-pos', '64', '--radius-min', '2', '--seed', '3', '--quiet']).status).toBe(0);
    expect(directoryHashes(out)).toEqual(directoryHashes(cli));
    expect(await vatom.verifyDataset(out)).toMatchObject({ ok: true, shardsChecked: 3 });
    expect(vatom.readManifest(out).classParams).toHaveLength(3);
    const info = runCli(['info', out, '--json']);
    expect(vatom.datasetInfo(out)).toEqual(JSON.parse(info.stdout));
    expect(await refusal(() => vatom.datasetInfo(path.join(dir, 'none')))).toBe(`NOT_A_DATASET 1: ${path.join(dir, 'none')} does not exist`);
  });

  it('reports progress to a reporter when given one, and refuses a bad build before writing anything', async () => {
    const calls: string[] = [];
    const reporter: vatom.Reporter = {
      start: (total, done) => calls.push(`start ${total} ${done}`),
      update: () => undefined,
      log: (message) => calls.push(message.split(':')[0]),
      stop: () => calls.push('stop'),
    };
    await vatom.build({ out: path.join(dir, 'reported'), classes: 1, instances: 2, ...SMALL, radiusMin: 40 }, { reporter });
    // The warning: at 64 pixels a base radius of up to 46 (40 + the span of 6) can enclose the canvas.
    expect(calls).toEqual(['warning', 'device', 'start 2 0', 'stop']);
    const out = path.join(dir, 'refused');
    expect(await refusal(() => vatom.build({ out, classes: 0 }))).toBe('BAD_OPTION 2: Invalid value for classes: 0; expected an integer >= 1');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('stops a build on its AbortSignal, and a second call resumes it', async () => {
    const out = path.join(dir, 'cancelled');
    const controller = new AbortController();
    controller.abort();
    const err = await vatom.build({ out, classes: 2, instances: 2, shardSize: 2, ...SMALL }, { signal: controller.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(vatom.VatomError);
    expect(err.code).toBe('CANCELLED');
    expect(vatom.readManifest(out).complete).toBe(false);
    expect(await vatom.build({ out, classes: 2, instances: 2, shardSize: 2, ...SMALL })).toMatchObject({ shardsWritten: 2, shardsReused: 0 });
    expect((await vatom.verifyDataset(out)).ok).toBe(true);
  });

  it('writes PNG trees and WebDataset shards, by build({format}) and exportDataset', async () => {
    const png = path.join(dir, 'png');
    expect(await vatom.build({ out: png, format: 'png', gray: true, classes: 2, instances: 2, ...SMALL })).toMatchObject({ to: 'png', images: 4 });
    expect(fs.readdirSync(path.join(png, '00001')).sort()).toEqual(expect.arrayContaining([expect.stringMatching(/^vertex_\d{4}_instance_0001\.png$/)]));
    const source = path.join(dir, 'api');
    const wds = await vatom.exportDataset({ dir: source, out: path.join(dir, 'wds'), to: 'wds', shardImages: 5, prefix: 'va' });
    expect(wds).toMatchObject({ to: 'wds', images: 12, shards: 3 });
    expect(await refusal(() => vatom.exportDataset({ dir: source, out: path.join(dir, 'x'), to: 'png', shardImages: 5 })))
      .toMatch(/^BAD_OPTION 2: Invalid value for shardImages: 5; expected no shardImages with png output/);
    expect(await refusal(() => vatom.exportDataset({ dir: source, out: path.join(dir, 'x'), to: 'png', level: 3 } as unknown as vatom.ExportOptions)))
      .toMatch(/^BAD_OPTION 2: Unknown option level for exportDataset\(\); expected dir, out, to, threads, gray, pngLevel, shardImages, prefix$/);
  });

  it('writes a manifest-only dataset with build({ format: \'manifest\' }), refusing the sharding options', async () => {
    const out = path.join(dir, 'manifest-only');
    expect(await vatom.build({ out, format: 'manifest', classes: 2, instances: 3, ...SMALL })).toMatchObject({ storage: 'manifest', images: 6 });
    expect(fs.readdirSync(out)).toEqual(['manifest.json']);
    expect(vatom.isManifestOnly(vatom.readManifest(out))).toBe(true);
    expect(await refusal(() => vatom.build({ out, format: 'manifest', shardIndex: 0, shardCount: 2 })))
      .toBe('BAD_OPTION 2: Invalid value for shardIndex: 0; expected no shardIndex with format manifest (a manifest-only build is one file)');
    expect(await refusal(() => vatom.build({ out: path.join(dir, 'p'), format: 'png', shardSize: 4 })))
      .toBe('BAD_OPTION 2: Invalid value for shardSize: 4; expected no shardSize with format png (it applies to .npy shards)');
  });

  it('draws a contact sheet with preview()', async () => {
    const sheet = await vatom.preview({ out: path.join(dir, 'sheet.png'), classes: 2, instances: 3, cellSize: 32, ...SMALL });
    expect(sheet).toMatchObject({ rows: 2, columns: 3, cellSize: 32 });
    expect(fs.statSync(path.join(dir, 'sheet.png')).size).toBeGreaterThan(0);
    expect(await refusal(() => vatom.preview({ out: path.join(dir, 's.png'), cellSize: 4 }))).toMatch(/^BAD_OPTION 2: Invalid value for cellSize: 4; /);
  });

  it('merges the parts of a sharded build with mergeDataset()', async () => {
    const out = path.join(dir, 'parts');
    for (const shardIndex of [0, 1]) await vatom.build({ out, classes: 2, instances: 2, shardSize: 2, shardIndex, shardCount: 2, ...SMALL });
    expect(await vatom.mergeDataset(out, { verify: true })).toMatchObject({ parts: 2, shards: 2, images: 4 });
    expect(await refusal(() => vatom.mergeDataset(out, { verfy: true } as unknown as vatom.MergeOptions)))
      .toBe('BAD_OPTION 2: Unknown option verfy for mergeDataset(); expected verify');
  });
});
