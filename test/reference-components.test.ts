// The reference stream's components on their own, against Debian's CPython 3.11 (`random`) and
// python3-noise 1.2.3 (`pnoise1`), evaluated at test time: CPython's MT19937 with its int seeding,
// random(), getrandbits, randint (bit-length rejection) and uniform, and float32 pnoise1.
import { nativeTesting, python } from './helpers';

const testing = nativeTesting();

type Call = [string, ...number[]];

/** The same calls on CPython's module-level generator after random.seed(seed). */
function pythonCalls(seed: number, calls: Call[]): number[] {
  const out = python(`
import json, random, sys
d = json.load(sys.stdin)
random.seed(d["seed"])
out = []
for c in d["calls"]:
    if c[0] == "random": out.append(random.random())
    elif c[0] == "getrandbits": out.append(random.getrandbits(c[1]))
    elif c[0] == "randint": out.append(random.randint(c[1], c[2]))
    elif c[0] == "uniform": out.append(random.uniform(c[1], c[2]))
    elif c[0] == "skip":
        for _ in range(c[1]): random.getrandbits(32)
        out.append(0)
    else: raise ValueError(c)
print(json.dumps(out))
`, JSON.stringify({ seed, calls }));
  return JSON.parse(out);
}

/** Index and values of the first difference, or null; keeps failure messages short on long arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; ++i) {
    if (!Object.is(a[i], b[i])) return `index ${i}: ${a[i]} vs ${b[i]}`;
  }
  return null;
}

function compareCalls(seed: number, calls: Call[]): void {
  const got = testing.pyRandomCalls(seed, calls);
  const want = pythonCalls(seed, calls);
  expect(firstDifference(got, want)).toBeNull();
}

/** Deterministic test inputs (xorshift32), independent of Math.random. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const SEEDS = [1, 2, 20, 0, 2 ** 32 + 5];

describe('CPython random (MT19937)', () => {
  it.each(SEEDS)('raw words equal random.getrandbits(32) after random.seed(%d)', (seed) => {
    const n = 5000; // eight twists
    const got = testing.mtWords(seed, n);
    const want: number[] = JSON.parse(python(
      `import random, json\nrandom.seed(${seed})\nprint(json.dumps([random.getrandbits(32) for _ in range(${n})]))`));
    expect(firstDifference(got, want)).toBeNull();
  });

  it('distinguishes seeds that share their low 32 bits', () => {
    expect(Array.from(testing.mtWords(2 ** 32 + 5, 4))).not.toEqual(Array.from(testing.mtWords(5, 4)));
  });

  it.each(SEEDS)('random() sequence equals CPython for seed %d', (seed) => {
    compareCalls(seed, Array.from({ length: 3000 }, (): Call => ['random']));
  });

  it.each(SEEDS)('randint(0, 255) draws 9 bits with rejection (seed %d)', (seed) => {
    compareCalls(seed, Array.from({ length: 3000 }, (): Call => ['randint', 0, 255]));
  });

  it.each(SEEDS)('randint(-512, 512) and randint(200, 1000) sequences (seed %d)', (seed) => {
    const calls: Call[] = [];
    for (let i = 0; i < 1500; ++i) calls.push(['randint', -512, 512]);
    for (let i = 0; i < 1500; ++i) calls.push(['randint', 200, 1000]);
    compareCalls(seed, calls);
  });

  it('randint over every width the script uses, degenerate and wide ranges', () => {
    const ranges: Array<[number, number]> = [
      [1, 200], [10, 60], [0, 20], [0, 0], [5, 5], [-3, 3], [0, 1], [0, 2], [0, 3], [0, 4], [1, 2 ** 31],
      [0, 2 ** 32 - 1], [0, 2 ** 32], [-(2 ** 40), 2 ** 40 + 3], [0, 2 ** 52],
    ];
    for (const seed of [1, 7]) {
      const calls: Call[] = [];
      for (const [a, b] of ranges) for (let i = 0; i < 200; ++i) calls.push(['randint', a, b]);
      compareCalls(seed, calls);
    }
  });

  it('getrandbits(k) for k = 1..53', () => {
    const calls: Call[] = [];
    for (let k = 1; k <= 53; ++k) for (let i = 0; i < 20; ++i) calls.push(['getrandbits', k]);
    compareCalls(3, calls);
  });

  it.each(SEEDS)('uniform sequences of the script (seed %d)', (seed) => {
    const calls: Call[] = [];
    const args: Array<[number, number]> = [[0, 10000], [0.0, 0.1], [1, 2], [0, 4], [1.5, 5.5], [1, 3.5], [-2, 2]];
    for (const [a, b] of args) for (let i = 0; i < 300; ++i) calls.push(['uniform', a, b]);
    compareCalls(seed, calls);
  });

  it.each(SEEDS)('mixed call sequences and word skips stay in step with CPython (seed %d)', (seed) => {
    const rand = xorshift(seed * 7919 + 11);
    const calls: Call[] = [];
    const skips = [0, 1, 623, 624, 625, 1248, 5000];
    for (let i = 0; i < 4000; ++i) {
      const r = rand();
      if (r < 0.2) calls.push(['random']);
      else if (r < 0.35) calls.push(['randint', 0, 255]);
      else if (r < 0.45) calls.push(['randint', -512, 512]);
      else if (r < 0.5) calls.push(['randint', 200, 1000]);
      else if (r < 0.55) calls.push(['randint', 0, 20]);
      else if (r < 0.6) calls.push(['getrandbits', 1 + Math.floor(rand() * 32)]);
      else if (r < 0.95) calls.push(['uniform', 0, 10000]);
      else if (r < 0.97) calls.push(['uniform', 0.0, 0.1]);
      else calls.push(['skip', skips[Math.floor(rand() * skips.length)]]);
    }
    compareCalls(seed, calls);
  });

  it('a whole category of the script, call for call (paper preset draws, one instance)', () => {
    // randint(V), randint(L), uniform(coef), uniform(lw), randint(rad), randint(n1), randint(n2),
    // uniform(ovx), uniform(ovy), centre; then lines of randint(0,255) + 2V uniform(0,10000).
    const calls: Call[] = [['randint', 200, 1000], ['randint', 1, 200], ['uniform', 0, 4], ['uniform', 0.0, 0.1],
      ['randint', 10, 60], ['randint', 0, 20], ['randint', 0, 20], ['uniform', 1, 2], ['uniform', 1, 2],
      ['randint', -512, 512], ['randint', -512, 512]];
    for (let line = 0; line < 20; ++line) {
      calls.push(['randint', 0, 255]);
      for (let v = 0; v < 2 * 300; ++v) calls.push(['uniform', 0, 10000]);
    }
    compareCalls(1, calls);
  });
});

describe('pnoise1 (float32, as noise 1.2.3)', () => {
  function pythonNoise(xs: Float64Array): number[] {
    return JSON.parse(python(`
import json, sys
from noise import pnoise1
print(json.dumps([pnoise1(x) for x in json.load(sys.stdin)]))
`, JSON.stringify(Array.from(xs))));
  }

  function compareNoise(xs: number[]): void {
    const input = Float64Array.from(xs);
    expect(firstDifference(testing.pnoise1(input), pythonNoise(input))).toBeNull();
  }

  /** The doubles adjacent to x. */
  function neighbours(x: number): number[] {
    const f = new Float64Array([x]);
    const bits = new BigInt64Array(f.buffer);
    const out: number[] = [];
    for (const d of [-1n, 1n]) {
      const g = new Float64Array(1);
      new BigInt64Array(g.buffer)[0] = bits[0] + (x >= 0 ? d : -d);
      out.push(g[0]);
    }
    return out;
  }

  it('equals noise.pnoise1 on random inputs in [0, 10000]', () => {
    const rand = xorshift(12345);
    compareNoise(Array.from({ length: 50000 }, () => rand() * 10000));
  });

  it('equals noise.pnoise1 next to integers (rounding to float may land on the integer)', () => {
    const xs: number[] = [];
    const ks = [0, 1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193, 9999, 10000];
    for (let k = 0; k <= 10000; k += 37) ks.push(k);
    for (const k of ks) {
      xs.push(k, k + 1e-9, k - 1e-9, k + 2 ** -30, k - 2 ** -30, k + 2 ** -24, k - 2 ** -24, ...neighbours(k));
      // Halfway points between floats near k (ties to even) and the float spacing itself.
      for (const e of [-10, -11, -12, -13, -14, -20]) xs.push(k + 2 ** e, k - 2 ** e, k + 1.5 * 2 ** e, k - 1.5 * 2 ** e);
      xs.push(k + 0.5, k - 0.5);
    }
    compareNoise(xs.filter((x) => x >= 0 && x <= 10000));
  });

  it('equals noise.pnoise1 on a grid over the whole range [0, 10000]', () => {
    const xs: number[] = [];
    for (let i = 0; i <= 160000; ++i) xs.push(i / 16);
    for (let x = 0.013; x <= 10000; x += 0.731) xs.push(x);
    compareNoise(xs);
  });

  it('equals noise.pnoise1 on negative inputs', () => {
    const rand = xorshift(999);
    const xs: number[] = Array.from({ length: 20000 }, () => -rand() * 10000);
    for (const k of [-1, -2, -255, -256, -257, -1024, -8192, -10000]) xs.push(k, ...neighbours(k), k + 2 ** -30, k - 1e-9);
    xs.push(-1e-300, -0.5, -0.25);
    compareNoise(xs);
  });
});
