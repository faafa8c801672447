// The shared native components on their own: Philox, SHA-256, the deterministic trigonometry and the
// PIL-exact rasterizer (against Pillow 9.4, Debian's python3-pil).
import * as crypto from 'crypto';
import { nativeTesting, python } from './helpers';

const testing = nativeTesting();

describe('Philox4x32-10', () => {
  // Random123's known-answer vectors (kat_vectors): counter[4], key[2] -> output[4].
  const vectors: Array<[number[], number[]]> = [
    [[0, 0, 0, 0, 0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];
  it.each(vectors)('matches the Random123 vector for %j', (input, expected) => {
    const [c0, c1, c2, c3, k0, k1] = input;
    expect(Array.from(testing.philox(c0, c1, c2, c3, k0, k1))).toEqual(expected);
  });
});

describe('SHA-256', () => {
  it.each([false, true])('equals Node crypto for lengths around every block boundary (portable code: %s)', (portable) => {
    for (const length of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096 + 17, 1 << 20]) {
      const data = crypto.randomBytes(length);
      expect(testing.sha256(data, portable)).toBe(crypto.createHash('sha256').update(data).digest('hex'));
    }
  });
});

describe('deterministic sin and cos of 2*pi*n/d', () => {
  it('agrees with Math.sin and Math.cos to the rounding of their argument', () => {
    let worst = 0;
    for (const d of [3, 7, 200, 337, 601, 999, 1000]) {
      for (let n = 0; n < 3 * d; n += Math.max(1, Math.floor(d / 97))) {
        const [s, c] = testing.detSinCos(n, d);
        const angle = (2 * Math.PI * n) / d;
        worst = Math.max(worst, Math.abs(s - Math.sin(angle)), Math.abs(c - Math.cos(angle)));
      }
    }
    expect(worst).toBeLessThan(8e-15);
  });

  it('is exact at quarter turns and periodic in n', () => {
    expect(Array.from(testing.detSinCos(0, 8))).toEqual([0, 1]);
    expect(Array.from(testing.detSinCos(2, 8))).toEqual([1, -0]);
    expect(Array.from(testing.detSinCos(4, 8))).toEqual([-0, -1]);
    expect(Array.from(testing.detSinCos(6, 8))).toEqual([-1, 0]);
    expect(Array.from(testing.detSinCos(5 + 337 * 4, 337))).toEqual(Array.from(testing.detSinCos(5, 337)));
  });
});

describe('rasterizer', () => {
  const W = 48;
  const H = 40;
  // Deterministic pseudo-random segments: ordinary, steep, flat, diagonal, single points, partly and
  // wholly outside the canvas, and far-away endpoints crossing it.
  function segments(): number[][] {
    let state = 12345;
    const rand = (lo: number, hi: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return lo + (state % (hi - lo + 1));
    };
    const out: number[][] = [];
    for (let i = 0; i < 1500; ++i) {
      const kind = i % 10;
      const x0 = rand(-20, W + 20);
      const y0 = rand(-20, H + 20);
      if (kind === 0) out.push([x0, y0, x0, y0]);
      else if (kind === 1) out.push([x0, y0, rand(-20, W + 20), y0]);
      else if (kind === 2) out.push([x0, y0, x0, rand(-20, H + 20)]);
      else if (kind === 3) { const d = rand(-30, 30); out.push([x0, y0, x0 + d, y0 + (i % 20 < 10 ? d : -d)]); }
      else if (kind === 4) out.push([rand(-3000, 3000), rand(-3000, 3000), rand(-3000, 3000), rand(-3000, 3000)]);
      else if (kind === 5) out.push([rand(-200, -1), rand(-20, H + 20), rand(-200, -1), rand(-20, H + 20)]);
      else if (kind === 6) out.push([x0, y0, x0 + rand(-3, 3), y0 + rand(-60, 60)]);
      else out.push([x0, y0, rand(-20, W + 20), rand(-20, H + 20)]);
    }
    return out;
  }

  it('sets exactly the pixels of Pillow 9.4 ImageDraw.line(width=1), with the fast and the walking version', () => {
    const segs = segments();
    const pil = python(`
import sys, json
from PIL import Image, ImageDraw
assert Image.__version__ == '9.4.0', Image.__version__
out = []
for x0, y0, x1, y1 in json.loads(sys.stdin.read()):
    im = Image.new('RGB', (${W}, ${H}))
    ImageDraw.Draw(im).line((float(x0), float(y0), float(x1), float(y1)), fill=(255, 255, 255), width=1)
    data = im.getchannel(0).tobytes()
    out.append([i for i, v in enumerate(data) if v])
print(json.dumps(out))
`, JSON.stringify(segs));
    const expected: number[][] = JSON.parse(pil);
    let mismatches = 0;
    segs.forEach((seg, i) => {
      for (const walk of [false, true]) {
        const pixels = testing.rasterize(W, H, Int32Array.from(seg), walk);
        const set: number[] = [];
        pixels.forEach((v, j) => { if (v) set.push(j); });
        if (JSON.stringify(set) !== JSON.stringify(expected[i])) {
          ++mismatches;
          if (mismatches < 5) console.error(`segment ${JSON.stringify(seg)} walk=${walk}: ${set.length} vs ${expected[i].length} pixels`);
        }
      }
    });
    expect(mismatches).toBe(0);
    // The set really exercises clipping: some segments set nothing, some are long.
    expect(expected.filter((e) => e.length === 0).length).toBeGreaterThan(50);
    expect(Math.max(...expected.map((e) => e.length))).toBeGreaterThan(40);
  });

  it('lets later segments overwrite earlier ones', () => {
    const pixels = testing.rasterize(8, 8, Int32Array.from([0, 0, 7, 0, 3, 0, 3, 7]), false);
    expect(pixels[3]).toBe(2);
    expect(pixels[2]).toBe(1);
  });
});
