import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../server/embedded/helpers.js';
import { runCli } from '../run-cli.js';

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
