/**
 * The JSON schemas the routes share, registered once with `fastify.addSchema` and referenced
 * by `$id` (`{ $ref: 'ErrorBody#' }`); the OpenAPI document lists them under
 * `components.schemas` by the same names.
 * @internal
 */

/** A JSON schema, as the routes declare them. @internal */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** A reference to a shared schema. @internal */
export function ref(id: SharedSchemaId): JsonSchema {
  return { $ref: `${id}#` };
}

/** The names of the shared schemas. @internal */
export type SharedSchemaId = 'ErrorBody' | 'ProductResource' | 'ExportAttributes' | 'ExportResource' | 'SnapshotEvent' | 'ExportEvent' | 'Readiness';

const nullable = (type: string): JsonSchema => ({ type: [type, 'null'] });

const ERRORS: JsonSchema = {
  type: 'array',
  minItems: 1,
  maxItems: 1,
  items: {
    type: 'object',
    required: ['status', 'title', 'detail'],
    properties: {
      status: { type: 'string', description: 'The HTTP status, as a string ("400").', pattern: '^[1-5][0-9][0-9]$' },
      title: { type: 'string', description: 'The status\'s reason phrase ("Bad Request").' },
      detail: { type: 'string', description: 'What went wrong, what was expected, and how to fix it.' },
    },
  },
};

const ERROR_BODY: JsonSchema = {
  $id: 'ErrorBody',
  type: 'object',
  description: "Every error answer's body (JSON:API's error object, as Descartes Labs' services sent them).",
  required: ['errors'],
  properties: { errors: ERRORS },
};

const PRODUCT_RESOURCE: JsonSchema = {
  $id: 'ProductResource',
  type: 'object',
  required: ['data'],
  properties: {
    data: {
      type: 'object',
      required: ['id', 'type', 'attributes'],
      properties: {
        id: { type: 'string' },
        type: { const: 'product' },
        attributes: {
          type: 'object',
          required: ['title', 'feature_count'],
          properties: {
            title: { type: 'string', description: 'The title given at creation, else the id.' },
            feature_count: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
  },
};

const FAILURE_TYPE: JsonSchema = {
  type: ['string', 'null'],
  description:
    '`exception`, `oom`, `timeout`, `cancelled`, `internal` or `unknown` (Descartes Labs servers also send `executable_failure`); null on success. Clients keep values they do not know.',
};

const EXPORT_ATTRIBUTES: JsonSchema = {
  $id: 'ExportAttributes',
  type: 'object',
  description: "A final export's result attributes, with Descartes Labs' names; null where it has no value.",
  required: ['created', 'status', 'failure_type', 'exception_name', 'stacktrace', 'peak_memory_usage', 'runtime', 'labels', 'key', 'size_bytes', 'sha256'],
  properties: {
    created: { ...nullable('string'), description: 'When the export was created (ISO-8601 UTC).' },
    status: { enum: ['SUCCESS', 'FAILURE'] },
    failure_type: FAILURE_TYPE,
    exception_name: nullable('string'),
    stacktrace: nullable('string'),
    peak_memory_usage: { ...nullable('number'), description: 'Bytes.' },
    runtime: { ...nullable('number'), description: 'CPU seconds.' },
    labels: { type: ['array', 'null'], items: { type: 'string' }, description: 'The element at index 3 is the key.' },
    key: { ...nullable('string'), description: 'The storage key of the exported file.' },
    size_bytes: nullable('integer'),
    sha256: { ...nullable('string'), description: 'Lower-case hex SHA-256 of the exported file.' },
    log_size_bytes: { type: 'integer', minimum: 0, description: "The size of the export's log in UTF-8 bytes (0 when it has no line); in the result and list routes." },
    result_key: { type: 'string', description: "Where the log is: `GET /storage/v1/logs/get/{result_key}`; in the result and list routes." },
  },
};

const EXPORT_RESOURCE: JsonSchema = {
  $id: 'ExportResource',
  type: 'object',
  required: ['id', 'type', 'attributes'],
  properties: {
    id: { type: 'string', description: 'The export id.' },
    type: { const: 'export' },
    attributes: { allOf: [ref('ExportAttributes'), { required: ['log_size_bytes', 'result_key'] }] },
  },
};

const COMMON_EVENT_PROPERTIES = {
  product_id: { type: 'string' },
  export_id: { type: 'string' },
  seq: { type: 'integer', minimum: 0, description: "The export's event number: 1, 2, 3, ... without gaps; a snapshot's is the last event it folds (0 before any)." },
  time: { type: 'string', description: 'ISO-8601 UTC.' },
};

const SNAPSHOT_EVENT: JsonSchema = {
  $id: 'SnapshotEvent',
  type: 'object',
  description: "An export's state as of `seq`: what the status routes answer, and what an event stream sends on a resume from a cursor it no longer holds.",
  required: ['type', 'product_id', 'export_id', 'seq', 'time', 'phase', 'progress', 'attributes'],
  properties: {
    type: { const: 'snapshot' },
    ...COMMON_EVENT_PROPERTIES,
    phase: { enum: ['pending', 'running', 'success', 'failure'] },
    progress: { type: 'number', minimum: 0, maximum: 1 },
    attributes: { anyOf: [ref('ExportAttributes'), { type: 'null' }], description: 'Null until final.' },
    log: { type: 'array', items: { type: 'string' } },
    message: { ...nullable('string'), description: 'The latest progress message.' },
    cancel_requested: { type: 'boolean' },
    created: nullable('string'),
  },
};

const EXPORT_EVENT: JsonSchema = {
  $id: 'ExportEvent',
  type: 'object',
  description: "One event of an export, the `data:` of an event stream's message (its `event:` is the `type`).",
  required: ['type', 'product_id', 'export_id', 'seq', 'time'],
  properties: {
    type: { enum: ['queued', 'started', 'progress', 'log', 'succeeded', 'failed', 'snapshot', 'cancel_requested'] },
    ...COMMON_EVENT_PROPERTIES,
    fraction: { type: 'number', minimum: 0, maximum: 1, description: '`progress`.' },
    message: { type: 'string', description: '`progress` (optional).' },
    line: { type: 'string', description: '`log`.' },
    runtime: { ...nullable('number'), description: '`succeeded`, `failed`: CPU seconds.' },
    peak_memory_usage: { ...nullable('number'), description: '`succeeded`, `failed`: bytes.' },
    key: { type: 'string', description: '`succeeded`.' },
    labels: { type: 'array', items: { type: 'string' }, description: '`succeeded`.' },
    size_bytes: { type: 'integer', description: '`succeeded`.' },
    sha256: { type: 'string', description: '`succeeded`.' },
    failure_type: { ...FAILURE_TYPE, description: `\`failed\`: ${FAILURE_TYPE['description'] as string}` },
    exception_name: { ...nullable('string'), description: '`failed`.' },
    stacktrace: { ...nullable('string'), description: '`failed`.' },
  },
};

const READINESS: JsonSchema = {
  $id: 'Readiness',
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { enum: ['ready', 'not ready'] },
    checks: {
      type: 'object',
      description: 'Each check (`sqlite` or `redis`, `jobs`; `service` while shutting down): `ok`, or what is wrong.',
      additionalProperties: { type: 'string' },
    },
    errors: { ...ERRORS, description: 'When not ready: the protocol\'s error, naming what is not ready.' },
  },
};

/** Every shared schema, for `fastify.addSchema`. @internal */
export const SHARED_SCHEMAS: readonly JsonSchema[] = [ERROR_BODY, PRODUCT_RESOURCE, EXPORT_ATTRIBUTES, EXPORT_RESOURCE, SNAPSHOT_EVENT, EXPORT_EVENT, READINESS];

/** Why each error status is answered, unless a route says better. */
const WHY: Readonly<Record<number, string>> = {
  400: 'The request is malformed: the detail names the member, parameter or header and what was expected. Nothing was changed.',
  401: 'No token, or not one this service takes (when it runs with a token or a signing key); answered with `WWW-Authenticate: Bearer`.',
  403: 'A scoped access token used outside its product, scope or exports.',
  404: 'No such product or export.',
  409: 'Conflict.',
  413: 'The body is larger than the service takes (64 MiB by default); refused before it is read.',
  415: 'The body is not JSON: send it with `Content-Type: application/json` or `application/vnd.api+json`.',
  501: 'This service cannot do this.',
  503: 'The service is shutting down, its Redis is unreachable, or its storage fails: try again after `Retry-After` seconds.',
  507: 'The service is out of storage: nothing was changed.',
};

/** The headers some error answers carry. */
const HEADERS: Readonly<Record<number, JsonSchema>> = {
  401: { 'WWW-Authenticate': { type: 'string', description: '`Bearer realm="export-task"`.' } },
  503: { 'Retry-After': { type: 'integer', description: 'Seconds to wait before trying again.' } },
};

/**
 * The error answers of a route, each with the protocol's error body: the statuses given (a
 * number for the common reason, or `[status, why]`), then 503 and any other error (`default`).
 * @internal
 */
export function errorResponses(...statuses: readonly (number | readonly [number, string])[]): Record<string, JsonSchema> {
  const responses: Record<string, JsonSchema> = {};
  for (const entry of [...statuses, 503]) {
    const [status, why] = typeof entry === 'number' ? [entry, WHY[entry] ?? 'Error.'] : entry;
    const headers = HEADERS[status];
    responses[String(status)] = { description: why, ...(headers === undefined ? {} : { headers }), ...ref('ErrorBody') };
  }
  responses['default'] = { description: 'Any other error (a 500 says nothing of the service\'s insides; its log says why).', ...ref('ErrorBody') };
  return responses;
}
