/**
 * A client follows only what it asked for: its stream starts at the current end of the
 * product's events, one batch status request brings what it follows up to there, and events
 * of exports nobody follows are not kept. Measured on a product with 10,000 exports in its
 * log (copies of one real export, written into the service's SQLite log while it is stopped).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { startServer, type ExportServer } from '../../src/server/index.js';
import { call, gridFeatures, makeTempDir } from '../server/http/helpers.js';
import { countingFetch } from '../support/counting-fetch.js';

const EXPORTS = 10_000;


describe('a client following one export of a busy product', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let server: ExportServer;
  let logBytes: number;
  let oldExport: string;

  beforeAll(async () => {
    temp = await makeTempDir();
    // One real export, then 9,999 copies of its rows under other ids.
    const first = await startServer({ host: '127.0.0.1', port: 0, dataDir: temp.dir });
    await call(first.url, 'POST', '/vector/v2/products', { body: { id: 'busy' } });
    await call(first.url, 'POST', '/vector/v2/products/busy/features', { body: gridFeatures(200) });
    const client = createClient({ url: first.url });
    const task = await client.featureCollection('busy').export('busy/original.ndjson');
    await task.getResult({ wait: true, timeout: 30_000 });
    await client.close();
    await first.close();
    const db = new Database(join(temp.dir, 'export-task.sqlite'));
    try {
      const original = db.prepare('SELECT * FROM exports WHERE export_id = ?').get(task.tuid) as Record<string, string | number>;
      const events = db.prepare('SELECT * FROM events WHERE export_id = ? ORDER BY id').all(task.tuid) as Record<string, string | number>[];
      const insertExport = db.prepare('INSERT INTO exports (export_id, product_id, request, seq, final, state) VALUES (?, ?, ?, ?, ?, ?)');
      const insertEvent = db.prepare('INSERT INTO events (product_id, export_id, seq, type, body) VALUES (?, ?, ?, ?, ?)');
      db.transaction(() => {
        for (let i = 1; i < EXPORTS; i++) {
          const id = `${task.tuid.slice(0, -6)}${String(i).padStart(6, '0')}`;
          const swap = (text: string | number): string => String(text).replaceAll(task.tuid, id);
          insertExport.run(id, 'busy', original['request'], original['seq'], original['final'], swap(original['state']!));
          for (const event of events) insertEvent.run('busy', id, event['seq'], event['type'], swap(event['body']!));
        }
      })();
      logBytes = db.prepare("SELECT sum(length(body)) FROM events WHERE product_id = 'busy'").pluck().get() as number;
      oldExport = `${task.tuid.slice(0, -6)}${String(5_000).padStart(6, '0')}`;
      expect(db.prepare("SELECT count(*) FROM exports WHERE product_id = 'busy'").pluck().get()).toBe(EXPORTS);
    } finally {
      db.close();
    }
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: temp.dir });
  });

  afterAll(async () => {
    await server.close();
    await temp.remove();
  });

  it('a new export: reads under 64 KiB from its stream and holds one task, though the log holds megabytes', async () => {
    // What replaying the product's history would cost.
    expect(logBytes).toBeGreaterThan(2 * 1024 * 1024);
    const counter = countingFetch();
    const client = createClient({ url: server.url, fetch: counter.fetch });
    try {
      const task = await client.featureCollection('busy').export('busy/new.ndjson');
      await task.getResult({ wait: true, timeout: 30_000 });
      expect(await task.status).toBe('SUCCESS');
      expect(counter.streamed()).toBeGreaterThan(0);
      expect(counter.streamed()).toBeLessThan(64 * 1024);
      expect(client.store.size).toBeLessThanOrEqual(2);
    } finally {
      await client.close();
    }
  });

  it('an old export, by id: one status request, its stream from the end, and only that task held', async () => {
    const counter = countingFetch();
    const client = createClient({ url: server.url, fetch: counter.fetch });
    try {
      const task = await client.featureCollection('busy').getExport(oldExport);
      await task.getResult({ wait: true, timeout: 30_000 });
      expect(task.snapshot.phase).toBe('success');
      // Exports of others start meanwhile: their events are not kept.
      const other = createClient({ url: server.url });
      const others = await Promise.all([0, 1, 2].map((i) => other.featureCollection('busy').export(`busy/other-${i}.ndjson`)));
      const mine = await client.featureCollection('busy').export('busy/mine.ndjson');
      await Promise.all([...others.map((t) => t.getResult({ wait: true, timeout: 30_000 })), mine.getResult({ wait: true, timeout: 30_000 })]);
      await other.close();
      expect([...client.store.snapshots()].map((s) => s.exportId).sort()).toEqual([oldExport, mine.tuid].sort());
      expect(counter.streamed()).toBeLessThan(64 * 1024);
    } finally {
      await client.close();
    }
  });
});
