/**
 * Failures of the service itself, on the real app over 127.0.0.1 (issue 13 items 7 and 8,
 * issue 12 item 8): a full database never crashes the process (an append it refuses ends the
 * export `internal`, requests that would write answer 507, reads go on, and everything goes on
 * once there is space again); a missing product file fails an export `internal`; stack traces
 * carry no absolute path of the service.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../../src/core/events.js';
import { startEngine } from '../../../src/server/embedded/engine.js';
import type { EmbeddedEngine } from '../../../src/server/embedded/engine.js';
import { createApp } from '../../../src/server/http/create-app.js';
import type { App } from '../../../src/server/http/create-app.js';
import { openSqliteStore } from '../../../src/server/sqlite/open-sqlite-store.js';
import { call, errorDetail, gridFeatures, makeTempDir, ROOT, startTestServer, waitFor } from './helpers.js';

let engine: EmbeddedEngine;
let app: App;
let db: Database.Database;
let url: string;
let removeDir: () => Promise<void>;
const health: { healthy: boolean; error: unknown }[] = [];
const EXPORTS = '/vector/v2/products/p/search/export';

beforeAll(async () => {
  const temp = await makeTempDir();
  removeDir = temp.remove;
  engine = await startEngine({
    dataDir: temp.dir,
    jobTimeoutMs: null,
    jobMemoryMb: null,
    concurrency: 4,
    pageSize: 100,
    storageRetryMs: 50,
    onStorageHealth: (healthy, error) => health.push({ healthy, error }),
    openStore: (dir) =>
      openSqliteStore(dir, {
        configure: (opened) => {
          db = opened;
        },
      }),
  });
  app = createApp(engine, { token: undefined, signingKey: undefined, corsOrigins: [], bodyLimit: 64 << 20, heartbeatMs: 60_000, sseBufferLimit: 1 << 20, logger: false });
  await app.fastify.listen({ port: 0, host: '127.0.0.1' });
  const address = app.fastify.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  url = `http://127.0.0.1:${address.port}`;
  await call(url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
  await call(url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(100_000, 1000) });
}, 60_000);

afterAll(async () => {
  await app.fastify.close();
  await engine.close();
  await removeDir();
});

async function statusOf(exportId: string, productId = 'p'): Promise<SnapshotEvent> {
  const answer = await call<{ data: SnapshotEvent }>(url, 'GET', `/vector/v2/products/${productId}/search/export/${exportId}/status`);
  expect(answer.status).toBe(200);
  return answer.body.data;
}

async function untilFinal(exportId: string, base = url): Promise<SnapshotEvent> {
  let snapshot: SnapshotEvent | undefined;
  await waitFor(async () => {
    snapshot = (await call<{ data: SnapshotEvent }>(base, 'GET', `${EXPORTS}/${exportId}/status`)).body.data;
    return snapshot.phase === 'success' || snapshot.phase === 'failure';
  });
  return snapshot!;
}

/** Fills the database to its size limit: `max_page_count` at its size now, then rows until SQLite refuses one. */
function fillDatabase(): void {
  db.exec('CREATE TABLE IF NOT EXISTS filler (x BLOB)');
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const insert = db.prepare('INSERT INTO filler VALUES (?)');
  for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
    try {
      for (;;) insert.run(Buffer.alloc(size));
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_FULL') throw error;
    }
  }
}

function makeRoom(): void {
  db.pragma('max_page_count = 1073741823');
  db.exec('DROP TABLE filler');
}

describe('a full database', () => {
  it('ends running exports internal, answers writes 507 and reads 200, and recovers when space returns (issue 13: it crashed the service)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await call<{ export_id: string }>(url, 'POST', EXPORTS, { body: { key: `full/${i}.ndjson`, query: { query_expr: { eq: { kind: 'odd' } } } } })).body.export_id);
    }
    fillDatabase();
    // Each job's next event is refused: the job is stopped, and its end waits for space.
    await waitFor(() => engine.unrecordedFinals === 4, 30_000, 'the four jobs to be stopped');
    expect(health).toHaveLength(1);
    expect(health[0]).toMatchObject({ healthy: false, error: { code: 'SQLITE_FULL' } });

    // Reads go on.
    expect((await call(url, 'GET', '/vector/v2/products/p')).status).toBe(200);
    for (const id of ids) expect(['pending', 'running']).toContain((await statusOf(id)).phase);
    expect((await call(url, 'GET', EXPORTS)).status).toBe(200);
    // Writes answer 507 in the protocol's shape once the pages the service writes to are full
    // too (a row may still fit in one of them: those requests succeed, as they should).
    const more: string[] = [];
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 500 && refused === undefined; i++) {
      const answer = await call<{ export_id: string }>(url, 'POST', EXPORTS, { body: { key: `more/${i}.ndjson`, query: {} } });
      if (answer.status === 200) more.push(answer.body.export_id);
      else refused = answer;
    }
    expect(refused?.status).toBe(507);
    expect(errorDetail(refused!)).toMatch(/out of storage .* nothing was changed/);
    // A feature upload the catalog refuses leaves the product as it was.
    const featuresFile = join(engine.dataDir, 'products', 'p', 'features.ndjson');
    const sizeBefore = (await stat(featuresFile)).size;
    const add = await call(url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(10) });
    const count = add.status === 200 ? 100_010 : 100_000;
    if (add.status !== 200) {
      expect(add.status).toBe(507);
      expect((await stat(featuresFile)).size).toBe(sizeBefore);
    }
    expect((await call<{ data: { attributes: { feature_count: number } } }>(url, 'GET', '/vector/v2/products/p')).body).toMatchObject({
      data: { attributes: { feature_count: count } },
    });
    expect(health.filter((h) => !h.healthy)).toHaveLength(1);

    makeRoom();
    const ends = await Promise.all(ids.map((id) => untilFinal(id)));
    for (const end of ends) {
      expect(end.attributes).toMatchObject({ failure_type: 'internal', exception_name: 'SqliteError' });
      expect(end.attributes?.stacktrace).toMatch(/^SqliteError: database or disk is full/);
      expect(end.attributes?.stacktrace).not.toContain(ROOT);
    }
    // Those started while the database was full end as far as it let them: all of them end.
    await Promise.all(more.map((id) => untilFinal(id)));
    expect(engine.unrecordedFinals).toBe(0);
    expect(health.map((h) => h.healthy)).toEqual([false, true]);
    // And the service works as before.
    const after = await call<{ export_id: string }>(url, 'POST', EXPORTS, { body: { key: 'after.ndjson', query: { query_limit: 5 } } });
    expect(after.status).toBe(200);
    expect((await untilFinal(after.body.export_id)).phase).toBe('success');
  });
});

describe('the service\'s own failures and stack traces', () => {
  it('fails an export whose product file is gone as internal, not exception (issue 12 item 8)', async () => {
    const t = await startTestServer();
    try {
      await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
      await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(10) });
      await rm(join(t.dataDir, 'products', 'p', 'features.ndjson'));
      const answer = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'gone.ndjson', query: {} } });
      const end = await untilFinal(answer.body.export_id, t.url);
      expect(end.attributes).toMatchObject({ failure_type: 'internal', exception_name: 'Error' });
      expect(end.attributes?.stacktrace).toMatch(/ENOENT: no such file or directory, open '<data-dir>\/products\/p\/features\.ndjson'/);
      expect(end.attributes?.stacktrace).not.toContain(t.dataDir);
    } finally {
      await t.dispose();
    }
  });

  it('names the frames of a failed job without absolute paths, unless fullStacktraces asks for them (issue 13: they named the server\'s files)', async () => {
    const mixed = [
      { type: 'Feature', id: 'a', geometry: null, properties: { height: 3 } },
      { type: 'Feature', id: 'b', geometry: null, properties: { height: 'tall' } },
    ];
    const query = { query_expr: { range: { height: { gt: 1 } } } };
    const traces: string[] = [];
    for (const fullStacktraces of [false, true]) {
      const t = await startTestServer({ fullStacktraces });
      try {
        await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
        await call(t.url, 'POST', '/vector/v2/products/p/features', { body: mixed });
        const answer = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'x.ndjson', query } });
        const end = await untilFinal(answer.body.export_id, t.url);
        expect(end.attributes).toMatchObject({ failure_type: 'exception', exception_name: 'QueryTypeError' });
        traces.push(end.attributes!.stacktrace!);
      } finally {
        await t.dispose();
      }
    }
    const [clean, full] = traces as [string, string];
    expect(clean).toMatch(/^QueryTypeError: Expected property "height" of feature "b" to be a number/);
    expect(clean).toMatch(/\(export-task\/src\/internal\/query\.ts:\d+:\d+\)/);
    expect(clean).not.toMatch(/(^|[\s(])(file:\/\/)?\//m);
    expect(full).toContain(ROOT);
  });
});
