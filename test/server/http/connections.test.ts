import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const run = promisify(execFile);

describe('Connections', () => {
  // Issue 23: the socket's 'close' forgot a connection, then its response's 'close' put it
  // back, so every aborted event stream stayed in memory with its socket and response.
  it('forgets 1,000 opened and aborted event streams: nothing held, and their sockets and responses collected', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/stream-churn.ts', import.meta.url));
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, '1000'], { cwd: ROOT, timeout: 60_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { openStreams: number; connections: number; registered: number; collected: number };
    expect(result.openStreams).toBe(0);
    expect(result.connections).toBe(0);
    // 1,001 connections (the product's and the streams') and as many responses.
    expect(result.registered).toBe(2002);
    // A few may still be referenced from the last stack frames when the collector runs.
    expect(result.collected).toBeGreaterThanOrEqual(result.registered - 10);
  });
});
