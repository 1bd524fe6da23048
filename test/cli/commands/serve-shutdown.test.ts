import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../server/embedded/helpers.js';
import { allFinal, call, gridFeatures, openEvents, waitFor } from '../../server/http/helpers.js';

let dataDir: string;
let removeDir: () => Promise<void>;

beforeEach(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
});

afterEach(async () => {
  await removeDir();
});

describe('export-task serve on SIGTERM, seen from outside', () => {
  it('turns /ready 503 first while still serving, then ends event streams with their cursor, then exits 0, logging each step', async () => {
    const fixture = fileURLToPath(new URL('../../server/http/fixtures/serve-cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, '--port', '0', '--data-dir', dataDir], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      env: { ...process.env, EXPORT_TASK_SHUTDOWN_DELAY_MS: '1000', EXPORT_TASK_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('serving on'), 20_000, 'serve to start');
      const url = /serving on (http:\/\/\S+)/.exec(out)![1]!;

      await call(url, 'POST', '/vector/v2/products', { body: { id: 'roads' } });
      await call(url, 'POST', '/vector/v2/products/roads/features', { body: gridFeatures(50) });
      const stream = await openEvents(url, 'roads');
      const started = await call<{ export_id: string }>(url, 'POST', '/vector/v2/products/roads/search/export', {
        body: { key: 'out/all.ndjson', query: {} },
      });
      await stream.reader!.until((reader) => allFinal(reader, [started.body.export_id]));
      const lastCursor = stream.reader!.messages.at(-1)!.id;
      expect((await call(url, 'GET', '/ready')).status).toBe(200);

      child.kill('SIGTERM');
      await waitFor(async () => (await call(url, 'GET', '/ready')).status === 503, 5_000, '/ready to turn 503');
      const notReady = await call<{ checks: Record<string, string> }>(url, 'GET', '/ready');
      expect(notReady.body.checks).toEqual({ service: 'shutting down' });
      // Still serving: a balancer that has not polled yet loses nothing.
      expect((await call(url, 'GET', '/health')).status).toBe(200);
      expect((await call(url, 'GET', '/vector/v2/products/roads')).status).toBe(200);
      expect(stream.reader!.ended).toBe(false);

      await stream.reader!.done;
      expect(stream.reader!.comments).toContain(`the service is shutting down: resume after ${lastCursor}`);
      expect(stream.reader!.lastId).toBe(lastCursor);
      expect(await exited).toBe(0);

      const steps = out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { event?: string; step?: string; streams?: number })
        .filter((line) => line.event === 'shutdown');
      expect(steps).toMatchObject([{ step: 'not_ready' }, { step: 'streams_ended', streams: 1 }, { step: 'stopped' }]);
      expect(out).toContain('export-task serve: stopped');
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
