import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { firstValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  asCompleted,
  ClientClosedError,
  createClient,
  DownloadVerificationError,
  NoResultError,
  TimeoutError,
  TransientResultError,
  type ExportClient,
  type ExportTask,
  type FeatureCollection,
} from '../../src/index.node.js';
import { createTestBackend, type TestBackend } from '../../src/testing/test-backend.js';

const SHA = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function succeed(backend: TestBackend, task: ExportTask, bytes: Uint8Array, overrides: { size?: number; sha256?: string } = {}): void {
  backend.putFile(task.key!, bytes);
  backend.emit(task.tuid, {
    type: 'succeeded',
    runtime: 1.25,
    peak_memory_usage: 4096,
    key: task.key!,
    labels: [task.guid, task.tuid, 'export', task.key!],
    size_bytes: overrides.size ?? bytes.length,
    sha256: overrides.sha256 ?? SHA(bytes),
  });
}

function fail(backend: TestBackend, task: ExportTask): void {
  backend.emit(task.tuid, {
    type: 'failed',
    failure_type: 'exception',
    exception_name: 'QueryTypeError',
    stacktrace: 'QueryTypeError: boom\n    at job',
    runtime: 0.5,
    peak_memory_usage: 2048,
  });
}

describe('ExportTask', () => {
  let backend: TestBackend;
  let client: ExportClient;
  let fc: FeatureCollection;

  beforeEach(async () => {
    backend = createTestBackend();
    client = createClient({ backend });
    fc = await client.createFeatureCollection('roads', { title: 'Roads' });
  });

  afterEach(async () => {
    vi.useRealTimers();
    await client.close();
    expect(backend.openStreams).toBe(0);
    expect(client.store.pendingWaits).toBe(0);
    expect(client.store.timerArmed).toBe(false);
  });

  it('exposes guid, tuid, exportId and the key given to export()', async () => {
    const task = await fc.export('out/roads.ndjson');
    expect(task.guid).toBe('roads');
    expect(task.tuid).toMatch(/^export-/);
    expect(task.exportId).toBe(task.tuid);
    expect(task.key).toBe('out/roads.ndjson');
  });

  it('is pending and not ready right after export(), without any request', async () => {
    const task = await fc.export('k.ndjson');
    const before = { ...backend.requests };
    expect(task.ready).toBe(false);
    expect(task.snapshot.phase).toBe('pending');
    expect(task.snapshot.seq).toBe(1);
    expect(backend.requests).toEqual(before);
  });

  it('resolves every attribute once the task succeeds', async () => {
    const task = await fc.export('k.ndjson');
    backend.emit(task.tuid, { type: 'started' });
    backend.emit(task.tuid, { type: 'log', line: 'scanned 10' });
    backend.emit(task.tuid, { type: 'log', line: 'wrote k.ndjson' });
    const status = task.status;
    succeed(backend, task, new TextEncoder().encode('{}\n'));
    await expect(status).resolves.toBe('SUCCESS');
    await expect(task.isSuccess).resolves.toBe(true);
    await expect(task.exception).resolves.toBeNull();
    await expect(task.exceptionName).resolves.toBeNull();
    await expect(task.failureType).resolves.toBeNull();
    await expect(task.log).resolves.toBe('scanned 10\nwrote k.ndjson');
    await expect(task.peakMemoryUsage).resolves.toBe(4096);
    await expect(task.runtime).resolves.toBe(1.25);
    await expect(task.stacktrace).resolves.toBeNull();
    await expect(task.traceback).resolves.toBeNull();
    expect(task.ready).toBe(true);
  });

  it('resolves the failure attributes of a failed task', async () => {
    const task = await fc.export('k.ndjson');
    fail(backend, task);
    await expect(task.status).resolves.toBe('FAILURE');
    await expect(task.isSuccess).resolves.toBe(false);
    await expect(task.failureType).resolves.toBe('exception');
    await expect(task.exception).resolves.toBe('QueryTypeError');
    await expect(task.exceptionName).resolves.toBe('QueryTypeError');
    await expect(task.stacktrace).resolves.toContain('at job');
    await expect(task.traceback).resolves.toContain('at job');
    await expect(task.log).resolves.toBeNull();
  });

  it('throws NoResultError from result', async () => {
    const task = await fc.export('k.ndjson');
    expect(() => task.result).toThrow(NoResultError);
    expect(() => task.result).toThrow(/don't have a result/);
  });

  it('state$ emits the current snapshot first, then each change, and completes when final', async () => {
    const task = await fc.export('k.ndjson');
    const seen = firstValueFrom(task.state$.pipe(toArray()));
    backend.emit(task.tuid, { type: 'started' });
    backend.emit(task.tuid, { type: 'progress', fraction: 0.5 });
    fail(backend, task);
    const phases = (await seen).map((s) => `${s.phase}@${s.progress}`);
    expect(phases).toEqual(['pending@0', 'running@0', 'running@0.5', 'failure@0.5']);
  });

  it('refresh() asks the backend once and folds the answer', async () => {
    const task = await fc.export('k.ndjson');
    backend.deliver = false;
    backend.emit(task.tuid, { type: 'started' });
    expect(task.snapshot.phase).toBe('pending');
    const snapshot = await task.refresh();
    expect(backend.requests.status).toBe(1);
    expect(snapshot.phase).toBe('running');
    expect(task.snapshot).toBe(snapshot);
  });

  describe('getResult', () => {
    it('with wait: false resolves at once when final, without a request', async () => {
      const task = await fc.export('k.ndjson');
      fail(backend, task);
      await task.getResult();
      expect(backend.requests.status).toBe(0);
    });

    it('with wait: false refreshes once, then rejects with TransientResultError', async () => {
      const task = await fc.export('k.ndjson');
      const error = await task.getResult({ wait: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientResultError);
      expect((error as TransientResultError).message).toBe('Result not yet ready');
      expect(backend.requests.status).toBe(1);
    });

    it('with wait: false resolves when the one refresh finds the task final', async () => {
      const task = await fc.export('k.ndjson');
      backend.deliver = false;
      fail(backend, task);
      await task.getResult({ wait: false });
      expect(backend.requests.status).toBe(1);
      await expect(task.failureType).resolves.toBe('exception');
    });

    it('with wait: true resolves when the task becomes final', async () => {
      const task = await fc.export('k.ndjson');
      const done = task.getResult({ wait: true, timeout: 60_000 });
      fail(backend, task);
      await done;
      expect(backend.requests.status).toBe(0);
    });

    it('rejects with TimeoutError carrying the last snapshot, after one last check at the deadline', async () => {
      vi.useFakeTimers();
      const task = await fc.export('k.ndjson');
      backend.emit(task.tuid, { type: 'started' });
      backend.emit(task.tuid, { type: 'progress', fraction: 0.25 });
      const outcome = task.getResult({ wait: true, timeout: 5_000 }).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(4_999);
      expect(backend.requests.status).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      const error = await outcome;
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).snapshot).toMatchObject({ phase: 'running', progress: 0.25 });
      expect(backend.requests.status).toBe(1);
    });

    it('resolves when the last check at the deadline finds the task final', async () => {
      vi.useFakeTimers();
      const task = await fc.export('k.ndjson');
      backend.deliver = false;
      fail(backend, task);
      const outcome = task.getResult({ wait: true, timeout: 1_000 });
      await vi.advanceTimersByTimeAsync(1_000);
      await outcome;
      expect(backend.requests.status).toBe(1);
    });

    it('with timeout: 0 still checks once', async () => {
      vi.useFakeTimers();
      const task = await fc.export('k.ndjson');
      const outcome = task.getResult({ wait: true, timeout: 0 }).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(0);
      expect(await outcome).toBeInstanceOf(TimeoutError);
      expect(backend.requests.status).toBe(1);
    });

    it('rejects with the signal reason on abort, leaving the task running', async () => {
      const task = await fc.export('k.ndjson');
      const controller = new AbortController();
      const outcome = task.getResult({ wait: true, signal: controller.signal }).catch((e: unknown) => e);
      const reason = new Error('user left');
      controller.abort(reason);
      expect(await outcome).toBe(reason);
      expect(backend.requests.cancel).toBe(0);
      expect(client.store.pendingWaits).toBe(0);
    });

    it('rejects at once with an already aborted signal', async () => {
      const task = await fc.export('k.ndjson');
      const reason = new Error('gone');
      await expect(task.getResult({ wait: true, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });

    it.each([
      [{ wait: true, timeout: -5 }, /non-negative number of milliseconds.*got -5/],
      [{ wait: true, timeout: Number.NaN }, /non-negative number of milliseconds.*got NaN/],
      [{ wait: true, timeout: '10' }, /non-negative number of milliseconds.*got "10"/],
      [{ wait: 'yes' }, /`wait` to be true or false/],
      [{ timeout: 10 }, /pass `wait: true`/],
      [{ wait: true, timout: 10 }, /unknown option `timout`/],
      [{ signal: {} }, /AbortSignal/],
    ])('rejects %j with a TypeError before any request', async (options, message) => {
      const task = await fc.export('k.ndjson');
      const before = { ...backend.requests };
      await expect(task.getResult(options as never)).rejects.toThrow(TypeError);
      await expect(task.getResult(options as never)).rejects.toThrow(message);
      expect(backend.requests).toEqual(before);
    });

    it('uses the client waitTimeout for the attribute promises', async () => {
      await client.close();
      vi.useFakeTimers();
      backend = createTestBackend();
      client = createClient({ backend, waitTimeout: 2_000 });
      fc = await client.createFeatureCollection('roads');
      const task = await fc.export('k.ndjson');
      const outcome = task.status.catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(await outcome).toBeInstanceOf(TimeoutError);
    });

    it('shares one timer among many waits and leaves none behind', async () => {
      vi.useFakeTimers();
      const tasks = await Promise.all(Array.from({ length: 50 }, (_, i) => fc.export(`k${i}.ndjson`)));
      const waits = tasks.map((t, i) => t.getResult({ wait: true, timeout: 10_000 + i }));
      expect(vi.getTimerCount()).toBe(1);
      for (const task of tasks) fail(backend, task);
      await Promise.all(waits);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('getFile', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'export-task-getfile-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('rejects with TransientResultError before success, without a download', async () => {
      const task = await fc.export('k.ndjson');
      await expect(task.getFile(join(dir, 'out'))).rejects.toThrow(TransientResultError);
      expect(backend.requests.readFile).toBe(0);
      fail(backend, task);
      await expect(task.getFile(join(dir, 'out'))).rejects.toThrow(/failed \(exception: QueryTypeError\)/);
      expect(await readdir(dir)).toEqual([]);
    });

    it('writes a path atomically and verifies size and sha256', async () => {
      const task = await fc.export('k.ndjson');
      const bytes = new TextEncoder().encode('{"type":"Feature"}\n'.repeat(1000));
      succeed(backend, task, bytes);
      await task.getFile(join(dir, 'out.ndjson'));
      expect(await readFile(join(dir, 'out.ndjson'))).toEqual(Buffer.from(bytes));
      expect(await readdir(dir)).toEqual(['out.ndjson']);
    });

    it('leaves an existing file untouched and no temporary file when the sha256 does not match', async () => {
      const task = await fc.export('k.ndjson');
      const bytes = new TextEncoder().encode('new content\n');
      succeed(backend, task, bytes, { sha256: 'f'.repeat(64) });
      await writeFile(join(dir, 'out.ndjson'), 'old content');
      const error = await task.getFile(join(dir, 'out.ndjson')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DownloadVerificationError);
      expect((error as Error).message).toMatch(/SHA-256/);
      expect(await readFile(join(dir, 'out.ndjson'), 'utf8')).toBe('old content');
      expect(await readdir(dir)).toEqual(['out.ndjson']);
    });

    it('rejects a size mismatch and writes nothing', async () => {
      const task = await fc.export('k.ndjson');
      succeed(backend, task, new TextEncoder().encode('abc'), { size: 2 });
      await expect(task.getFile(join(dir, 'x'))).rejects.toThrow(/larger than the 2 bytes/);
      expect(await readdir(dir)).toEqual([]);
    });

    it('stops when aborted and leaves no file', async () => {
      const task = await fc.export('k.ndjson');
      succeed(backend, task, new Uint8Array(1000));
      const reason = new Error('stop');
      await expect(task.getFile(join(dir, 'x'), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(await readdir(dir)).toEqual([]);
    });

    it('writes to a Node writable stream and to a WHATWG WritableStream', async () => {
      const task = await fc.export('k.ndjson');
      const bytes = new TextEncoder().encode('line\n'.repeat(100));
      succeed(backend, task, bytes);
      const nodeChunks: Buffer[] = [];
      await task.getFile(
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            nodeChunks.push(chunk);
            callback();
          },
        }),
      );
      expect(Buffer.concat(nodeChunks)).toEqual(Buffer.from(bytes));
      const webChunks: Uint8Array[] = [];
      await task.getFile(new WritableStream<Uint8Array>({ write: (chunk) => void webChunks.push(chunk) }));
      expect(Buffer.concat(webChunks)).toEqual(Buffer.from(bytes));
    });
  });

  it('cancel() asks the backend once and a final task ignores it', async () => {
    const task = await fc.export('k.ndjson');
    await task.cancel();
    expect(backend.requests.cancel).toBe(1);
    expect(task.snapshot.cancelRequested).toBe(true);
    backend.emit(task.tuid, { type: 'failed', failure_type: 'cancelled', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null });
    await expect(task.failureType).resolves.toBe('cancelled');
    await task.cancel();
    expect(backend.requests.cancel).toBe(1);
  });

  it('actor() follows the task with a real XState actor restored from its snapshot', async () => {
    const task = await fc.export('k.ndjson');
    backend.emit(task.tuid, { type: 'started' });
    const actor = task.actor();
    expect(actor.getSnapshot().value).toBe('running');
    backend.emit(task.tuid, { type: 'progress', fraction: 0.75 });
    expect(actor.getSnapshot().context.progress).toBe(0.75);
    fail(backend, task);
    expect(actor.getSnapshot().value).toBe('failure');
    expect(actor.getSnapshot().status).toBe('done');
    const { phase: _p, seq: _s, ...context } = task.snapshot;
    expect(actor.getSnapshot().context).toEqual(context);
  });

  it('listExports() answers every completed export across pages, with keys from labels[3]', async () => {
    const tasks = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => fc.export(`${k}.ndjson`)));
    for (const task of tasks.slice(0, 4)) succeed(backend, task, new TextEncoder().encode(task.key));
    const other = createClient({ backend });
    try {
      const listed = await other.featureCollection('roads').listExports();
      expect(listed.map((t) => t.tuid).sort()).toEqual(tasks.slice(0, 4).map((t) => t.tuid).sort());
      expect(backend.requests.listExports).toBe(2);
      for (const task of listed) {
        expect(task.ready).toBe(true);
        expect(task.key).toBe(`${['a', 'b', 'c', 'd'][tasks.findIndex((t) => t.tuid === task.tuid)]}.ndjson`);
        await expect(task.status).resolves.toBe('SUCCESS');
      }
    } finally {
      await other.close();
    }
  });

  describe('asCompleted', () => {
    it('waits on many tasks with one abort listener per wait, so Node never warns of a listener leak', async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => void warnings.push(warning);
      process.on('warning', onWarning);
      try {
        const tasks = await Promise.all(Array.from({ length: 25 }, (_, i) => fc.export(`many/${i}.ndjson`)));
        const seen: string[] = [];
        const iteration = (async () => {
          for await (const task of asCompleted(tasks, { timeout: 60_000 })) seen.push(task.tuid);
        })();
        for (const task of [...tasks].reverse()) fail(backend, task);
        await iteration;
        // Warnings are emitted on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
        expect(seen).toEqual([...tasks].reverse().map((t) => t.tuid));
        expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('yields tasks in the order they finish', async () => {
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((k) => fc.export(`${k}.ndjson`)));
      fail(backend, b!);
      const order: string[] = [];
      const done = (async () => {
        for await (const task of asCompleted([a!, b!, c!])) order.push(task.tuid);
      })();
      await Promise.resolve();
      fail(backend, c!);
      fail(backend, a!);
      await done;
      expect(order).toEqual([b!.tuid, c!.tuid, a!.tuid]);
    });

    it('throws TimeoutError when the tasks are not all final in time, and releases every wait', async () => {
      vi.useFakeTimers();
      const [a, b] = await Promise.all(['a', 'b'].map((k) => fc.export(`${k}.ndjson`)));
      fail(backend, a!);
      const seen: string[] = [];
      const outcome = (async () => {
        for await (const task of asCompleted([a!, b!], { timeout: 1_000 })) seen.push(task.tuid);
      })().catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await outcome).toBeInstanceOf(TimeoutError);
      expect(seen).toEqual([a!.tuid]);
    });

    it('releases every wait when the loop breaks early', async () => {
      const tasks = await Promise.all(['a', 'b', 'c'].map((k) => fc.export(`${k}.ndjson`)));
      fail(backend, tasks[0]!);
      for await (const task of asCompleted(tasks)) {
        expect(task).toBe(tasks[0]);
        break;
      }
      expect(client.store.pendingWaits).toBe(0);
    });

    it('rejects bad options at once', () => {
      expect(() => asCompleted([], { timeout: -1 })).toThrow(TypeError);
      expect(() => asCompleted([], { foo: 1 } as never)).toThrow(/unknown option `foo`/);
    });
  });

  it('rejects an empty or unsafe key at once, before any request', async () => {
    await expect(fc.export('')).rejects.toThrow(TypeError);
    await expect(fc.export('../escape')).rejects.toThrow(TypeError);
    await expect(fc.export('/abs')).rejects.toThrow(TypeError);
    await expect(fc.export('k', { bogus: true } as never)).rejects.toThrow(/unknown option `bogus`/);
    expect(backend.requests.startExport).toBe(0);
  });

  it('close() with tasks still running completes their state$ and rejects attributes, getResult and store waits with ClientClosedError, leaving no timer', async () => {
    vi.useFakeTimers();
    const task = await fc.export('k.ndjson');
    const done = await fc.export('done.ndjson');
    fail(backend, done);
    await done.getResult({ wait: true });
    let stateError: unknown;
    let completed = false;
    task.state$.subscribe({ error: (error: unknown) => (stateError = error), complete: () => (completed = true) });
    const waits = [task.status, task.getResult({ wait: true }), task.getResult({ wait: true, timeout: 60_000 }), client.store.settled(task.tuid)].map((p) =>
      (p as Promise<unknown>).then(
        () => 'resolved',
        (error: unknown) => error,
      ),
    );
    expect(vi.getTimerCount()).toBe(1);
    await client.close();
    for (const error of await Promise.all(waits)) {
      expect(error).toBeInstanceOf(ClientClosedError);
      expect((error as ClientClosedError).exportId).toBe(task.tuid);
    }
    expect(stateError).toBeUndefined();
    expect(completed).toBe(true);
    expect(client.store.pendingWaits).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // Begun after the close: they end at once, and a final task still answers.
    await expect(task.runtime).rejects.toBeInstanceOf(ClientClosedError);
    await expect(task.getResult({ wait: true })).rejects.toBeInstanceOf(ClientClosedError);
    await expect(done.status).resolves.toBe('FAILURE');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an actor of a task still running stops following it at close(), with no unhandled error', async () => {
    const task = await fc.export('actor.ndjson');
    backend.emit(task.tuid, { type: 'started' });
    const actor = task.actor();
    await client.close();
    expect(actor.getSnapshot().value).toBe('running');
    // Nothing is fed any more, and nothing was thrown at the actor's subscribers.
    expect(actor.getSnapshot().status).toBe('active');
    actor.stop();
  });

  it('state$ is cold: reading it opens no event stream; subscribing does', async () => {
    const started = await fc.export('cold.ndjson');
    // A second client that has not watched the product: getting the export opens no stream.
    const other = createClient({ backend });
    const task = await other.featureCollection('roads').getExport(started.tuid);
    const before = backend.requests.events;
    const state$ = task.state$;
    void task.state$;
    expect(backend.requests.events).toBe(before);
    const seen: string[] = [];
    const subscription = state$.subscribe((s) => seen.push(s.phase));
    expect(backend.requests.events).toBe(before + 1);
    expect(seen).toEqual([task.snapshot.phase]);
    subscription.unsubscribe();
    await other.close();
  });

  it('rejects requests after close()', async () => {
    const task = await fc.export('k.ndjson');
    await client.close();
    await expect(task.refresh()).rejects.toThrow(/closed/);
    await expect(fc.export('k2')).rejects.toThrow(/closed/);
  });
});
