import { describe, expect, it } from 'vitest';
import { ClientClosedError, ExportLostError } from '../../src/core/errors.js';
import { TaskStore } from '../../src/core/task-store.js';

// forget(): a task is let go only once it no longer changes and nothing waits on or watches it.

const P = 'roads';
const T0 = '2026-01-01T00:00:00.000Z';
const ev = (type: string, id: string, seq: number, extra: Record<string, unknown> = {}) => ({ type, product_id: P, export_id: id, seq, time: T0, ...extra });
const failed = (id: string, seq: number) => ev('failed', id, seq, { failure_type: 'exception', exception_name: 'E', stacktrace: 's' });

describe('TaskStore.forget()', () => {
  it('answers false for an unknown task and for one still changing, and keeps it', () => {
    const store = new TaskStore();
    expect(store.forget('nope')).toBe(false);
    store.apply(ev('queued', 'e1', 1));
    expect(store.forget('e1')).toBe(false);
    expect(store.get('e1')?.seq).toBe(1);
  });

  it('lets a final task go; a later event of it starts a new task', () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    store.apply(failed('e1', 2));
    expect(store.forget('e1')).toBe(true);
    expect(store.get('e1')).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.apply(ev('queued', 'e1', 1)).phase).toBe('pending');
  });

  it('lets an abandoned task go, and a later event of it starts again', async () => {
    const store = new TaskStore();
    store.apply(ev('started', 'e1', 1));
    store.abandon('e1', new ExportLostError('e1', 'gone'));
    expect(store.forget('e1')).toBe(true);
    expect(store.get('e1')).toBeUndefined();
    expect(store.apply(ev('started', 'e1', 1)).phase).toBe('running');
    // Not abandoned any more: a wait on it is pending until the store closes.
    const waiting = store.settled('e1').catch((error: unknown) => error);
    store.close();
    expect(await waiting).toBeInstanceOf(ClientClosedError);
  });

  it('keeps a final task while a watcher or an event listener is being told of its end', () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    const answers: boolean[] = [];
    store.watch('e1').subscribe((s) => {
      if (s.phase === 'failure') answers.push(store.forget('e1'));
    });
    store.apply(failed('e1', 2));
    expect(answers).toEqual([false]);
    expect(store.get('e1')?.phase).toBe('failure');
    expect(store.forget('e1')).toBe(true);

    store.apply(ev('queued', 'e2', 1));
    const told: boolean[] = [];
    store.appliedEvents('e2').subscribe((event) => {
      if (event.type === 'failed') told.push(store.forget('e2'));
    });
    store.apply(failed('e2', 2));
    expect(told).toEqual([false]);
    expect(store.forget('e2')).toBe(true);
  });

  it('keeps a final task while its waits are being settled (a changes$ subscriber told of its end asks)', async () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    const waiting = store.settled('e1');
    const answers: boolean[] = [];
    store.changes$.subscribe((s) => {
      if (s.phase === 'failure') answers.push(store.forget('e1'));
    });
    store.apply(failed('e1', 2));
    expect((await waiting).phase).toBe('failure');
    expect(answers).toEqual([false]);
    expect(store.forget('e1')).toBe(true);
  });

  it('keeps a task a wait holds', async () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    const waiting = store.settled('e1').catch((error: unknown) => error);
    expect(store.forget('e1')).toBe(false);
    store.close();
    expect(await waiting).toBeInstanceOf(ClientClosedError);
  });
});

describe('TaskStore.restore() of a final snapshot', () => {
  it("completes the task's appliedEvents() streams, one or several", () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    const completed: string[] = [];
    store.appliedEvents('e1').subscribe({ complete: () => completed.push('a') });
    store.apply(ev('queued', 'e2', 1));
    store.appliedEvents('e2').subscribe({ complete: () => completed.push('b') });
    store.appliedEvents('e2').subscribe({ complete: () => completed.push('c') });
    const finals = new TaskStore();
    for (const id of ['e1', 'e2']) {
      finals.apply(ev('queued', id, 1));
      finals.apply(failed(id, 2));
    }
    store.restore(finals.get('e1')!);
    expect(completed).toEqual(['a']);
    store.restore(finals.get('e2')!);
    expect(completed).toEqual(['a', 'b', 'c']);
  });
});

describe('TaskStore.appliedEvents() of one task, twice', () => {
  it('tells each subscriber every event, and completes both at the end', () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    const seen: string[] = [];
    store.appliedEvents('e1').subscribe({ next: (e) => seen.push(`a${e.seq}`), complete: () => seen.push('a.') });
    store.appliedEvents('e1').subscribe({ next: (e) => seen.push(`b${e.seq}`), complete: () => seen.push('b.') });
    store.apply(ev('started', 'e1', 2));
    store.apply(failed('e1', 3));
    expect(seen).toEqual(['a2', 'b2', 'a3', 'a.', 'b3', 'b.']);
  });
});

describe('TaskStore.restore() of an abandoned task', () => {
  it('changes nothing: a known task keeps its snapshot, an unknown one is not added', () => {
    const store = new TaskStore();
    const source = new TaskStore();
    source.apply(ev('started', 'e1', 1));
    source.apply(ev('progress', 'e1', 2, { fraction: 0.5 }));
    source.apply(ev('queued', 'e9', 1));
    store.apply(ev('started', 'e1', 1));
    store.abandon('e1', new ExportLostError('e1', 'gone'));
    expect(store.restore(source.get('e1')!).seq).toBe(1);
    expect(store.get('e1')?.seq).toBe(1);
    store.abandon('e9', new ExportLostError('e9', 'gone'));
    expect(store.restore(source.get('e9')!)).toEqual(source.get('e9'));
    expect(store.get('e9')).toBeUndefined();
  });
});

describe('TaskStore.restore() that fills a gap', () => {
  it('tells the event listeners of the held events it lets through, during the restore', () => {
    const store = new TaskStore();
    const source = new TaskStore();
    source.apply(ev('queued', 'e1', 1));
    source.apply(ev('started', 'e1', 2));
    store.apply(ev('queued', 'e1', 1));
    const seen: number[] = [];
    store.appliedEvents('e1').subscribe((e) => seen.push(e.seq));
    store.apply(ev('progress', 'e1', 3, { fraction: 0.5 }));
    expect(seen).toEqual([]);
    store.restore(source.get('e1')!);
    expect(store.get('e1')?.seq).toBe(3);
    expect(seen).toEqual([3]);
  });
});

describe('a wait after another task was abandoned', () => {
  it('waits for its own task', async () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    store.apply(ev('queued', 'e2', 1));
    store.abandon('e1', new ExportLostError('e1', 'gone'));
    const waiting = store.settled('e2');
    store.apply(failed('e2', 2));
    expect((await waiting).phase).toBe('failure');
  });
});

describe('abandon() of a final task', () => {
  it('does nothing: its waits and watches still answer its final snapshot', async () => {
    const store = new TaskStore();
    store.apply(ev('queued', 'e1', 1));
    store.apply(failed('e1', 2));
    store.abandon('e1', new ExportLostError('e1', 'gone'));
    expect((await store.settled('e1')).phase).toBe('failure');
    const seen: string[] = [];
    store.watch('e1').subscribe({ next: (s) => seen.push(s.phase), error: () => seen.push('error'), complete: () => seen.push('complete') });
    expect(seen).toEqual(['failure', 'complete']);
  });
});

describe('the messages of ClientClosedError and ExportLostError', () => {
  it('say which export, and what was closed', () => {
    expect(new ClientClosedError().message).toBe('The wait ended because the client was closed before the task was final');
    expect(new ClientClosedError('e1', 'the store').message).toBe('The wait for export e1 ended because the store was closed before the task was final');
    expect(new ClientClosedError('e1').exportId).toBe('e1');
    expect(new ExportLostError('e1', 'its job was removed').message).toBe('Export e1 is lost and will never be final: its job was removed');
  });
});
