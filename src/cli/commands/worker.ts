/**
 * `export-task worker`: runs export jobs of the service on Redis, until Ctrl-C or SIGTERM.
 *
 * @packageDocumentation
 */
import { resolve } from 'node:path';
import { runService, stopRequested, type ServiceIo } from '../service-command.js';

/** What `worker` runs with. */
export interface WorkerCommandOptions {
  readonly redis: string;
  readonly dataDir: string | undefined;
  readonly concurrency: number | undefined;
  readonly jobTimeoutMs: number | undefined;
  readonly jobMemoryMb: number | undefined;
  readonly lockDurationMs: number | undefined;
}

/** Where `worker` writes and what stops it. */
export type WorkerIo = ServiceIo;

/** The data directory when neither `--data-dir` nor `EXPORT_TASK_DATA_DIR` says: the same as `serve`'s. */
const DEFAULT_DATA_DIR = 'export-task-data';

/**
 * The `worker` command, in the shape `src/cli/main.ts` lists its commands in.
 */
export const workerCommand = {
  name: 'worker',
  summary: 'Run export jobs of the service on Redis (BullMQ) until Ctrl-C',
  description: [
    'Takes export jobs from the BullMQ queue in the Redis at --redis, which API instances started with',
    '`export-task serve --redis URL` fill, and runs each in a worker thread with the time and memory limits of',
    'the export (or --job-timeout-ms / --job-memory-mb). --data-dir must be the directory the API instances use',
    `(default ./${DEFAULT_DATA_DIR}, or EXPORT_TASK_DATA_DIR). Run any number of workers on any number of machines`,
    'sharing that directory. A worker killed mid-job is noticed by the others within about 1.5 times',
    '--lock-duration-ms (default 5000, so 7.5 s): its export ends "failed" with failure_type "internal" if it had',
    'started, or runs again if not. Smaller notices sooner at more Redis traffic; a worker starved longer than it',
    'loses its jobs as if dead.',
    'Ctrl-C or SIGTERM stops taking jobs and waits for the running ones to end.',
  ].join('\n'),
  options: {
    redis: { type: 'string', valueName: 'url', description: 'The Redis of the API instances (required), e.g. redis://127.0.0.1:6379' },
    'data-dir': { type: 'string', valueName: 'dir', description: `The directory shared with the API instances (default ./${DEFAULT_DATA_DIR})` },
    concurrency: { type: 'string', valueName: 'n', description: 'Jobs run at once (default: the number of CPUs)' },
    'job-timeout-ms': { type: 'string', valueName: 'ms', description: 'Time limit of a job without its own (default unlimited)' },
    'job-memory-mb': { type: 'string', valueName: 'mb', description: 'Heap limit of a job without its own (default unlimited)' },
    'lock-duration-ms': { type: 'string', valueName: 'ms', description: 'BullMQ lock duration: how soon a dead worker is noticed (default 5000)' },
  },
  parse(values: Readonly<Record<string, string | boolean | undefined>>): WorkerCommandOptions {
    const string = (name: string): string | undefined => {
      const value = values[name];
      return typeof value === 'string' ? value : undefined;
    };
    const redis = string('redis');
    if (redis === undefined || redis === '') throw new TypeError('expected --redis <url>, the Redis of the API instances (redis://127.0.0.1:6379, say)');
    const dataDir = string('data-dir');
    if (dataDir === '') throw new TypeError('expected --data-dir to be non-empty, got ""');
    return {
      redis,
      dataDir,
      concurrency: positive('--concurrency', string('concurrency')),
      jobTimeoutMs: positive('--job-timeout-ms', string('job-timeout-ms')),
      jobMemoryMb: positive('--job-memory-mb', string('job-memory-mb')),
      lockDurationMs: positive('--lock-duration-ms', string('lock-duration-ms')),
    };
  },
  run: work,
} as const;

/**
 * Runs `export-task worker` with its own arguments (`argv` without the command name), for a
 * standalone entry point: Ctrl-C and SIGTERM stop it.
 *
 * @example
 * ```ts
 * process.exitCode = await runWorker(process.argv.slice(2));
 * ```
 * @param argv - `--redis`, `--data-dir`, `--concurrency`, `--job-timeout-ms`, `--job-memory-mb`, `--lock-duration-ms`.
 * @param io - Streams, environment and the stop signal; the process's by default.
 * @returns The exit code: 0 after a clean stop, 1 when the worker could not start, 2 for a usage error.
 */
export function runWorker(argv: readonly string[], io?: Partial<WorkerIo>): Promise<number> {
  return runService(workerCommand, argv, io);
}

async function work(options: WorkerCommandOptions, io: WorkerIo): Promise<number> {
  const dataDir = resolve(options.dataDir ?? (io.env['EXPORT_TASK_DATA_DIR'] || DEFAULT_DATA_DIR));
  if (io.signal.aborted) return 0;
  // Loaded here: the rest of the command line needs neither BullMQ nor ioredis.
  const { startWorker } = await import('../../server/start-worker.js');
  let worker;
  try {
    worker = await startWorker({
      redis: options.redis,
      dataDir,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.jobTimeoutMs === undefined ? {} : { jobTimeoutMs: options.jobTimeoutMs }),
      ...(options.jobMemoryMb === undefined ? {} : { jobMemoryMb: options.jobMemoryMb }),
      ...(options.lockDurationMs === undefined ? {} : { lockDurationMs: options.lockDurationMs }),
    });
  } catch (error) {
    io.stderr.write(`export-task worker: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof TypeError ? 2 : 1;
  }
  const stopped = stopRequested(io.signal);
  io.stdout.write(`export-task worker ready (pid ${process.pid}, data in ${dataDir})\n`);
  await stopped;
  io.stdout.write('export-task worker: stopping (running jobs finish first)\n');
  await worker.close();
  io.stdout.write('export-task worker: stopped\n');
  return 0;
}

function positive(what: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1)) throw new TypeError(`expected ${what} to be a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}
