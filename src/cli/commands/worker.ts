/**
 * `export-task worker`: runs export jobs of the service on Redis, until Ctrl-C or SIGTERM.
 *
 * @packageDocumentation
 */
import { resolve } from 'node:path';
import { runService, stopRequested, type ServiceIo } from '../service-command.js';
import { checkRedisTarget } from '../../server/redis/check-redis-target.js';
import { definedOnly, flagValues, serviceFlags, type FlagValues } from '../service-flags.js';

/** The data directory when neither `--data-dir` nor `EXPORT_TASK_DATA_DIR` says: the same as `serve`'s. */
const DEFAULT_DATA_DIR = 'export-task-data';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The flags of `worker`, each with its environment variable (a flag wins). A key is the
 * `startWorker()` option the value goes to; adding a flag for one is a line here.
 */
export const WORKER_FLAGS = serviceFlags({
  redis: { flag: 'redis', env: 'EXPORT_TASK_REDIS', value: flagValues.text('url'), description: 'The Redis of the API instances (this or --redis-cluster), e.g. redis://127.0.0.1:6379' },
  redisCluster: {
    flag: 'redis-cluster',
    env: 'EXPORT_TASK_REDIS_CLUSTER',
    value: flagValues.text('host:port,...'),
    description: 'Instead of --redis: nodes of the Redis Cluster of the API instances, comma-separated',
  },
  dataDir: { flag: 'data-dir', env: 'EXPORT_TASK_DATA_DIR', value: flagValues.text('dir'), description: `The directory shared with the API instances (default ./${DEFAULT_DATA_DIR})` },
  concurrency: { flag: 'concurrency', env: 'EXPORT_TASK_CONCURRENCY', value: flagValues.positive('n'), description: 'Jobs run at once (default: the number of CPUs)' },
  jobTimeoutMs: { flag: 'job-timeout-ms', env: 'EXPORT_TASK_JOB_TIMEOUT_MS', value: flagValues.positive('ms'), description: 'Time limit of a job without its own (default unlimited)' },
  jobMemoryMb: { flag: 'job-memory-mb', env: 'EXPORT_TASK_JOB_MEMORY_MB', value: flagValues.positive('mb'), description: 'Heap limit of a job without its own (default unlimited)' },
  lockDurationMs: { flag: 'lock-duration-ms', env: 'EXPORT_TASK_LOCK_DURATION_MS', value: flagValues.positive('ms'), description: 'BullMQ lock duration: how soon a dead worker is noticed (default 5000)' },
  logLevel: { flag: 'log-level', env: 'EXPORT_TASK_LOG_LEVEL', value: flagValues.oneOf('level', LOG_LEVELS), description: 'JSON log lines on stdout from this level up (default info)' },
  logPretty: { flag: 'log-pretty', env: 'EXPORT_TASK_LOG_PRETTY', value: flagValues.boolean, description: 'Log human-readable lines for a terminal instead of JSON (needs pino-pretty)' },
  metricsPort: { flag: 'metrics-port', env: 'EXPORT_TASK_METRICS_PORT', value: flagValues.port, description: 'Serve GET /metrics, /health and /ready on this port, no token (default: none)' },
  metricsHost: { flag: 'metrics-host', env: 'EXPORT_TASK_METRICS_HOST', value: flagValues.text('address'), description: 'Address of --metrics-port (default 127.0.0.1)' },
});

/** What `worker` runs with: each flag's value, `undefined` where the flag was not given. */
export type WorkerCommandOptions = FlagValues<typeof WORKER_FLAGS.table>;

/** Where `worker` writes and what stops it. */
export type WorkerIo = ServiceIo;

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
    `(default ./${DEFAULT_DATA_DIR}). Run any number of workers on any number of machines`,
    'sharing that directory. A worker killed mid-job is noticed by the others within about 1.5 times',
    '--lock-duration-ms (default 5000, so 7.5 s): its export ends "failed" with failure_type "internal" if it had',
    'started, or runs again if not. Smaller notices sooner at more Redis traffic; a worker starved longer than it',
    'loses its jobs as if dead.',
    'It logs JSON lines on stdout (--log-pretty: lines for a terminal); with --metrics-port it serves its',
    'Prometheus metrics. Every flag has the environment variable shown in brackets, read when the flag is absent.',
    'Ctrl-C or SIGTERM stops taking jobs and waits for the running ones to end.',
  ].join('\n'),
  options: WORKER_FLAGS.options,
  parse(values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>): WorkerCommandOptions {
    return WORKER_FLAGS.fromFlags(values);
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
  let settings: WorkerCommandOptions;
  let target;
  try {
    settings = WORKER_FLAGS.withEnv(options, io.env);
    if (settings.redis === undefined && settings.redisCluster === undefined) {
      throw new TypeError(
        'expected --redis <url> (or EXPORT_TASK_REDIS), the Redis of the API instances (redis://127.0.0.1:6379, say), or --redis-cluster <host:port,...> (or EXPORT_TASK_REDIS_CLUSTER), nodes of their Redis Cluster',
      );
    }
    target = checkRedisTarget(settings.redis, settings.redisCluster)!;
  } catch (error) {
    io.stderr.write(`export-task worker: ${(error as Error).message}\n`);
    return 2;
  }
  if (io.signal.aborted) return 0;
  const { redis, redisCluster, dataDir: givenDir, logLevel, logPretty, metricsPort, metricsHost, ...limits } = settings;
  const dataDir = resolve(givenDir ?? DEFAULT_DATA_DIR);
  // Loaded here: the rest of the command line needs neither BullMQ nor ioredis.
  const [{ startWorker }, { createServiceOps }] = await Promise.all([import('../../server/start-worker.js'), import('../../server/http/service-ops.js')]);
  let ops;
  try {
    ops = createServiceOps({ level: logLevel ?? 'info', destination: io.stdout, pretty: logPretty ?? false });
  } catch (error) {
    io.stderr.write(`export-task worker: could not start: ${(error as Error).message}\n`);
    return 1;
  }
  ops.metrics.gauge('worker_jobs_running', 'Export jobs this worker runs now.', () => ops.metrics.countActive('running'));
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close();
  };
  let worker: Awaited<ReturnType<typeof startWorker>>;
  try {
    // The worker first: it refuses a Redis it must not write to (the old key layout) before the
    // monitor's queue handle writes the queue's meta there.
    worker = await startWorker({ ...definedOnly({ ...limits, redis, redisCluster }), dataDir, onEvent: ops.onEvent });
    const started = worker;
    closers.push(() => started.close());
    if (metricsPort !== undefined) {
      const [{ startRedisMonitor }, { startMetricsServer }] = await Promise.all([import('../../server/http/redis-monitor.js'), import('../../server/http/metrics-server.js')]);
      const monitor = await startRedisMonitor(target, ops, { workers: false });
      closers.push(() => monitor.close());
      const metrics = await startMetricsServer(ops, metricsPort, metricsHost ?? '127.0.0.1');
      closers.push(() => metrics.close());
      io.stdout.write(`export-task worker: metrics on ${metrics.url}/metrics\n`);
    }
  } catch (error) {
    await closeAll();
    io.stderr.write(`export-task worker: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof TypeError ? 2 : 1;
  }
  const stopped = stopRequested(io.signal);
  ops.logger?.info({ event: 'worker_ready', pid: process.pid }, 'export-task worker ready');
  io.stdout.write(`export-task worker ready (pid ${process.pid}, data in ${dataDir})\n`);
  await stopped;
  io.stdout.write('export-task worker: stopping (running jobs finish first)\n');
  await worker.close();
  await closeAll();
  ops.logger?.info({ event: 'worker_stopped' }, 'export-task worker stopped');
  io.stdout.write('export-task worker: stopped\n');
  return 0;
}
