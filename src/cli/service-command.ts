import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The streams, environment and stop signal of a long-running command (`serve`, `worker`). */
export interface ServiceIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted to stop the command (Ctrl-C); SIGTERM does it too. */
  readonly signal: AbortSignal;
}

/** A long-running command in the shape `src/cli/main.ts` lists its commands in. */
interface ServiceCommand<Options> {
  readonly name: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  parse(values: Record<string, string | boolean | (string | boolean)[] | undefined>): Options;
  run(options: Options, io: ServiceIo): Promise<number>;
}

/**
 * Runs a long-running command with its own arguments (`argv` without the command name), for a
 * standalone entry point: Ctrl-C and SIGTERM stop it.
 *
 * @returns The command's exit code, or 2 for a usage error.
 */
export async function runService<Options>(command: ServiceCommand<Options>, argv: readonly string[], io?: Partial<ServiceIo>): Promise<number> {
  const stderr = io?.stderr ?? process.stderr;
  let options: Options;
  try {
    const { values } = parseArgs({ args: [...argv], options: command.options, strict: true, allowPositionals: false });
    options = command.parse(values);
  } catch (error) {
    stderr.write(`export-task ${command.name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const controller = new AbortController();
  const onInterrupt = (): void => controller.abort(new Error('Interrupted'));
  const signal = io?.signal ?? controller.signal;
  if (io?.signal === undefined) process.once('SIGINT', onInterrupt);
  try {
    return await command.run(options, { stdout: io?.stdout ?? process.stdout, stderr, env: io?.env ?? process.env, signal });
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

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
