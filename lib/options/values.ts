import { badOption } from '../errors';

/** Raw option values as the command line gives them (strings keep their text for error messages). */
export type RawOptions = Record<string, unknown>;

const INTEGER = /^[+-]?\d+$/;
const REAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The text of an option value, trimmed. */
export function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : String(value);
}

/** An integer in [min, max]; `allowed` describes the set for the message. */
export function parseInteger(option: string, value: unknown, min: number, max: number, allowed?: string): number {
  const raw = text(value);
  const what = allowed ?? (max >= Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
  if (!INTEGER.test(raw)) throw badOption(option, value, what);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badOption(option, value, what);
  return n;
}

/** A finite number in [min, max]. */
export function parseReal(option: string, value: unknown, min: number, max: number): number {
  const raw = text(value);
  const what = `a number from ${min} to ${max}`;
  if (!REAL.test(raw)) throw badOption(option, value, what);
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw badOption(option, value, what);
  return n;
}

/** `MIN:MAX` or a single `N` (= `N:N`), integers with low <= MIN <= MAX <= high. */
export function parseRange(option: string, value: unknown, low: number, high: number): [number, number] {
  const raw = text(value);
  const what = `MIN:MAX or N, integers with ${low} <= MIN <= MAX <= ${high}`;
  const parts = raw.split(':');
  if (parts.length > 2 || !parts.every((p) => INTEGER.test(p.trim()))) throw badOption(option, value, what);
  const [min, max] = parts.length === 1 ? [Number(parts[0]), Number(parts[0])] : [Number(parts[0]), Number(parts[1])];
  if (min > max) throw badOption(option, value, `${what} (MIN ${min} is greater than MAX ${max})`);
  if (min < low || max > high) throw badOption(option, value, what);
  return [min, max];
}

/** One of `choices`. */
export function parseChoice<T extends string>(option: string, value: unknown, choices: readonly T[]): T {
  const raw = text(value);
  if (!(choices as readonly string[]).includes(raw)) throw badOption(option, value, `one of ${choices.join(', ')}`);
  return raw as T;
}
