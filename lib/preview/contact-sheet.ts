import * as fs from 'fs';
import * as path from 'path';
import { badOption, EXIT_BAD_INPUT, VatomError } from '../errors';
import { openDatasetSource, RenderSource } from '../export/source';
import { sharp } from '../export/encode';
import type { ClassParams } from '../native';
import { DEFAULT_COLUMNS, DEFAULT_ROWS, PREVIEW_LIMITS, ValidatedPreviewOptions } from '../options/preview';
import { exists, writeFileAtomic } from '../safe-fs';
import { BITMAP_ADVANCE, BITMAP_LINE, drawBitmapText } from './bitmap-font';

const DEFAULT_CELL = 128;
const BACKGROUND = 40;
const INK = 235;

/** Where each cell is and how the sheet was drawn (`preview --json`). */
export interface SheetSummary {
  out: string;
  width: number;
  height: number;
  rows: number;
  columns: number;
  imageSize: number;
  cellSize: number;
  /** area: each cell pixel averages the source pixels it covers (downscaling); nearest when enlarging; none at equal size. */
  resize: 'area' | 'nearest' | 'none';
  font: 'svg' | 'bitmap';
  cells: Array<{ row: number; column: number; class: number; instance: number; x: number; y: number; label: string[] }>;
}

function sheetTooLarge(rows: number, columns: number, cell: number, size: string): VatomError {
  return new VatomError('BAD_OPTION',
    `Invalid contact sheet size: ${rows} classes x ${columns} instances at --cell-size ${cell} make ${size} pixels; ` +
    `expected at most ${PREVIEW_LIMITS.sheetPixels} pixels: lower --classes, --instances or --cell-size`, EXIT_BAD_INPUT);
}

/** Cell pixels from an S x S gray image: area average when shrinking, nearest when enlarging. */
export function resizeCell(src: Buffer, size: number, cell: number): Buffer {
  const out = Buffer.alloc(cell * cell);
  if (cell === size) { src.copy(out, 0, 0, size * size); return out; }
  if (cell > size) {
    const map = Array.from({ length: cell }, (_, x) => Math.min(size - 1, Math.floor(((x + 0.5) * size) / cell)));
    for (let y = 0; y < cell; ++y) for (let x = 0; x < cell; ++x) out[y * cell + x] = src[map[y] * size + map[x]];
    return out;
  }
  // Weights of the source pixels j each output pixel covers: the overlap of [j, j + 1) with [x S / cell, (x + 1) S / cell).
  const spans = Array.from({ length: cell }, (_, x) => {
    const lo = (x * size) / cell;
    const hi = ((x + 1) * size) / cell;
    const taps: Array<[number, number]> = [];
    for (let j = Math.floor(lo); j < Math.min(size, Math.ceil(hi)); ++j) taps.push([j, Math.min(hi, j + 1) - Math.max(lo, j)]);
    return taps;
  });
  const area = (size / cell) ** 2;
  const rows = new Float64Array(size * cell);  // horizontal pass: size rows x cell columns
  for (let y = 0; y < size; ++y) {
    for (let x = 0; x < cell; ++x) {
      let sum = 0;
      for (const [j, w] of spans[x]) sum += w * src[y * size + j];
      rows[y * cell + x] = sum;
    }
  }
  for (let y = 0; y < cell; ++y) {
    for (let x = 0; x < cell; ++x) {
      let sum = 0;
      for (const [j, w] of spans[y]) sum += w * rows[j * cell + x];
      out[y * cell + x] = Math.min(255, Math.floor(sum / area + 0.5));
    }
  }
  return out;
}

/**
 * The three label lines of a cell: class and instance, then the class's drawn parameters (RCDB's,
 * which alone carry a centre: vertices V, lines L, noise c and the first radius r).
 */
export function cellLabel(p: ClassParams & { class: number }, instance: number): string[] {
  if (p.centreY !== undefined) {
    return [`c ${p.class}  i ${instance}`, `V ${p.vertices}  L ${p.orbits}`, `c ${p.noise.toFixed(2)}  r ${p.radius}`];
  }
  return [`c ${p.class}  i ${instance}`, `q ${p.vertices}  K ${p.orbits}`, `n1 ${p.freq1}  n2 ${p.freq2}  eta ${p.noise.toFixed(2)}`];
}

let svgTextWorks: boolean | undefined;

/** Whether sharp draws SVG text here (it needs a font through fontconfig); VATOM_PREVIEW_FONT=bitmap forces the fallback. */
export async function svgTextAvailable(): Promise<boolean> {
  if (process.env.VATOM_PREVIEW_FONT === 'bitmap') return false;
  if (svgTextWorks === undefined) {
    try {
      const probe = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="2" y="15" ' +
        'font-family="DejaVu Sans Mono, monospace" font-size="14" fill="#fff">08</text></svg>';
      const { data } = await sharp()(Buffer.from(probe)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      svgTextWorks = data.some((v, i) => i % 4 === 3 && v > 0);
    } catch {
      svgTextWorks = false;
    }
  }
  return svgTextWorks;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface RowSource {
  imageSize: number;
  params(row: number): ClassParams & { class: number };
  row(row: number): Promise<Buffer>;
  close(): Promise<void>;
}

async function openRows(options: ValidatedPreviewOptions): Promise<RowSource & { rows: number; columns: number }> {
  if (options.build) {
    const source = await RenderSource.open(options.build);
    const columns = options.columns;
    return {
      imageSize: source.imageSize, rows: source.classes, columns,
      params: (r) => source.classParams[r],
      row: (r) => source.read(r * columns, (r + 1) * columns),
      close: () => source.close(),
    };
  }
  const source = await openDatasetSource(options.from!, options.threads);
  const m = source;
  const startClass = options.startClass >= 0 ? options.startClass : m.startClass;
  const rows = options.rows >= 0 ? options.rows : Math.min(DEFAULT_ROWS, m.startClass + m.classes - startClass);
  const columns = options.columns >= 0 ? options.columns : Math.min(DEFAULT_COLUMNS, m.instances);
  if (startClass < m.startClass || startClass >= m.startClass + m.classes) {
    throw badOption('start-class', startClass, `a class of ${options.from}: ${m.startClass} to ${m.startClass + m.classes - 1}`);
  }
  if (rows < 1 || startClass + rows > m.startClass + m.classes) {
    throw badOption('classes', rows, `at most ${m.startClass + m.classes - startClass}: ${options.from} holds classes ${m.startClass} to ${m.startClass + m.classes - 1}`);
  }
  if (columns > m.instances) throw badOption('instances', columns, `at most ${m.instances}, the instances per class of ${options.from}`);
  const first = startClass - m.startClass;
  return {
    imageSize: source.imageSize, rows, columns,
    params: (r) => source.classParams[first + r],
    row: (r) => source.read((first + r) * m.instances, (first + r) * m.instances + columns),
    close: () => source.close(),
  };
}

/**
 * Draws a contact sheet: one row per class, one column per instance, each cell the image resized to
 * the cell size and labelled under it with class, instance, q, K, n1, n2 and eta. Written as an RGB
 * PNG under a temporary name and renamed. Rows are rendered or read one at a time.
 */
export async function makeContactSheet(options: ValidatedPreviewOptions): Promise<SheetSummary> {
  const out = options.out;
  if (exists(out) && fs.statSync(out).isDirectory()) throw badOption('out', out, 'a PNG file path, not a directory');
  const parent = path.dirname(path.resolve(out));
  if (!exists(parent) || !fs.statSync(parent).isDirectory()) throw badOption('out', out, `a file in an existing directory (${parent} is not one)`);
  try {
    fs.accessSync(parent, fs.constants.W_OK);
  } catch {
    throw badOption('out', out, `a file in a writable directory (${parent} is not writable)`);
  }

  const source = await openRows(options);
  try {
    const { rows, columns, imageSize: S } = source;
    const cell = options.cellSize ?? Math.min(DEFAULT_CELL, S);
    if (rows * columns * cell * cell > PREVIEW_LIMITS.sheetPixels) throw sheetTooLarge(rows, columns, cell, `more than ${rows * columns * cell * cell}`);
    const font = (await svgTextAvailable()) ? 'svg' : 'bitmap';
    const labels = Array.from({ length: rows }, (_, r) => Array.from({ length: columns }, (_, c) => cellLabel(source.params(r), c)));
    const longest = labels.flat(2).reduce((n, l) => Math.max(n, l.length), 0);
    const fontSize = Math.max(8, Math.min(20, Math.round(cell / 11)));
    const scale = Math.max(1, Math.round(fontSize / BITMAP_LINE));
    const advance = font === 'svg' ? 0.61 * fontSize : BITMAP_ADVANCE * scale;
    const lineHeight = font === 'svg' ? Math.ceil(fontSize * 1.25) : BITMAP_LINE * scale;
    const gap = Math.max(4, Math.round(cell / 16));
    const labelHeight = 3 * lineHeight + 4;
    const pitchX = Math.max(cell, Math.ceil(longest * advance) + 2) + gap;
    const pitchY = cell + labelHeight + gap;
    const width = gap + columns * pitchX;
    const height = gap + rows * pitchY;
    if (width * height > PREVIEW_LIMITS.sheetPixels) throw sheetTooLarge(rows, columns, cell, `${width} x ${height}`);

    const rgb = Buffer.alloc(width * height * 3, BACKGROUND);
    const summary: SheetSummary = {
      out, width, height, rows, columns, imageSize: S, cellSize: cell,
      resize: cell < S ? 'area' : cell > S ? 'nearest' : 'none', font, cells: [],
    };
    const svg: string[] = [];
    for (let r = 0; r < rows; ++r) {
      const pixels = await source.row(r);
      const p = source.params(r);
      for (let c = 0; c < columns; ++c) {
        const x0 = gap + c * pitchX;
        const y0 = gap + r * pitchY;
        const small = resizeCell(pixels.subarray(c * S * S, (c + 1) * S * S), S, cell);
        for (let y = 0; y < cell; ++y) {
          let o = 3 * ((y0 + y) * width + x0);
          for (let x = 0; x < cell; ++x, o += 3) {
            const v = small[y * cell + x];
            rgb[o] = v; rgb[o + 1] = v; rgb[o + 2] = v;
          }
        }
        summary.cells.push({ row: r, column: c, class: p.class, instance: c, x: x0, y: y0, label: labels[r][c] });
        labels[r][c].forEach((line, l) => {
          const top = y0 + cell + 3 + l * lineHeight;
          if (font === 'bitmap') {
            drawBitmapText(rgb, width, height, x0, top + Math.floor((lineHeight - 7 * scale) / 2), line, scale, INK);
          } else {
            svg.push(`<text x="${x0}" y="${top + fontSize}">${escapeXml(line)}</text>`);
          }
        });
      }
    }
    if (font === 'svg') {
      // The text layer alone (white, antialiased), blended into the label strips by its alpha.
      const overlay = `<svg xmlns="http://www.w3.org/2000/svg" xml:space="preserve" width="${width}" height="${height}">` +
        `<style>text{font-family:'DejaVu Sans Mono',monospace;font-size:${fontSize}px;fill:#fff}</style>${svg.join('')}</svg>`;
      const alpha = await sharp()(Buffer.from(overlay), { limitInputPixels: false }).ensureAlpha().extractChannel(3).raw().toBuffer();
      for (let k = 0; k < alpha.length; ++k) {
        const a = alpha[k];
        if (a === 0) continue;
        const v = Math.round(rgb[3 * k] + ((INK - rgb[3 * k]) * a) / 255);
        rgb[3 * k] = v; rgb[3 * k + 1] = v; rgb[3 * k + 2] = v;
      }
    }
    const png = await sharp()(rgb, { raw: { width, height, channels: 3 }, limitInputPixels: false }).png({ compressionLevel: 6 }).toBuffer();
    writeFileAtomic(path.dirname(out), path.basename(out), png);
    return summary;
  } finally {
    await source.close();
  }
}
