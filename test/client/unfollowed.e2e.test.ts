/**
 * Issue 23: a long-lived client's memory must not grow with the exports of its products that
 * it does not follow. Its stream carries every event of the product; what it keeps is what it
 * follows. The client runs in a process of its own with `--expose-gc` (test/client/fixtures/
 * unfollowed.ts) against a real service on 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, gridFeatures, ROOT, startTestServer, type TestServer } from '../server/http/helpers.js';

const OTHERS = 150;

describe('a long-lived client on a busy product', () => {
  let service: TestServer;

  beforeAll(async () => {
    service = await startTestServer({ concurrency: 2 });
    await call(service.url, 'POST', '/vector/v2/products', { body: { id: 'busy' } });
    await call(service.url, 'POST', '/vector/v2/products/busy/features', { body: gridFeatures(20) });
  });

  afterAll(async () => {
    await service.dispose();
  });

  it(`after ${OTHERS} exports it does not follow, holds only the task it keeps, and the tasks it dropped are collected`, async () => {
    const fixture = fileURLToPath(new URL('./fixtures/unfollowed.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, service.url, String(OTHERS)], { cwd: ROOT, timeout: 60_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      held: string[];
      kept: string;
      keptPhase: string;
      keptStatus: string;
      collected: number;
      streamedOthers: number;
    };
    // The others' events did reach its stream (at least a queued and an end of each, ~100 bytes apiece)...
    expect(result.streamedOthers).toBeGreaterThan(OTHERS * 2 * 100);
    // ...and none of them was kept: the store holds the one task still held, whole.
    expect(result.held).toEqual([result.kept]);
    expect(result).toMatchObject({ keptPhase: 'success', keptStatus: 'SUCCESS' });
    // Both tasks it followed and dropped were collected, and their snapshots let go.
    expect(result.collected).toBe(2);
  });
});
