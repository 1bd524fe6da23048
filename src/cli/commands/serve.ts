/**
 * `export-task serve`: the reference export service over HTTP, until Ctrl-C or SIGTERM.
 *
 * @packageDocumentation
 */
import { resolve } from 'node:path';
import { runService, stopRequested, type ServiceIo } from '../service-command.js';

/** What `serve` runs with. */
export interface ServeOptions {
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly dataDir: string | undefined;
  readonly token: string | undefined;
  /** Serve as one API instance of the service on Redis (`redis://host:port`). */
  readonly redis?: string | undefined;
  /** With `redis`: the Redis options of {@link ServeOptions} by their `startServer` names. */
  readonly redisOptions?: Readonly<Partial<Record<(typeof REDIS_FLAGS)[number][1], number>>> | undefined;
}

/** The flags that only go with --redis, and the `startServer` option each sets. */
const REDIS_FLAGS = [
  ['redis-timeout-ms', 'redisTimeoutMs'],
  ['retention-ms', 'retentionMs'],
  ['outcome-retention-ms', 'outcomeRetentionMs'],
  ['idempotency-ttl-ms', 'idempotencyTtlMs'],
] as const;

/** Where `serve` writes and what stops it. */
export type ServeIo = ServiceIo;

/** The port when neither `--port` nor `EXPORT_TASK_PORT` says. */
export const DEFAULT_PORT = 8080;
/** The data directory (relative to the working directory) when neither `--data-dir` nor `EXPORT_TASK_DATA_DIR` says. */
export const DEFAULT_DATA_DIR = 'export-task-data';

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
    `"failed" with failure_type "internal", queued ones run. Defaults: port ${DEFAULT_PORT}, host 127.0.0.1,`,
    `data directory ./${DEFAULT_DATA_DIR}. The environment variables EXPORT_TASK_PORT, EXPORT_TASK_DATA_DIR and`,
    'EXPORT_TASK_TOKEN are read when the flag is absent; prefer EXPORT_TASK_TOKEN to --token, which other users',
    'of the machine can see in the process list. Ctrl-C or SIGTERM shuts down gracefully.',
    'With --redis URL it is one API instance of the service on Redis: products, exports and the event log in',
    'Redis, exports queued for `export-task worker` processes, features and files in --data-dir, which every',
    'instance and worker must share. Run as many instances as you like on one Redis.',
  ].join('\n'),
  options: {
    port: { type: 'string', valueName: 'n', description: `TCP port, 0 for any free one (default ${DEFAULT_PORT}, or EXPORT_TASK_PORT)` },
    host: { type: 'string', valueName: 'address', description: 'Address to listen on (default 127.0.0.1)' },
    'data-dir': { type: 'string', valueName: 'dir', description: `Data directory (default ./${DEFAULT_DATA_DIR}, or EXPORT_TASK_DATA_DIR)` },
    token: { type: 'string', valueName: 'token', description: 'Require Authorization: Bearer <token> (default none, or EXPORT_TASK_TOKEN)' },
    redis: { type: 'string', valueName: 'url', description: 'Keep everything in this Redis, jobs on BullMQ (redis://127.0.0.1:6379)' },
    'redis-timeout-ms': { type: 'string', valueName: 'ms', description: 'With --redis: answer 503 when Redis has not answered within this (default 3000)' },
    'retention-ms': { type: 'string', valueName: 'ms', description: "With --redis: keep a final export's events and full record this long (default 86400000, a day)" },
    'outcome-retention-ms': { type: 'string', valueName: 'ms', description: "With --redis: keep a final export's compact outcome this long (default 2592000000, 30 days)" },
    'idempotency-ttl-ms': { type: 'string', valueName: 'ms', description: 'With --redis: an Idempotency-Key names its export this long (default 86400000)' },
  },
  parse(values: Readonly<Record<string, string | boolean | undefined>>): ServeOptions {
    const string = (name: string): string | undefined => {
      const value = values[name];
      return typeof value === 'string' ? value : undefined;
    };
    return {
      port: string('port') === undefined ? undefined : parsePort('--port', string('port')!),
      host: nonEmpty('--host', string('host')),
      dataDir: nonEmpty('--data-dir', string('data-dir')),
      token: nonEmpty('--token', string('token')),
      redis: nonEmpty('--redis', string('redis')),
      redisOptions: Object.fromEntries(
        REDIS_FLAGS.flatMap(([flag, option]) => {
          const value = string(flag);
          if (value === undefined) return [];
          if (string('redis') === undefined) throw new TypeError(`expected --${flag} only with --redis`);
          if (!/^[0-9]{1,12}$/.test(value) || Number(value) < 1) throw new TypeError(`expected --${flag} to be a positive whole number of milliseconds, got ${JSON.stringify(value)}`);
          return [[option, Number(value)]];
        }),
      ),
    };
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
  let port: number;
  let dataDir: string;
  let token: string | undefined;
  try {
    // An empty variable is an unset one, as shells make it easy to have.
    const envPort = io.env['EXPORT_TASK_PORT'] || undefined;
    port = options.port ?? (envPort === undefined ? DEFAULT_PORT : parsePort('EXPORT_TASK_PORT', envPort));
    dataDir = resolve(options.dataDir ?? (io.env['EXPORT_TASK_DATA_DIR'] || DEFAULT_DATA_DIR));
    token = options.token ?? (io.env['EXPORT_TASK_TOKEN'] || undefined);
  } catch (error) {
    io.stderr.write(`export-task serve: ${(error as Error).message}\n`);
    return 2;
  }
  if (io.signal.aborted) return 0;
  // Loaded here: the rest of the command line needs neither Fastify nor SQLite.
  const { startServer } = await import('../../server/index.js');
  let server;
  try {
    server = await startServer({
      port,
      ...(options.host === undefined ? {} : { host: options.host }),
      dataDir,
      token,
      ...(options.redis === undefined ? {} : { redis: options.redis, ...options.redisOptions }),
    });
  } catch (error) {
    io.stderr.write(`export-task serve: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const where = options.redis === undefined ? '' : ', exports on Redis';
  const stopped = stopRequested(io.signal);
  io.stdout.write(`export-task serving on ${server.url} (data in ${server.dataDir}${where}${token === undefined ? ', no token' : ', token required'})\n`);
  await stopped;
  io.stdout.write('export-task serve: shutting down (running exports end as "internal" failures, queued ones wait for the next start)\n');
  await server.close();
  io.stdout.write('export-task serve: stopped\n');
  return 0;
}

function parsePort(what: string, value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 65_535)) throw new TypeError(`expected ${what} to be a port number from 0 to 65535, got ${JSON.stringify(value)}`);
  return n;
}

function nonEmpty(what: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '') throw new TypeError(`expected ${what} to be non-empty, got ""`);
  return value;
}
