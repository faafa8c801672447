/**
 * A 5 x 7 bitmap font for contact-sheet labels where no system font can be found (sharp renders SVG
 * text through fontconfig; without a font it draws nothing). Only the characters labels use.
 */
const GLYPHS: Record<string, string> = {
  '0': '01110100011001110101110011000101110',
  '1': '00100011000010000100001000010001110',
  '2': '01110100010000100010001000100011111',
  '3': '11111000100010000010000011000101110',
  '4': '00010001100101010010111110001000010',
  '5': '11111100001111000001000011000101110',
  '6': '00110010001000011110100011000101110',
  '7': '11111000010001000100010000100001000',
  '8': '01110100011000101110100011000101110',
  '9': '01110100011000101111000010001001100',
  a: '00000000000111000001011111000101111',
  c: '00000000000111010000100001000101110',
  e: '00000000000111010001111111000001110',
  i: '00100000000110000100001000010001110',
  n: '00000000001011011001100011000110001',
  q: '00000000000110110011011110000100001',
  t: '01000010001110001000010000100100110',
  K: '10001100101010011000101001001010001',
  '.': '00000000000000000000000000110001100',
  '-': '00000000000000011111000000000000000',
  ' ': '00000000000000000000000000000000000',
};
const UNKNOWN = '11111100011000110001100011000111111';

/** Advance and line height of the bitmap font at scale 1, in pixels. */
export const BITMAP_ADVANCE = 6;
export const BITMAP_LINE = 9;

/** Draws `text` into an RGB buffer of width `width` with its top-left corner at (x, y), each font pixel scale x scale. */
export function drawBitmapText(rgb: Buffer, width: number, height: number, x: number, y: number, text: string, scale: number, value: number): void {
  for (let ch = 0; ch < text.length; ++ch) {
    const glyph = GLYPHS[text[ch]] ?? UNKNOWN;
    const gx = x + ch * BITMAP_ADVANCE * scale;
    for (let r = 0; r < 7; ++r) {
      for (let c = 0; c < 5; ++c) {
        if (glyph[r * 5 + c] !== '1') continue;
        for (let dy = 0; dy < scale; ++dy) {
          const py = y + r * scale + dy;
          if (py < 0 || py >= height) continue;
          for (let dx = 0; dx < scale; ++dx) {
            const px = gx + c * scale + dx;
            if (px < 0 || px >= width) continue;
            const o = 3 * (py * width + px);
            rgb[o] = value; rgb[o + 1] = value; rgb[o + 2] = value;
          }
        }
      }
    }
  }
}
