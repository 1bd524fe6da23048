/**
 * Issue 13: adding 1M features (19 MB) made a concurrent GET wait 8.7 s, as parsing, checking
 * and writing ran on the main thread in one piece. The body is parsed, checked and serialised
 * in a worker thread now, and written a chunk at a time: other requests are answered meanwhile.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, errorDetail, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
const COUNT = 1_000_000;
/** The smallest features, as in the issue: 19 bytes each, 19 MB in all. */
const BODY = `[${Array<string>(COUNT).fill('{"type":"Feature"}').join(',')}]`;

beforeAll(async () => {
  t = await startTestServer();
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
});

afterAll(async () => {
  await t.dispose();
});

async function featureCount(): Promise<number> {
  return (await call<{ data: { attributes: { feature_count: number } } }>(t.url, 'GET', '/vector/v2/products/p')).body.data.attributes.feature_count;
}

describe('a feature upload', () => {
  it('of 1M features leaves the service answering other requests while it runs', async () => {
    const started = performance.now();
    let done = false;
    const upload = call<{ added: number }>(t.url, 'POST', '/vector/v2/products/p/features', { body: BODY }).finally(() => (done = true));
    const latencies: number[] = [];
    while (!done) {
      const sent = performance.now();
      const answer = await call(t.url, 'GET', '/vector/v2/products/p');
      expect(answer.status).toBe(200);
      if (!done) latencies.push(performance.now() - sent);
      // A status poll, not a load test: leave the cores to the upload.
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const answer = await upload;
    const duration = performance.now() - started;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ added: COUNT });
    expect(await featureCount()).toBe(COUNT);
    // A ratio, not a time: the slowest answer took a small part of the upload (it took all
    // of it, less the body's transfer, when the upload held the main thread).
    expect(latencies.length).toBeGreaterThan(3);
    expect(Math.max(...latencies)).toBeLessThan(duration / 4);
  }, 120_000);

  it('adds nothing when any feature of 1M is bad, naming it', async () => {
    const file = join(t.dataDir, 'products', 'p', 'features.ndjson');
    const before = { count: await featureCount(), size: (await stat(file)).size };
    const bad = `${BODY.slice(0, -1)},{"type":"Feature","geometry":{"type":"Point","coordinates":[1]}}]`;
    const answer = await call(t.url, 'POST', '/vector/v2/products/p/features', { body: bad });
    expect(answer.status).toBe(400);
    expect(errorDetail(answer)).toMatch(/^Feature 1000000 was refused, nothing was added: Expected `features\[1000000\]\.geometry\.coordinates` to be a position/);
    expect({ count: await featureCount(), size: (await stat(file)).size }).toEqual(before);
  }, 120_000);
});
