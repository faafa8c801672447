/** The text of RCDB's per-class parameter file, `param/%05d.csv`, exactly as make_rcdb.py writes it. */

/** An RCDB class's drawn parameters (the names of the manifest's classParams). */
export interface RcdbClassParams {
  vertices: number;
  orbits: number;
  radius: number;
  noise: number;
  lineWidth: number;
  ovalX: number;
  ovalY: number;
  centreY: number;
  centreX: number;
}

/**
 * Python's str() of a float: the shortest digits that read back as the value (what JavaScript's
 * number formatting also finds), in fixed notation from 1e-4 up to 1e16 and in exponent notation
 * (`1e-05`, `1.5e+16`) outside, integral values with `.0`.
 */
export function pythonFloatText(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value < 0 ? '-inf' : 'inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const point = exponent + 1;  // value = 0.digits x 10^point
  if (point <= -4 || point > 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** The rows of `param/%05d.csv` in the script's order, each `name,value` and csv.writer's `\r\n`. */
export function rcdbParamFile(p: RcdbClassParams): string {
  const rows: Array<[string, string]> = [
    ['Vertex', String(p.vertices)],
    ['Perlin_noise', pythonFloatText(p.noise)],
    ['line_width', pythonFloatText(p.lineWidth)],
    ['Center_rad', String(p.radius)],
    ['Line_num', String(p.orbits)],
    ['Oval_rate_x', pythonFloatText(p.ovalX)],
    ['Oval_rate_y', pythonFloatText(p.ovalY)],
    ['start_pos_h', pythonFloatText(p.centreY)],
    ['start_pos_w', pythonFloatText(p.centreX)],
  ];
  return rows.map(([name, value]) => `${name},${value}\r\n`).join('');
}
