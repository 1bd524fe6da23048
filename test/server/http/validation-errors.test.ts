/**
 * What the service answers for a request its route's schema refuses (Fastify's Ajv, with
 * src/server/http/validation-errors.ts wording the error): 400 in the protocol's error shape,
 * naming where (a body member by its path, a parameter, a header), what was expected and what
 * came, before anything is done; nothing coerced, nothing dropped.
 */
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../src/client/http-errors.js';
import { AJV_OPTIONS, schemaErrorMessage, type SchemaError } from '../../../src/server/http/validation-errors.js';
import { call, errorDetail, footprint, startTestServer, type TestServer } from './helpers.js';

const EXPORTS = '/vector/v2/products/v/search/export';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
  expect((await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'v' } })).status).toBe(201);
});

afterAll(async () => {
  await t.dispose();
});

describe('a request its schema refuses', () => {
  it.each<[string, string, string, { body?: unknown; headers?: Record<string, string> }, string]>([
    ['a member of the wrong type, by its path', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { query_limit: 1.5 } } }, 'Expected `query.query_limit` to be an integer, got 1.5'],
    ['a zero query_limit', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { query_limit: 0 } } }, 'Expected `query.query_limit` to be a number >= 1, got 0'],
    ['a key that is not a string', 'POST', EXPORTS, { body: { key: 7, query: {} } }, 'Expected `key` to be a string, got 7'],
    ['a geometry that is not an object', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { geometry: 'POINT(1 2)' } } }, 'Expected `query.geometry` to be a JSON object, got "POINT(1 2)"'],
    ['an unknown member of the query', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { limit: 1 } } }, 'Expected `query` to have only `geometry`, `query_expr`, `query_limit`, got an unknown `limit`: remove it'],
    ['a memory limit given as a string', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: {}, limits: { memory_mb: '64' } } }, "Expected `limits.memory_mb` to be a positive number of MiB, got \"64\": leave it out for the service's default (`--job-memory-mb`)"],
    ['an Idempotency-Key with a control character', 'POST', EXPORTS, { body: { key: 'a.ndjson', query: {} }, headers: { 'idempotency-key': 'a\tb' } }, 'Expected the Idempotency-Key header to be 1 to 255 printable ASCII characters (a UUID, say), got "a\\tb"'],
    ['a product id in the path that no product can have', 'GET', '/vector/v2/products/.hidden', {}, 'Expected the product id to be 1 to 128 characters of letters, digits, ".", "_", ":" and "-", not starting with ".", got ".hidden"'],
    ['a continuation token given twice', 'GET', `${EXPORTS}?continuation_token=a&continuation_token=b`, {}, 'Expected one `continuation_token` query parameter, got 2'],
    ['an in-flight listing without in_flight', 'GET', `${EXPORTS}/status?in_flight=yes`, {}, 'Expected `in_flight` to be "true" (`in_flight=true`'],
    ['a body that is an array', 'POST', `${EXPORTS}/status`, { body: ['a'] }, 'Expected the request body to be a JSON object, got an array of 1'],
    ['a body with no export_ids', 'POST', `${EXPORTS}/status`, { body: {} }, 'Expected the request body to have an `export_ids`: an array of at most 10000 export ids in one request'],
  ])('answers %s with 400 saying where and what was expected, changing nothing', async (_what, method, path, options, detail) => {
    const before = await footprint(t.dataDir);
    const answer = await call(t.url, method, path, options);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ errors: [{ status: '400', title: 'Bad Request', detail: expect.any(String) as unknown }] });
    expect(errorDetail(answer)).toContain(detail);
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('coerces nothing: a numeric title stays refused, a string query_limit too', async () => {
    expect(errorDetail(await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'n', title: 12 } }))).toBe("Expected the product's `title` to be a string, got 12");
    expect(errorDetail(await call(t.url, 'POST', EXPORTS, { body: { key: 'a.ndjson', query: { query_limit: '5' } } }))).toBe('Expected `query.query_limit` to be an integer, got "5"');
  });

  it('lets a good request through unchanged, both JSON media types', async () => {
    for (const type of ['application/json', 'application/vnd.api+json']) {
      const answer = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: `ok-${type.length}.ndjson`, query: { query_limit: 1 }, limits: { timeout_ms: 60_000 } }, headers: { 'content-type': type, 'idempotency-key': `k-${type}` } });
      expect(answer.status).toBe(200);
      expect(answer.body.export_id).toMatch(/\S/);
    }
  });
});

describe('schemaErrorMessage', () => {
  // Real errors of an Ajv set up as the service sets up Fastify's.
  const ajv = new Ajv(AJV_OPTIONS.customOptions);
  const messageFor = (schema: object, data: unknown, part = 'body'): string => {
    const validate = ajv.compile(schema);
    expect(validate(data)).toBe(false);
    const error = schemaErrorMessage(validate.errors as SchemaError[], part);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.status).toBe(400);
    return error.message;
  };

  it.each<[string, object, unknown, string]>([
    ['a type, by the path of the value', { type: 'object', properties: { a: { type: 'array', items: { type: 'integer' } } } }, { a: [1, 'x'] }, 'Expected `a[1]` to be an integer, got "x"'],
    ['a union of types', { type: 'object', properties: { a: { type: ['string', 'null'] } } }, { a: 1 }, 'Expected `a` to be a string or null, got 1'],
    ['a shortest length', { type: 'object', properties: { a: { type: 'string', minLength: 1 } } }, { a: '' }, 'Expected `a` to be a non-empty string, got ""'],
    ['a longer shortest length', { type: 'object', properties: { a: { type: 'string', minLength: 3 } } }, { a: 'ab' }, 'Expected `a` to be at least 3 characters, got 2'],
    ['a longest length', { type: 'object', properties: { a: { type: 'string', maxLength: 3 } } }, { a: 'abcd' }, 'Expected `a` to be at most 3 characters, got 4'],
    ['a most items', { type: 'object', properties: { a: { type: 'array', maxItems: 1 } } }, { a: [1, 2] }, 'Expected `a` to be an array of at most 1, got 2'],
    ['a fewest items', { type: 'object', properties: { a: { type: 'array', minItems: 2 } } }, { a: [1] }, 'Expected `a` to be an array of at least 2, got 1'],
    ['a pattern', { type: 'object', properties: { a: { type: 'string', pattern: '^x+$' } } }, { a: 'y' }, 'Expected `a` to be a string matching ^x+$, got "y"'],
    ['an enum', { type: 'object', properties: { a: { enum: ['x', 'y'] } } }, { a: 'z' }, 'Expected `a` to be one of "x", "y", got "z"'],
    ['a const', { type: 'object', properties: { a: { const: 'x' } } }, { a: 'z' }, 'Expected `a` to be "x", got "z"'],
    ['a bound', { type: 'object', properties: { a: { type: 'number', exclusiveMaximum: 5 } } }, { a: 5 }, 'Expected `a` to be a number < 5, got 5'],
    ['a required member', { type: 'object', required: ['id'] }, {}, 'Expected the request body to have an `id`'],
    ['a required member it says the use of', { type: 'object', required: ['key'], properties: { key: { type: 'string', 'x-expected': 'a storage key' } } }, {}, 'Expected the request body to have a `key`: a storage key'],
    ['an unknown member', { type: 'object', additionalProperties: false, properties: { a: {}, b: {} } }, { c: 1 }, 'Expected the request body to have only `a`, `b`, got an unknown `c`: remove it'],
    ['a title and its words', { type: 'string', title: 'the thing', 'x-expected': 'a thing', 'x-fix': 'send a thing' }, 5, 'Expected the thing to be a thing, got 5: send a thing'],
    ['a keyword without words of its own', { type: 'object', properties: { a: { type: 'number', multipleOf: 2 } } }, { a: 3 }, 'Expected `a` to be what its schema\'s `multipleOf` asks ({"multipleOf":2}), got 3'],
    ['a member whose name holds a slash', { type: 'object', properties: { 'a/b': { type: 'string' } } }, { 'a/b': 1 }, 'Expected `a/b` to be a string, got 1'],
  ])('words %s', (_what, schema, data, message) => {
    expect(messageFor(schema, data)).toBe(message);
  });

  it('names the part that was checked when the value is the whole of it, and an absent body as no body', () => {
    expect(messageFor({ type: 'object' }, null)).toBe('Expected the request body to be a JSON object, got no body');
    expect(messageFor({ type: 'object', required: ['in_flight'] }, {}, 'querystring')).toBe('Expected the query string to have an `in_flight`');
    expect(messageFor({ type: 'object', properties: { after: { type: 'string' } } }, { after: ['1', '2'] }, 'querystring')).toBe('Expected one `after` query parameter, got 2');
    expect(messageFor({ type: 'object', required: ['x'] }, {}, 'headers')).toBe("Expected the request's headers to have a `x`");
  });
});
