import type { FastifySchema } from 'fastify';
import { PRODUCT_ID_EXPECTED, PRODUCT_ID_PATTERN } from '../../embedded/check-product-id.js';
import { MAX_TITLE_LENGTH } from '../../embedded/product-store.js';
import { errorResponses, ref, type JsonSchema } from './components.js';

/**
 * The JSON schemas of the Vector API's routes (`docs/http-protocol.md`): what Fastify validates
 * before a handler runs, and what the OpenAPI document says. The deeper checks (a storage key's
 * segments, the query language, geometries, features, the service's job limits) stay in the
 * engine, whose messages name the exact place (`query.query_expr.and[0]...`).
 * @internal
 */

/** The most export ids one batch status request may ask about. @internal */
export const MAX_BATCH_STATUS = 10_000;
/** The longest export id a batch status request may name, in characters (ids the service gives are UUIDs). @internal */
export const MAX_EXPORT_ID_LENGTH = 256;
/** The longest `Idempotency-Key` accepted, in characters. @internal */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const TAGS = { products: ['products'], exports: ['exports'], events: ['events'] };

const PRODUCT_ID: JsonSchema = {
  type: 'string',
  title: 'the product id',
  // The engine's own check, so that the two never disagree.
  pattern: PRODUCT_ID_PATTERN.source,
  'x-expected': PRODUCT_ID_EXPECTED,
};

const PRODUCT_PARAMS: JsonSchema = {
  type: 'object',
  required: ['product_id'],
  properties: { product_id: PRODUCT_ID },
};

const EXPORT_PARAMS: JsonSchema = {
  type: 'object',
  required: ['product_id', 'export_id'],
  properties: { product_id: PRODUCT_ID, export_id: { type: 'string', title: 'the export id', description: 'An export id the service gave (`export_id`).' } },
};

/**
 * A request body as the document shows it, for both JSON media types: `application/json` and
 * JSON:API's `application/vnd.api+json` (what DL's Python client sends). The bodies Fastify
 * validates are plain schemas (keyed by media type, a body sent without a `Content-Type` would
 * not be validated), shown for both types by the document's transform.
 */
function jsonBody(schema: JsonSchema): JsonSchema {
  return { content: { 'application/json': { schema }, 'application/vnd.api+json': { schema } } };
}

const POSITIVE_LIMIT = (unit: string, service: string): JsonSchema => ({
  type: 'number',
  exclusiveMinimum: 0,
  'x-expected': `a positive number of ${unit}`,
  'x-fix': `leave it out for the service's default (${service})`,
});

const EXPORT_REQUEST: JsonSchema = {
  type: 'object',
  title: 'the export request',
  'x-expected': 'a JSON object',
  required: ['key', 'query'],
  additionalProperties: false,
  properties: {
    key: {
      type: 'string',
      description:
        'The storage key the file is written at (`GET /storage/v1/data/get/{key}`): at most 1024 bytes of UTF-8, segments of at most 255 bytes separated by `/`; no `..`, `.` or empty segment, no leading `/`, no backslash or NUL.',
    },
    query: {
      type: 'object',
      'x-expected': 'an object with `geometry`, `query_expr` and `query_limit`, each optional',
      additionalProperties: false,
      properties: {
        geometry: { type: 'object', description: 'A GeoJSON geometry: the features whose geometry intersects it (GeometryCollections nested at most 64 deep).' },
        query_expr: {
          type: 'object',
          description:
            'DL\'s property filter: `{"eq": {name: v}}`, `{"ne": ...}`, `{"range": {name: {"gt"|"gte"|"lt"|"lte": v}}}`, `{"like": {name: pattern}}` (at most 1024 characters), `{"and": [...]}`, `{"or": [...]}` (nested at most 64 deep).',
        },
        query_limit: { type: 'integer', minimum: 1, description: 'The most features exported.' },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      description: "This export's job limits, at most the service's maxima (`--max-job-timeout-ms`, `--max-job-memory-mb`; more is 400).",
      properties: {
        timeout_ms: POSITIVE_LIMIT('milliseconds', '`--job-timeout-ms`'),
        memory_mb: POSITIVE_LIMIT('MiB', '`--job-memory-mb`'),
      },
    },
  },
};

const GEOJSON_FEATURE: JsonSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { const: 'Feature' },
    id: { type: ['string', 'number'], description: 'A string of at most 1024 characters, or a number; given one when absent.' },
    geometry: { type: ['object', 'null'], description: 'A GeoJSON geometry (GeometryCollections nested at most 64 deep), or null.' },
    properties: { type: ['object', 'null'] },
  },
};

/**
 * The feature upload's body, documented but not validated by Fastify: it stays raw bytes on the
 * main thread and is parsed and checked in the product store's worker thread.
 * @internal
 */
export const FEATURES_BODY: JsonSchema = jsonBody({
  oneOf: [
    { type: 'object', required: ['type', 'features'], properties: { type: { const: 'FeatureCollection' }, features: { type: 'array', items: GEOJSON_FEATURE } } },
    { type: 'array', items: GEOJSON_FEATURE },
  ],
});

const FEATURES_DESCRIPTION =
  'The body is a GeoJSON FeatureCollection or an array of Features, checked whole before any is added: a bad feature is answered 400 naming it (`features[3].id`), and nothing is added. It is parsed off the main thread, so an upload of a million features holds up no other request.';

const SNAPSHOTS = { type: 'array', items: ref('SnapshotEvent') };

/** The schema of each Vector route, by what it does. @internal */
export const VECTOR_SCHEMAS = {
  createProduct: {
    summary: 'Create a product',
    tags: TAGS.products,
    body: {
      type: 'object',
      title: 'the request body',
      'x-expected': 'a JSON object',
      required: ['id'],
      additionalProperties: false,
      properties: {
        id: { ...PRODUCT_ID, description: "The new product's id." },
        title: { type: 'string', title: "the product's `title`", maxLength: MAX_TITLE_LENGTH, description: 'The id when absent.' },
      },
    },
    response: { 201: { description: 'Created.', ...ref('ProductResource') }, ...errorResponses(400, 401, 403, [409, 'A product with this id exists.'], 413, 415, 507) },
  },
  getProduct: {
    summary: 'Read a product',
    tags: TAGS.products,
    params: PRODUCT_PARAMS,
    response: { 200: { description: 'The product.', ...ref('ProductResource') }, ...errorResponses(400, 401, 403, [404, 'No such product.']) },
  },
  addFeatures: {
    summary: 'Add GeoJSON features to a product',
    description: FEATURES_DESCRIPTION,
    tags: TAGS.products,
    params: PRODUCT_PARAMS,
    response: {
      200: { description: 'All were added.', type: 'object', required: ['added'], properties: { added: { type: 'integer', minimum: 0 } } },
      ...errorResponses([400, 'A feature is malformed (the detail names it): nothing was added.'], 401, 403, [404, 'No such product (whatever the body holds).'], 413, 415, 507),
    },
  },
  startExport: {
    summary: 'Start an export of a product',
    description:
      "Answered once the export is queued. The same `Idempotency-Key` again (for the same product, even after a restart of the service) answers the same export, whatever the body says.",
    tags: TAGS.exports,
    params: PRODUCT_PARAMS,
    headers: {
      type: 'object',
      properties: {
        'Idempotency-Key': {
          type: 'string',
          title: 'the Idempotency-Key header',
          minLength: 1,
          maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
          pattern: '^[\\x20-\\x7e]+$',
          'x-expected': `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters (a UUID, say)`,
        },
      },
    },
    body: EXPORT_REQUEST,
    response: {
      200: { description: 'The export is queued.', type: 'object', required: ['export_id'], properties: { export_id: { type: 'string' } } },
      ...errorResponses(400, 401, 403, [404, 'No such product.'], 413, 415, 507),
    },
  },
  listExports: {
    summary: 'List the completed exports of a product, a page at a time',
    tags: TAGS.exports,
    params: PRODUCT_PARAMS,
    querystring: {
      type: 'object',
      properties: { continuation_token: { type: 'string', description: "The previous page's `meta.continuation_token`." } },
    },
    response: {
      200: {
        description: 'A page of final exports, in creation order.',
        type: 'object',
        required: ['data', 'meta'],
        properties: {
          data: { type: 'array', items: ref('ExportResource') },
          meta: { type: 'object', required: ['continuation_token'], properties: { continuation_token: { type: ['string', 'null'], description: 'Null on the last page.' } } },
        },
      },
      ...errorResponses([400, 'A continuation token this service did not give.'], 401, 403, [404, 'No such product.']),
    },
  },
  events: {
    summary: "Follow the events of a product's exports (Server-Sent Events)",
    description:
      'One stream of every event of the product\'s exports. It opens with a `: connected` comment and a bare `id:` holding the cursor it starts after; then each event is `id: <cursor>`, `event: <type>`, `data: <the event as one line of JSON>`; `: heartbeat` comments every `X-Heartbeat-Interval` ms. A stream that can no longer resume sends `event: reset` and ends. See docs/http-protocol.md, "Server-Sent Events".',
    tags: TAGS.events,
    params: PRODUCT_PARAMS,
    querystring: {
      type: 'object',
      properties: {
        export_id: { type: 'string', description: "Only this export's events." },
        after: { type: 'string', description: 'Resume after this cursor (the `Last-Event-ID` header wins).' },
        from: {
          enum: ['now'],
          'x-expected': '"now" (start at the current end of the product\'s events)',
          'x-fix': 'omit it to read the whole history',
          description: 'Start at the current end of the log, sending nothing of the past (a cursor wins over it).',
        },
      },
    },
    headers: {
      type: 'object',
      properties: { 'Last-Event-ID': { type: 'string', description: 'Resume after this cursor (what a reconnecting `EventSource` sends).' } },
    },
    response: {
      200: {
        description: 'The event stream, until the client leaves or the service shuts down (it then sends a bare `id:` with the cursor to resume from).',
        headers: { 'X-Heartbeat-Interval': { type: 'integer', description: 'How often the stream sends a heartbeat comment, ms.' } },
        content: {
          'text/event-stream': {
            schema: {
              type: 'string',
              description: 'Server-Sent Events; each `data:` is an `ExportEvent` (`x-event-data`), or `{"reason": "..."}` for `event: reset`.',
            },
            // OpenAPI 3.1 has no schema for the items of a stream (3.2's itemSchema): an extension says it.
            'x-event-data': ref('ExportEvent'),
          },
        },
      },
      ...errorResponses([400, 'A cursor this service never gave, or a bad `from`.'], 401, 403, [404, 'No such product or export.']),
    },
  },
  inFlight: {
    summary: 'The exports of a product not final yet',
    tags: TAGS.exports,
    params: PRODUCT_PARAMS,
    querystring: {
      type: 'object',
      title: 'the query string',
      required: ['in_flight'],
      properties: {
        in_flight: {
          enum: ['true'],
          'x-expected':
            '"true" (`in_flight=true`: the product\'s exports not final yet); for given exports use POST .../search/export/status with {"export_ids": [...]}',
        },
      },
    },
    response: {
      200: { description: 'Every export not final yet (queued or running), in the order they were started.', type: 'object', required: ['data'], properties: { data: SNAPSHOTS } },
      ...errorResponses(400, 401, 403, [404, 'No such product.'], [501, 'This service cannot list the exports in flight (read the events route instead).']),
    },
  },
  batchStatus: {
    summary: 'The status of many exports in one request',
    tags: TAGS.exports,
    params: PRODUCT_PARAMS,
    body: {
      type: 'object',
      title: 'the request body',
      'x-expected': 'a JSON object',
      required: ['export_ids'],
      additionalProperties: false,
      properties: {
        export_ids: {
          type: 'array',
          maxItems: MAX_BATCH_STATUS,
          'x-expected': `an array of at most ${MAX_BATCH_STATUS} export ids in one request`,
          items: { type: 'string', maxLength: MAX_EXPORT_ID_LENGTH, 'x-expected': `an export id of at most ${MAX_EXPORT_ID_LENGTH} characters`, 'x-fix': 'send the ids the service gave' },
        },
      },
    },
    response: {
      200: {
        description: 'The snapshots of the exports found, in the order asked, and the ids not found.',
        type: 'object',
        required: ['data', 'missing'],
        properties: { data: SNAPSHOTS, missing: { type: 'array', items: { type: 'string' } } },
      },
      ...errorResponses(400, 401, 403, [404, 'No such product.'], 413, 415),
    },
  },
  result: {
    summary: "A final export's result (as DL's Tasks API)",
    tags: TAGS.exports,
    params: EXPORT_PARAMS,
    response: {
      200: { description: 'The export is final.', type: 'object', required: ['data'], properties: { data: ref('ExportResource') } },
      ...errorResponses(400, 401, 403, [404, 'The export is pending or running (as DL did), or unknown: its status route tells them apart.']),
    },
  },
  status: {
    summary: "An export's status",
    tags: TAGS.exports,
    params: EXPORT_PARAMS,
    response: {
      200: { description: 'Its snapshot.', type: 'object', required: ['data'], properties: { data: ref('SnapshotEvent') } },
      ...errorResponses(400, 401, 403, [404, 'No such product or export.']),
    },
  },
  cancel: {
    summary: 'Ask to cancel an export',
    description: 'Answered at once, before the export has stopped: its `failed` event with `failure_type: "cancelled"` follows. A final export is left as it is.',
    tags: TAGS.exports,
    params: EXPORT_PARAMS,
    response: {
      202: {
        description: 'The cancel is asked.',
        type: 'object',
        required: ['export_id', 'cancel_requested'],
        properties: { export_id: { type: 'string' }, cancel_requested: { type: 'boolean', description: 'False for an export that ended without a cancel asked.' } },
      },
      ...errorResponses(400, 401, 403, [404, 'No such product or export.'], 415, 507),
    },
  },
} satisfies Record<string, FastifySchema & JsonSchema>;
