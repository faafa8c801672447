/**
 * Runs a long job with an AbortSignal that Ctrl-C (SIGINT) or SIGTERM trips, so the job can stop
 * between files, leave nothing half-written under a final name, and be resumed by a rerun.
 */
export async function whileInterruptible<T>(job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await job(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
