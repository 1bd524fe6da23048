/**
 * `export-task serve`: the reference export service over HTTP, until Ctrl-C or SIGTERM.
 *
 * @packageDocumentation
 */
import { resolve } from 'node:path';
import { runService, stopRequested, type ServiceIo } from '../service-command.js';
import { definedOnly, flagValues, serviceFlags, type FlagValues } from '../service-flags.js';

/** The port when neither `--port` nor `EXPORT_TASK_PORT` says. */
export const DEFAULT_PORT = 8080;
/** The data directory (relative to the working directory) when neither `--data-dir` nor `EXPORT_TASK_DATA_DIR` says. */
export const DEFAULT_DATA_DIR = 'export-task-data';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The flags of `serve`, each with its environment variable (a flag wins). A key is the
 * `startServer()` option the value goes to; adding a flag for one is a line here.
 */
export const SERVE_FLAGS = serviceFlags({
  port: { flag: 'port', env: 'EXPORT_TASK_PORT', value: flagValues.port, description: `TCP port, 0 for any free one (default ${DEFAULT_PORT})` },
  host: { flag: 'host', env: 'EXPORT_TASK_HOST', value: flagValues.text('address'), description: 'Address to listen on (default 127.0.0.1)' },
  dataDir: { flag: 'data-dir', env: 'EXPORT_TASK_DATA_DIR', value: flagValues.text('dir'), description: `Data directory (default ./${DEFAULT_DATA_DIR})` },
  token: { flag: 'token', env: 'EXPORT_TASK_TOKEN', value: flagValues.secret('token'), description: 'Require Authorization: Bearer <token> (default none)' },
  redis: { flag: 'redis', env: 'EXPORT_TASK_REDIS', value: flagValues.text('url'), description: 'Keep everything in this Redis, jobs on BullMQ (redis://127.0.0.1:6379)' },
  redisCluster: {
    flag: 'redis-cluster',
    env: 'EXPORT_TASK_REDIS_CLUSTER',
    value: flagValues.text('host:port,...'),
    description: 'Instead of --redis: keep everything in this Redis Cluster (some of its nodes, comma-separated), sharded by product',
  },
  logLevel: { flag: 'log-level', env: 'EXPORT_TASK_LOG_LEVEL', value: flagValues.oneOf('level', LOG_LEVELS), description: 'JSON log lines on stdout from this level up (default info)' },
  logPretty: { flag: 'log-pretty', env: 'EXPORT_TASK_LOG_PRETTY', value: flagValues.boolean, description: 'Log human-readable lines for a terminal instead of JSON (needs pino-pretty)' },
  metricsPublic: { flag: 'metrics-public', env: 'EXPORT_TASK_METRICS_PUBLIC', value: flagValues.boolean, description: 'Answer GET /metrics without the token' },
  shutdownDelayMs: { flag: 'shutdown-delay-ms', env: 'EXPORT_TASK_SHUTDOWN_DELAY_MS', value: flagValues.natural('ms'), description: 'On SIGTERM, serve this long with /ready at 503 before stopping (default 0)' },
  jobTimeoutMs: { flag: 'job-timeout-ms', env: 'EXPORT_TASK_JOB_TIMEOUT_MS', value: flagValues.positive('ms'), description: 'Time limit of a job without its own (default 1800000)' },
  jobMemoryMb: { flag: 'job-memory-mb', env: 'EXPORT_TASK_JOB_MEMORY_MB', value: flagValues.positive('mb'), description: 'Heap limit of a job without its own (default 512)' },
  maxJobTimeoutMs: { flag: 'max-job-timeout-ms', env: 'EXPORT_TASK_MAX_JOB_TIMEOUT_MS', value: flagValues.positive('ms'), description: 'Most an export may ask for as its time limit (default 86400000)' },
  maxJobMemoryMb: { flag: 'max-job-memory-mb', env: 'EXPORT_TASK_MAX_JOB_MEMORY_MB', value: flagValues.positive('mb'), description: 'Most an export may ask for as its heap limit (default 4096)' },
  fullStacktraces: { flag: 'full-stacktraces', env: 'EXPORT_TASK_FULL_STACKTRACES', value: flagValues.boolean, description: "Keep the service's absolute paths in failed exports' stack traces" },
  redisTimeoutMs: { flag: 'redis-timeout-ms', env: 'EXPORT_TASK_REDIS_TIMEOUT_MS', value: flagValues.positive('ms'), description: 'With --redis: answer 503 when Redis has not answered within this (default 3000)' },
  retentionMs: { flag: 'retention-ms', env: 'EXPORT_TASK_RETENTION_MS', value: flagValues.positive('ms'), description: "With --redis: keep a final export's events and full record this long (default 86400000, a day)" },
  outcomeRetentionMs: { flag: 'outcome-retention-ms', env: 'EXPORT_TASK_OUTCOME_RETENTION_MS', value: flagValues.positive('ms'), description: "With --redis: keep a final export's compact outcome this long (default 2592000000, 30 days)" },
  idempotencyTtlMs: { flag: 'idempotency-ttl-ms', env: 'EXPORT_TASK_IDEMPOTENCY_TTL_MS', value: flagValues.positive('ms'), description: 'With --redis: an Idempotency-Key names its export this long (default 86400000)' },
  signingKey: { flag: 'signing-key', env: 'EXPORT_TASK_SIGNING_KEY', value: flagValues.secret('key'), description: 'Also accept scoped tokens signed with this key (`export-task token`)' },
  corsOrigins: {
    flag: 'cors-origin',
    env: 'EXPORT_TASK_CORS_ORIGINS',
    value: flagValues.text('url'),
    multiple: true,
    description: 'Let pages of this origin call the service (CORS; repeat for several)',
  },
});

/** What `serve` runs with: each flag's value, `undefined` where the flag was not given. */
export type ServeOptions = FlagValues<typeof SERVE_FLAGS.table>;

/** Where `serve` writes and what stops it. */
export type ServeIo = ServiceIo;

/**
 * The `serve` command, in the shape `src/cli/main.ts` lists its commands in: flags are parsed
 * by the caller, then {@link serveCommand.parse} checks them and {@link serveCommand.run}
 * serves until `io.signal` aborts or the process gets SIGTERM.
 */
export const serveCommand = {
  name: 'serve',
  summary: 'Run the export service over HTTP (SQLite in a data directory) until Ctrl-C',
  description: [
    'Serves the Vector API under /vector/v2 and the Storage API under /storage/v1, with Server-Sent Events,',
    'keeping products, exports and their event log in <data-dir>/export-task.sqlite and files under <data-dir>.',
    'Started again on the same data directory, it goes on where it stopped: exports that were running end',
    '"failed" with failure_type "internal", queued ones run. GET /health and GET /ready (no token) tell whether',
    'it serves and whether its store and jobs answer; GET /metrics is for Prometheus; GET /openapi.json describes every',
    'route (OpenAPI 3.1). It logs JSON lines on stdout (--log-pretty: lines for a terminal).',
    'Every flag has the environment variable shown in brackets, read when the flag is absent; prefer',
    'EXPORT_TASK_TOKEN to --token, which other users of the machine can see in the process list.',
    'Ctrl-C or SIGTERM shuts down gracefully: /ready answers 503 first, event streams end with their cursor.',
    'With --redis URL it is one API instance of the service on Redis: products, exports and the event log in',
    'Redis, exports queued for `export-task worker` processes, features and files in --data-dir, which every',
    'instance and worker must share. Run as many instances as you like on one Redis. With --redis-cluster',
    'host:port,... the same on a Redis Cluster: each product\'s keys in one hash slot, so the cluster shards by product.',
  ].join('\n'),
  options: SERVE_FLAGS.options,
  parse(values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>): ServeOptions {
    return SERVE_FLAGS.fromFlags(values);
  },
  run: serve,
} as const;

/**
 * Runs `export-task serve` with its own arguments (`argv` without the command name), for a
 * standalone entry point: Ctrl-C and SIGTERM shut the service down.
 *
 * @example
 * ```ts
 * process.exitCode = await runServe(process.argv.slice(2));
 * ```
 * @param argv - `--port`, `--host`, `--data-dir`, `--token`.
 * @param io - Streams, environment and the stop signal; the process's by default.
 * @returns The exit code: 0 after a clean shutdown, 1 when the service could not start, 2 for a usage error.
 */
export function runServe(argv: readonly string[], io?: Partial<ServeIo>): Promise<number> {
  return runService(serveCommand, argv, io);
}

/**
 * Serves until `io.signal` aborts or the process gets SIGTERM, then shuts down gracefully.
 * @returns 0 after a clean shutdown, 1 when the service could not start, 2 for a bad environment variable.
 */
async function serve(options: ServeOptions, io: ServeIo): Promise<number> {
  let settings: ServeOptions;
  try {
    settings = SERVE_FLAGS.withEnv(options, io.env);
  } catch (error) {
    io.stderr.write(`export-task serve: ${(error as Error).message}\n`);
    return 2;
  }
  if (io.signal.aborted) return 0;
  const { port, dataDir, logLevel, logPretty, corsOrigins, ...rest } = settings;
  // Loaded here: the rest of the command line needs neither Fastify nor SQLite.
  const { startServer } = await import('../../server/index.js');
  let server;
  try {
    server = await startServer({
      ...definedOnly(rest),
      port: port ?? DEFAULT_PORT,
      dataDir: resolve(dataDir ?? DEFAULT_DATA_DIR),
      logger: { level: logLevel ?? 'info', destination: io.stdout, pretty: logPretty ?? false },
      ...(corsOrigins === undefined || corsOrigins.length === 0 ? {} : { cors: { origins: corsOrigins } }),
    });
  } catch (error) {
    io.stderr.write(`export-task serve: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof TypeError ? 2 : 1;
  }
  const where = settings.redis !== undefined ? ', exports on Redis' : settings.redisCluster !== undefined ? ', exports on a Redis Cluster' : '';
  const stopped = stopRequested(io.signal);
  const access = settings.token === undefined && settings.signingKey === undefined ? ', no token' : ', token required';
  const scoped = settings.signingKey === undefined ? '' : ', scoped tokens accepted';
  const cors = corsOrigins === undefined || corsOrigins.length === 0 ? '' : `, CORS for ${corsOrigins.join(' ')}`;
  io.stdout.write(`export-task serving on ${server.url} (data in ${server.dataDir}${where}${access}${scoped}${cors})\n`);
  await stopped;
  io.stdout.write('export-task serve: shutting down (running exports end as "internal" failures, queued ones wait for the next start)\n');
  await server.close();
  io.stdout.write('export-task serve: stopped\n');
  return 0;
}
