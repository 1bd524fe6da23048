import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerError } from '../../../src/client/http-errors.js';
import { startServer, type ExportServer } from '../../../src/server/index.js';
import { RedisUnavailableError } from '../../../src/server/redis/redis-availability.js';
import { RedisEngine } from '../../../src/server/redis/redis-engine.js';
import { readEventStream } from '../../support/event-stream.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

/** The request timeout of these tests: short, so that an outage longer than it is quick to make. */
const TIMEOUT_MS = 400;
/** What a request may take at most while Redis is away: the timeout, plus the machine's slack. A hang fails the fetch. */
const BOUND_MS = TIMEOUT_MS + 2_000;

let redis: RedisServer;
let dataDir: string;
let server: ExportServer;

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { ...init, signal: AbortSignal.timeout(BOUND_MS) });
}

const exportBody = (key: string): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, query: {} }) });

/** Every route that needs Redis answers 503 with `Retry-After` and the protocol's error body, within the bound. */
async function expectUnavailable(): Promise<void> {
  const answers = await Promise.all([
    request('/vector/v2/products/roads'),
    request('/vector/v2/products/roads/search/export', exportBody('during.ndjson')),
    request('/vector/v2/products/roads/search/export/events'),
    request('/vector/v2/products/roads/search/export/status', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ export_ids: ['x'] }) }),
  ]);
  for (const answer of answers) {
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    const body = (await answer.json()) as { errors: { status: string; detail: string }[] };
    expect(body.errors[0]!.status).toBe('503');
    expect(body.errors[0]!.detail).toMatch(/cannot reach its Redis .*: try again in 1 s/);
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  redis = await startRedisServer();
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-outage-'));
  server = await startServer({ redis: redis.url, dataDir, redisTimeoutMs: TIMEOUT_MS });
  const created = await request('/vector/v2/products', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"roads"}' });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await server?.close();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the service on Redis while Redis is unreachable', () => {
  it('answers 503 with Retry-After within the bound while redis-server is stopped, for longer than the timeout, and serves again once it is back', async () => {
    await redis.down();
    await expectUnavailable();
    // Longer than the request timeout: still answered, never queued.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 2));
    await expectUnavailable();
    await redis.up();
    await waitUntil('the product is served again', async () => (await request('/vector/v2/products/roads')).status === 200);
    const started = await request('/vector/v2/products/roads/search/export', exportBody('after.ndjson'));
    expect(started.status).toBe(200);
    // Nothing asked during the outage was run later: the only export is the one asked after it.
    const { status, text } = await readEventStream(`${server.url}/vector/v2/products/roads/search/export/events`, { idleMs: 300 });
    expect(status).toBe(200);
    expect([...text.matchAll(/^event: queued$/gm)]).toHaveLength(1);
  });

  it('answers 503 within the bound when Redis keeps its connections open but answers nothing (frozen), and serves again once it answers', async () => {
    redis.freeze();
    try {
      const answer = await request('/vector/v2/products/roads');
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(((await answer.json()) as { errors: { detail: string }[] }).errors[0]!.detail).toMatch(/Command timed out/);
      // Known down now: refused at once, without waiting for the timeout again.
      await expectUnavailable();
    } finally {
      redis.thaw();
    }
    await waitUntil('the product is served again', async () => (await request('/vector/v2/products/roads')).status === 200);
  });

  it('logs the outage once and the recovery once, and says whether Redis is available', async () => {
    const lines: [string, string][] = [];
    const engine = await RedisEngine.start({
      redis: { kind: 'server', url: redis.url },
      dataDir,
      pageSize: 10,
      redisTimeoutMs: TIMEOUT_MS,
      retryAfterSeconds: 2,
      log: (level, message) => lines.push([level, message]),
    });
    try {
      expect(engine.redisAvailable).toBe(true);
      await redis.down();
      for (let i = 0; i < 3; i++) {
        const error = await engine.getProduct('roads').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(RedisUnavailableError);
        expect(error).toBeInstanceOf(ServerError);
        expect((error as RedisUnavailableError).status).toBe(503);
        expect((error as RedisUnavailableError).retryAfterSeconds).toBe(2);
      }
      expect(engine.redisAvailable).toBe(false);
      await redis.up();
      await waitUntil('the engine sees Redis again', () => Promise.resolve(engine.redisAvailable));
      await expect(engine.getProduct('roads')).resolves.toMatchObject({ id: 'roads' });
      expect(lines).toHaveLength(2);
      expect(lines[0]![0]).toBe('warn');
      expect(lines[0]![1]).toMatch(new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${redis.port} is unreachable \\(.+\\): requests are answered 503`));
      expect(lines[1]![0]).toBe('info');
      expect(lines[1]![1]).toMatch(/is reachable again after \d+\.\d s/);
    } finally {
      await engine.close();
    }
    // Closing is no outage.
    expect(lines).toHaveLength(2);
  });
});
