import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * Every temporary file of the run (tests, the CLI and Python processes they start) goes under one
 * directory of its own, so that global-teardown.ts can tell whether a test left something behind
 * without confusing it with other runs on the same machine.
 */
export default function globalSetup(): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vatom-jest-'));
  process.env.VATOM_TEST_TMP_ROOT = root;
  process.env.TMPDIR = root;
  // Python processes the tests start import python/vatom_fast from the checkout: no __pycache__ there.
  process.env.PYTHONDONTWRITEBYTECODE = '1';
}
