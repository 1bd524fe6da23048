import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runServe } from '../../../src/cli/commands/serve.js';
import { startServer } from '../../../src/server/index.js';
import { makeTempDir } from '../../server/embedded/helpers.js';
import { captureOutput } from '../captured-output.js';

let dataDir: string;
let removeDir: () => Promise<void>;

beforeEach(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
});

afterEach(async () => {
  await removeDir();
});

/** Runs `serve` in this process with collected output; `stop()` aborts it (Ctrl-C). */
function serve(argv: string[], env: Record<string, string> = {}) {
  const { stdout, stderr, out, err } = captureOutput();
  const controller = new AbortController();
  const code = runServe(argv, { stdout, stderr, env, signal: controller.signal });
  const url = async (): Promise<string> => {
    for (let i = 0; i < 400; i++) {
      const match = /serving on (http:\/\/\S+)/.exec(out());
      if (match !== null) return match[1]!;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`serve printed no URL: ${out()}${err()}`);
  };
  return { code, url, stop: () => controller.abort(), out, err };
}

describe('export-task serve', () => {
  it('serves on the flags\' port and data directory, prints the URL, and stops cleanly when interrupted', async () => {
    const run = serve(['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir]);
    const url = await run.url();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(run.out()).toContain(`(data in ${dataDir}, no token)`);
    const created = await fetch(`${url}/vector/v2/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"p"}' });
    expect(created.status).toBe(201);
    run.stop();
    expect(await run.code).toBe(0);
    expect(run.out()).toContain('export-task serve: stopped');
  });

  it('reads the port, data directory and token from the environment when no flag gives them', async () => {
    const run = serve([], { EXPORT_TASK_PORT: '0', EXPORT_TASK_DATA_DIR: dataDir, EXPORT_TASK_TOKEN: 'env-token' });
    const url = await run.url();
    expect(run.out()).toContain('token required');
    expect(run.out()).not.toContain('env-token');
    expect((await fetch(`${url}/vector/v2/products/p`)).status).toBe(401);
    expect((await fetch(`${url}/vector/v2/products/p`, { headers: { authorization: 'Bearer env-token' } })).status).toBe(404);
    run.stop();
    expect(await run.code).toBe(0);
  });

  it('takes the job limits from flags, or from the environment when no flag gives them', async () => {
    const run = serve(['--port', '0', '--data-dir', dataDir, '--max-job-timeout-ms', '1000', '--job-timeout-ms', '500'], { EXPORT_TASK_MAX_JOB_MEMORY_MB: '100' });
    const url = await run.url();
    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(`${url}/vector/v2/products${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('', { id: 'p' })).status).toBe(201);
    const slow = await post('/p/search/export', { key: 'a.ndjson', query: {}, limits: { timeout_ms: 1001 } });
    expect(slow.status).toBe(400);
    expect(await slow.text()).toContain("this service's maximum of 1000 ms");
    const big = await post('/p/search/export', { key: 'a.ndjson', query: {}, limits: { memory_mb: 101 } });
    expect(big.status).toBe(400);
    expect(await big.text()).toContain("this service's maximum of 100 MiB");
    run.stop();
    expect(await run.code).toBe(0);
    const bad = serve(['--port', '0', '--data-dir', dataDir], { EXPORT_TASK_JOB_TIMEOUT_MS: 'soon' });
    expect(await bad.code).toBe(2);
    expect(bad.err()).toContain('expected EXPORT_TASK_JOB_TIMEOUT_MS to be a positive whole number, got "soon"');
  });

  it.each([
    [['--port', 'x'], 'expected --port to be a port number from 0 to 65535, got "x"'],
    [['--port', '70000'], 'expected --port to be a port number'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['extra'], "Unexpected argument 'extra'"],
    [['--data-dir', ''], 'expected --data-dir to be non-empty'],
  ])('exits with 2 for the usage error in %j', async (argv, message) => {
    const run = serve(argv);
    expect(await run.code).toBe(2);
    expect(run.err()).toContain(message);
  });

  it('exits with 2 for a bad EXPORT_TASK_PORT, and 1 when the service cannot start', async () => {
    const bad = serve(['--data-dir', dataDir], { EXPORT_TASK_PORT: 'eighty' });
    expect(await bad.code).toBe(2);
    expect(bad.err()).toContain('expected EXPORT_TASK_PORT to be a port number');
    const holder = await startServer({ dataDir });
    try {
      const busy = serve(['--port', '0', '--data-dir', dataDir]);
      expect(await busy.code).toBe(1);
      expect(busy.err()).toContain('could not start: Another export service is using the data directory');
    } finally {
      await holder.close();
    }
  });

  it('shuts down gracefully on SIGTERM when run as a process', async () => {
    const fixture = fileURLToPath(new URL('../../server/http/fixtures/serve-cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, '--port', '0', '--data-dir', dataDir], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 400 && !out.includes('serving on'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(out).toContain('serving on http://127.0.0.1:');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('export-task serve: stopped');
  }, 30_000);
});
