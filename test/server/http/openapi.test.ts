/**
 * GET /openapi.json: the OpenAPI 3.1 document of the service, built by @fastify/swagger from the
 * routes' schemas. Checked with a maintained validator of OpenAPI 3.1, against the routes the
 * service declared (each in it with its method, none in it that is not declared), against the
 * answers of the real service (each validated by the schema the document gives its status), and
 * against the copy in docs/.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULES } from '../../../src/server/http/access.js';
import { allFinal, call, gridFeatures, openEvents, ROOT, startTestServer, type Answer, type TestServer } from './helpers.js';

const TOKEN = 'openapi-test-token';
const ORIGIN = 'http://127.0.0.1:4173';
const PRODUCTS = '/vector/v2/products';

interface Operation {
  readonly security?: readonly Record<string, unknown>[];
  readonly responses: Record<string, { readonly content?: Record<string, { readonly schema?: unknown }>; readonly headers?: Record<string, unknown> }>;
}
interface Document {
  readonly openapi: string;
  readonly security: readonly Record<string, unknown>[];
  readonly components: { readonly securitySchemes: Record<string, unknown> };
  readonly paths: Record<string, Record<string, Operation>>;
}

let t: TestServer;
let doc: Document;

beforeAll(async () => {
  // A token, so that the document's security can be checked against what is refused; an
  // origin, so that CORS declares its preflight route.
  t = await startTestServer({ token: TOKEN, cors: { origins: [ORIGIN] } });
  const answer = await call<Document>(t.url, 'GET', '/openapi.json');
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  doc = answer.body;
});

afterAll(async () => {
  await t.dispose();
});

/** `/vector/v2/products/{product_id}` as Fastify writes it: `/vector/v2/products/:product_id`; a named wildcard as `*`. */
function fastifyPath(path: string): string {
  return path.replace(/\/\{(key|result_key)\}$/, '/*').replace(/\{(\w+)\}/g, ':$1');
}

function documentedOperations(): string[] {
  return Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${fastifyPath(path)}`));
}

function operation(method: string, path: string): Operation {
  const found = doc.paths[path]?.[method.toLowerCase()];
  if (found === undefined) throw new Error(`${method} ${path} is not in the document`);
  return found;
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, served without a token', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
  });

  it('holds every route the service declared, with its method, and no other', () => {
    // CORS's preflight route answers browsers, for every path: it is not an operation of the API.
    const declared = t.server.routes.filter((route) => route !== 'OPTIONS *');
    expect(t.server.routes).toContain('OPTIONS *');
    expect(declared.length).toBeGreaterThan(15);
    expect(documentedOperations().sort()).toEqual([...new Set(declared)].sort());
  });

  it('has a scoped-token rule for every route that needs a token, and none for another', () => {
    const secured = documentedOperations().filter((route) => {
      const [method, path] = route.split(' ') as [string, string];
      const documented = Object.entries(doc.paths).find(([p]) => fastifyPath(p) === path)![1][method.toLowerCase()]!;
      // /metrics takes the service's token only: no scoped token opens it.
      return documented.security?.length !== 0 && path !== '/metrics';
    });
    expect([...RULES.keys()].sort()).toEqual(secured.sort());
  });

  it('names the bearer scheme, and every route it marks public answers without a token while the others answer 401', async () => {
    expect(doc.components.securitySchemes['bearer']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const publics: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const isPublic = op.security !== undefined && op.security.length === 0;
        const concrete = path.replace('{key}', 'a/b.ndjson').replace(/\{\w+\}/g, 'p');
        const answer = await call(t.url, method.toUpperCase(), concrete);
        if (isPublic) {
          publics.push(`${method.toUpperCase()} ${path}`);
          expect(answer.status, `${method} ${path}`).toBe(200);
        } else {
          expect(answer.status, `${method} ${path}`).toBe(401);
          expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
        }
      }
    }
    expect(publics.sort()).toEqual(['GET /health', 'GET /openapi.json', 'GET /ready']);
  });

  it('documents /metrics as public when the service serves it without the token', async () => {
    const open = await startTestServer({ token: TOKEN, metricsPublic: true });
    try {
      const served = await call<Document>(open.url, 'GET', '/openapi.json');
      expect(served.body.paths['/metrics']?.['get']?.security).toEqual([]);
      expect((await call(open.url, 'GET', '/metrics')).status).toBe(200);
      expect(operation('GET', '/metrics').security).toBeUndefined();
    } finally {
      await open.dispose();
    }
  });

  it('gives the events route a text/event-stream answer and the upload route both JSON media types', () => {
    expect(Object.keys(operation('GET', '/vector/v2/products/{product_id}/search/export/events').responses['200']?.content ?? {})).toEqual(['text/event-stream']);
    const upload = operation('POST', '/vector/v2/products/{product_id}/features') as Operation & { requestBody: { content: Record<string, unknown> } };
    expect(Object.keys(upload.requestBody.content).sort()).toEqual(['application/json', 'application/vnd.api+json']);
    expect(Object.keys(operation('GET', '/storage/v1/data/get/{key}').responses['200']?.content ?? {})).toEqual(['application/octet-stream']);
  });

  it('is the copy in docs/openapi.json (npm run docs:openapi writes it)', async () => {
    const plain = await startTestServer();
    try {
      const served = (await call<Document>(plain.url, 'GET', '/openapi.json')).body;
      const committed = JSON.parse(await readFile(join(ROOT, 'docs', 'openapi.json'), 'utf8')) as unknown;
      expect(committed).toEqual(served);
    } finally {
      await plain.dispose();
    }
  });
});

describe('the answers of the service', () => {
  it('each match the schema the document gives its route and status', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(doc, 'openapi');
    const checked: string[] = [];
    const expectDocumented = (method: string, path: string, answer: Answer): void => {
      const responses = operation(method, path).responses;
      const documented = responses[String(answer.status)] ?? responses['default'];
      expect(documented, `${method} ${path} answered ${answer.status}, which the document does not list`).toBeDefined();
      const status = responses[String(answer.status)] === undefined ? 'default' : String(answer.status);
      for (const header of Object.keys(documented!.headers ?? {})) {
        expect(answer.headers.get(header), `${method} ${path} ${answer.status} without its ${header}`).not.toBeNull();
      }
      const type = answer.headers.get('content-type')?.split(';')[0] ?? '';
      const media = Object.keys(documented!.content ?? {}).find((name) => name.split(';')[0] === type);
      expect(media, `${method} ${path} ${answer.status} answered ${type}`).toBeDefined();
      if (type !== 'application/json') return;
      const pointer = ['paths', path, method.toLowerCase(), 'responses', status, 'content', media!, 'schema'].map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
      const validate = ajv.getSchema(`openapi#/${pointer}`)!;
      expect(validate(answer.body), `${method} ${path} ${answer.status}: ${JSON.stringify(validate.errors)}`).toBe(true);
      checked.push(`${method} ${path} ${answer.status}`);
    };
    const as = { token: TOKEN };
    const at = async (method: string, path: string, concrete: string, options: Parameters<typeof call>[3] = as): Promise<Answer> => {
      const answer = await call(t.url, method, concrete, options);
      expectDocumented(method, path, answer);
      return answer;
    };
    const P = `${PRODUCTS}/{product_id}`;
    const E = `${P}/search/export`;
    await at('POST', PRODUCTS, PRODUCTS, { ...as, body: { id: 'doc', title: 'Documented' } });
    await at('POST', PRODUCTS, PRODUCTS, { ...as, body: { id: 'doc' } });
    await at('POST', PRODUCTS, PRODUCTS, { ...as, body: { id: 5 } });
    await at('POST', PRODUCTS, PRODUCTS, { body: { id: 'x' } });
    await at('GET', P, `${PRODUCTS}/doc`);
    await at('GET', P, `${PRODUCTS}/nope`);
    await at('POST', `${P}/features`, `${PRODUCTS}/doc/features`, { ...as, body: gridFeatures(3) });
    await at('POST', `${P}/features`, `${PRODUCTS}/doc/features`, { ...as, body: [{ type: 'Polygon' }] });
    await at('POST', `${P}/features`, `${PRODUCTS}/doc/features`, { ...as, body: 'x', headers: { 'content-type': 'text/plain' } });
    const started = (await at('POST', E, `${PRODUCTS}/doc/search/export`, { ...as, body: { key: 'doc/all.ndjson', query: {} } })).body as { export_id: string };
    const failing = (await at('POST', E, `${PRODUCTS}/doc/search/export`, {
      ...as,
      body: { key: 'doc/bad.ndjson', query: { query_expr: { range: { n: { gt: 'a' } } } } },
    })).body as { export_id: string };
    await at('POST', E, `${PRODUCTS}/doc/search/export`, { ...as, body: { key: '../x', query: {} } });
    await at('GET', `${E}/status`, `${PRODUCTS}/doc/search/export/status?in_flight=true`);
    await at('GET', `${E}/status`, `${PRODUCTS}/doc/search/export/status`);
    for (const id of [started.export_id, failing.export_id]) {
      let phase = '';
      while (phase !== 'success' && phase !== 'failure') {
        phase = ((await at('GET', `${E}/{export_id}/status`, `${PRODUCTS}/doc/search/export/${id}/status`)).body as { data: { phase: string } }).data.phase;
      }
      await at('GET', `${E}/{export_id}`, `${PRODUCTS}/doc/search/export/${id}`);
      await at('POST', `${E}/{export_id}/cancel`, `${PRODUCTS}/doc/search/export/${id}/cancel`);
    }
    await at('GET', `${E}/{export_id}/status`, `${PRODUCTS}/doc/search/export/ghost/status`);
    await at('POST', `${E}/status`, `${PRODUCTS}/doc/search/export/status`, { ...as, body: { export_ids: [started.export_id, 'ghost'] } });
    await at('POST', `${E}/status`, `${PRODUCTS}/doc/search/export/status`, { ...as, body: { export_ids: 'ghost' } });
    await at('GET', E, `${PRODUCTS}/doc/search/export`);
    await at('GET', E, `${PRODUCTS}/doc/search/export?continuation_token=forged`);
    await at('GET', `${E}/events`, `${PRODUCTS}/doc/search/export/events?from=start`);
    await at('GET', '/storage/v1/data/get/{key}', '/storage/v1/data/get/doc/all.ndjson');
    await at('GET', '/storage/v1/data/get/{key}', '/storage/v1/data/get/doc/none.ndjson');
    await at('GET', '/storage/v1/logs/get/{result_key}', `/storage/v1/logs/get/doc/${started.export_id}`);
    await at('GET', '/health', '/health');
    await at('GET', '/ready', '/ready');
    await at('GET', '/metrics', '/metrics');
    await at('GET', '/openapi.json', '/openapi.json');
    // The event stream's messages are ExportEvents, their `event:` the type.
    const stream = await openEvents(t.url, 'doc', { token: TOKEN });
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const streamHeaders = operation('GET', `${E}/events`).responses['200']?.headers ?? {};
    expect(Object.keys(streamHeaders)).toEqual(['X-Heartbeat-Interval']);
    expect(stream.response.headers.get('x-heartbeat-interval')).toMatch(/^\d+$/);
    await stream.reader!.until((reader) => allFinal(reader, [started.export_id, failing.export_id]));
    await stream.close();
    // The schema the events route's answer names for its `data:` lines (`x-event-data`).
    const eventsPath = ['paths', `${E}/events`, 'get', 'responses', '200', 'content', 'text/event-stream', 'x-event-data'];
    const validateEvent = ajv.getSchema(`openapi#/${eventsPath.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`)!;
    expect(validateEvent).toBeDefined();
    const messages = stream.reader!.messages;
    expect(messages.map((m) => m.event)).toEqual(expect.arrayContaining(['queued', 'started', 'succeeded', 'failed']));
    for (const message of messages) {
      const event = JSON.parse(message.data) as { type: string };
      expect(validateEvent(event), `${message.data}: ${JSON.stringify(validateEvent.errors)}`).toBe(true);
      expect(message.event).toBe(event.type);
    }
    // The JSON answers were each validated: successes and errors of every kind.
    expect(checked).toEqual(
      expect.arrayContaining([
        `POST ${PRODUCTS} 201`,
        `POST ${PRODUCTS} 409`,
        `POST ${PRODUCTS} 400`,
        `POST ${PRODUCTS} 401`,
        `GET ${P} 404`,
        `POST ${P}/features 415`,
        `GET ${E}/{export_id} 200`,
        `POST ${E}/{export_id}/cancel 202`,
        `POST ${E}/status 200`,
        `GET ${E} 200`,
        'GET /ready 200',
      ]),
    );
  });
});
