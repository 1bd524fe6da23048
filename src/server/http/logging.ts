import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { TaskEvent } from '../../core/events.js';

/**
 * How much the service logs, pino's levels from the most severe; `silent` logs nothing.
 *
 * @example
 * ```ts
 * const level: LogLevel = process.env['CI'] === undefined ? 'info' : 'warn';
 * await using server = await startServer({ logger: { level } });
 * ```
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Every {@link LogLevel}, most severe first. @internal */
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Where and how much the service logs (JSON lines, one object per line, via pino; or lines
 * for a person at a terminal, with `pretty`).
 *
 * @example
 * ```ts
 * await using server = await startServer({ logger: { level: 'debug', destination: process.stderr } satisfies LoggerOptions });
 * await using local = await startServer({ logger: { pretty: process.stdout.isTTY } });
 * ```
 */
export interface LoggerOptions {
  /**
   * The least severe level written.
   * @defaultValue `'info'`
   */
  readonly level?: LogLevel | undefined;
  /**
   * Where the lines go.
   * @defaultValue `process.stdout`
   */
  readonly destination?: NodeJS.WritableStream | undefined;
  /**
   * Human-readable lines (`[12:00:00.000] INFO: request answered`, the fields indented below)
   * instead of JSON, through `pino-pretty` (an optional peer dependency: `npm install
   * pino-pretty@13`), coloured when the destination is a terminal. For a person reading a
   * terminal; keep JSON for anything that collects logs.
   * @defaultValue `false`
   */
  readonly pretty?: boolean | undefined;
}

/** The service's logger: pino's. Other parts of the service log through children of it. @internal */
export type ServiceLogger = Logger;

/** What replaces a secret in a log line. */
const REDACTED = '[redacted]';

/**
 * The service's logger: JSON lines with `time` as an ISO date, the level as its name, and
 * every credential redacted, whoever logs it: the `Authorization` and `Cookie` headers, and
 * `token` fields anywhere in the first two levels of a logged object.
 * @internal
 */
export function createServiceLogger(options: LoggerOptions = {}): ServiceLogger {
  const destination = options.destination ?? process.stdout;
  const pretty = options.pretty === true;
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'export-task' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // pino-pretty reads the level as pino's number; JSON lines say its name.
      ...(pretty ? {} : { formatters: { level: (label: string) => ({ level: label }) } }),
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["proxy-authorization"]',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          'authorization',
          'token',
          '*.token',
          '*.authorization',
        ],
        censor: REDACTED,
      },
      serializers: { req: serializeRequest, err: pino.stdSerializers.err },
    },
    pretty ? prettyStream(destination) : destination,
  );
}

/**
 * pino-pretty writing to `destination`: loaded only when asked for (it is an optional peer
 * dependency), with a message saying how to install it when it is missing.
 * @throws Error when pino-pretty is not installed.
 */
function prettyStream(destination: NodeJS.WritableStream): DestinationStream {
  let build: (options: PrettyOptions) => DestinationStream;
  try {
    // Synchronous, as the logger is made: createRequire loads it from where this module is.
    build = createRequire(import.meta.url)('pino-pretty') as typeof build;
  } catch (error) {
    throw new Error(`Pretty logs (--log-pretty, logger.pretty) need the optional peer dependency pino-pretty: npm install pino-pretty@13 (${(error as Error).message})`, {
      cause: error,
    });
  }
  return build({
    destination,
    colorize: (destination as { isTTY?: boolean }).isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    // A request's line says what was asked and answered in its message: `GET /health 200 (1.2 ms)`.
    messageFormat: (log, messageKey) => {
      const req = log['req'] as { method?: unknown; url?: unknown } | undefined;
      if (log[messageKey] !== 'request answered' || req === undefined) return String(log[messageKey]);
      return `${String(req.method)} ${String(req.url)} ${String(log['status'])} (${String(log['response_time_ms'])} ms)`;
    },
    ignore: 'pid,hostname,service,req',
    // Lines are written as they are logged, so none is lost when the process exits.
    sync: true,
  });
}

/** A request as its log line shows it: never its headers, and its URL without a token in the query. */
function serializeRequest(request: { id?: unknown; method?: unknown; url?: unknown; ip?: unknown; raw?: IncomingMessage }): Record<string, unknown> {
  return {
    method: request.method,
    url: typeof request.url === 'string' ? redactUrl(request.url) : request.url,
    remote_address: request.ip,
  };
}

/** The URL with the values of token-like query parameters replaced (a browser's EventSource can only send a token in the URL). @internal */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token|api_key)=)[^&#]*/gi, `$1${REDACTED}`);
}

/** The longest request id taken from an `X-Request-Id` header. */
const MAX_REQUEST_ID = 128;

/**
 * The request's id: the caller's `X-Request-Id` when it is one (1 to 128 printable ASCII
 * characters without spaces), else a new UUID. Fastify's `genReqId`.
 * @internal
 */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  if (typeof given === 'string' && given.length <= MAX_REQUEST_ID && /^[\x21-\x7e]+$/.test(given)) return given;
  return randomUUID();
}

/**
 * Logs the start and the end of each export, from its events as they are appended: one line
 * when it is queued, one when its job starts, one when it ends (its outcome, failure type,
 * runtime and peak memory). Progress and log events are left to the event streams.
 * @internal
 */
export function logExportEvent(logger: ServiceLogger, event: TaskEvent): void {
  const ids = { product_id: event.product_id, export_id: event.export_id };
  switch (event.type) {
    case 'queued':
      logger.info({ ...ids, event: 'export_queued' }, 'export queued');
      break;
    case 'started':
      logger.info({ ...ids, event: 'export_started' }, 'export started');
      break;
    case 'succeeded':
      logger.info(
        { ...ids, event: 'export_ended', outcome: 'succeeded', runtime: event.runtime, peak_memory_usage: event.peak_memory_usage, size_bytes: event.size_bytes },
        'export succeeded',
      );
      break;
    case 'failed':
      logger.warn(
        {
          ...ids,
          event: 'export_ended',
          outcome: 'failed',
          failure_type: event.failure_type,
          exception_name: event.exception_name,
          runtime: event.runtime,
          peak_memory_usage: event.peak_memory_usage,
        },
        `export failed (${event.failure_type ?? 'unknown'})`,
      );
      break;
    default:
      break;
  }
}
