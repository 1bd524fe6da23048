/**
 * Issue 23: a job stopped by its time limit could leave a descriptor open on its deleted temp
 * file (about 1 in 10 jobs killed by a 1 ms limit), as the job's thread opened its output and
 * `worker.terminate()` could kill it between the open and the close. The job's files are the
 * main thread's now: whatever stops a job, the process's descriptors and the storage's
 * temporary files are back where they were.
 *
 * The service is the build (`dist/`, which the test command builds first), in this process so
 * that `/proc/self/fd` is the service's: its job threads start in milliseconds, where the
 * sources' go through tsx each time.
 */
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../../src/core/events.js';
import type * as ServerModule from '../../../src/server/index.js';
import { call, gridFeatures, makeTempDir, waitFor } from './helpers.js';

const EXPORTS = '/vector/v2/products/p/search/export';
let server: ServerModule.ExportServer;
let removeDir: () => Promise<void>;

beforeAll(async () => {
  const { startServer } = (await import(new URL('../../../dist/server.js', import.meta.url).href)) as typeof ServerModule;
  const temp = await makeTempDir();
  removeDir = temp.remove;
  server = await startServer({ host: '127.0.0.1', port: 0, dataDir: temp.dir, concurrency: 8 });
  await call(server.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
  // Enough that every job below is stopped before it ends.
  await call(server.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(100_000, 1000) });
}, 60_000);

afterAll(async () => {
  await server.close();
  await removeDir();
});

/** What the process's open descriptors point at (Linux), sockets left out: the test's own HTTP connections come and go. */
async function openFiles(): Promise<string[]> {
  const targets: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    try {
      targets.push(await readlink(`/proc/self/fd/${fd}`));
    } catch {
      // Closed since the listing (the listing's own descriptor, say).
    }
  }
  return targets.filter((target) => !target.startsWith('socket:')).sort();
}

async function temporaryFiles(): Promise<string[]> {
  return (await readdir(join(server.dataDir, 'storage'), { recursive: true })).filter((name) => name.includes('.export-'));
}

async function start(key: string, limits?: { timeout_ms: number }): Promise<string> {
  const answer = await call<{ export_id: string }>(server.url, 'POST', EXPORTS, { body: { key, query: {}, ...(limits === undefined ? {} : { limits }) } });
  expect(answer.status).toBe(200);
  return answer.body.export_id;
}

/** The final snapshots of `ids`, once every one is final. */
async function finals(ids: readonly string[]): Promise<SnapshotEvent[]> {
  let data: SnapshotEvent[] = [];
  await waitFor(
    async () => {
      data = (await call<{ data: SnapshotEvent[] }>(server.url, 'POST', `${EXPORTS}/status`, { body: { export_ids: ids } })).body.data;
      return data.every((s) => s.phase === 'success' || s.phase === 'failure');
    },
    90_000,
    'every export to end',
  );
  return data;
}

describe.runIf(process.platform === 'linux')('the files of export jobs', () => {
  it('are all closed and removed after 200 jobs stopped by tiny time limits and 50 cancelled at random moments', async () => {
    // Jobs first: the worker machinery's own descriptors (opened once per process) are in the baseline.
    await finals([await start('warm1.ndjson', { timeout_ms: 1 }), await start('warm2.ndjson')]);
    const before = await openFiles();

    const timedOut: string[] = [];
    // From 1 to 20 ms: the limit strikes at every stage of a job, from opening its files to writing.
    for (let i = 0; i < 200; i++) timedOut.push(await start(`t/${i}.ndjson`, { timeout_ms: 1 + (i % 20) }));
    const cancelled: string[] = [];
    const cancels: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const exportId = await start(`c/${i}.ndjson`);
      cancelled.push(exportId);
      cancels.push(
        new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 100))).then(() =>
          call(server.url, 'POST', `${EXPORTS}/${exportId}/cancel`),
        ),
      );
    }
    await Promise.all(cancels);
    const ends = await finals([...timedOut, ...cancelled]);
    expect(new Set(ends.slice(0, 200).map((s) => s.attributes?.failure_type))).toEqual(new Set(['timeout']));
    expect(new Set(ends.slice(200).map((s) => s.attributes?.failure_type))).toEqual(new Set(['cancelled']));

    expect(await temporaryFiles()).toEqual([]);
    expect(await openFiles()).toEqual(before);
  }, 120_000);
});
