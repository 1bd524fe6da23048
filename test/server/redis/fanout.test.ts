import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../../src/index.js';
import { startServer, type ExportServer } from '../../../src/server/index.js';
import { redisKeys } from '../../../src/server/redis/redis-keys.js';
import { openEvents, waitFor } from '../http/helpers.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

let redis: RedisServer;
let db: Redis;
let dataDir: string;

beforeAll(async () => {
  redis = await startRedisServer();
  db = new Redis(redis.url);
  dataDir = await mkdtemp(join(tmpdir(), 'export-task-redis-fanout-'));
});

afterAll(async () => {
  db?.disconnect();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function post(server: ExportServer, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

/** Starts `count` exports at once and cancels each while it waits on the queue (no worker runs): three events each. */
async function startAndCancel(server: ExportServer, productId: string, count: number, tag: string): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const answer = await post(server, `/vector/v2/products/${productId}/search/export`, { key: `${tag}/${i}.ndjson`, query: {} });
      expect(answer.status).toBe(200);
      const { export_id: exportId } = (await answer.json()) as { export_id: string };
      expect((await post(server, `/vector/v2/products/${productId}/search/export/${exportId}/cancel`)).status).toBe(202);
      return exportId;
    }),
  );
}

/** XRANGE calls of this test's own (by {@link logOf}). */
let logReads = 0;

/** The product's log as stored, [cursor, event]. */
async function logOf(productId: string): Promise<{ id: string; event: TaskEvent }[]> {
  logReads++;
  const entries = await db.xrange(redisKeys.events(productId), '-', '+');
  return entries.map(([id, fields]) => ({ id, event: JSON.parse(fields[fields.indexOf('e') + 1]!) as TaskEvent }));
}

/** Calls of a Redis command so far, from INFO commandstats. */
async function calls(command: string): Promise<number> {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await db.info('commandstats'));
  return match === null ? 0 : Number(match[1]);
}

async function finalInLog(productId: string, ids: readonly string[]): Promise<boolean> {
  const finals = new Set((await logOf(productId)).filter(({ event }) => event.type === 'failed').map(({ event }) => event.export_id));
  return ids.every((id) => finals.has(id));
}

describe('fan-out on Redis: the caught-up streams of a product share its tail\'s one read', () => {
  it('brings each append to ten streams with one XREAD and no XRANGE, losing, repeating and reordering nothing', async () => {
    const server = await startServer({ redis: redis.url, dataDir, heartbeatMs: 2_000 });
    try {
      expect((await post(server, '/vector/v2/products', { id: 'shared' })).status).toBe(201);
      await startAndCancel(server, 'shared', 5, 'before');
      const early = await logOf('shared');
      // From the start, from an early cursor, and live only: each reads on its own, then joins the product's feed.
      const streams = await Promise.all([
        ...Array.from({ length: 4 }, () => openEvents(server.url, 'shared')),
        ...Array.from({ length: 3 }, () => openEvents(server.url, 'shared', { lastEventId: early[4]!.id })),
        ...Array.from({ length: 3 }, () => openEvents(server.url, 'shared', { lastEventId: early.at(-1)!.id })),
      ]);
      await waitFor(() => server.streamStats.joins === 10, 10_000, 'the ten streams to join the product feed');
      expect(server.streamStats.sharedFeeds).toBe(1);
      const before = { xread: await calls('xread'), xrange: await calls('xrange'), logReads, ownReads: server.streamStats.ownReads };

      const ids: string[] = [];
      for (const burst of [1, 8, 2, 20, 1, 5]) ids.push(...(await startAndCancel(server, 'shared', burst, `burst-${ids.length}`)));
      await waitFor(() => finalInLog('shared', ids), 10_000, 'every export to be final');
      const log = await logOf('shared');
      for (const { reader } of streams) await reader!.until((r) => r.messages.at(-1)?.id === log.at(-1)!.id);

      const appended = log.length - early.length;
      const xreads = (await calls('xread')) - before.xread;
      // The tail's reads, one per batch it found (never more than one per event), whatever the number of streams.
      expect(xreads).toBeGreaterThan(0);
      expect(xreads).toBeLessThanOrEqual(appended);
      // No stream read the stream by its cursor (the XRANGEs are this test's): they took what the tail read.
      expect((await calls('xrange')) - before.xrange - (logReads - before.logReads)).toBe(0);
      expect(server.streamStats.ownReads).toBe(before.ownReads);
      for (const [i, { reader }] of streams.entries()) {
        const from = i < 4 ? 0 : i < 7 ? 5 : early.length;
        expect(reader!.events()).toEqual(log.slice(from));
      }
      for (const { close } of streams) await close();
      await waitFor(() => server.streamStats.open === 0 && server.streamStats.sharedFeeds === 0, 5_000, 'the streams and their product feed to close');
    } finally {
      await server.close();
    }
  }, 60_000);

  it('resets every member of the shared feed when the product is created again, and stops the feed', async () => {
    const server = await startServer({ redis: redis.url, dataDir, heartbeatMs: 2_000 });
    try {
      expect((await post(server, '/vector/v2/products', { id: 'again' })).status).toBe(201);
      await startAndCancel(server, 'again', 2, 'first');
      const streams = await Promise.all(Array.from({ length: 3 }, () => openEvents(server.url, 'again')));
      await waitFor(() => server.streamStats.joins === 3 && server.streamStats.sharedFeeds === 1, 10_000, 'the streams to join the product feed');
      // What a failover to another data set looks like to an instance that stays connected.
      await db.flushall();
      expect((await post(server, '/vector/v2/products', { id: 'again' })).status).toBe(201);
      for (const { reader } of streams) {
        await reader!.done;
        expect(reader!.messages.at(-1)).toMatchObject({ event: 'reset' });
        expect(JSON.parse(reader!.messages.at(-1)!.data)).toEqual({ reason: 'the product "again" was created again: its log is not the one this stream read' });
        // Every event before the reset was had.
        expect(reader!.messages.filter((m) => m.event !== 'reset')).toHaveLength(6);
      }
      await waitFor(() => server.streamStats.open === 0 && server.streamStats.sharedFeeds === 0, 5_000, 'the streams and their product feed to close');
    } finally {
      await server.close();
    }
  }, 30_000);

  it('lets a stream whose socket fills fall back to its own reads by cursor and join again, losing nothing', async () => {
    // Half of 1 KiB is less than a cancel's two events: a member leaves the shared feed on every cancel and joins again.
    const server = await startServer({ redis: redis.url, dataDir, heartbeatMs: 300, sseBufferLimit: 1024 });
    try {
      expect((await post(server, '/vector/v2/products', { id: 'slow' })).status).toBe(201);
      const streams = await Promise.all(Array.from({ length: 4 }, () => openEvents(server.url, 'slow')));
      await waitFor(() => server.streamStats.joins === 4, 10_000, 'the streams to join the product feed');
      const before = { ...server.streamStats };
      const ids: string[] = [];
      for (const burst of [1, 3, 1, 10, 2, 30, 1, 5, 60]) ids.push(...(await startAndCancel(server, 'slow', burst, `b-${ids.length}`)));
      await waitFor(() => finalInLog('slow', ids), 20_000, 'every export to be final');
      const log = await logOf('slow');
      for (const { reader } of streams) await reader!.until((r) => r.messages.at(-1)?.id === log.at(-1)!.id);
      for (const { reader } of streams) expect(reader!.events()).toEqual(log);
      expect(server.streamStats.leaves - before.leaves).toBeGreaterThan(streams.length);
      // They read by cursor meanwhile, and every stream ends in the shared feed: one join after each leave; none was cut.
      expect(server.streamStats.ownReads).toBeGreaterThan(before.ownReads);
      await waitFor(() => server.streamStats.joins - before.joins === server.streamStats.leaves - before.leaves, 5_000, 'the streams that left to join again');
      expect(server.streamStats.dropped).toBe(before.dropped);
      for (const { close } of streams) await close();
      await waitFor(() => server.streamStats.open === 0 && server.streamStats.sharedFeeds === 0, 5_000, 'the streams and their product feed to close');
    } finally {
      await server.close();
    }
  }, 60_000);
});
