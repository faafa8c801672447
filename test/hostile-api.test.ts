// The Node API checks the type of every option and argument at its boundary: a wrong type is a
// VatomError (BAD_OPTION, exit status 2) naming the option as the API spells it, before any work.
import * as fs from 'fs';
import * as path from 'path';
import * as vatom from '../lib/index';
import { encoderPoolSize } from '../lib/export/encode';
import { tempDir } from './helpers';

const T = tempDir('vatom-api-');
const SMALL: vatom.GeneratorOptions = { classes: 2, instances: 2, imageSize: 32, vertices: [20, 60], orbits: [1, 12], startPos: 32, radiusMin: 2, seed: 5 };

async function refusal(work: () => unknown): Promise<string> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof vatom.VatomError)) throw err;
    return `${err.code} ${err.exitCode}: ${err.message}`;
  }
  throw new Error('not refused');
}

describe('types at the API boundary', () => {
  const cwd = process.cwd();
  const work = path.join(T, 'cwd');
  beforeAll(() => {
    fs.mkdirSync(work);
    process.chdir(work);  // where a path of the wrong type would have become a directory
  });
  afterAll(() => process.chdir(cwd));

  const any = (x: unknown) => x as never;
  it.each([
    ['build out {}', () => vatom.build(any({ out: {}, ...SMALL })), 'Invalid value for out: an object; expected a string'],
    ['build out [a, b]', () => vatom.build(any({ out: ['a', 'b'], ...SMALL })), 'Invalid value for out: an array; expected a string'],
    ['build out 42', () => vatom.build(any({ out: 42, ...SMALL })), 'Invalid value for out: 42 (number); expected a string'],
    ['build classes [1]', () => vatom.build(any({ out: 'x', ...SMALL, classes: [1] })), 'Invalid value for classes: an array; expected a number'],
    ['build gray "yes"', () => vatom.build(any({ out: 'x', format: 'png', ...SMALL, gray: 'yes' })), 'Invalid value for gray: "yes" (string); expected true or false'],
    ['build gray 1', () => vatom.build(any({ out: 'x', format: 'png', ...SMALL, gray: 1 })), 'Invalid value for gray: 1 (number); expected true or false'],
    ['build vertices [1, 2, 3]', () => vatom.build(any({ out: 'x', ...SMALL, vertices: [1, 2, 3] })), 'Invalid value for vertices: an array; expected a number, [min, max]'],
    ['build signal {}', () => vatom.build({ out: 'x', ...SMALL }, any({ signal: {} })), 'Invalid value for signal: an object; expected an AbortSignal'],
    ['build reporter 5', () => vatom.build({ out: 'x', ...SMALL }, any({ reporter: 5 })), 'Invalid value for reporter: 5 (number); expected a Reporter'],
    ['preview out 7', () => vatom.preview(any({ out: 7, ...SMALL })), 'Invalid value for out: 7 (number); expected a string'],
    ['preview signal "x"', () => vatom.preview({ out: 'x.png', ...SMALL }, any({ signal: 'x' })), 'Invalid value for signal: "x" (string); expected an AbortSignal'],
    ['exportDataset dir 5', () => vatom.exportDataset(any({ dir: 5, out: 'y', to: 'png' })), 'Invalid value for dir: 5 (number); expected a string'],
    ['exportDataset threads "2"', () => vatom.exportDataset(any({ dir: 'd', out: 'y', to: 'png', threads: '2' })), 'Invalid value for threads: "2" (string); expected a number'],
    ['verifyDataset 42', () => vatom.verifyDataset(any(42)), 'Invalid value for dir: 42 (number); expected a string (a directory path)'],
    ['verifyDataset full "yes"', () => vatom.verifyDataset('d', any({ full: 'yes' })), 'Invalid value for full: "yes" (string); expected true or false'],
    ['verifyDataset reporter 1', () => vatom.verifyDataset('d', {}, any({ reporter: 1 })), 'Invalid value for reporter: 1 (number); expected a Reporter'],
    ['datasetInfo {}', () => vatom.datasetInfo(any({})), 'Invalid value for dir: an object; expected a string (a directory path)'],
    ['readManifest null', () => vatom.readManifest(any(null)), 'Invalid value for dir: null; expected a string (a directory path)'],
    ['mergeDataset [1]', () => vatom.mergeDataset(any([1])), 'Invalid value for dir: an array; expected a string (a directory path)'],
    ['mergeDataset verify 1', () => vatom.mergeDataset('d', any({ verify: 1 })), 'Invalid value for verify: 1 (number); expected true or false'],
  ])('%s is refused naming the option', async (_label, call, message) => {
    expect(await refusal(call)).toMatch(new RegExp(`^BAD_OPTION 2: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('nothing was written where a path of the wrong type would have gone', () => {
    expect(fs.readdirSync(work)).toEqual([]);
  });
});

describe('process-wide settings and native failures', () => {
  it('sizes libuv\'s pool by the encodes the cores can run, not by --threads', () => {
    expect(encoderPoolSize(1024, 16)).toBe(18);
    expect(encoderPoolSize(1, 16)).toBe(4);
    expect(encoderPoolSize(8, 2)).toBe(4);
  });

  it('a renderer that cannot start its threads is one message naming the thread count and the fix', async () => {
    const addon = vatom.loadNative();
    const spy = jest.spyOn(addon, 'Generator').mockImplementation((() => {
      throw new Error('Resource temporarily unavailable');
    }) as never);
    try {
      const message = await refusal(() => vatom.build({ out: path.join(T, 'threads'), ...SMALL, threads: 1024 }));
      expect(message).toBe('IO 1: cannot start the renderer with 1024 threads on the cpu: Resource temporarily unavailable; ' +
        'use fewer --threads or raise the process limits');
    } finally {
      spy.mockRestore();
    }
  });
});
