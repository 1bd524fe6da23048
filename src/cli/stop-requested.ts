/**
 * Resolves once `signal` aborts (Ctrl-C, through the command's own handler) or the process
 * gets SIGTERM, then removes both listeners. The listeners are in place when this returns:
 * call it before telling anyone the service is up, since whoever reads that may stop it at once,
 * and a SIGTERM with no listener yet would kill the process without a graceful shutdown.
 *
 * @param signal - The command's abort signal.
 * @returns A promise of the stop request.
 */
export function stopRequested(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      signal.removeEventListener('abort', stop);
      process.removeListener('SIGTERM', stop);
      resolve();
    };
    signal.addEventListener('abort', stop, { once: true });
    process.once('SIGTERM', stop);
    if (signal.aborted) stop();
  });
}
