import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { UnauthorizedError } from '../../client/http-errors.js';
import { Access } from './access.js';
import { Connections } from './connections.js';
import { registerCors } from './cors.js';
import { errorAnswer, errorBody } from './error-body.js';
import { EventStreams } from './event-stream.js';
import { JSON_TYPES } from './json-types.js';
import type { ExportService } from './export-service.js';
import { requestIdOf, type ServiceLogger } from './logging.js';
import { ServiceMetrics } from './metrics.js';
import { registerOpenapi } from './openapi.js';
import { registerOps, type Ops, type OpsOptions } from './ops-routes.js';
import { registerStorageRoutes } from './storage-routes.js';
import { AJV_OPTIONS, schemaErrorMessage } from './validation-errors.js';
import { registerVectorRoutes } from './vector-routes.js';

/** What the HTTP layer needs to know, checked. @internal */
export interface AppOptions {
  readonly token: string | undefined;
  /** The key scoped access tokens are verified with (`createAccessToken`). */
  readonly signingKey: Uint8Array | undefined;
  /** The origins whose pages may call the service (CORS); none by default. */
  readonly corsOrigins: readonly string[];
  readonly bodyLimit: number;
  readonly heartbeatMs: number;
  readonly sseBufferLimit: number;
  /** Where requests are logged, one line each; none when absent or false. */
  readonly logger?: ServiceLogger | false | undefined;
  /** The metrics and readiness checks of the operations routes; metrics of its own and no check when absent. */
  readonly ops?: OpsOptions | undefined;
}

/** The Fastify app and what its owner drives when shutting down. @internal */
export interface App {
  readonly fastify: FastifyInstance;
  readonly streams: EventStreams;
  readonly connections: Connections;
  /** The operations routes (`/health`, `/ready`, `/metrics`). */
  readonly ops: Ops;
  /** From now on, every new request is answered 503 (the service is going away). */
  readonly refuseNewRequests: () => void;
  /** Every route declared, as `METHOD url` (`GET /vector/v2/products/:product_id`), once the app is ready. */
  readonly routes: readonly string[];
}

/** The longest path parameter (a product id is at most 128 characters; a storage key 1024, encoded up to thrice as long). */
const MAX_PARAM_LENGTH = 4096;

/**
 * The service's HTTP app: the routes of the protocol (`docs/http-protocol.md`) over the
 * engine, bearer-token authentication, JSON errors in DL's shape for everything that goes
 * wrong (including what Fastify itself refuses: a malformed or oversized body, a bad URL, an
 * unknown route), and the Server-Sent Events streams.
 * @internal
 */
export function createApp(engine: ExportService, options: AppOptions): App {
  let refusing = false;
  // Fastify's type of a logger instance is narrower than pino's own; it is pino underneath.
  const loggerInstance: FastifyBaseLogger | undefined = options.logger === false ? undefined : options.logger;
  const fastify = Fastify({
    ...(loggerInstance === undefined ? { logger: false } : { loggerInstance }),
    // The ops hooks log one line per request, once answered.
    disableRequestLogging: true,
    genReqId: requestIdOf,
    requestIdLogLabel: 'request_id',
    bodyLimit: options.bodyLimit,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // HEAD of a streaming route would open what it streams: only the routes declared exist.
    exposeHeadRoutes: false,
    // The hook below answers 503 in the protocol's error shape instead.
    return503OnClosing: false,
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply, error, options.bodyLimit);
    },
    // What Node's parser refuses before there is a request (headers too large, a malformed
    // request line) is answered here, in the protocol's shape too.
    clientErrorHandler: answerClientError,
    // The routes' schemas refuse what they do not take, with a message saying where and what
    // was expected; they never mend a request (no coercion, no member removed).
    ajv: AJV_OPTIONS,
    schemaErrorFormatter: schemaErrorMessage,
  });
  const routes: string[] = [];
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  // Response schemas document the answers (the OpenAPI document); the answers are written as
  // they are built, with JSON.stringify, as without a schema: a schema never drops a member.
  fastify.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerOpenapi(fastify);

  // The default JSON parser, with two changes: an empty body is no body (a POST to cancel
  // may come with a Content-Type and nothing else), and a syntax error says where it is.
  // JSON is `application/json` or JSON:API's `application/vnd.api+json` (what DL's Python
  // client sends on every request), parameters allowed; any other type is answered 415,
  // `text/plain` included (Fastify parses it by default).
  const secureParse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    void secureParse(request, text, (error, value) => {
      if (error === null) done(null, value);
      else done(Object.assign(new Error(jsonErrorMessage(text)), { statusCode: 400, code: 'EXPORT_TASK_BAD_JSON' }), undefined);
    });
  });

  const streams = new EventStreams({ heartbeatMs: options.heartbeatMs, bufferLimit: options.sseBufferLimit });
  // First: its hooks give every answer, a refused one too, its request id and log line.
  const ops = registerOps(fastify, streams, options.ops ?? { metrics: new ServiceMetrics(), checks: [], metricsPublic: false });

  fastify.addHook('onRequest', (request, reply, done) => {
    if (refusing) {
      void reply
        .code(503)
        .header('connection', 'close')
        .header('retry-after', '1')
        .send(errorBody(503, 'The export service is shutting down: try again once it is back'));
      return;
    }
    done();
  });

  // CORS answers preflights and adds its headers in onRequest, so that a page can read the
  // 401 and 403 below too; tokens are checked after it, before the body is read.
  registerCors(fastify, options.corsOrigins);
  const access = new Access(engine, { token: options.token, signingKey: options.signingKey });
  fastify.addHook('preParsing', (request, reply, payload, done) => {
    if (ops.isPublic(request)) {
      done(null, payload);
      return;
    }
    access.check(request).then(
      () => done(null, payload),
      (error: unknown) => {
        if (error instanceof UnauthorizedError) reply.header('www-authenticate', 'Bearer realm="export-task"');
        done(error as Error);
      },
    );
  });
  fastify.addHook('preValidation', (request, _reply, done) => {
    try {
      access.checkBody(request);
      done();
    } catch (error) {
      done(error as Error);
    }
  });

  fastify.setErrorHandler((error, request, reply) => {
    if (errorAnswer(error, options.bodyLimit).status >= 500) request.log.error(error);
    return sendError(reply, error, options.bodyLimit);
  });
  fastify.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody(404, `No route ${request.method} ${request.url.split('?')[0]}: see the service's protocol for its routes`)),
  );

  // Declared once the OpenAPI plugin, registered before, has loaded and watches for routes.
  void fastify.register((scope, _options, registered) => {
    registerVectorRoutes(scope, engine, streams);
    registerStorageRoutes(scope, engine);
    registered();
  });
  return {
    fastify,
    streams,
    connections: new Connections(fastify.server),
    ops,
    refuseNewRequests: () => {
      refusing = true;
    },
    routes,
  };
}

function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has no one left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const detail =
    status === 431
      ? 'The request headers are larger than this service accepts (16 KiB in all): send fewer or shorter headers'
      : status === 408
        ? 'The request did not arrive in time: send it again'
        : `The request is not valid HTTP/1.1 (${error.code ?? error.message}): check what sends it`;
  if (socket.writable) {
    const body = JSON.stringify(errorBody(status, detail));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function sendError(reply: FastifyReply, error: unknown, bodyLimit: number): FastifyReply {
  const { status, body, headers } = errorAnswer(error, bodyLimit);
  return reply.code(status).headers(headers).send(body);
}

function jsonErrorMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return `The request body is not valid JSON: ${(error as Error).message}`;
  }
  // It parses, so the secure parser refused a prototype-poisoning key.
  return 'The request body has a "__proto__" or "constructor.prototype" key, which this service refuses: rename it';
}
