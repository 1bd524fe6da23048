import { firstValueFrom, toArray, type Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientClosedError, ExportLostError, TimeoutError } from '../../src/core/errors.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { finishedChecked } from '../../src/core/internal/waiters.js';
import { TaskStore, type TaskDiagnostic } from '../../src/core/task-store.js';

// The store-level ends of waits: abandon(id, error) for a task that can never be final, and
// close(error) for a store whose sources are gone. Every wait and watcher must end, and nothing
// may stay scheduled.

const P = 'roads';
const T0 = '2026-01-01T00:00:00.000Z';
const ev = (type: string, id: string, seq: number, extra: Record<string, unknown> = {}) => ({ type, product_id: P, export_id: id, seq, time: T0, ...extra });
const succeeded = (id: string, seq: number) =>
  ev('succeeded', id, seq, { runtime: 1, peak_memory_usage: 1, key: 'k', labels: ['v', P, id, 'k'], size_bytes: 1, sha256: 'ab'.repeat(32) });

/** What a promise ended with, never left unhandled. */
async function settle<T>(promise: Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  return promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}

/** Everything a watch() subscription was told. */
function record(store: TaskStore, id: string): { seqs: number[]; error: unknown; completed: boolean; closed: () => boolean } {
  const seen = { seqs: [] as number[], error: undefined as unknown, completed: false, closed: () => subscription.closed };
  const subscription = store.watch(id).subscribe({
    next: (s) => seen.seqs.push(s.seq),
    error: (error: unknown) => (seen.error = error),
    complete: () => (seen.completed = true),
  });
  return seen;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TaskStore.abandon', () => {
  it('rejects every pending wait on the task with the error, and leaves other tasks waiting', async () => {
    vi.useFakeTimers();
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    store.apply(ev('queued', 'e2', 1));
    const lost = new ExportLostError('e1', 'the service no longer knows it', store.get('e1'));
    const plain = settle(store.settled('e1'));
    const timed = settle(store.settled('e1', { timeout: 60_000, signal: new AbortController().signal }));
    const checked = settle(finishedChecked(store, 'e1', 60_000, undefined, undefined)!);
    const other = store.settled('e2', { timeout: 60_000 });
    expect(vi.getTimerCount()).toBe(1);
    store.abandon('e1', lost);
    expect(await plain).toEqual({ error: lost });
    expect(await timed).toEqual({ error: lost });
    expect(await checked).toEqual({ error: lost });
    expect(store.pendingWaits).toBe(1);
    store.apply(succeeded('e2', 2));
    expect((await other).phase).toBe('success');
    expect(store.pendingWaits).toBe(0);
    expect(store.timerArmed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('errors every watcher of the task (and appliedEvents), keeps the last snapshot, and sends later events to diagnostics$ only', () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    const a = record(store, 'e1');
    const b = record(store, 'e1');
    const events: number[] = [];
    let eventsError: unknown;
    store.appliedEvents('e1').subscribe({ next: (e) => events.push(e.seq), error: (error: unknown) => (eventsError = error) });
    const changes: ExportTaskSnapshot[] = [];
    store.changes$.subscribe((s) => changes.push(s));
    const diagnostics: TaskDiagnostic[] = [];
    store.diagnostics$.subscribe((d) => diagnostics.push(d));
    const before = store.get('e1');
    const lost = new ExportLostError('e1', 'gone');
    store.abandon('e1', lost);
    for (const seen of [a, b]) {
      expect(seen).toMatchObject({ seqs: [1], error: lost, completed: false });
      expect(seen.closed()).toBe(true);
    }
    expect(eventsError).toBe(lost);
    expect(store.observedPending(P)).toEqual([]);
    expect(store.apply(ev('started', 'e1', 2))).toBe(before);
    store.apply(succeeded('e1', 3));
    expect(store.get('e1')).toBe(before);
    expect(changes).toEqual([]);
    expect(events).toEqual([]);
    expect(diagnostics.map((d) => [d.kind, d.seq])).toEqual([
      ['abandoned', 2],
      ['abandoned', 3],
    ]);
  });

  it('ends a wait or watch begun later at once with the same error, after the last snapshot', async () => {
    const store = new TaskStore();
    store.apply(ev('started', 'e1', 1));
    const lost = new ExportLostError('e1', 'gone');
    store.abandon('e1', lost);
    expect(await settle(store.settled('e1'))).toEqual({ error: lost });
    expect(await settle(store.settled('e1', { timeout: 10 }))).toEqual({ error: lost });
    expect(record(store, 'e1')).toMatchObject({ seqs: [1], error: lost, completed: false });
    expect(store.pendingWaits).toBe(0);
  });

  it('can end waits on a task the store has not heard of yet', async () => {
    const store = new TaskStore();
    const waiting = settle(store.settled('e9'));
    const lost = new ExportLostError('e9', 'its product vanished');
    store.abandon('e9', lost);
    expect(await waiting).toEqual({ error: lost });
    expect(store.get('e9')).toBeUndefined();
  });

  it('leaves a final task as it is, and keeps the first error of a task abandoned twice', async () => {
    const store = new TaskStore();
    store.apply(succeeded('e1', 1));
    store.abandon('e1', new ExportLostError('e1', 'late'));
    expect((await store.settled('e1')).phase).toBe('success');
    store.apply(ev('queued', 'e2', 1));
    const first = new ExportLostError('e2', 'first');
    store.abandon('e2', first);
    store.abandon('e2', new ExportLostError('e2', 'second'));
    expect(await settle(store.settled('e2'))).toEqual({ error: first });
  });

  it('refuses an error that is not an Error', () => {
    const store = new TaskStore();
    expect(() => store.abandon('e1', 'lost' as unknown as Error)).toThrow(/TaskStore.abandon\(\): expected `error` to be an Error, got "lost"/);
  });
});

describe('TaskStore.close', () => {
  it('rejects every pending wait with a ClientClosedError naming its export, and clears every timer', async () => {
    vi.useFakeTimers();
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    const waits = [settle(store.settled('e1', { timeout: 1_000 })), settle(store.settled('e1', { timeout: 5_000 })), settle(store.settled('e2'))];
    expect(vi.getTimerCount()).toBe(1);
    store.close();
    expect(store.closed).toBe(true);
    expect(store.pendingWaits).toBe(0);
    expect(store.timerArmed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    const results = await Promise.all(waits);
    expect(results.map((r) => ('error' in r && r.error instanceof ClientClosedError ? r.error.exportId : r))).toEqual(['e1', 'e1', 'e2']);
    expect((results[0] as { error: ClientClosedError }).error.code).toBe('EXPORT_TASK_CLIENT_CLOSED');
  });

  it('rejects with the error given to it, and a wait whose last check is in flight ends with it too', async () => {
    vi.useFakeTimers();
    const store = new TaskStore();
    let checks = 0;
    const timed = settle(store.settled('e1', { timeout: 100, beforeTimeout: () => (checks++, new Promise(() => {})) }));
    await vi.advanceTimersByTimeAsync(100);
    expect(checks).toBe(1);
    const reason = new Error('shutting down');
    store.close(reason);
    expect(await timed).toEqual({ error: reason });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('completes (not errors) every watch of a task not final, so a subscriber with no error handler survives the close; a final task completes as ever', async () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    store.apply(succeeded('e2', 1));
    const running = record(store, 'e1');
    const events = firstValueFrom(store.appliedEvents('e1').pipe(toArray())).catch((error: unknown) => error);
    store.close();
    expect(running).toMatchObject({ seqs: [1], error: undefined, completed: true });
    expect(await events).toEqual([]);
    expect(record(store, 'e2')).toMatchObject({ seqs: [1], error: undefined, completed: true });
    // Begun after the close: the last snapshot, then the end.
    const late = record(store, 'e1');
    expect(late).toMatchObject({ seqs: [1], error: undefined, completed: true });
    // The events of a task begun after the close end too, with nothing.
    const lateEvents = firstValueFrom(store.appliedEvents('e1').pipe(toArray())).catch((error: unknown) => error);
    expect(await lateEvents).toEqual([]);
    // A lost task still errors: a subscriber can tell it from a finished one.
    const lost = new TaskStore();
    lost.apply(ev('queued', 'e3', 1));
    const watched = record(lost, 'e3');
    lost.abandon('e3', new ExportLostError('e3', 'its log vanished'));
    lost.close();
    expect(watched.error).toBeInstanceOf(ExportLostError);
    expect(record(lost, 'e3').error).toBeInstanceOf(ExportLostError);
    expect(await firstValueFrom(lost.appliedEvents('e3')).catch((error: unknown) => error)).toBeInstanceOf(ExportLostError);
  });

  it('rejects a wait begun after it at once, resolves one on a final task, and completes its observables', async () => {
    vi.useFakeTimers();
    const store = new TaskStore();
    store.apply(succeeded('e2', 1));
    let completed = 0;
    const observables: Observable<unknown>[] = [store.changes$, store.diagnostics$, store.resyncRequests$, store.errors$];
    for (const o of observables) o.subscribe({ complete: () => completed++ });
    store.close();
    expect(completed).toBe(4);
    const late = await settle(store.settled('e1', { timeout: 1_000 }));
    expect('error' in late && late.error).toBeInstanceOf(ClientClosedError);
    expect(finishedChecked(store, 'e2', undefined, undefined, undefined)).toBeUndefined();
    expect((await store.settled('e2')).phase).toBe('success');
    expect(vi.getTimerCount()).toBe(0);
    expect(store.pendingWaits).toBe(0);
    // Closing again changes nothing.
    store.close(new Error('again'));
    expect((await settle(store.settled('e1'))) as { error: ClientClosedError }).toMatchObject({ error: { exportId: 'e1' } });
  });

  it('ends a timed-out wait as before when no close comes (the close is the only new end)', async () => {
    vi.useFakeTimers();
    const store = new TaskStore();
    const timed = settle(store.settled('e1', { timeout: 50 }));
    await vi.advanceTimersByTimeAsync(50);
    const result = await timed;
    expect('error' in result && result.error).toBeInstanceOf(TimeoutError);
    store.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses an error that is not an Error', () => {
    expect(() => new TaskStore().close(42 as unknown as Error)).toThrow(/TaskStore.close\(\): expected `error` to be an Error or nothing, got 42/);
  });
});
