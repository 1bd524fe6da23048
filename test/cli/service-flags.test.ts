import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runServe, SERVE_FLAGS } from '../../src/cli/commands/serve.js';
import { runWorker, WORKER_FLAGS } from '../../src/cli/commands/worker.js';
import { flagValues, serviceFlags, type FlagSpec } from '../../src/cli/service-flags.js';
import { makeTempDir } from '../server/embedded/helpers.js';
import { call } from '../server/http/helpers.js';
import { captureOutput } from './captured-output.js';
import { runCli } from './run-cli.js';

describe('serviceFlags', () => {
  const flags = serviceFlags({
    port: { flag: 'port', env: 'EXAMPLE_PORT', value: flagValues.port, description: 'A port' },
    secret: { flag: 'secret', env: 'EXAMPLE_SECRET', value: flagValues.secret('token'), description: 'A secret' },
    loud: { flag: 'loud', env: 'EXAMPLE_LOUD', value: flagValues.boolean, description: 'A switch' },
    origins: { flag: 'origin', env: 'EXAMPLE_ORIGINS', value: flagValues.text('url'), description: 'Origins', multiple: true },
  });

  it('gives the parser each flag, its help line naming its variable', () => {
    expect(flags.options).toEqual({
      port: { type: 'string', valueName: 'n', description: 'A port [EXAMPLE_PORT]' },
      secret: { type: 'string', valueName: 'token', description: 'A secret [EXAMPLE_SECRET]' },
      loud: { type: 'boolean', description: 'A switch [EXAMPLE_LOUD]' },
      origin: { type: 'string', valueName: 'url', multiple: true, description: 'Origins [EXAMPLE_ORIGINS, repeatable; comma-separated in the variable]' },
    });
  });

  it('reads a variable where no flag is given, and a flag wins over its variable (even a bad one)', () => {
    const env = { EXAMPLE_PORT: 'not a port', EXAMPLE_SECRET: 's3', EXAMPLE_LOUD: 'Yes', EXAMPLE_ORIGINS: 'http://a.test, http://b.test,' };
    expect(flags.withEnv(flags.fromFlags({ port: '81' }), env)).toEqual({ port: 81, secret: 's3', loud: true, origins: ['http://a.test', 'http://b.test'] });
    expect(flags.withEnv(flags.fromFlags({ port: '82', loud: true, origin: ['http://c.test'] }), { EXAMPLE_LOUD: 'false' })).toEqual({
      port: 82,
      secret: undefined,
      loud: true,
      origins: ['http://c.test'],
    });
    // An empty variable is an unset one.
    expect(flags.withEnv(flags.fromFlags({}), { EXAMPLE_PORT: '' }).port).toBeUndefined();
  });

  it.each([
    [{ EXAMPLE_PORT: '70000' }, 'expected EXAMPLE_PORT to be a port number from 0 to 65535, got "70000"'],
    [{ EXAMPLE_LOUD: 'maybe' }, 'expected EXAMPLE_LOUD to be true or false (or 1 or 0, yes or no), got "maybe"'],
  ])('refuses the bad variable in %j saying what it expected', (env, message) => {
    expect(() => flags.withEnv(flags.fromFlags({}), env)).toThrow(new TypeError(message));
  });

  it('refuses a bad flag, never repeating a secret', () => {
    expect(() => flags.fromFlags({ port: '-1' })).toThrow(new TypeError('expected --port to be a port number from 0 to 65535, got "-1"'));
    expect(() => flags.fromFlags({ secret: '' })).toThrow(new TypeError('expected --secret to be non-empty, got a value of 0 characters (not shown)'));
  });
});

describe('the variables of serve and worker', () => {
  let dataDir: string;
  let removeDir: () => Promise<void>;

  beforeEach(async () => {
    ({ dir: dataDir, remove: removeDir } = await makeTempDir());
  });

  afterEach(async () => {
    await removeDir();
  });

  /** `serve` in this process with only `env` (and `argv`); resolves once it serves, or with its exit code. */
  async function serve(env: Record<string, string>, argv: string[] = []) {
    const { stdout, stderr, out, err } = captureOutput();
    const controller = new AbortController();
    const code = runServe(argv, { stdout, stderr, env, signal: controller.signal });
    let url: string | undefined;
    const exited = await Promise.race([code.then((c) => c), (async () => {
      for (let i = 0; i < 800 && url === undefined; i++) {
        url = /serving on (http:\/\/\S+)/.exec(out())?.[1];
        if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return undefined;
    })()]);
    return { url, exited, out, err, stop: async () => {
      controller.abort();
      return code;
    } };
  }

  it('has every flag of serve and worker named in --help and in docs/server.md', async () => {
    const [serveHelp, workerHelp] = await Promise.all([runCli(['serve', '--help']), runCli(['worker', '--help'])]);
    const docs = await readFile(new URL('../../docs/server.md', import.meta.url), 'utf8');
    const tables: [string, Readonly<Record<string, FlagSpec<unknown>>>][] = [
      [serveHelp.stdout, SERVE_FLAGS.table],
      [workerHelp.stdout, WORKER_FLAGS.table],
    ];
    for (const [help, table] of tables) {
      for (const spec of Object.values(table)) {
        expect(help).toMatch(new RegExp(`--${spec.flag}\\b.*\\[${spec.env}[\\],]`));
        expect(docs).toMatch(new RegExp(`\\| \`--${spec.flag}\`.*\\| \`${spec.env}\` \\|`));
      }
    }
  }, 60_000);

  it('serve takes every setting from the environment', async () => {
    const run = await serve({
      EXPORT_TASK_PORT: '0',
      EXPORT_TASK_HOST: '127.0.0.1',
      EXPORT_TASK_DATA_DIR: dataDir,
      EXPORT_TASK_TOKEN: 'env-token',
      EXPORT_TASK_LOG_LEVEL: 'warn',
      EXPORT_TASK_METRICS_PUBLIC: 'true',
      EXPORT_TASK_SHUTDOWN_DELAY_MS: '50',
    });
    expect(run.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(run.out()).toContain(`(data in ${dataDir}, token required)`);
    expect((await call(run.url!, 'GET', '/vector/v2/products/p')).status).toBe(401);
    expect((await call(run.url!, 'GET', '/metrics')).status).toBe(200);
    expect(await run.stop()).toBe(0);
    // At warn, neither request lines nor the start and shutdown lines (info) are logged.
    expect(run.out()).not.toContain('{"level"');
  });

  it('serve logs at info by default, and its flags win over the variables', async () => {
    const run = await serve({ EXPORT_TASK_PORT: 'eighty', EXPORT_TASK_LOG_LEVEL: 'loud', EXPORT_TASK_DATA_DIR: dataDir, EXPORT_TASK_METRICS_PUBLIC: 'false' }, [
      '--port',
      '0',
      '--log-level',
      'info',
      '--metrics-public',
    ]);
    expect(run.url).toBeDefined();
    expect((await call(run.url!, 'GET', '/metrics')).status).toBe(200);
    expect(await run.stop()).toBe(0);
    const lines = run.out().split('\n').filter((line) => line.startsWith('{'));
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual([
      expect.stringMatching(/^Server listening at http:\/\/127\.0\.0\.1:\d+$/),
      'request answered',
      'shutting down: /ready answers 503',
      'shutting down: 0 event streams ended with their resume cursor',
      'export service stopped',
    ]);
  });

  it.each([
    [{ EXPORT_TASK_LOG_LEVEL: 'loud' }, 'expected EXPORT_TASK_LOG_LEVEL to be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ EXPORT_TASK_METRICS_PUBLIC: 'maybe' }, 'expected EXPORT_TASK_METRICS_PUBLIC to be true or false (or 1 or 0, yes or no), got "maybe"'],
    [{ EXPORT_TASK_SHUTDOWN_DELAY_MS: '-5' }, 'expected EXPORT_TASK_SHUTDOWN_DELAY_MS to be a whole number from 0, got "-5"'],
    [{ EXPORT_TASK_PORT: '8o80' }, 'expected EXPORT_TASK_PORT to be a port number from 0 to 65535, got "8o80"'],
    [{ EXPORT_TASK_REDIS: 'http://127.0.0.1:6379' }, 'Expected `redis` to be a Redis URL'],
  ])('serve refuses the bad variable in %j at start with exit code 2', async (env, message) => {
    const run = await serve({ EXPORT_TASK_DATA_DIR: dataDir, EXPORT_TASK_PORT: '0', ...env });
    expect(run.exited).toBe(2);
    expect(run.err()).toContain(message);
  });

  it.each([
    [{}, 'expected --redis <url> (or EXPORT_TASK_REDIS)'],
    [{ EXPORT_TASK_REDIS: 'redis://127.0.0.1:1', EXPORT_TASK_CONCURRENCY: '0' }, 'expected EXPORT_TASK_CONCURRENCY to be a positive whole number, got "0"'],
    [{ EXPORT_TASK_REDIS: 'redis://127.0.0.1:1', EXPORT_TASK_METRICS_PORT: 'any' }, 'expected EXPORT_TASK_METRICS_PORT to be a port number from 0 to 65535, got "any"'],
    [{ EXPORT_TASK_REDIS: 'redis://127.0.0.1:1', EXPORT_TASK_JOB_TIMEOUT_MS: '1.5' }, 'expected EXPORT_TASK_JOB_TIMEOUT_MS to be a positive whole number, got "1.5"'],
  ])('worker refuses the bad environment %j with exit code 2', async (env, message) => {
    const { stdout, stderr, err } = captureOutput();
    expect(await runWorker([], { stdout, stderr, env: { EXPORT_TASK_DATA_DIR: dataDir, ...env }, signal: new AbortController().signal })).toBe(2);
    expect(err()).toContain(message);
  });
});

describe('--log-pretty', () => {
  let dataDir: string;
  let removeDir: () => Promise<void>;

  beforeEach(async () => {
    ({ dir: dataDir, remove: removeDir } = await makeTempDir());
  });

  afterEach(async () => {
    await removeDir();
  });

  /** `serve` in this process until one request is answered; what it wrote to stdout. */
  async function serveOnce(env: Record<string, string>, argv: string[] = []): Promise<string> {
    const { stdout, stderr, out, err } = captureOutput();
    const controller = new AbortController();
    const code = runServe(['--port', '0', ...argv], { stdout, stderr, env: { EXPORT_TASK_DATA_DIR: dataDir, ...env }, signal: controller.signal });
    let url: string | undefined;
    for (let i = 0; i < 800 && url === undefined; i++) {
      url = /serving on (http:\/\/\S+)/.exec(out())?.[1];
      if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(url, err()).toBeDefined();
    expect((await call(url!, 'GET', '/health', { headers: { 'x-request-id': 'pretty-1' } })).status).toBe(200);
    controller.abort();
    expect(await code).toBe(0);
    return out();
  }

  it.each([
    ['the flag', {}, ['--log-pretty']],
    ['the variable', { EXPORT_TASK_LOG_PRETTY: 'yes' }, []],
  ])('serve writes human-readable lines with %s, and no JSON', async (_how, env, argv) => {
    const out = await serveOnce(env, argv);
    // `[12:00:00.000] INFO: GET /health 200 (1.2 ms)`, its other fields indented on the lines below.
    expect(out).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: GET \/health 200 \([\d.]+ ms\)$/m);
    expect(out).toMatch(/^ {4}request_id: "pretty-1"$/m);
    expect(out).toMatch(/^\[[\d:.]+\] INFO.*: export service stopped$/m);
    expect(out.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);
    // Not coloured: the destination is no terminal.
    expect(out).not.toContain('\u001b[');
  });

  it('leaves serve on JSON lines by default', async () => {
    const out = await serveOnce({});
    const answered = out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; request_id?: string; level: string })
      .find((line) => line.msg === 'request answered');
    expect(answered).toMatchObject({ request_id: 'pretty-1', level: 'info' });
    expect(out).not.toMatch(/^\[[\d:.]+\] INFO/m);
  });

  it('is refused with exit code 2 for a bad EXPORT_TASK_LOG_PRETTY, by serve and worker', async () => {
    for (const run of [runServe, runWorker]) {
      const { stdout, stderr, err } = captureOutput();
      const env = { EXPORT_TASK_DATA_DIR: dataDir, EXPORT_TASK_REDIS: 'redis://127.0.0.1:1', EXPORT_TASK_LOG_PRETTY: 'colour' };
      expect(await run([], { stdout, stderr, env, signal: new AbortController().signal })).toBe(2);
      expect(err()).toContain('expected EXPORT_TASK_LOG_PRETTY to be true or false (or 1 or 0, yes or no), got "colour"');
    }
  });
});
