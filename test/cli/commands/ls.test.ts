import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes, lsCommand, type ExportListing } from '../../../src/cli/commands/ls.js';
import { runCommand, startService, type Service } from './service.js';

let service: Service;

beforeAll(async () => {
  service = await startService();
});

afterAll(async () => {
  await service?.dispose();
});

describe('export-task ls', () => {
  it("prints a table of the product's completed exports, oldest first", async () => {
    const run = await runCommand(lsCommand, { url: service.url }, ['roads']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [header, rule, ...rows] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^export +status +failure +exception +key +size +runtime +memory +created$/);
    expect(rule).toMatch(/^-+( +-+){8}$/);
    expect(rows).toHaveLength(2);
    const even = service.succeeded.snapshot.attributes!;
    expect(rows[0]).toMatch(new RegExp(`^${service.succeeded.exportId} +SUCCESS +exports/even\\.ndjson +${formatBytes(even.sizeBytes!).replace('.', '\\.')} +\\d+\\.\\d\\d s +[\\d.]+ [KMG]?i?B +${even.created}$`));
    expect(rows[1]).toMatch(new RegExp(`^${service.failed.exportId} +FAILURE +exception +QueryTypeError +exports/bad\\.ndjson +`));
  });

  it('prints one JSON array with --json', async () => {
    const run = await runCommand(lsCommand, { url: service.url, json: true }, ['roads']);
    expect(run.code).toBe(0);
    const listings = JSON.parse(run.stdout) as ExportListing[];
    const even = service.succeeded.snapshot.attributes!;
    expect(listings).toHaveLength(2);
    expect(listings[0]).toEqual({
      exportId: service.succeeded.exportId,
      status: 'SUCCESS',
      failureType: null,
      exceptionName: null,
      key: 'exports/even.ndjson',
      sizeBytes: even.sizeBytes,
      sha256: even.sha256,
      runtime: even.runtime,
      peakMemoryUsage: even.peakMemoryUsage,
      created: even.created,
    });
    expect(listings[1]).toMatchObject({ exportId: service.failed.exportId, status: 'FAILURE', failureType: 'exception', exceptionName: 'QueryTypeError' });
  });

  it('says so for a product without completed exports, and exits 1 for an unknown product', async () => {
    await service.client.createFeatureCollection('empty');
    expect(await runCommand(lsCommand, { url: service.url }, ['empty'])).toEqual({ code: 0, stdout: 'No completed exports in empty.\n', stderr: '' });
    expect(await runCommand(lsCommand, { url: service.url, json: true }, ['empty'])).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
    const unknown = await runCommand(lsCommand, { url: service.url }, ['nowhere']);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    // Naming the public ways to create it, not the service's internals.
    expect(unknown.stderr).toMatch(/^export-task ls: NotFoundError: .*nowhere.*client\.createFeatureCollection\(\).*"export-task add --create"/);
    expect(unknown.stderr).not.toContain('createProduct');
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [5 * 1024 ** 2, '5.0 MiB'],
    [3 * 1024 ** 4, '3.0 TiB'],
  ])('shows %d bytes as %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
