import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, ExportLostError } from '../../../src/index.js';
import { startServer, type ExportServer } from '../../../src/server/index.js';
import { readEventStream } from '../../support/event-stream.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

let redis: RedisServer;
let dataDir: string;
let server: ExportServer;

const EVENTS = '/vector/v2/products/roads/search/export/events';

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Once Redis is back, the service answers again (503 until then). */
async function serviceBack(): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await fetch(`${server.url}/vector/v2/products/roads`)).status === 503) {
    if (Date.now() > deadline) throw new Error('the service still answers 503');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createRoads(): Promise<void> {
  expect((await post('/vector/v2/products', { id: 'roads' })).status).toBe(201);
}

async function startExport(key: string): Promise<string> {
  const answer = await post('/vector/v2/products/roads/search/export', { key, query: {} });
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { export_id: string }).export_id;
}

/**
 * Opens the events route and reads it until the service ends it, or `withinMs` pass (then it
 * is cut, and `ended` is false). Nothing is left open either way.
 */
function openStream(path: string, headers: Record<string, string> = {}, withinMs = 15_000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), withinMs);
  let text = '';
  const onText: (() => void)[] = [];
  const done = (async () => {
    try {
      const response = await fetch(`${server.url}${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += chunk.value;
        for (const notify of onText.splice(0)) notify();
      }
      return { status: response.status, ended: true };
    } catch {
      return { status: 0, ended: false };
    } finally {
      clearTimeout(timer);
    }
  })();
  return {
    done: async () => ({ ...(await done), text }),
    /** Resolves once the text read so far matches. */
    until: async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const more = new Promise<void>((resolve) => onText.push(resolve));
        const over = await Promise.race([more.then(() => false), done.then(() => true)]);
        if (over && !pattern.test(text)) throw new Error(`the stream ended without ${pattern}: ${text}`);
      }
    },
  };
}

/** The `data` of the stream's reset frames. */
function resets(text: string): { reason: string }[] {
  return [...text.matchAll(/^event: reset\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { reason: string });
}

beforeAll(async () => {
  redis = await startRedisServer();
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-reset-'));
  server = await startServer({ redis: redis.url, dataDir, heartbeatMs: 200 });
});

afterAll(async () => {
  await server?.close();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the events route when Redis comes back empty', () => {
  it('sends `event: reset` with the reason and ends the stream of every client, after the events it had', async () => {
    await createRoads();
    const exportId = await startExport('before.ndjson');
    const streams = [openStream(EVENTS), openStream(`${EVENTS}?export_id=${exportId}`)];
    for (const stream of streams) await stream.until(/event: queued/);
    await redis.restart({ empty: true });
    for (const stream of streams) {
      const { status, ended, text } = await stream.done();
      expect(status).toBe(200);
      expect(ended).toBe(true);
      expect(resets(text)).toEqual([{ reason: expect.stringMatching(/^the product "roads" is no longer in Redis: Redis lost its data/) as unknown }]);
      // The reset is the stream's last frame.
      expect(text.trimEnd().endsWith(`data: ${JSON.stringify(resets(text)[0])}`)).toBe(true);
    }
    await serviceBack();
    // The product is gone: the route says so (a client then ends the exports it followed).
    expect((await fetch(`${server.url}${EVENTS}`)).status).toBe(404);
  });

  it('answers a reset to a reconnection with a cursor the log does not hold: of a log since replaced, or ahead of its end', async () => {
    await createRoads();
    const exportId = await startExport('one.ndjson');
    const { text } = await readEventStream(`${server.url}${EVENTS}`, { withinMs: 500 });
    const cursor = /^id: (.+)\nevent: queued$/m.exec(text)![1]!;
    await redis.restart({ empty: true });
    await serviceBack();
    await createRoads();
    // The log of the product created again is another log: the old cursor is not in it, whichever is larger.
    await startExport('two.ndjson');
    for (const after of [cursor, '99999999999999-0']) {
      const { status, ended, text: answer } = await openStream(EVENTS, { 'last-event-id': after }).done();
      expect(status).toBe(200);
      expect(ended).toBe(true);
      expect(answer).not.toMatch(/event: queued/);
      expect(resets(answer)).toEqual([{ reason: expect.stringMatching(new RegExp(`^the cursor ${after} is not in the log of product "roads"`)) as unknown }]);
    }
    // A reset is not a refusal: a malformed cursor still is.
    expect((await fetch(`${server.url}${EVENTS}?after=abc`)).status).toBe(400);
    // The export of the old log is unknown to the batch status route: `missing`.
    const status = await post('/vector/v2/products/roads/search/export/status', { export_ids: [exportId] });
    expect(await status.json()).toEqual({ data: [], missing: [exportId] });
  });

  it('resets a stream whose product was deleted and created again while Redis stayed up', async () => {
    const stream = openStream(EVENTS);
    await stream.until(/: connected/);
    // What a failover to another data set looks like to an instance that stays connected.
    const { Redis } = await import('ioredis');
    const db = new Redis(redis.url);
    try {
      await db.flushall();
    } finally {
      db.disconnect();
    }
    await createRoads();
    const { ended, text } = await stream.done();
    expect(ended).toBe(true);
    expect(resets(text)).toEqual([{ reason: 'the product "roads" was created again: its log is not the one this stream read' }]);
  });

  it('ends a real client\'s waits on exports Redis forgot with ExportLostError: after an empty restart, and after the product was created again', async () => {
    for (const recreate of [false, true]) {
      await serviceBack();
      const db = new (await import('ioredis')).Redis(redis.url);
      await db.flushall();
      db.disconnect();
      await createRoads();
      const client = createClient({ url: server.url });
      try {
        const fc = client.featureCollection('roads');
        // No worker runs: they stay queued until Redis forgets them.
        const tasks = await Promise.all([fc.export(`lost-${recreate}-1.ndjson`), fc.export(`lost-${recreate}-2.ndjson`)]);
        const waits = tasks.map((task) => task.getResult({ wait: true, timeout: 20_000 }).then(() => 'settled', (error: unknown) => error));
        await expect.poll(() => server.streamStats.open, { timeout: 10_000 }).toBeGreaterThan(0);
        await redis.restart({ empty: true });
        if (recreate) {
          await serviceBack();
          await createRoads();
        }
        for (const outcome of await Promise.all(waits)) {
          expect(outcome).toBeInstanceOf(ExportLostError);
          expect((outcome as ExportLostError).code).toBe('EXPORT_TASK_LOST');
        }
      } finally {
        await client.close();
      }
      expect(client.store.pendingWaits).toBe(0);
    }
  }, 60_000);
});
