import { request } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SnapshotEvent, TaskEvent } from '../../../src/core/events.js';
import { replay } from '../../../src/core/replay.js';
import { startServer } from '../../../src/server/index.js';
import {
  allFinal,
  call,
  countRows,
  gridFeatures,
  logOf,
  makeTempDir,
  openEvents,
  slowFeatures,
  SLOW_QUERY,
  startChildServer,
} from './helpers.js';

let dataDir: string;
let removeDir: () => Promise<void>;

beforeEach(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
});

afterEach(async () => {
  await removeDir();
});

async function startExport(url: string, productId: string, body: unknown, idempotencyKey?: string): Promise<string> {
  const answer = await call<{ export_id: string }>(url, 'POST', `/vector/v2/products/${productId}/search/export`, {
    body,
    headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
  });
  expect(answer.status).toBe(200);
  return answer.body.export_id;
}

async function statuses(url: string, productId: string, ids: readonly string[]): Promise<SnapshotEvent[]> {
  const answer = await call<{ data: SnapshotEvent[]; missing: string[] }>(url, 'POST', `/vector/v2/products/${productId}/search/export/status`, {
    body: { export_ids: ids },
  });
  expect(answer.body.missing).toEqual([]);
  return answer.body.data;
}

/** The temporary files of export jobs under the storage area. */
async function tempFiles(): Promise<string[]> {
  return (await readdir(join(dataDir, 'storage'), { recursive: true })).filter((name) => /\.export-[0-9a-f-]+\.tmp$/.test(name));
}

function own(events: readonly { readonly event: TaskEvent }[], exportId: string): TaskEvent[] {
  return events.map((e) => e.event).filter((e) => e.export_id === exportId);
}

/** Checks that a client folding the events it received (`replay`) knows what the status route says. */
function expectFoldEqualsStatus(events: readonly TaskEvent[], status: SnapshotEvent): void {
  expect(replay(events)).toEqual(replay([status]));
  expect(replay(events).seq).toBe(status.seq);
}

describe('restart safety of the HTTP server', () => {
  it('after SIGKILL mid-export and a restart: the running export ends "internal", the queued one runs, the log and cursors go on', async () => {
    const first = await startChildServer({ dataDir, concurrency: 1 });
    await call(first.url, 'POST', '/vector/v2/products', { body: { id: 'slow' } });
    await call(first.url, 'POST', '/vector/v2/products/slow/features', { body: slowFeatures(20_000) });
    const stream = await openEvents(first.url, 'slow');
    const running = await startExport(first.url, 'slow', { key: 'out/running.ndjson', query: SLOW_QUERY }, 'key-running');
    const queued = await startExport(first.url, 'slow', { key: 'out/queued.ndjson', query: { query_limit: 5 } }, 'key-queued');
    await stream.reader!.until((r) => own(r.events(), running).some((e) => e.type === 'progress'));
    expect(await tempFiles()).toHaveLength(1);

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await stream.reader!.done;
    const before = stream.reader!.events();
    const rowsBefore = countRows(dataDir);

    const second = await startChildServer({ dataDir, concurrency: 1 });
    try {
      // Resuming by cursor gets whatever was committed but not sent before the kill, then the rest.
      const resumed = await openEvents(second.url, 'slow', { lastEventId: stream.reader!.lastId! });
      await resumed.reader!.until((r) => allFinal(r, [running, queued]));
      await resumed.close();
      const all = [...before, ...resumed.reader!.events()];
      expect(all).toEqual(logOf(dataDir, 'slow'));
      const cursors = all.map((e) => Number(e.id));
      expect(cursors).toEqual([...new Set(cursors)].sort((a, b) => a - b));

      const runningEvents = own(all, running);
      expect(runningEvents.map((e) => e.seq)).toEqual(runningEvents.map((_, i) => i + 1));
      expect(runningEvents.at(-1)).toMatchObject({
        type: 'failed',
        failure_type: 'internal',
        exception_name: null,
        runtime: null,
        peak_memory_usage: null,
        key: 'out/running.ndjson',
      });
      expect((runningEvents.at(-1) as { stacktrace: string }).stacktrace).toMatch(/^The export service restarted while this export ran/);
      // The failure came after a restart: after every event of the first run.
      const killedAt = Math.max(...before.map((e) => Number(e.id)));
      expect(Number(all.find((e) => e.event.export_id === running && e.event.type === 'failed')!.id)).toBeGreaterThan(killedAt);

      const queuedEvents = own(all, queued);
      expect(queuedEvents.map((e) => e.type)).toEqual(expect.arrayContaining(['queued', 'started', 'succeeded']));
      expect(queuedEvents.map((e) => e.seq)).toEqual(queuedEvents.map((_, i) => i + 1));

      // Nothing stays pending, and a client's fold of the events is what the status route says.
      const [runningStatus, queuedStatus] = await statuses(second.url, 'slow', [running, queued]);
      expect(runningStatus).toMatchObject({ phase: 'failure', attributes: { failure_type: 'internal', status: 'FAILURE' } });
      expect(queuedStatus).toMatchObject({ phase: 'success', attributes: { status: 'SUCCESS' } });
      expectFoldEqualsStatus(runningEvents, runningStatus!);
      expectFoldEqualsStatus(queuedEvents, queuedStatus!);

      // The idempotency keys outlived the process: retried requests start nothing.
      expect(await startExport(second.url, 'slow', { key: 'out/running.ndjson', query: SLOW_QUERY }, 'key-running')).toBe(running);
      expect(await startExport(second.url, 'slow', { key: 'out/queued.ndjson', query: {} }, 'key-queued')).toBe(queued);
      expect(countRows(dataDir).exports).toBe(rowsBefore.exports);
      // The interrupted job's temporary file is gone; the queued export's file is there.
      expect(await tempFiles()).toEqual([]);
      expect((await call(second.url, 'GET', '/storage/v1/data/get/out/queued.ndjson')).status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
    expect(second.output()).toContain('closed');
  }, 120_000);

  it('closes gracefully: a request in flight completes, streams end with their last cursor, and resume after the next start', async () => {
    const server = await startServer({ dataDir, concurrency: 1 });
    await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'slow' } });
    await call(server.url, 'POST', '/vector/v2/products/slow/features', { body: slowFeatures(20_000) });
    await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'upload' } });
    const stream = await openEvents(server.url, 'slow');
    const running = await startExport(server.url, 'slow', { key: 'running.ndjson', query: SLOW_QUERY }, 'key-running');
    const queued = await startExport(server.url, 'slow', { key: 'queued.ndjson', query: { query_limit: 5 } });
    await stream.reader!.until((r) => own(r.events(), running).some((e) => e.type === 'started'));

    // An upload in flight: its body is half sent when the server starts closing.
    const body = Buffer.from(JSON.stringify(gridFeatures(2000)));
    const url = new URL(server.url);
    const upload = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/vector/v2/products/upload/features',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, body.length / 2));
      setTimeout(() => req.end(body.subarray(body.length / 2)), 300);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = server.close();
    expect(await upload).toEqual({ status: 200, body: JSON.stringify({ added: 2000 }) });
    await closing;

    // The stream ended cleanly after the running export's last event, with the cursor to resume from.
    await stream.reader!.done;
    const seen = stream.reader!.events();
    const runningEvents = own(seen, running);
    expect(runningEvents.at(-1)).toMatchObject({ type: 'failed', failure_type: 'internal', exception_name: null });
    expect((runningEvents.at(-1) as { stacktrace: string }).stacktrace).toMatch(/^The export service shut down while this export ran/);
    expect(own(seen, queued).map((e) => e.type)).toEqual(['queued']);
    const finalCursor = stream.reader!.lastId!;
    expect(stream.reader!.comments.at(-1)).toBe(`the service is shutting down: resume after ${finalCursor}`);
    expect(Number(finalCursor)).toBeGreaterThanOrEqual(Number(seen.at(-1)!.id));

    await using again = await startServer({ dataDir, concurrency: 1 });
    const resumed = await openEvents(again.url, 'slow', { lastEventId: finalCursor });
    await resumed.reader!.until((r) => allFinal(r, [queued]));
    await resumed.close();
    expect([...seen, ...resumed.reader!.events()]).toEqual(logOf(dataDir, 'slow'));
    expect(own(resumed.reader!.events(), running)).toEqual([]);
    expect(own(resumed.reader!.events(), queued).map((e) => e.type)).toEqual(expect.arrayContaining(['started', 'succeeded']));
    expect((await call(again.url, 'GET', '/vector/v2/products/upload')).body).toMatchObject({ data: { attributes: { feature_count: 2000 } } });
    expect(await startExport(again.url, 'slow', { key: 'running.ndjson', query: {} }, 'key-running')).toBe(running);
    const [status] = await statuses(again.url, 'slow', [running]);
    expectFoldEqualsStatus(runningEvents, status!);
  }, 60_000);

  it('refuses a second service on a data directory in use, until the first is closed', async () => {
    const server = await startServer({ dataDir });
    await expect(startServer({ dataDir })).rejects.toThrow('Another export service is using the data directory');
    const closing = server.close();
    await expect(closing).resolves.toBeUndefined();
    // The directory is free again.
    await (await startServer({ dataDir })).close();
  });
});

describe('startServer', () => {
  it.each<[string, unknown, string]>([
    ['a non-object', 'x', 'startServer(): expected an options object, got "x"'],
    ['an unknown option', { prot: 80 }, 'startServer(): unknown option `prot`; the options are'],
    ['a bad port', { port: 70_000 }, 'Expected `port` to be an integer from 0 to 65535'],
    ['an empty host', { host: '' }, 'Expected `host` to be an address to listen on'],
    ['an empty dataDir', { dataDir: '' }, 'Expected `dataDir` to be a directory path'],
    ['a token with a space', { token: 'a b' }, 'Expected `token` to be a non-empty string of printable ASCII characters without spaces, got a string of 3 characters'],
    ['a zero heartbeatMs', { heartbeatMs: 0 }, 'Expected `heartbeatMs` to be a positive number of milliseconds'],
    ['a fractional bodyLimit', { bodyLimit: 1.5 }, 'startServer(): expected `bodyLimit` to be a positive integer number of bytes'],
    ['a zero sseBufferLimit', { sseBufferLimit: 0 }, 'startServer(): expected `sseBufferLimit` to be a positive integer number of bytes'],
    ['a string logger', { logger: 'yes' }, 'Expected `logger` to be a boolean'],
    ['a negative jobTimeoutMs', { jobTimeoutMs: -1 }, 'Expected `jobTimeoutMs` to be a positive number of milliseconds'],
  ])('rejects with a TypeError for %s, before opening anything', async (_what, options, message) => {
    const promise = startServer(options as never);
    await expect(promise).rejects.toThrow(TypeError);
    await expect(promise).rejects.toThrow(message);
  });

  it('never shows a token it refuses', async () => {
    await expect(startServer({ token: 'secret value' })).rejects.not.toThrow('secret');
  });

  it('listens on 127.0.0.1 and a free port by default, in a temporary data directory it removes on close', async () => {
    const server = await startServer();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect((await readdir(server.dataDir)).sort()).toEqual(['export-task.lock', 'export-task.sqlite', 'export-task.sqlite-shm', 'export-task.sqlite-wal', 'products', 'storage']);
    await server.close();
    await expect(readdir(server.dataDir)).rejects.toThrow('ENOENT');
    // close() is idempotent.
    await server.close();
  });

  it('rejects when the port is taken, releasing the data directory', async () => {
    await using taken = await startServer();
    await expect(startServer({ port: taken.port, dataDir })).rejects.toThrow('EADDRINUSE');
    await (await startServer({ dataDir })).close();
  });

  it('serves on ::1 too', async () => {
    await using server = await startServer({ host: '::1', dataDir });
    expect(server.url).toBe(`http://[::1]:${server.port}`);
    expect((await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'v6' } })).status).toBe(201);
  });

  it('answers the same promise to a second close(), and is closed for requests afterwards', async () => {
    const server = await startServer({ dataDir });
    await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
    await call(server.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(10) });
    await startExport(server.url, 'p', { key: 'k.ndjson', query: {} });
    const [a, b] = [server.close(), server.close()];
    expect(a).toBe(b);
    await a;
    await expect(fetch(`${server.url}/vector/v2/products/p`)).rejects.toThrow('fetch failed');
  });
});
