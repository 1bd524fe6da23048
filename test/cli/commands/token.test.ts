/**
 * `export-task token` and the `serve` flags for browser apps (`--cors-origin`, repeatable, and
 * `--signing-key`, or their environment variables), on a real service: the printed token opens
 * what it says and nothing else.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runServe } from '../../../src/cli/commands/serve.js';
import { makeTempDir } from '../../server/embedded/helpers.js';
import { captureOutput } from '../captured-output.js';
import { runCli } from '../run-cli.js';

const KEY = 'a-signing-key-of-at-least-32-characters-0123456789';
const MASTER = 'the-master-token_0123456789';

let dataDir: string;
let removeDir: () => Promise<void>;

beforeEach(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
});

afterEach(async () => {
  await removeDir();
});

/** Runs `serve` in this process; answers its URL once it listens, and the function that stops it. */
async function serve(argv: string[], env: Record<string, string> = {}): Promise<{ url: string; stop: () => Promise<number>; out: () => string }> {
  const { stdout, stderr, out, err } = captureOutput();
  const controller = new AbortController();
  const code = runServe(['--port', '0', '--data-dir', dataDir, ...argv], { stdout, stderr, env, signal: controller.signal });
  for (let i = 0; i < 400; i++) {
    const match = /serving on (http:\/\/\S+)/.exec(out());
    if (match !== null) return { url: match[1]!, out, stop: () => (controller.abort(), code) };
    if (err() !== '') break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  controller.abort();
  throw new Error(`serve printed no URL: ${out()}${err()} (exit ${await code})`);
}

const allowedOrigin = async (url: string, origin: string): Promise<string | null> =>
  (await fetch(`${url}/vector/v2/products/p`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } })).headers.get(
    'access-control-allow-origin',
  );

describe('export-task serve --cors-origin --signing-key', () => {
  it('allows each --cors-origin given, and accepts tokens of `export-task token` signed with --signing-key', async () => {
    const service = await serve(['--token', MASTER, '--signing-key', KEY, '--cors-origin', 'http://127.0.0.1:4173', '--cors-origin', 'http://localhost:4173']);
    expect(service.out()).toContain('scoped tokens accepted, CORS for http://127.0.0.1:4173 http://localhost:4173');
    expect(await allowedOrigin(service.url, 'http://127.0.0.1:4173')).toBe('http://127.0.0.1:4173');
    expect(await allowedOrigin(service.url, 'http://localhost:4173')).toBe('http://localhost:4173');
    expect(await allowedOrigin(service.url, 'http://127.0.0.1:9999')).toBeNull();
    await fetch(`${service.url}/vector/v2/products`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: '{"id":"p"}' });

    const minted = await runCli(['token', 'p', '--scope', 'read', '--ttl', '15m'], { EXPORT_TASK_SIGNING_KEY: KEY });
    expect(minted.stderr).toBe('');
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect((await fetch(`${service.url}/vector/v2/products/p/search/export`, { headers })).status).toBe(200);
    const start = await fetch(`${service.url}/vector/v2/products/p/search/export`, { method: 'POST', headers, body: '{"key":"k.ndjson","query":{}}' });
    expect(start.status).toBe(403);
    expect((await fetch(`${service.url}/vector/v2/products/q`, { headers })).status).toBe(403);
    expect(await service.stop()).toBe(0);
  });

  it('reads EXPORT_TASK_CORS_ORIGINS (comma-separated) and EXPORT_TASK_SIGNING_KEY when no flag gives them', async () => {
    const service = await serve([], { EXPORT_TASK_CORS_ORIGINS: 'http://127.0.0.1:4173, https://app.example.com', EXPORT_TASK_SIGNING_KEY: KEY });
    expect(await allowedOrigin(service.url, 'https://app.example.com')).toBe('https://app.example.com');
    // A signing key alone: every route needs a token.
    expect((await fetch(`${service.url}/vector/v2/products/p`)).status).toBe(401);
    expect(await service.stop()).toBe(0);
  });

  it('refuses a wildcard origin and a short signing key, starting nothing', async () => {
    const { stdout, stderr, err } = captureOutput();
    const signal = new AbortController().signal;
    expect(await runServe(['--port', '0', '--data-dir', dataDir, '--cors-origin', '*'], { stdout, stderr, env: {}, signal })).toBe(2);
    expect(err()).toContain('expected each CORS origin to be a page\'s origin');
    expect(await runServe(['--port', '0', '--data-dir', dataDir, '--signing-key', 'short'], { stdout, stderr, env: {}, signal })).toBe(2);
    expect(err()).toContain('at least 32 characters');
  });
});

describe('export-task token', () => {
  it('prints a token limited to the --export ids given', async () => {
    const run = await runCli(['token', 'p', '--scope', 'write', '--export', 'e1', '--export', 'e2', '--ttl', '90'], { EXPORT_TASK_SIGNING_KEY: KEY });
    expect(run.code).toBe(0);
    const claims = JSON.parse(Buffer.from(run.stdout.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ product: 'p', scope: 'write', exports: ['e1', 'e2'] });
    expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(90);
  });

  it('says what is wrong with a bad scope, a bad ttl or no signing key (exit 2)', async () => {
    const scope = await runCli(['token', 'p', '--scope', 'admin'], { EXPORT_TASK_SIGNING_KEY: KEY });
    expect(scope.code).toBe(2);
    expect(scope.stderr).toContain('expected --scope to be read or write, got "admin"');
    const ttl = await runCli(['token', 'p', '--ttl', 'soon'], { EXPORT_TASK_SIGNING_KEY: KEY });
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('expected --ttl to be a positive whole number of seconds or a duration such as "15m"');
    const key = await runCli(['token', 'p'], { EXPORT_TASK_SIGNING_KEY: '' });
    expect(key.code).toBe(2);
    expect(key.stderr).toContain('set EXPORT_TASK_SIGNING_KEY (or pass --signing-key)');
    expect(key.stdout).toBe('');
  });
});
