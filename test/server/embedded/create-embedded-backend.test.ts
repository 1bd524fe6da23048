import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filter, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { createEmbeddedBackend } from '../../../src/server/embedded/create-embedded-backend.js';
import type { EmbeddedBackendOptions } from '../../../src/server/embedded/create-embedded-backend.js';
import { gridFeatures, listTree, makeTempDir } from './helpers.js';

/** What the backend made in the temp root (tsx, running the worker from source, keeps its cache there too). */
async function madeIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('export-task-'));
}

/** The OS threads of this process: each running worker is one (or more). */
async function threadCount(): Promise<number> {
  return (await readdir('/proc/self/task')).length;
}

describe('createEmbeddedBackend', () => {
  it.each<[string, unknown, string]>([
    ['a non-object', 'x', 'createEmbeddedBackend(): expected an options object, got "x"'],
    ['an unknown option', { timeout: 5 }, 'createEmbeddedBackend(): unknown option `timeout`; the options are `dataDir`'],
    ['a negative jobTimeoutMs', { jobTimeoutMs: -5 }, 'Expected `jobTimeoutMs` to be a positive number of milliseconds, got -5'],
    ['a zero jobTimeoutMs', { jobTimeoutMs: 0 }, 'Expected `jobTimeoutMs` to be a positive number of milliseconds, got 0'],
    ['a jobTimeoutMs no timer holds', { jobTimeoutMs: 2 ** 31 }, 'up to 2147483647'],
    ['a string jobMemoryMb', { jobMemoryMb: '16' }, 'Expected `jobMemoryMb` to be a positive number of MiB, got "16"'],
    ['an infinite jobMemoryMb', { jobMemoryMb: Infinity }, 'Expected `jobMemoryMb` to be a positive number of MiB, got Infinity'],
    ['a fractional concurrency', { concurrency: 1.5 }, 'createEmbeddedBackend(): expected `concurrency` to be a positive integer number of jobs, got 1.5'],
    ['a zero pageSize', { pageSize: 0 }, 'createEmbeddedBackend(): expected `pageSize` to be a positive integer number of exports, got 0'],
    ['an empty dataDir', { dataDir: '' }, 'Expected `dataDir` to be a directory path, got ""'],
  ])('throws a TypeError at once for %s', (_what, options, message) => {
    expect(() => createEmbeddedBackend(options as EmbeddedBackendOptions)).toThrow(TypeError);
    expect(() => createEmbeddedBackend(options as EmbeddedBackendOptions)).toThrow(message);
  });

  it('accepts every documented option, and undefined for each', async () => {
    const { dir, remove } = await makeTempDir();
    const backend = createEmbeddedBackend({ dataDir: dir, jobTimeoutMs: 1000, jobMemoryMb: 64, concurrency: 1, pageSize: 10 });
    await backend.close();
    const defaults = createEmbeddedBackend({ dataDir: undefined, jobTimeoutMs: undefined, jobMemoryMb: undefined, concurrency: undefined, pageSize: undefined });
    await defaults.close();
    await remove();
  });

  it('touches nothing until first used, and creates its directories then', async () => {
    const { dir, remove } = await makeTempDir();
    const backend = createEmbeddedBackend({ dataDir: `${dir}/data` });
    expect(existsSync(`${dir}/data`)).toBe(false);
    await backend.createProduct('p', {});
    expect(await listTree(`${dir}/data`)).toEqual(['products', 'products/p', 'products/p/features.ndjson', 'products/p/product.json', 'storage']);
    await backend.close();
    // A directory it was given is never removed.
    expect(existsSync(`${dir}/data/products/p`)).toBe(true);
    await remove();
  });
});

describe('close() of the embedded backend', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let savedTmpdir: string | undefined;

  beforeEach(async () => {
    // os.tmpdir() reads TMPDIR on each call: this file's own temp root shows what the backend makes.
    tmp = await makeTempDir();
    savedTmpdir = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp.dir;
  });

  afterEach(async () => {
    if (savedTmpdir === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = savedTmpdir;
    await tmp.remove();
  });

  it('removes the temporary data directory it made', async () => {
    const backend = createEmbeddedBackend();
    await backend.createProduct('p', {});
    const made = await madeIn(tmp.dir);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatch(/^export-task-/);
    await backend.close();
    expect(await madeIn(tmp.dir)).toEqual([]);
  });

  it('stops running jobs, leaves no worker behind, completes event streams and emits nothing more', async () => {
    const threadsBefore = await threadCount();
    const backend = createEmbeddedBackend({ concurrency: 1 });
    await backend.createProduct('p', {});
    await backend.addFeatures('p', gridFeatures(200_000, 1000));
    const all = lastValueFrom(backend.events('p').pipe(toArray()));
    const running = await backend.startExport('p', { key: 'a.ndjson', query: {} });
    const queued = await backend.startExport('p', { key: 'b.ndjson', query: {} });
    await firstValueFrom(backend.events('p').pipe(filter(({ event }) => event.type === 'started')));
    expect(await threadCount()).toBeGreaterThan(threadsBefore);
    await backend.close();
    expect(await threadCount()).toBeLessThanOrEqual(threadsBefore);
    const events = await all;
    expect(events.filter((e) => e.event.export_id === running.exportId).map((e) => e.event.type).slice(0, 2)).toEqual(['queued', 'started']);
    expect(events.filter((e) => e.event.export_id === queued.exportId).map((e) => e.event.type)).toEqual(['queued']);
    expect(await madeIn(tmp.dir)).toEqual([]);
  });

  it('makes every method reject with a clear Error afterwards, and can be called again', async () => {
    const backend = createEmbeddedBackend();
    await backend.createProduct('p', {});
    await backend.close();
    await backend.close();
    const closed = /This embedded export service is closed/;
    await expect(backend.createProduct('q', {})).rejects.toThrow(closed);
    await expect(backend.addFeatures('p', [])).rejects.toThrow(closed);
    await expect(backend.startExport('p', { key: 'k', query: {} })).rejects.toThrow(closed);
    await expect(backend.status('p', [])).rejects.toThrow(closed);
    await expect(backend.listExports('p')).rejects.toThrow(closed);
    await expect(backend.cancel('p', 'x')).rejects.toThrow(closed);
    await expect(backend.readFile('k')).rejects.toThrow(closed);
    await expect(firstValueFrom(backend.events('p'))).rejects.toThrow(closed);
  });

  it('closes a backend never used without creating anything', async () => {
    const backend = createEmbeddedBackend();
    await backend.close();
    expect(await madeIn(tmp.dir)).toEqual([]);
    await expect(backend.createProduct('p', {})).rejects.toThrow(/closed/);
    expect(await madeIn(tmp.dir)).toEqual([]);
  });
});
