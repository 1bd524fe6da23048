/**
 * The real Descartes Labs Python client, unchanged, against `export-task serve`.
 *
 * The client (descarteslabs 1.12.1) is read at run time from ../shared/dl-client/ beside the
 * repository, never copied into it, and installed into a virtualenv by dl-client-venv.sh
 * (which CI runs first; this test runs it too, and it returns at once when the virtualenv is
 * ready). Its dependencies come from the package index pip is set up with; the modules that index
 * lacks are replaced by stand-ins (dl-client-venv.sh says which and why; the list is printed
 * here). The service runs as users run it, `dist/cli.js serve` on 127.0.0.1, with a JWT as its
 * token, because the client decodes its token as a JWT before it sends anything.
 *
 * dl_client_checks.py drives the client as users' scripts do and prints what it saw; every
 * assertion is here, against what the service itself says (its status route, the stored files).
 * Where ../shared/dl-client is missing (a clone outside CI), the suite is skipped and its title
 * says why.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../src/core/events.js';
import { call, gridFeatures, makeTempDir, ROOT, SLOW_QUERY, slowFeatures } from '../server/http/helpers.js';

const TARBALL = resolve(ROOT, '..', 'shared', 'dl-client', 'descarteslabs-1.12.1-src.tgz');
const VENV = join(ROOT, 'node_modules', '.cache', 'dl-client-venv');
const VENV_SCRIPT = join(ROOT, 'test', 'interop', 'dl-client-venv.sh');
const CHECKS = join(ROOT, 'test', 'interop', 'dl_client_checks.py');
const CLI = join(ROOT, 'dist', 'cli.js');

/** The service's page size for `list_exports` (its default): more final exports than this need two pages. */
const PAGE_SIZE = 100;
/** Exports made besides `even`, `queried` and `failed`, so that the list has one more than a page. */
const MANY = PAGE_SIZE + 1 - 3;
/** The longest any child process of this test may take before it is killed and the test fails. */
const VENV_TIMEOUT_MS = 240_000;
const CHECKS_TIMEOUT_MS = 120_000;
const SERVE_START_TIMEOUT_MS = 20_000;

/** An unsigned JWT with a far-future `exp`: the client only decodes its payload. */
function jwt(subject: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: subject, exp: 4_102_444_800 })}.`;
}
const TOKEN = jwt('interop');

function skipReason(): string | undefined {
  if (!existsSync(TARBALL)) {
    return 'the DL client tarball is not in ../shared/dl-client/ beside the repository (a clone outside CI has no shared folder)';
  }
  const python = spawnSync('python3', ['-c', 'import sys, venv; sys.exit(sys.version_info < (3, 11))']);
  if (python.status !== 0) return 'no python3 of version 3.11 or later with its venv module on the PATH';
  return undefined;
}
const SKIP = skipReason();
if (SKIP !== undefined) console.warn(`dl-client interop test skipped: ${SKIP}`);

/** Runs a child to its end, killing it (and failing) after `timeoutMs`. */
function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args[0] ?? ''} did not end within ${options.timeoutMs} ms; its output so far:\n${stdout}\n${stderr}`));
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** `export-task serve` on 127.0.0.1, any free port; resolves with its URL once it says it serves. */
function serve(dataDir: string): { child: ChildProcess; url: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], {
    cwd: ROOT,
    env: { ...process.env, EXPORT_TASK_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const url = new Promise<string>((resolveUrl, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`export-task serve printed no URL within ${SERVE_START_TIMEOUT_MS} ms:\n${output}`)), SERVE_START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`export-task serve exited (${code}) before it served:\n${output}`));
    });
  });
  return { child, url, exited };
}

/** What dl_client_checks.py prints (see there). */
interface Raised {
  readonly raised: string | null;
  readonly module?: string;
  readonly message?: string;
  readonly original_status?: number | null;
}
interface Attributes {
  readonly export_id: string;
  readonly key: string;
  readonly ready: boolean;
  readonly status: string;
  readonly is_success: boolean;
  readonly peak_memory_usage: number | null;
  readonly runtime: number | null;
  readonly exception_name: string | null;
  readonly exception: string | null;
  readonly stacktrace: string | null;
  readonly traceback: string | null;
  readonly failure_type: string | null;
  readonly log_type: string;
  readonly log: string | null;
  readonly result: Raised;
}
interface Digest {
  readonly size: number;
  readonly sha256: string;
}
interface Observations {
  readonly product: { readonly id: string; readonly title: string };
  readonly even_created: { readonly export_id: string; readonly key: string };
  readonly even: Attributes;
  readonly even_file: Digest;
  readonly even_bytesio: Digest;
  readonly even_storage_get: Digest;
  readonly exists: { readonly even: boolean; readonly missing: boolean };
  readonly missing_file: Raised;
  readonly queried: { readonly export_id: string; readonly status: string; readonly lines: string[] };
  readonly failed: Attributes;
  readonly failed_get_file: Raised;
  readonly many_ids: string[];
  readonly listed: { readonly export_id: string; readonly key: string; readonly status: string }[];
  readonly listed_even: { readonly log: string; readonly file: Digest };
  readonly slow_wait: Raised;
  readonly slow_no_wait: Raised;
  readonly slow_ready: boolean;
  readonly unknown_product: Raised;
  readonly unknown_export: Raised;
  readonly wrong_token: Raised;
}

const KEYS = { even: 'interop/even.ndjson', queried: 'interop/queried.ndjson', failed: 'interop/failed.ndjson', slow: 'interop/slow.ndjson', many_prefix: 'interop/many' };
/** The square the `queried` export's geometry filter covers: the features at x 0..9, y 0. */
const SQUARE = { type: 'Polygon', coordinates: [[[-0.5, -0.5], [9.5, -0.5], [9.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]]] };
const ROADS = gridFeatures(300);

describe.skipIf(SKIP !== undefined)(`the Descartes Labs Python client 1.12.1, unchanged, against export-task serve${SKIP === undefined ? '' : ` (skipped: ${SKIP})`}`, () => {
  let temp: { dir: string; remove: () => Promise<void> } | undefined;
  let server: ReturnType<typeof serve> | undefined;
  let url: string;
  let stubbed: string[];
  let seen: Observations;

  /** The service's own view of an export: its `snapshot` from the status route. */
  async function snapshot(productId: string, exportId: string): Promise<SnapshotEvent> {
    const answer = await call<{ data: SnapshotEvent }>(`${url}/vector/v2`, 'GET', `/products/${productId}/search/export/${exportId}/status`, { token: TOKEN });
    expect(answer.status).toBe(200);
    return answer.body.data;
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (`npm test` does)');
    const venv = await run('bash', [VENV_SCRIPT, VENV], { timeoutMs: VENV_TIMEOUT_MS });
    if (venv.code !== 0) throw new Error(`dl-client-venv.sh failed (${venv.code}):\n${venv.stdout}\n${venv.stderr}`);
    stubbed = (await readFile(join(VENV, 'stubbed.txt'), 'utf8')).split('\n').filter((line) => line !== '');
    console.info(`dl-client interop: stand-ins used for modules the package index lacks: ${stubbed.join(', ') || 'none'}`);

    temp = await makeTempDir();
    server = serve(join(temp.dir, 'data'));
    url = await server.url;
    // The products are made with this service's own routes (DL's were a separate API).
    const vector = `${url}/vector/v2`;
    expect((await call(vector, 'POST', '/products', { body: { id: 'roads', title: 'Roads' }, token: TOKEN })).status).toBe(201);
    expect((await call(vector, 'POST', '/products/roads/features', { body: ROADS, token: TOKEN })).status).toBe(200);
    expect((await call(vector, 'POST', '/products', { body: { id: 'slow' }, token: TOKEN })).status).toBe(201);
    expect((await call(vector, 'POST', '/products/slow/features', { body: slowFeatures(20_000), token: TOKEN })).status).toBe(200);

    const config = {
      vector_url: vector,
      storage_url: `${url}/storage/v1`,
      product: 'roads',
      slow_product: 'slow',
      slow_geometry: SLOW_QUERY.geometry,
      poll_interval_s: 0.05,
      wait_timeout_s: 60,
      short_timeout_s: 0.3,
      many: MANY,
      download_dir: temp.dir,
      wrong_token: jwt('someone else'),
      keys: KEYS,
    };
    // A file, not an argument: the slow export's geometry is too large for a command line.
    const configPath = join(temp.dir, 'checks-config.json');
    await writeFile(configPath, JSON.stringify(config));
    const checks = await run(join(VENV, 'bin', 'python'), [CHECKS, configPath], {
      timeoutMs: CHECKS_TIMEOUT_MS,
      env: {
        ...process.env,
        DESCARTESLABS_ENV: 'gcp-production',
        DESCARTESLABS_TOKEN: TOKEN,
        DESCARTESLABS_VECTOR_URL: vector,
        DESCARTESLABS_STORAGE_URL: `${url}/storage/v1`,
        // No login of the machine's user is read.
        DESCARTESLABS_TOKEN_INFO_PATH: join(temp.dir, 'no-token-info.json'),
      },
    });
    if (checks.code !== 0) throw new Error(`dl_client_checks.py failed (${checks.code}):\n${checks.stderr}\n${checks.stdout}`);
    seen = JSON.parse(checks.stdout) as Observations;
  }, VENV_TIMEOUT_MS + CHECKS_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    if (server !== undefined && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await temp?.remove();
  });

  it('stubs only modules the package index lacks, and never the ones the export and storage code runs', () => {
    for (const module of stubbed) expect(['dynaconf', 'lazy_object_proxy', 'blosc', 'affine', 'tifffile', 'mercantile']).toContain(module);
  });

  it('loads a product, starts an export (its vnd.api+json POST accepted), waits for it, and reads every attribute', async () => {
    expect(seen.product).toEqual({ id: 'roads', title: 'Roads' });
    expect(seen.even_created.key).toBe(KEYS.even);
    const truth = await snapshot('roads', seen.even_created.export_id);
    expect(truth.phase).toBe('success');
    const a = truth.attributes!;
    expect(truth.log!.length).toBeGreaterThan(0);
    expect(seen.even).toEqual({
      export_id: seen.even_created.export_id,
      key: KEYS.even,
      ready: true,
      status: 'SUCCESS',
      is_success: true,
      peak_memory_usage: a.peak_memory_usage,
      runtime: a.runtime,
      exception_name: null,
      exception: null,
      stacktrace: null,
      traceback: null,
      failure_type: null,
      // DL's Storage answered bytes, and so does `log` here: the lines joined by "\n".
      log_type: 'bytes',
      log: truth.log!.join('\n'),
      result: { raised: 'AttributeError', module: 'builtins', message: "Export tasks don't have a result", original_status: null },
    });
  });

  it('downloads the file to a path, into a BytesIO and with Storage.get, each the bytes the service stored', async () => {
    const a = (await snapshot('roads', seen.even_created.export_id)).attributes!;
    const stored = await readFile(join(temp!.dir, 'data', 'storage', ...KEYS.even.split('/')));
    const expected = { size: a.size_bytes, sha256: a.sha256 };
    expect({ size: stored.byteLength, sha256: createHash('sha256').update(stored).digest('hex') }).toEqual(expected);
    expect(seen.even_file).toEqual(expected);
    expect(seen.even_bytesio).toEqual(expected);
    expect(seen.even_storage_get).toEqual(expected);
    expect(seen.exists).toEqual({ even: true, missing: false });
    expect(seen.missing_file).toMatchObject({ raised: 'NotFoundError', module: 'descarteslabs.exceptions' });
  });

  it('exports what its property expressions, geometry and limit select', () => {
    const [x0, x1] = [SQUARE.coordinates[0]![0]![0]!, SQUARE.coordinates[0]![1]![0]!];
    const expected = ROADS.filter((f) => {
      const [x, y] = (f.geometry as unknown as { coordinates: [number, number] }).coordinates;
      const { n, name, kind } = f.properties as { n: number; name: string; kind: string };
      const inSquare = x >= x0 && x <= x1 && y === 0;
      return inSquare && ((n >= 2 && n < 8 && kind !== 'odd') || name.startsWith('feature 9') || [250, 251].includes(n));
    }).map((f) => f.id);
    expect(expected.length).toBeGreaterThan(1);
    expect(seen.queried.status).toBe('SUCCESS');
    expect(seen.queried.lines.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(expected);
  });

  it('reports a failed export: status, failure type, exception and stack trace as the service has them, log None', async () => {
    const failedId = seen.failed.export_id;
    const truth = await snapshot('roads', failedId);
    expect(truth.phase).toBe('failure');
    // Its job raised before it logged anything: `log` answers None without asking Storage.
    expect(truth.log).toEqual([]);
    const a = truth.attributes!;
    expect(a.exception_name).toBe('QueryTypeError');
    expect(seen.failed).toEqual({
      export_id: failedId,
      key: KEYS.failed,
      ready: true,
      status: 'FAILURE',
      is_success: false,
      peak_memory_usage: a.peak_memory_usage,
      runtime: a.runtime,
      exception_name: 'QueryTypeError',
      exception: 'QueryTypeError',
      stacktrace: a.stacktrace,
      traceback: a.stacktrace,
      failure_type: 'exception',
      log_type: 'NoneType',
      log: null,
      result: { raised: 'AttributeError', module: 'builtins', message: "Export tasks don't have a result", original_status: null },
    });
    expect(seen.failed_get_file).toMatchObject({ raised: 'NotFoundError' });
  });

  it('lists every completed export over two pages, in creation order, and a listed task reads its log and file', () => {
    expect(seen.many_ids).toHaveLength(MANY);
    const expected = [seen.even.export_id, seen.queried.export_id, seen.failed.export_id, ...seen.many_ids];
    expect(seen.listed.map((task) => task.export_id)).toEqual(expected);
    expect(seen.listed.length).toBeGreaterThan(PAGE_SIZE);
    expect(new Set(seen.listed.map((task) => task.export_id)).size).toBe(seen.listed.length);
    expect(seen.listed[0]).toEqual({ export_id: seen.even.export_id, key: KEYS.even, status: 'SUCCESS' });
    expect(seen.listed[1]).toEqual({ export_id: seen.queried.export_id, key: KEYS.queried, status: 'SUCCESS' });
    expect(seen.listed[2]).toEqual({ export_id: seen.failed.export_id, key: KEYS.failed, status: 'FAILURE' });
    seen.listed.slice(3).forEach((task, i) => expect(task).toEqual({ export_id: seen.many_ids[i], key: `${KEYS.many_prefix}/${i}.ndjson`, status: 'SUCCESS' }));
    expect(seen.listed_even).toEqual({ log: seen.even.log, file: seen.even_file });
  });

  it('times out waiting for a running export, and answers not ready without waiting', () => {
    expect(seen.slow_wait).toEqual({ raised: 'TimeoutError', module: 'descarteslabs._dl_modules.common.tasks.futuretask', message: 'Timeout exceeded', original_status: null });
    expect(seen.slow_no_wait).toMatchObject({ raised: 'TransientResultError', message: 'Result not yet ready' });
    expect(seen.slow_ready).toBe(false);
  });

  it('raises NotFoundError for an unknown product, not-ready for an unknown export (as DL did), ServerError 401 for a wrong token', () => {
    expect(seen.unknown_product).toMatchObject({ raised: 'NotFoundError', module: 'descarteslabs.exceptions' });
    expect(seen.unknown_export).toMatchObject({ raised: 'TransientResultError' });
    // The client has no class for 401: a ServerError with `original_status`, its message our JSON:API error.
    expect(seen.wrong_token).toMatchObject({ raised: 'ServerError', module: 'descarteslabs.exceptions', original_status: 401 });
    const body = JSON.parse(seen.wrong_token.message!) as { errors: { status: string; title: string; detail: string }[] };
    expect(body.errors[0]).toMatchObject({ status: '401', title: 'Unauthorized' });
    expect(body.errors[0]!.detail).toContain('Authorization: Bearer');
  });
});
