/** Exit status for refused input: nothing was done or written. */
export const EXIT_BAD_INPUT = 2;
/** Exit status for a failed check or a failure while working. */
export const EXIT_FAILURE = 1;

/** Stable error codes; tests and scripts match on these, not on message text. */
export type VatomErrorCode =
  | 'BAD_OPTION'
  | 'OUTPUT_CONFLICT'
  | 'NO_SPACE'
  | 'NOT_A_DATASET'
  | 'BAD_MANIFEST'
  | 'NATIVE_LOAD'
  | 'IO'
  | 'CANCELLED';

/** An error a user can act on, with a stable code and the exit status the CLI ends with. */
export class VatomError extends Error {
  readonly code: VatomErrorCode;
  readonly exitCode: number;

  constructor(code: VatomErrorCode, message: string, exitCode = EXIT_FAILURE) {
    super(message);
    this.name = 'VatomError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** An invalid option value, refused before any work (exit 2). */
export function badOption(option: string, value: unknown, allowed: string): VatomError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new VatomError('BAD_OPTION', `Invalid value for --${option}: ${shown}; expected ${allowed}`, EXIT_BAD_INPUT);
}
