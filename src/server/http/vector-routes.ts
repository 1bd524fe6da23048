import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ExportLimits, ExportRequest } from '../../client/backend.js';
import type { ExportQuery } from '../../client/geojson.js';
import { BadRequestError, ForbiddenError, HttpError, NotFoundError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';
import { checkMemoryMb, checkTimeoutMs } from '../embedded/check-limits.js';
import { feedFor, maySee } from './access.js';
import { JSON_TYPES } from './json-types.js';
import type { EventStreams } from './event-stream.js';
import type { ExportService } from './export-service.js';
import { exportResource, productResource } from './resources.js';

/** The most export ids one batch status request may ask about. @internal */
export const MAX_BATCH_STATUS = 10_000;
/** The longest export id a batch status request may name, in characters (ids the service gives are UUIDs). @internal */
export const MAX_EXPORT_ID_LENGTH = 256;
/** The longest `Idempotency-Key` accepted, in characters. @internal */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const PRODUCTS = '/vector/v2/products';
const EXPORTS = `${PRODUCTS}/:product_id/search/export`;

interface ProductParams {
  readonly product_id: string;
}

interface ExportParams extends ProductParams {
  readonly export_id: string;
}

/**
 * The Vector API routes (under `/vector/v2`): this service's product routes, then DL's export
 * routes and the ones it adds (status, batch status, cancel, events). Each checks its input
 * fully before the engine is asked anything, so a refused request changes nothing.
 * @internal
 */
export function registerVectorRoutes(app: FastifyInstance, engine: ExportService, streams: EventStreams): void {
  app.post(PRODUCTS, async (request, reply) => {
    const body = object(request.body, 'the request body', ['id', 'title']);
    if (body['id'] === undefined) throw new BadRequestError('Expected the request body to have an `id`: the new product\'s id');
    const product = await engine.createProduct(body['id'] as string, { title: body['title'] as string | undefined });
    return reply.code(201).send({ data: productResource(product) });
  });

  app.get<{ Params: ProductParams }>(`${PRODUCTS}/:product_id`, async (request, reply) =>
    reply.send({ data: productResource(await engine.getProduct(request.params.product_id)) }),
  );

  // A feature upload's body stays JSON text here: it is parsed, checked and serialised off the
  // main thread (the product store's worker), so a million features hold up no other request.
  void app.register((uploads, _options, registered) => {
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser(JSON_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    uploads.post<{ Params: ProductParams }>(`${PRODUCTS}/:product_id/features`, async (request, reply) => {
      const productId = request.params.product_id;
      // An unknown product is a 404 whatever the body holds.
      await engine.getProduct(productId);
      const body = request.body;
      const added = await engine.addFeatures(productId, body instanceof Uint8Array ? body : new Uint8Array(0));
      return reply.send({ added: added.added });
    });
    registered();
  });

  app.post<{ Params: ProductParams }>(EXPORTS, async (request, reply) => {
    const exportRequest = exportRequestOf(request.body);
    const idempotencyKey = idempotencyKeyOf(request);
    const { exportId } = await engine.startExport(
      request.params.product_id,
      exportRequest,
      idempotencyKey === undefined ? undefined : { idempotencyKey },
    );
    return reply.send({ export_id: exportId });
  });

  app.get<{ Params: ProductParams; Querystring: Record<string, unknown> }>(EXPORTS, async (request, reply) => {
    const token = request.query['continuation_token'];
    if (token !== undefined && typeof token !== 'string') {
      throw new BadRequestError(`Expected one \`continuation_token\` query parameter, got ${describeValue(token)}`);
    }
    const page = await engine.listFinal(request.params.product_id, token);
    // A token limited to some exports lists only those.
    const records = page.records.filter((record) => maySee(request, record.exportId));
    return reply.send({ data: records.map(exportResource), meta: { continuation_token: page.continuationToken } });
  });

  app.get<{ Params: ProductParams; Querystring: Record<string, unknown> }>(`${EXPORTS}/events`, async (request, reply) => {
    const exportId = request.query['export_id'];
    if (exportId !== undefined && typeof exportId !== 'string') {
      throw new BadRequestError(`Expected one \`export_id\` query parameter, got ${describeValue(exportId)}`);
    }
    // A reconnecting EventSource sends the newer cursor in the header while its URL keeps the first one.
    const after = request.headers['last-event-id'] ?? request.query['after'];
    if (after !== undefined && typeof after !== 'string') {
      throw new BadRequestError(`Expected one \`after\` query parameter, got ${describeValue(after)}`);
    }
    if (exportId !== undefined && !maySee(request, exportId)) throw new ForbiddenError(`This token does not open export ${JSON.stringify(exportId)}`);
    // `from=now` starts at the log's current end; a cursor, when there is one, wins over it (an
    // EventSource reconnecting keeps `from=now` in its URL and sends its cursor in the header).
    const from = request.query['from'];
    if (from !== undefined && from !== 'now') {
      throw new BadRequestError(`Expected \`from\` to be "now" (start at the current end of the product's events), got ${describeValue(from)}: omit it to read the whole history`);
    }
    const feed = await engine.feed(request.params.product_id, { after: after === '' ? undefined : after, from, exportId });
    // The stream is written raw: the headers hooks set (CORS) go onto the raw response first.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
    reply.hijack();
    // A token limited to some exports reads only their events.
    streams.open(reply.raw, feedFor(request, feed));
  });

  // Registered before `:export_id`'s routes are looked up: a static segment wins in Fastify's router.
  app.get<{ Params: ProductParams; Querystring: Record<string, unknown> }>(`${EXPORTS}/status`, async (request, reply) => {
    const inFlight = request.query['in_flight'];
    if (inFlight !== 'true') {
      throw new BadRequestError(
        `Expected \`in_flight=true\` (the product's exports not final yet), got ${inFlight === undefined ? 'no `in_flight`' : describeValue(inFlight)}: ` +
          'for given exports use POST .../search/export/status with {"export_ids": [...]}',
      );
    }
    if (engine.inFlight === undefined) throw new HttpError(501, 'This service cannot list the exports in flight: follow the exports by id instead');
    // An export-limited token sees only its own exports in flight.
    const data = (await engine.inFlight(request.params.product_id)).filter((snapshot) => maySee(request, snapshot.export_id));
    return reply.send({ data });
  });

  app.post<{ Params: ProductParams }>(`${EXPORTS}/status`, async (request, reply) => {
    const ids = exportIdsOf(request.body);
    const hidden = ids.find((id) => !maySee(request, id));
    if (hidden !== undefined) throw new ForbiddenError(`This token does not open export ${JSON.stringify(hidden)}: ask only for its exports`);
    const { data, missing } = await engine.statusOf(request.params.product_id, ids);
    return reply.send({ data, missing });
  });

  app.get<{ Params: ExportParams }>(`${EXPORTS}/:export_id`, async (request, reply) => {
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

  app.get<{ Params: ExportParams }>(`${EXPORTS}/:export_id/status`, async (request, reply) =>
    reply.send({ data: (await engine.record(request.params.product_id, request.params.export_id)).snapshot() }),
  );

  app.post<{ Params: ExportParams }>(`${EXPORTS}/:export_id/cancel`, async (request, reply) => {
    const record = await engine.requestCancel(request.params.product_id, request.params.export_id);
    return reply.code(202).send({ export_id: record.exportId, cancel_requested: record.cancelRequested });
  });
}

/** The body as an object with only `keys`. @throws BadRequestError */
function object(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError(`Expected ${what} to be a JSON object, got ${value === undefined ? 'no body' : describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new BadRequestError(`Expected ${what} to have only ${keys.map((k) => `\`${k}\``).join(', ')}, got an unknown \`${key}\`: remove it`);
    }
  }
  return value as Record<string, unknown>;
}

/** The wire's export request (`limits` in snake_case) as the engine's. */
function exportRequestOf(body: unknown): ExportRequest {
  const b = object(body, 'the export request', ['key', 'query', 'limits']);
  let limits: ExportLimits | undefined;
  if (b['limits'] !== undefined) {
    const l = object(b['limits'], '`limits`', ['timeout_ms', 'memory_mb']);
    try {
      const timeoutMs = checkTimeoutMs(l['timeout_ms'], 'limits.timeout_ms');
      const memoryMb = checkMemoryMb(l['memory_mb'], 'limits.memory_mb');
      limits = { ...(timeoutMs === null ? {} : { timeoutMs }), ...(memoryMb === null ? {} : { memoryMb }) };
    } catch (error) {
      throw new BadRequestError((error as Error).message);
    }
  }
  return { key: b['key'] as string, query: b['query'] as ExportQuery, ...(limits === undefined ? {} : { limits }) };
}

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key === '' || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw new BadRequestError(
      `Expected the Idempotency-Key header to be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters (a UUID, say), got ${describeValue(key)}`,
    );
  }
  return key;
}

function exportIdsOf(body: unknown): string[] {
  const ids = object(body, 'the request body', ['export_ids'])['export_ids'];
  if (!Array.isArray(ids)) throw new BadRequestError(`Expected \`export_ids\` to be an array of export ids, got ${describeValue(ids)}`);
  if (ids.length > MAX_BATCH_STATUS) {
    throw new BadRequestError(`Expected at most ${MAX_BATCH_STATUS} export ids in one request, got ${ids.length}: ask in several requests`);
  }
  const bad = ids.findIndex((id) => typeof id !== 'string');
  if (bad !== -1) throw new BadRequestError(`Expected \`export_ids[${bad}]\` to be an export id (a string), got ${describeValue(ids[bad])}`);
  const long = ids.findIndex((id) => (id as string).length > MAX_EXPORT_ID_LENGTH);
  if (long !== -1) {
    throw new BadRequestError(
      `Expected \`export_ids[${long}]\` to be an export id of at most ${MAX_EXPORT_ID_LENGTH} characters, got ${(ids[long] as string).length}: send the ids the service gave`,
    );
  }
  return ids as string[];
}
