import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EventStreams } from './event-stream.js';
import type { ServiceMetrics } from './metrics.js';
import { opsSchemas } from './route-schemas/ops-schemas.js';

/**
 * One thing `/ready` asks: `undefined` when it answers, else what is wrong ("unreachable:
 * connection refused"). A check that takes longer than {@link CHECK_TIMEOUT_MS} is not ready.
 * @internal
 */
export interface ReadinessCheck {
  /** The name `/ready`'s body gives it: `sqlite`, `redis`, `jobs`. */
  readonly name: string;
  check(): string | undefined | Promise<string | undefined>;
}

/** How long one readiness check may take, ms. */
export const CHECK_TIMEOUT_MS = 2000;

/** What the operations routes need. @internal */
export interface OpsOptions {
  readonly metrics: ServiceMetrics;
  readonly checks: readonly ReadinessCheck[];
  /** Whether `/metrics` is answered without the service's token. */
  readonly metricsPublic: boolean;
}

/** The operations routes' own state, driven by the server's owner. @internal */
export interface Ops {
  /** From now on `/ready` answers 503 (the service is shutting down); the rest still serves. */
  readonly drain: () => void;
  /** Whether the request is for a route that needs no token. */
  readonly isPublic: (request: FastifyRequest) => boolean;
}

/** Paths of the operations routes, outside `/vector/v2` and `/storage/v1`. @internal */
export const OPS_PATHS = { health: '/health', ready: '/ready', metrics: '/metrics', openapi: '/openapi.json' } as const;

/**
 * The operations routes and hooks: `GET /health` (the process serves), `GET /ready` (its
 * store and job runner answer), `GET /metrics` (Prometheus text), `GET /openapi.json` (the
 * OpenAPI document, from `@fastify/swagger`, registered before); every answer carries its
 * request's id in `X-Request-Id`, and is counted and logged in one line once sent.
 * Register it before the routes and hooks that may answer early (the token check): its hooks
 * are the root's, its routes are declared in a plugin, once the OpenAPI plugin is loaded.
 * @internal
 */
export function registerOps(app: FastifyInstance, streams: EventStreams, options: OpsOptions): Ops {
  let draining = false;
  const { metrics } = options;
  metrics.gauge('event_streams_open', 'Event streams (Server-Sent Events) open now.', () => streams.stats.open);
  metrics.counter('events_delivered_total', 'Export events written to event streams.', () => streams.stats.delivered);

  // Once per request: at `onResponse`, or, for a streamed answer (`reply.hijack()`, which Fastify
  // runs no `onResponse` for), when its response closes.
  const answered = new WeakMap<FastifyRequest, () => void>();
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    let counted = false;
    const count = (): void => {
      if (counted) return;
      counted = true;
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.raw.statusCode;
      metrics.observeRequest(request.method, route, status, reply.elapsedTime / 1000);
      const line = { req: request, status, route, response_time_ms: Math.round(reply.elapsedTime * 10) / 10 };
      if (status >= 500) request.log.error(line, 'request answered');
      else request.log.info(line, 'request answered');
    };
    answered.set(request, count);
    reply.raw.once('close', count);
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    answered.get(request)?.();
    done();
  });

  const schemas = opsSchemas(options.metricsPublic);
  void app.register((routes, _options, registered) => {
    routes.get(OPS_PATHS.health, { schema: schemas.health }, async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

    routes.get(OPS_PATHS.ready, { schema: schemas.ready }, async (_request, reply) => {
      const { status, body } = await readiness(draining ? [] : options.checks, draining);
      void reply.header('cache-control', 'no-store');
      if (status !== 200) void reply.header('retry-after', '1');
      return reply.code(status).send(body);
    });

    routes.get(OPS_PATHS.metrics, { schema: schemas.metrics }, async (_request, reply) =>
      reply.header('content-type', metrics.contentType).send(await metrics.text()),
    );

    routes.get(OPS_PATHS.openapi, { schema: schemas.openapi }, async (_request, reply) => reply.send(routes.swagger()));
    registered();
  });

  const publicPaths = new Set<string>([OPS_PATHS.health, OPS_PATHS.ready, OPS_PATHS.openapi, ...(options.metricsPublic ? [OPS_PATHS.metrics] : [])]);
  return {
    drain: () => {
      draining = true;
    },
    isPublic: (request) => request.method === 'GET' && publicPaths.has(request.url.split('?')[0]!),
  };
}

/**
 * What `/ready` answers: 200 and `{"status": "ready", "checks": {...}}` when every check
 * answers, else 503 and an error body naming what is not ready, with the same `checks`.
 * @internal
 */
export async function readiness(checks: readonly ReadinessCheck[], draining = false): Promise<{ status: number; body: unknown }> {
  const results = draining
    ? [['service', 'shutting down'] as const]
    : await Promise.all(checks.map(async (check) => [check.name, await runCheck(check)] as const));
  const answers: Record<string, string> = {};
  for (const [name, problem] of results) answers[name] = problem ?? 'ok';
  const failing = results.filter(([, problem]) => problem !== undefined);
  if (failing.length === 0) return { status: 200, body: { status: 'ready', checks: answers } };
  const detail = `Not ready: ${failing.map(([name, problem]) => `${name} ${problem}`).join('; ')}`;
  return { status: 503, body: { errors: [{ status: '503', title: STATUS_CODES[503], detail }], status: 'not ready', checks: answers } };
}

async function runCheck(check: ReadinessCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(() => check.check()),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`did not answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    return `failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}
