import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../src/server/index.js';
import { makeTempDir } from '../../server/embedded/helpers.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';
import { runWorker } from '../../../src/cli/commands/worker.js';
import { captureOutput } from '../captured-output.js';
import { runCli } from '../run-cli.js';
import { redisKeys } from '../../../src/server/redis/redis-keys.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
});

/** A port of 127.0.0.1 where nothing listens: one the system gave and took back. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('serve --redis and worker against a Redis that is not running', () => {
  for (const command of ['serve', 'worker'] as const) {
    it(`${command} says which URL it could not reach, why, and what to check, and exits 1`, async () => {
      const port = await deadPort();
      const { dir, remove } = await makeTempDir();
      try {
        const args = command === 'serve' ? ['serve', '--port', '0', '--redis', `redis://127.0.0.1:${port}`, '--data-dir', dir] : ['worker', '--redis', `redis://127.0.0.1:${port}`, '--data-dir', dir];
        const run = await runCli(args);
        expect(run.code).toBe(1);
        expect(run.stdout).not.toMatch(/ready|serving on/);
        const line = run.stderr.trim();
        expect(line).toContain(`export-task ${command}: could not start: could not connect to Redis at redis://127.0.0.1:${port}`);
        expect(line).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
        expect(line).toContain(`nothing listens on 127.0.0.1:${port}: start redis-server there`);
        expect(line).not.toMatch(/Connection is closed/);
      } finally {
        await remove();
      }
    }, 30_000);
  }

  it('hides the password of the URL in the message', async () => {
    const port = await deadPort();
    const { dir, remove } = await makeTempDir();
    try {
      const run = await runCli(['worker', '--redis', `redis://user:s3cret@127.0.0.1:${port}`, '--data-dir', dir]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`could not connect to Redis at redis://user:***@127.0.0.1:${port}`);
      expect(run.stderr).not.toContain('s3cret');
    } finally {
      await remove();
    }
  }, 30_000);
});

describe('worker on a data directory that is not the API instances\' one', () => {
  it('refuses a directory no API instance ever used, saying what to give instead, and exits 1', async () => {
    const { dir, remove } = await makeTempDir();
    try {
      const run = await runCli(['worker', '--redis', redis.url, '--data-dir', dir]);
      expect(run.code).toBe(1);
      expect(run.stdout).not.toMatch(/ready/);
      expect(run.stderr).toContain(`export-task worker: could not start: ${dir} is not the data directory of the API instances: it has no .export-task-data-dir marker`);
      expect(run.stderr).toContain('Give --data-dir the directory the API instances use');
    } finally {
      await remove();
    }
  }, 30_000);

  it('refuses the directory of another deployment (its marker is not the one Redis keeps), and runs on the shared one', async () => {
    const shared = await makeTempDir();
    const other = await makeTempDir();
    const otherRedis = await startRedisServer();
    try {
      // The API instance of this Redis marks its directory; another deployment marks another.
      await (await startServer({ redis: redis.url, dataDir: shared.dir })).close();
      await (await startServer({ redis: otherRedis.url, dataDir: other.dir })).close();
      const sharedId = (JSON.parse(await readFile(join(shared.dir, '.export-task-data-dir'), 'utf8')) as { id: string }).id;
      const db = new Redis(redis.url);
      try {
        expect(await db.get(redisKeys.dataDirId)).toBe(sharedId);
      } finally {
        db.disconnect();
      }
      const refused = await runCli(['worker', '--redis', redis.url, '--data-dir', other.dir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        new RegExp(`could not start: ${other.dir} is not the data directory the API instances and workers on ${redis.url}/? use: its marker \\(\\.export-task-data-dir\\) says [0-9a-f-]{36}, Redis says ${sharedId}\\. Give --data-dir the directory they share`),
      );
      // On the shared directory it runs (in this process, stopped as Ctrl-C would).
      const { stdout, stderr, out } = captureOutput();
      const controller = new AbortController();
      const code = runWorker(['--redis', redis.url, '--data-dir', shared.dir, '--concurrency', '1'], { stdout, stderr, env: {}, signal: controller.signal });
      await expect.poll(out, { timeout: 20_000 }).toMatch(/export-task worker ready/);
      controller.abort();
      expect(await code).toBe(0);
    } finally {
      await otherRedis.stop();
      await shared.remove();
      await other.remove();
    }
  }, 60_000);
});
