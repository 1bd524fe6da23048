import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { UnauthorizedError } from '../../client/http-errors.js';
import { Access } from './access.js';
import { Connections } from './connections.js';
import { registerCors } from './cors.js';
import { errorAnswer, errorBody } from './error-body.js';
import { EventStreams } from './event-stream.js';
import type { ExportService } from './export-service.js';
import { registerStorageRoutes } from './storage-routes.js';
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
  readonly logger: boolean;
}

/** The Fastify app and what its owner drives when shutting down. @internal */
export interface App {
  readonly fastify: FastifyInstance;
  readonly streams: EventStreams;
  readonly connections: Connections;
  /** From now on, every new request is answered 503 (the service is going away). */
  readonly refuseNewRequests: () => void;
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
  const fastify = Fastify({
    logger: options.logger,
    bodyLimit: options.bodyLimit,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // HEAD of a streaming route would open what it streams: only the routes declared exist.
    exposeHeadRoutes: false,
    // The hook below answers 503 in the protocol's error shape instead.
    return503OnClosing: false,
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply, error, options.bodyLimit);
    },
  });

  // The default JSON parser, with two changes: an empty body is no body (a POST to cancel
  // may come with a Content-Type and nothing else), and a syntax error says where it is.
  const secureParse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
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

  const streams = new EventStreams({ heartbeatMs: options.heartbeatMs, bufferLimit: options.sseBufferLimit });
  registerVectorRoutes(fastify, engine, streams);
  registerStorageRoutes(fastify, engine);
  return {
    fastify,
    streams,
    connections: new Connections(fastify.server),
    refuseNewRequests: () => {
      refusing = true;
    },
  };
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
