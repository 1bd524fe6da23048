import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../../src/cli/commands/worker.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { makeTempDir } from '../../server/embedded/helpers.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis.stop();
});

/** Runs `worker` in this process with collected output; `stop()` aborts it (Ctrl-C). */
function work(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const controller = new AbortController();
  const code = runWorker(argv, { stdout, stderr, env: {}, signal: controller.signal });
  return { code, stop: () => controller.abort(), out: () => out, err: () => err };
}

describe('export-task worker', () => {
  it('refuses a command line without --redis, saying what to give', async () => {
    const run = work(['--data-dir', '/nowhere']);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/expected --redis <url>/);
  });

  it('refuses a concurrency that is not a positive whole number', async () => {
    const run = work(['--redis', redis.url, '--concurrency', '0']);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/expected --concurrency to be a positive whole number, got "0"/);
  });

  it('refuses a URL that is not a Redis one', async () => {
    const run = work(['--redis', 'http://127.0.0.1:1', '--data-dir', '/nowhere']);
    expect(await run.code).toBe(2);
    expect(run.err()).toMatch(/Expected `redis` to be a Redis URL/);
  });

  it('says it is ready, then stops cleanly when interrupted, leaving no connection behind', async () => {
    const { dir, remove } = await makeTempDir();
    try {
      const run = work(['--redis', redis.url, '--data-dir', dir, '--concurrency', '1']);
      await expect.poll(run.out, { timeout: 20_000 }).toMatch(/export-task worker ready/);
      run.stop();
      expect(await run.code).toBe(0);
      expect(run.out()).toMatch(/export-task worker: stopped/);
      const probe = new Redis(redis.url);
      try {
        // Only the probe itself is connected.
        await expect.poll(async () => ((await probe.client('LIST')) as string).trim().split('\n').length).toBe(1);
      } finally {
        probe.disconnect();
      }
    } finally {
      await remove();
    }
  });
});
