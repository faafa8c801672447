import * as fs from 'fs';

/** Fails the run when a test left files in the run's temp directory (global-setup.ts), then removes it. */
export default function globalTeardown(): void {
  const root = process.env.VATOM_TEST_TMP_ROOT;
  if (root === undefined || !fs.existsSync(root)) return;
  const left = fs.readdirSync(root);
  fs.rmSync(root, { recursive: true, force: true });
  if (left.length > 0) {
    throw new Error(`tests left ${left.length} temporary entries behind: ${left.slice(0, 10).join(', ')}${left.length > 10 ? ', ...' : ''}`);
  }
}
