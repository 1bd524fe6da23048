/**
 * `npm run bench:validation`: what checking requests with the routes' JSON schemas (Fastify's
 * Ajv, configured as the service configures it) costs per request, as ratios in this run
 * against the same route without a schema. In-process (`fastify.inject`), so the network does
 * not hide it; rounds alternate between the two apps and the median of the per-round ratios is
 * kept, so a shared machine's noise falls on both alike.
 *
 * Cases: an export request (`POST .../search/export`, a small body with a query and limits),
 * and a batch status of 10,000 ids (the largest the schema lets through: every id's length is
 * checked).
 *
 * Writes `bench/results/validation.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifySchema } from 'fastify';
import { SHARED_SCHEMAS } from '../src/server/http/route-schemas/components.js';
import { VECTOR_SCHEMAS } from '../src/server/http/route-schemas/vector-schemas.js';
import { AJV_OPTIONS, schemaErrorMessage } from '../src/server/http/validation-errors.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 5 : 15;

const URL_EXPORT = '/vector/v2/products/p/search/export';
const URL_STATUS = '/vector/v2/products/p/search/export/status';

async function app(withSchemas: boolean): Promise<FastifyInstance> {
  const fastify = Fastify({ ajv: AJV_OPTIONS, schemaErrorFormatter: schemaErrorMessage });
  fastify.setSerializerCompiler(() => (data) => JSON.stringify(data));
  for (const schema of SHARED_SCHEMAS) fastify.addSchema(schema);
  const schema = (s: FastifySchema): { schema?: FastifySchema } => (withSchemas ? { schema: s } : {});
  fastify.post('/vector/v2/products/:product_id/search/export', schema(VECTOR_SCHEMAS.startExport), (_request, reply) => reply.send({ export_id: 'e' }));
  fastify.post('/vector/v2/products/:product_id/search/export/status', schema(VECTOR_SCHEMAS.batchStatus), (_request, reply) => reply.send({ data: [], missing: [] }));
  await fastify.ready();
  return fastify;
}

interface Case {
  readonly name: string;
  readonly url: string;
  readonly body: string;
  readonly requests: number;
}

const CASES: readonly Case[] = [
  {
    name: 'export request',
    url: URL_EXPORT,
    body: JSON.stringify({ key: 'exports/roads.ndjson', query: { query_expr: { and: [{ eq: { kind: 'road' } }, { range: { lanes: { gte: 2 } } }] }, query_limit: 1000 }, limits: { timeout_ms: 60_000 } }),
    requests: quick ? 500 : 2000,
  },
  {
    name: 'batch status of 10,000 ids',
    url: URL_STATUS,
    body: JSON.stringify({ export_ids: Array.from({ length: 10_000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`) }),
    requests: quick ? 20 : 80,
  },
];

async function timeRequests(fastify: FastifyInstance, c: Case): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < c.requests; i++) {
    const answer = await fastify.inject({ method: 'POST', url: c.url, headers: { 'content-type': 'application/json' }, payload: c.body });
    if (answer.statusCode !== 200) throw new Error(`${c.name} answered ${answer.statusCode}: ${answer.body}`);
  }
  return ((performance.now() - started) * 1000) / c.requests;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const [checked, bare] = await Promise.all([app(true), app(false)]);
const results: Record<string, { readonly checkedUs: number; readonly bareUs: number; readonly ratio: number }> = {};
for (const c of CASES) {
  // Warm both, so that neither pays the JIT in the first round.
  await timeRequests(checked, c);
  await timeRequests(bare, c);
  const ratios: number[] = [];
  const checkedTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Each app goes first every other round.
    let a: number;
    let b: number;
    if (round % 2 === 0) {
      a = await timeRequests(checked, c);
      b = await timeRequests(bare, c);
    } else {
      b = await timeRequests(bare, c);
      a = await timeRequests(checked, c);
    }
    checkedTimes.push(a);
    bareTimes.push(b);
    ratios.push(a / b);
  }
  results[c.name] = { checkedUs: Math.round(median(checkedTimes) * 10) / 10, bareUs: Math.round(median(bareTimes) * 10) / 10, ratio: Math.round(median(ratios) * 100) / 100 };
  console.log(`${c.name}: ${results[c.name]!.checkedUs} µs checked, ${results[c.name]!.bareUs} µs without a schema: ${results[c.name]!.ratio}x`);
}
await Promise.all([checked.close(), bare.close()]);

const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'validation.json'), `${JSON.stringify({ rounds: ROUNDS, results }, null, 2)}\n`);
