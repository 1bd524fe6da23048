import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getCommand } from '../../../src/cli/commands/get.js';
import { makeTempDir, SLOW_QUERY, slowFeatures } from '../../server/http/helpers.js';
import { ROADS, runCommand, startService, type Service } from './service.js';

let service: Service;
let dir: string;
let removeDir: () => Promise<void>;

beforeAll(async () => {
  service = await startService();
});

afterAll(async () => {
  await service?.dispose();
});

beforeEach(async () => {
  ({ dir, remove: removeDir } = await makeTempDir());
  return removeDir;
});

/** The file the `even` export must have written: the even features, one JSON per line. */
function evenFeatureIds(text: string): unknown[] {
  return text.trimEnd().split('\n').map((line) => (JSON.parse(line) as { id: unknown }).id);
}

describe('export-task get', () => {
  it("writes the export's bytes to the file given, and says where", async () => {
    const dest = join(dir, 'even.ndjson');
    const run = await runCommand(getCommand, { url: service.url }, ['roads', service.succeeded.exportId, dest]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const bytes = await readFile(dest);
    const attributes = service.succeeded.snapshot.attributes!;
    expect(bytes.length).toBe(attributes.sizeBytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(attributes.sha256);
    expect(evenFeatureIds(bytes.toString('utf8'))).toEqual(ROADS.filter((f) => f.properties?.['kind'] === 'even').map((f) => f.id));
    expect(run.stdout).toBe(`Saved ${dest} (${(attributes.sizeBytes! / 1024).toFixed(1)} KiB, sha256 ${attributes.sha256})\n`);
  });

  it("puts the file in a directory under its key's last segment, and answers JSON with --json", async () => {
    const run = await runCommand(getCommand, { url: service.url, json: true }, ['roads', service.succeeded.exportId, dir]);
    expect(run.code).toBe(0);
    const attributes = service.succeeded.snapshot.attributes!;
    expect(JSON.parse(run.stdout)).toEqual({
      exportId: service.succeeded.exportId,
      key: 'exports/even.ndjson',
      path: join(dir, 'even.ndjson'),
      sizeBytes: attributes.sizeBytes,
      sha256: attributes.sha256,
    });
    expect(await readdir(dir)).toEqual(['even.ndjson']);
  });

  it('leaves an existing file alone unless --force is given', async () => {
    const dest = join(dir, 'mine.ndjson');
    await writeFile(dest, 'my own data\n');
    const refused = await runCommand(getCommand, { url: service.url }, ['roads', service.succeeded.exportId, dest]);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toBe(`export-task get: ${dest} exists: pass --force to replace it, or give another destination\n`);
    expect(await readFile(dest, 'utf8')).toBe('my own data\n');
    const forced = await runCommand(getCommand, { url: service.url, force: true }, ['roads', service.succeeded.exportId, dest]);
    expect(forced.code).toBe(0);
    expect((await readFile(dest)).length).toBe(service.succeeded.snapshot.attributes!.sizeBytes);
  });

  it('exits 1 for a failed export, writing nothing', async () => {
    await mkdir(join(dir, 'out'));
    const run = await runCommand(getCommand, { url: service.url }, ['roads', service.failed.exportId, join(dir, 'out')]);
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toBe(`export-task get: export ${service.failed.exportId} failed (exception, QueryTypeError): it has no file\n`);
    expect(await readdir(join(dir, 'out'))).toEqual([]);
  });

  it('exits 1 for an export still in flight, saying how to wait for it', async () => {
    const slow = await service.client.createFeatureCollection('slow-get');
    await slow.add(slowFeatures(20_000));
    const task = await slow.export('exports/slow.ndjson', { query: SLOW_QUERY });
    try {
      const run = await runCommand(getCommand, { url: service.url }, ['slow-get', task.exportId, dir]);
      expect(run).toMatchObject({ code: 1, stdout: '' });
      expect(run.stderr).toMatch(
        new RegExp(`^export-task get: export ${task.exportId} is (pending|running) \\(\\d+%\\): it has a file once it has succeeded; wait for it with "export-task watch slow-get ${task.exportId}"\n$`),
      );
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await task.cancel();
    }
  });

  it('exits 1 naming an unknown export', async () => {
    const run = await runCommand(getCommand, { url: service.url }, ['roads', 'no-such-export', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^export-task get: NotFoundError: .*no-such-export/);
    expect(await readdir(dir)).toEqual([]);
  });
});
