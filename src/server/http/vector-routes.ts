import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ExportLimits, ExportRequest } from '../../client/backend.js';
import type { ExportQuery } from '../../client/geojson.js';
import { BadRequestError, ForbiddenError, HttpError, NotFoundError } from '../../client/http-errors.js';
import { checkMemoryMb, checkTimeoutMs } from '../embedded/check-limits.js';
import { feedFor, maySee } from './access.js';
import { JSON_TYPES } from './json-types.js';
import type { EventStreams } from './event-stream.js';
import type { ExportService } from './export-service.js';
import { exportResource, productResource } from './resources.js';
import { VECTOR_SCHEMAS as SCHEMAS } from './route-schemas/vector-schemas.js';

const PRODUCTS = '/vector/v2/products';
const EXPORTS = `${PRODUCTS}/:product_id/search/export`;

interface ProductParams {
  readonly product_id: string;
}

interface ExportParams extends ProductParams {
  readonly export_id: string;
}

/** The events route's input, as its schema lets it through. */
interface EventsRoute {
  Params: ProductParams;
  Querystring: { readonly export_id?: string; readonly after?: string; readonly from?: 'now' };
  Headers: { readonly 'last-event-id'?: string };
}

/** The wire's export request, as its schema lets it through. */
interface ExportRequestBody {
  readonly key: string;
  readonly query: ExportQuery;
  readonly limits?: { readonly timeout_ms?: number; readonly memory_mb?: number };
}

/**
 * The Vector API routes (under `/vector/v2`): this service's product routes, then DL's export
 * routes and the ones it adds (status, batch status, cancel, events). Each route's schema
 * (`route-schemas/vector-schemas.ts`) is checked by Fastify before its handler runs, the
 * engine's deeper checks (keys, queries, geometries, features, limits) before it changes
 * anything, so a refused request changes nothing.
 * @internal
 */
export function registerVectorRoutes(app: FastifyInstance, engine: ExportService, streams: EventStreams): void {
  app.post<{ Body: { id: string; title?: string } }>(PRODUCTS, { schema: SCHEMAS.createProduct }, async (request, reply) => {
    const product = await engine.createProduct(request.body.id, { title: request.body.title });
    return reply.code(201).send({ data: productResource(product) });
  });

  app.get<{ Params: ProductParams }>(`${PRODUCTS}/:product_id`, { schema: SCHEMAS.getProduct }, async (request, reply) =>
    reply.send({ data: productResource(await engine.getProduct(request.params.product_id)) }),
  );

  // A feature upload's body stays JSON text here: it is parsed, checked and serialised off the
  // main thread (the product store's worker), so a million features hold up no other request.
  void app.register((uploads, _options, registered) => {
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser(JSON_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    uploads.post<{ Params: ProductParams }>(`${PRODUCTS}/:product_id/features`, { schema: SCHEMAS.addFeatures }, async (request, reply) => {
      const productId = request.params.product_id;
      // An unknown product is a 404 whatever the body holds.
      await engine.getProduct(productId);
      const body = request.body;
      const added = await engine.addFeatures(productId, body instanceof Uint8Array ? body : new Uint8Array(0));
      return reply.send({ added: added.added });
    });
    registered();
  });

  app.post<{ Params: ProductParams; Body: ExportRequestBody }>(EXPORTS, { schema: SCHEMAS.startExport }, async (request, reply) => {
    const exportRequest = exportRequestOf(request.body);
    const idempotencyKey = idempotencyKeyOf(request);
    const { exportId } = await engine.startExport(
      request.params.product_id,
      exportRequest,
      idempotencyKey === undefined ? undefined : { idempotencyKey },
    );
    return reply.send({ export_id: exportId });
  });

  app.get<{ Params: ProductParams; Querystring: { continuation_token?: string } }>(EXPORTS, { schema: SCHEMAS.listExports }, async (request, reply) => {
    const token = request.query.continuation_token;
    const page = await engine.listFinal(request.params.product_id, token);
    // A token limited to some exports lists only those.
    const records = page.records.filter((record) => maySee(request, record.exportId));
    return reply.send({ data: records.map(exportResource), meta: { continuation_token: page.continuationToken } });
  });

  app.get<EventsRoute>(`${EXPORTS}/events`, { schema: SCHEMAS.events }, async (request, reply) => {
    const exportId = request.query.export_id;
    // A reconnecting EventSource sends the newer cursor in the header while its URL keeps the first one.
    const after = request.headers['last-event-id'] ?? request.query.after;
    if (exportId !== undefined && !maySee(request, exportId)) throw new ForbiddenError(`This token does not open export ${JSON.stringify(exportId)}`);
    // `from=now` starts at the log's current end; a cursor, when there is one, wins over it (an
    // EventSource reconnecting keeps `from=now` in its URL and sends its cursor in the header).
    const from = request.query.from;
    const feed = await engine.feed(request.params.product_id, { after: after === '' ? undefined : after, from, exportId });
    // The stream is written raw: the headers hooks set (CORS) go onto the raw response first.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
    reply.hijack();
    // A token limited to some exports reads only their events.
    streams.open(reply.raw, feedFor(request, feed));
  });

  // Registered before `:export_id`'s routes are looked up: a static segment wins in Fastify's router.
  // Its schema requires `in_flight=true`.
  app.get<{ Params: ProductParams }>(`${EXPORTS}/status`, { schema: SCHEMAS.inFlight }, async (request, reply) => {
    if (engine.inFlight === undefined) throw new HttpError(501, 'This service cannot list the exports in flight: follow the exports by id instead');
    // An export-limited token sees only its own exports in flight.
    const data = (await engine.inFlight(request.params.product_id)).filter((snapshot) => maySee(request, snapshot.export_id));
    return reply.send({ data });
  });

  app.post<{ Params: ProductParams; Body: { export_ids: string[] } }>(`${EXPORTS}/status`, { schema: SCHEMAS.batchStatus }, async (request, reply) => {
    const ids = request.body.export_ids;
    const hidden = ids.find((id) => !maySee(request, id));
    if (hidden !== undefined) throw new ForbiddenError(`This token does not open export ${JSON.stringify(hidden)}: ask only for its exports`);
    const { data, missing } = await engine.statusOf(request.params.product_id, ids);
    return reply.send({ data, missing });
  });

  app.get<{ Params: ExportParams }>(`${EXPORTS}/:export_id`, { schema: SCHEMAS.result }, async (request, reply) => {
    const { product_id: productId, export_id: exportId } = request.params;
    const record = await engine.record(productId, exportId);
    if (!record.final) {
      throw new NotFoundError(
        `Export ${JSON.stringify(exportId)} is ${record.phase}: its result is not ready yet. ` +
          'This route answers 404 until an export is final, as DL did; its status route tells pending from unknown',
      );
    }
    return reply.send({ data: exportResource(record) });
  });

  app.get<{ Params: ExportParams }>(`${EXPORTS}/:export_id/status`, { schema: SCHEMAS.status }, async (request, reply) =>
    reply.send({ data: (await engine.record(request.params.product_id, request.params.export_id)).snapshot() }),
  );

  app.post<{ Params: ExportParams }>(`${EXPORTS}/:export_id/cancel`, { schema: SCHEMAS.cancel }, async (request, reply) => {
    const record = await engine.requestCancel(request.params.product_id, request.params.export_id);
    return reply.code(202).send({ export_id: record.exportId, cancel_requested: record.cancelRequested });
  });
}

/**
 * The wire's export request (`limits` in snake_case) as the engine's, its limits checked under
 * their wire names (the engine checks them again against the service's maxima).
 * @throws BadRequestError
 */
function exportRequestOf(body: ExportRequestBody): ExportRequest {
  let limits: ExportLimits | undefined;
  if (body.limits !== undefined) {
    try {
      const timeoutMs = checkTimeoutMs(body.limits.timeout_ms, 'limits.timeout_ms');
      const memoryMb = checkMemoryMb(body.limits.memory_mb, 'limits.memory_mb');
      limits = { ...(timeoutMs === null ? {} : { timeoutMs }), ...(memoryMb === null ? {} : { memoryMb }) };
    } catch (error) {
      throw new BadRequestError((error as Error).message);
    }
  }
  return { key: body.key, query: body.query, ...(limits === undefined ? {} : { limits }) };
}

/** The `Idempotency-Key` header, which the route's schema checked. */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  return typeof key === 'string' ? key : undefined;
}
