import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchCommand } from '../../../src/cli/commands/watch.js';
import type { ExportTaskSnapshot } from '../../../src/index.js';
import { SLOW_QUERY, slowFeatures, waitFor } from '../../server/http/helpers.js';
import { startFaultProxy } from '../../support/fault-proxy.js';
import { runCommand, startService, type Service } from './service.js';

let service: Service;

beforeAll(async () => {
  service = await startService();
});

afterAll(async () => {
  await service?.dispose();
});

interface SnapshotLine {
  readonly type: 'snapshot';
  readonly snapshot: ExportTaskSnapshot;
}
interface SummaryLine {
  readonly type: 'summary';
  readonly productId: string;
  readonly succeeded: number;
  readonly failed: number;
  readonly exports: readonly { exportId: string; phase: string; status: string | null; failureType: string | null; exceptionName: string | null; key: string | null }[];
}

function jsonLines(stdout: string): (SnapshotLine | SummaryLine)[] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as SnapshotLine | SummaryLine);
}

describe('export-task watch', () => {
  it('exits 0 once every named export has succeeded, with a plain line per phase and a table of outcomes', async () => {
    const task = await service.roads.export('exports/odd.ndjson', { query: { query_expr: { eq: { kind: 'odd' } } } });
    const streamsBefore = service.server.server.streamStats.open;
    let streamsDuring = 0;
    // The final one first: following it must not end the watch before the other is followed.
    const run = await runCommand(watchCommand, { url: service.url }, ['roads', service.succeeded.exportId, task.exportId], {
      onStdout: () => (streamsDuring = Math.max(streamsDuring, service.server.server.streamStats.open)),
    });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(new RegExp(`^${task.exportId} +success +100%(  .*)?$`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^${service.succeeded.exportId} +SUCCESS +exports/even\\.ndjson$`, 'm'));
    expect(run.stdout).toContain('2 succeeded, 0 failed');
    // Nothing left open on the service's side: the command's event stream was closed.
    expect(streamsDuring).toBe(streamsBefore + 1);
    await waitFor(() => service.server.server.streamStats.open === streamsBefore, 10_000, 'the event stream to close');
  });

  it('draws live bars on a terminal, redrawn in place, and ends with the final state', async () => {
    const run = await runCommand(watchCommand, { url: service.url }, ['roads', service.succeeded.exportId, service.failed.exportId], { terminalColumns: 140 });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('\u001b[');
    // The last drawing: a full bar for the success, the failure's phase, then the table.
    const lastDrawing = run.stdout.slice(run.stdout.lastIndexOf('\r'));
    expect(lastDrawing).toContain('failure');
    expect(run.stdout).toMatch(new RegExp(`\\r\\u001b\\[2K${service.succeeded.exportId} +\\[\\u001b\\[32m█{10,}\\u001b\\[0m\\] +100% +\\u001b\\[32msuccess`));
    expect(run.stdout).toContain('1 succeeded, 1 failed');
  });

  it('exits 1 when any export failed, naming its failure type and exception', async () => {
    const run = await runCommand(watchCommand, { url: service.url }, ['roads', service.succeeded.exportId, service.failed.exportId]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^${service.failed.exportId} +FAILURE +exception +QueryTypeError`, 'm'));
    expect(run.stdout).toContain('1 succeeded, 1 failed');
  });

  it('prints one JSON object per snapshot change, then a summary, with --json', async () => {
    const run = await runCommand(watchCommand, { url: service.url, json: true }, ['roads', service.failed.exportId]);
    expect(run.code).toBe(1);
    const lines = jsonLines(run.stdout);
    const summary = lines.at(-1) as SummaryLine;
    expect(summary).toEqual({
      type: 'summary',
      productId: 'roads',
      succeeded: 0,
      failed: 1,
      exports: [{ exportId: service.failed.exportId, phase: 'failure', status: 'FAILURE', failureType: 'exception', exceptionName: 'QueryTypeError', key: 'exports/bad.ndjson' }],
    });
    const snapshots = lines.slice(0, -1) as SnapshotLine[];
    expect(snapshots.length).toBeGreaterThan(0);
    expect(snapshots.every((line) => line.type === 'snapshot' && line.snapshot.exportId === service.failed.exportId)).toBe(true);
    expect(snapshots.at(-1)!.snapshot).toEqual(service.failed.snapshot);
  });

  it('with no export named, follows the ones in flight and those started while watching, not the finished ones', async () => {
    const slow = await service.client.createFeatureCollection('slow');
    // Enough for the blocker to run far longer than the test needs to follow everything (it is
    // cancelled then): a blocker that succeeded first would fail the expected outcomes.
    await slow.add(slowFeatures(60_000));
    const done = await slow.export('exports/done.ndjson', { query: { query_limit: 1 } });
    await done.getResult({ wait: true, timeout: 60_000 });
    // The service runs one job at a time: `blocker` runs (slowly) until cancelled, `queued` waits behind it.
    const blocker = await slow.export('exports/blocker.ndjson', { query: SLOW_QUERY });
    const queued = await slow.export('exports/queued.ndjson', { query: { query_limit: 5 } });
    let later: Promise<string> | undefined;
    let laterId: string | undefined;
    let latest = '';
    let cancelled = false;
    // Cancels the blocker once `later` is followed: then everything can end.
    const cancelWhenLaterFollowed = (): void => {
      if (laterId === undefined || cancelled || !latest.includes(laterId)) return;
      cancelled = true;
      void blocker.cancel();
    };
    // Through a proxy, to see what it asks: the in-flight status route, not the product's history.
    const proxy = await startFaultProxy(service.url);
    const run = await runCommand(watchCommand, { url: proxy.url, json: true }, ['slow'], {
      onStdout: (out) => {
        latest = out;
        // Once it follows the two in flight, start another export.
        if (later === undefined && out.includes(blocker.exportId) && out.includes(queued.exportId)) {
          later = slow.export('exports/later.ndjson', { query: { query_limit: 2 } }).then((task) => {
            laterId = task.exportId;
            cancelWhenLaterFollowed();
            return task.exportId;
          });
        }
        cancelWhenLaterFollowed();
      },
    });
    const summary = jsonLines(run.stdout).at(-1) as SummaryLine;
    expect(run.code).toBe(1);
    const outcomes = Object.fromEntries(summary.exports.map((e) => [e.exportId, e.failureType ?? e.status]));
    expect(outcomes).toEqual({ [blocker.exportId]: 'cancelled', [queued.exportId]: 'SUCCESS', [await later!]: 'SUCCESS' });
    expect(summary).toMatchObject({ succeeded: 2, failed: 1 });
    expect(proxy.requests).toContain('GET /vector/v2/products/slow/search/export/status');
    await proxy.close();
  });

  it('stops and exits 130 when interrupted, leaving the export running', async () => {
    const slow = await service.client.createFeatureCollection('slow-interrupted');
    await slow.add(slowFeatures(20_000));
    const task = await slow.export('exports/slow.ndjson', { query: SLOW_QUERY });
    const controller = new AbortController();
    try {
      const run = await runCommand(watchCommand, { url: service.url }, ['slow-interrupted', task.exportId], {
        signal: controller.signal,
        onStdout: (out) => {
          if (out.includes(task.exportId)) controller.abort(new Error('Interrupted'));
        },
      });
      expect(run).toMatchObject({ code: 130, stderr: 'export-task watch: interrupted\n' });
      expect(run.stdout).not.toContain('succeeded,');
      expect((await task.refresh()).cancelRequested).toBe(false);
    } finally {
      await task.cancel();
    }
  });

  it('exits 0 at once saying so when nothing of the product is in flight', async () => {
    const run = await runCommand(watchCommand, { url: service.url }, ['roads']);
    expect(run).toEqual({ code: 0, stdout: 'No exports of roads are in flight.\n', stderr: '' });
  });

  it('exits 1 naming the export the service does not know, and 2 without a URL', async () => {
    const unknown = await runCommand(watchCommand, { url: service.url }, ['roads', 'no-such-export']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^export-task watch: NotFoundError: .*no-such-export/);
    const noUrl = await runCommand(watchCommand, {}, ['roads']);
    expect(noUrl).toMatchObject({ code: 2, stdout: '' });
    expect(noUrl.stderr).toContain('pass --url <url> (e.g. http://127.0.0.1:8080) or set EXPORT_TASK_URL');
  });

  it('takes the URL and the token from the environment', async () => {
    const secured = await startService('s3cret-token');
    try {
      const env = { EXPORT_TASK_URL: secured.url, EXPORT_TASK_TOKEN: 's3cret-token' };
      const run = await runCommand(watchCommand, {}, ['roads', secured.succeeded.exportId], { env });
      expect(run.code).toBe(0);
      const refused = await runCommand(watchCommand, {}, ['roads', secured.succeeded.exportId], { env: { EXPORT_TASK_URL: secured.url } });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/UnauthorizedError/);
    } finally {
      await secured.dispose();
    }
  });
});
