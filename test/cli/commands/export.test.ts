import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCommand } from '../../../src/cli/commands/export.js';
import { countRows } from '../../server/http/helpers.js';
import { runCommand, startService, type Service } from './service.js';

let service: Service;
let dir: string;

beforeAll(async () => {
  [service, dir] = await Promise.all([startService(), mkdtemp(join(tmpdir(), 'export-task-export-'))]);
});

afterAll(async () => {
  await service?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const ID = '[0-9a-f-]{36}';

describe('export-task export', () => {
  it('starts an export with an inline query, prints its id and how to follow it, and exits at once', async () => {
    const run = await runCommand(exportCommand, { url: service.url, query: '{"query_expr":{"eq":{"kind":"even"}}}' }, ['roads', 'exports/cli-even.ndjson']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const exportId = new RegExp(`^Started export (${ID}) of roads to exports/cli-even\\.ndjson\\.$`, 'm').exec(run.stdout)?.[1];
    expect(exportId).toBeDefined();
    expect(run.stdout).toContain(`Follow it with "export-task watch roads ${exportId}"; once it succeeds, download it with "export-task get roads ${exportId}".`);
    // It was started for real, with that query: the same file as the fixture's export of the even features.
    const task = await service.roads.getExport(exportId!);
    await task.getResult({ wait: true, timeout: 30_000 });
    expect(await task.status).toBe('SUCCESS');
    expect(task.snapshot.attributes?.key).toBe('exports/cli-even.ndjson');
    expect(task.snapshot.attributes?.sha256).toBe(service.succeeded.snapshot.attributes?.sha256);
  });

  it('reads the query from @file and, with --watch, follows the export labelled by its key until it succeeds', async () => {
    const file = join(dir, 'query.json');
    await writeFile(file, JSON.stringify({ query_expr: { eq: { kind: 'even' } }, query_limit: 10 }));
    const run = await runCommand(exportCommand, { url: service.url, query: `@${file}`, watch: true }, ['roads', 'exports/cli-watched.ndjson']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^exports\/cli-watched\.ndjson {2}pending +0%$/m);
    expect(run.stdout).toMatch(/^exports\/cli-watched\.ndjson {2}success +100%/m);
    expect(run.stdout).toContain('1 succeeded, 0 failed');
    expect(run.stdout).not.toContain('Follow it with');
  });

  it('with --watch, shows a failure with its type and exception as it happens, and exits 1', async () => {
    const query = JSON.stringify({ query_expr: { range: { name: { gte: 100 } } } });
    const run = await runCommand(exportCommand, { url: service.url, query, watch: true }, ['roads', 'exports/cli-bad.ndjson']);
    expect(run.code).toBe(1);
    const lines = run.stdout.split('\n');
    const live = lines.findIndex((line) => /^exports\/cli-bad\.ndjson {2}failure +\d+% {2}exception: QueryTypeError$/.test(line));
    const table = lines.findIndex((line) => line.startsWith('export '));
    expect(live).toBeGreaterThan(-1);
    expect(live).toBeLessThan(table);
    expect(run.stdout).toContain('0 succeeded, 1 failed');
  });

  it('prints JSON lines with --json: the start, then with --watch the snapshots and the summary', async () => {
    const run = await runCommand(exportCommand, { url: service.url, json: true, watch: true, query: '{"query_limit":3}' }, ['roads', 'exports/cli-json.ndjson']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; exportId?: string; succeeded?: number });
    expect(lines[0]).toEqual({ type: 'started', productId: 'roads', exportId: lines[0]?.exportId, key: 'exports/cli-json.ndjson' });
    expect(lines[0]?.exportId).toMatch(new RegExp(`^${ID}$`));
    expect(lines.slice(1, -1).every((line) => line.type === 'snapshot')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', succeeded: 1, failed: 0 });
  });

  it('starts one export for one --idempotency-key, however often it is run', async () => {
    const values = { url: service.url, json: true, 'idempotency-key': 'nightly-2026-01-01' };
    const [a, b] = [await runCommand(exportCommand, values, ['roads', 'exports/once.ndjson']), await runCommand(exportCommand, values, ['roads', 'exports/once.ndjson'])];
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
  });

  it.each([
    [{ query: '{"query_expr":' }, /^export-task export: expected --query to be JSON such as .* but it does not parse \(.+\)\n$/],
    [{ query: '[1, 2]' }, /^export-task export: expected --query to be a JSON object such as \{"query_expr": \.\.\.\}, got \[1,2\]\n$/],
    [{ query: '@nowhere.json' }, /^export-task export: --query @nowhere\.json: no file nowhere\.json: give a file holding the query as JSON\n$/],
  ])('exits 2 before starting anything for %j', async (values, message) => {
    // Every export the service knows, pending ones included.
    const before = countRows(service.server.dataDir).exports;
    const run = await runCommand(exportCommand, { url: service.url, ...values }, ['roads', 'exports/never.ndjson']);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(message);
    expect(countRows(service.server.dataDir).exports).toBe(before);
  });

  it('exits 1 with the service\'s BadRequestError for a query it refuses, and starts nothing', async () => {
    const before = countRows(service.server.dataDir).exports;
    const run = await runCommand(exportCommand, { url: service.url, query: '{"query_expr":{"between":{"lanes":[1,2]}}}' }, ['roads', 'exports/never.ndjson']);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: '' });
    expect(run.stderr).toMatch(/^export-task export: BadRequestError: .*between/);
    expect(countRows(service.server.dataDir).exports).toBe(before);
  });

  it('exits 2 for an unsafe key, and 1 naming the product the service does not know', async () => {
    const unsafe = await runCommand(exportCommand, { url: service.url }, ['roads', '../etc/passwd']);
    expect(unsafe.code).toBe(2);
    expect(unsafe.stderr).toMatch(/^export-task export: .*\.\./);
    const unknown = await runCommand(exportCommand, { url: service.url }, ['nowhere', 'exports/x.ndjson']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^export-task export: NotFoundError: .*nowhere.*export-task add --create/);
  });
});
