import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServe } from '../../../src/cli/commands/serve.js';
import { runWorker } from '../../../src/cli/commands/worker.js';
import { startServer } from '../../../src/server/index.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { makeTempDir } from '../../server/embedded/helpers.js';
import { captureOutput } from '../captured-output.js';
import { redisKeys } from '../../../src/server/redis/redis-keys.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis.stop();
});

/** Runs `worker` in this process with collected output; `stop()` aborts it (Ctrl-C). */
function work(argv: string[]) {
  const { stdout, stderr, out, err } = captureOutput();
  const controller = new AbortController();
  const code = runWorker(argv, { stdout, stderr, env: {}, signal: controller.signal });
  return { code, stop: () => controller.abort(), out, err };
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
      // An API instance marks the directory as the shared one; a worker refuses any other.
      await (await startServer({ redis: redis.url, dataDir: dir })).close();
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

  it('logs human-readable lines with --log-pretty, JSON without', async () => {
    const { dir, remove } = await makeTempDir();
    // Another test's API instance marked its own directory as the shared one: this one moves it here.
    const probe = new Redis(redis.url);
    try {
      await probe.del(redisKeys.dataDirId);
      await (await startServer({ redis: redis.url, dataDir: dir })).close();
      for (const pretty of [true, false]) {
        const run = work(['--redis', redis.url, '--data-dir', dir, '--concurrency', '1', ...(pretty ? ['--log-pretty'] : [])]);
        await expect.poll(run.out, { timeout: 20_000 }).toMatch(/export-task worker ready \(pid/);
        run.stop();
        expect(await run.code).toBe(0);
        if (pretty) {
          expect(run.out()).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: export-task worker ready$/m);
          expect(run.out()).toMatch(/^ {4}event: "worker_ready"$/m);
          expect(run.out()).not.toMatch(/^\{/m);
        } else {
          expect(run.out()).toMatch(/^\{.*"event":"worker_ready".*\}$/m);
        }
      }
    } finally {
      probe.disconnect();
      await remove();
    }
  }, 60_000);
});

describe('export-task serve --redis', () => {
  it('serves as an API instance on Redis, keeping its products there, and stops cleanly', async () => {
    const { dir, remove } = await makeTempDir();
    const { stdout, stderr, out } = captureOutput();
    const controller = new AbortController();
    try {
      // The test before served this Redis from another directory: moving to a new one is on
      // purpose here, so its key goes first (as the refusal to start would say).
      const reset = new Redis(redis.url);
      await reset.del(redisKeys.dataDirId);
      reset.disconnect();
      const code = runServe(['--port', '0', '--data-dir', dir, '--redis', redis.url], { stdout, stderr, env: {}, signal: controller.signal });
      await expect.poll(() => out(), { timeout: 20_000 }).toMatch(/serving on http:\/\/127\.0\.0\.1:\d+ \(data in .*, exports on Redis/);
      const url = /serving on (\S+)/.exec(out())![1]!;
      const created = await fetch(`${url}/vector/v2/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"from-cli"}' });
      expect(created.status).toBe(201);
      const probe = new Redis(redis.url);
      try {
        expect(await probe.exists(redisKeys.product('from-cli'))).toBe(1);
      } finally {
        probe.disconnect();
      }
      controller.abort();
      expect(await code).toBe(0);
    } finally {
      await remove();
    }
  });
});
