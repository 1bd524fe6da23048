import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTails } from '../../../src/server/redis/redis-tails.js';
import { redisKeys } from '../../../src/server/redis/redis-keys.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../http/helpers.js';

let redis: RedisServer;
let db: Redis;

beforeAll(async () => {
  redis = await startRedisServer();
  db = new Redis(redis.url);
});

afterAll(async () => {
  db?.disconnect();
  await redis?.stop();
});

/** Appends an entry as the service does (field `e`, the event's JSON) and answers its id. */
async function append(productId: string, n: number): Promise<string> {
  const event = { type: 'queued', product_id: productId, export_id: `e${n}`, seq: 1, time: new Date().toISOString() };
  return (await db.xadd(redisKeys.events(productId), '*', 'e', JSON.stringify(event)))!;
}

describe('RedisTails: what one XREAD per product read, for every feed of the instance', () => {
  it('keeps every entry after its start in order, drops the oldest past twice its window, and answers undefined for a cursor before it or of another log', async () => {
    await db.set(redisKeys.product('w'), JSON.stringify({ logId: 'log-1' }));
    const before = await append('w', 0);
    const tails = new RedisTails(db, { blockMs: 200, coalesceMs: 0, window: 4 });
    let appends = 0;
    const handle = tails.listen('w', (what) => {
      if (what === 'append') appends++;
    });
    await handle.ready;
    // The tail starts at the stream's end: that cursor is its window's start.
    expect(handle.holds(before, 'log-1')).toBe(true);
    expect(handle.read(before, 10, 'log-1')).toEqual({ events: [], cursor: before });
    // Before the window's start: the feed reads by its own cursor.
    expect(handle.read('0-0', 10, 'log-1')).toBeUndefined();
    const ids: string[] = [];
    for (let n = 1; n <= 6; n++) ids.push(await append('w', n));
    await waitFor(() => handle.read(before, 100, 'log-1')?.cursor === ids.at(-1), 5_000, 'the tail to read the six entries');
    const all = handle.read(before, 100, 'log-1')!;
    expect(all.events.map((e) => e.cursor)).toEqual(ids);
    expect(all.events.map((e) => e.event.export_id)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    // A limit: the cursor is the last entry given; after it, the rest.
    const two = handle.read(before, 2, 'log-1')!;
    expect(two).toEqual({ events: all.events.slice(0, 2), cursor: ids[1] });
    expect(handle.read(two.cursor, 100, 'log-1')!.events).toEqual(all.events.slice(2));
    expect(handle.holds(ids[2]!, 'log-1')).toBe(true);
    // Another log id (the product created again): nothing from this window.
    expect(handle.read(before, 100, 'log-2')).toBeUndefined();
    expect(handle.holds(ids[2]!, 'log-2')).toBe(false);
    expect(appends).toBeGreaterThan(0);

    // Past 2 x 4 entries the window keeps the last 4 or more, and starts after the last one dropped.
    for (let n = 7; n <= 12; n++) ids.push(await append('w', n));
    await waitFor(() => handle.read(ids.at(-2)!, 100, 'log-1')?.cursor === ids.at(-1), 5_000, 'the tail to read the next six');
    expect(handle.read(before, 100, 'log-1')).toBeUndefined();
    const firstKept = ids.findIndex((id) => handle.read(id, 100, 'log-1') !== undefined);
    expect(firstKept).toBeGreaterThan(0);
    expect(ids.length - 1 - firstKept).toBeGreaterThanOrEqual(4);
    expect(handle.read(ids[firstKept]!, 100, 'log-1')!.events.map((e) => e.cursor)).toEqual(ids.slice(firstKept + 1));
    handle.stop();
    tails.close();
  });

  it('gives no tail once closed: a listen then reads nothing and opens no connection', async () => {
    const clients = async (): Promise<number> => Number(/^connected_clients:(\d+)/m.exec(await db.info('clients'))![1]);
    // Only this test's own connection: the tails before are gone.
    await waitFor(async () => (await clients()) === 1, 5_000, 'the earlier tails to disconnect');
    const tails = new RedisTails(db, { blockMs: 200 });
    tails.close();
    const handle = tails.listen('w', () => undefined);
    await handle.ready;
    expect(handle.read('0-0', 10, 'log-1')).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await clients()).toBe(1);
    handle.stop();
  });
});
