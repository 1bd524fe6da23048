import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportBackend } from '../../../src/client/backend.js';
import { BadRequestError, NotFoundError } from '../../../src/client/http-errors.js';
import { createEmbeddedBackend } from '../../../src/server/embedded/create-embedded-backend.js';
import { eventsUntilFinal, finalOf, gridFeatures, listTree, makeTempDir, readText } from './helpers.js';

let backend: ExportBackend;
let dataDir: string;
let outside: { dir: string; remove: () => Promise<void> };
let removeDir: () => Promise<void>;

beforeAll(async () => {
  ({ dir: dataDir, remove: removeDir } = await makeTempDir());
  outside = await makeTempDir();
  backend = createEmbeddedBackend({ dataDir });
  await backend.createProduct('p', {});
  await backend.addFeatures('p', gridFeatures(10));
});

afterAll(async () => {
  await backend.close();
  await removeDir();
  await outside.remove();
});

const unsafeKeys = ['', '../escape.ndjson', 'a/../../escape.ndjson', '/var/escape.ndjson', 'a\\..\\escape', 'a\0b', 'a//b', './a', 'a/', 'x'.repeat(1025)];

describe('storage keys on the embedded backend', () => {
  it.each(unsafeKeys)('refuses to export to the key %j with BadRequestError, writing nothing anywhere', async (key) => {
    const before = await listTree(dataDir);
    const outsideBefore = await listTree(outside.dir);
    const error = await backend.startExport('p', { key, query: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toMatch(/storage key/);
    expect(await listTree(dataDir)).toEqual(before);
    expect(await listTree(outside.dir)).toEqual(outsideBefore);
  });

  it.each(unsafeKeys)('refuses to read the key %j with BadRequestError', async (key) => {
    await expect(backend.readFile(key)).rejects.toBeInstanceOf(BadRequestError);
  });

  it('refuses a bad query or limits with BadRequestError before anything starts', async () => {
    const before = await listTree(dataDir);
    const bad = [
      { key: 'k', query: { query_expr: { range: { n: { gt: {} } } } } },
      { key: 'k', query: { query_limit: -1 } },
      { key: 'k', query: {}, limits: { timeoutMs: -5 } },
      { key: 'k', query: {}, limits: { memoryMb: 'lots' } },
      { key: 'k', query: {}, limits: { cpus: 2 } },
      { key: 'k', query: {}, extra: true },
    ];
    for (const request of bad) {
      await expect(backend.startExport('p', request as never)).rejects.toBeInstanceOf(BadRequestError);
    }
    await expect(backend.startExport('p', { key: 'k', query: {}, limits: { timeoutMs: -5 } })).rejects.toThrow(
      'Expected `limits.timeoutMs` to be a positive number of milliseconds, got -5',
    );
    expect(await listTree(dataDir)).toEqual(before);
  });

  it('rejects with NotFoundError for an unknown product once the request is valid', async () => {
    await expect(backend.startExport('nope', { key: 'k', query: {} })).rejects.toBeInstanceOf(NotFoundError);
    await expect(backend.startExport('nope', { key: '../k', query: {} })).rejects.toBeInstanceOf(BadRequestError);
  });

  it('never follows a symbolic link out of the storage area', async () => {
    await symlink(outside.dir, join(dataDir, 'storage', 'link'));
    await writeFile(join(outside.dir, 'secret.txt'), 'secret');
    const { exportId } = await backend.startExport('p', { key: 'link/out.ndjson', query: {} });
    const final = finalOf(await eventsUntilFinal(backend, 'p', exportId));
    expect(final).toMatchObject({ type: 'failed', failure_type: 'exception' });
    expect(await listTree(outside.dir)).toEqual(['secret.txt']);
    await expect(backend.readFile('link/secret.txt')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('readFile on the embedded backend', () => {
  it('streams an exported file', async () => {
    const { exportId } = await backend.startExport('p', { key: 'deep/er/file.ndjson', query: {} });
    const final = finalOf(await eventsUntilFinal(backend, 'p', exportId));
    const text = await readText(await backend.readFile('deep/er/file.ndjson'));
    expect(text).toBe(gridFeatures(10).map((f) => `${JSON.stringify(f)}\n`).join(''));
    expect(final).toMatchObject({ type: 'succeeded', size_bytes: Buffer.byteLength(text) });
  });

  it('streams a large file in chunks', async () => {
    await mkdir(join(dataDir, 'storage', 'raw'), { recursive: true });
    const content = Buffer.alloc(1_000_000, 'ab');
    await writeFile(join(dataDir, 'storage', 'raw', 'big.bin'), content);
    const chunks: Uint8Array[] = [];
    const reader = (await backend.readFile('raw/big.bin')).getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
  });

  it('rejects with NotFoundError for a missing file or a directory', async () => {
    await expect(backend.readFile('missing.ndjson')).rejects.toBeInstanceOf(NotFoundError);
    await expect(backend.readFile('deep/er')).rejects.toBeInstanceOf(NotFoundError);
    await expect(backend.readFile('deep/er/file.ndjson/x')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('honours an abort signal, before and while reading', async () => {
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await expect(backend.readFile('raw/big.bin', { signal: aborted.signal })).rejects.toThrow('stop');
    const controller = new AbortController();
    const reader = (await backend.readFile('raw/big.bin', { signal: controller.signal })).getReader();
    await reader.read();
    controller.abort(new Error('enough'));
    await expect(reader.read()).rejects.toThrow('enough');
  });
});
