import { createActor, type InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { exportTaskMachine } from '../../machines/export-task.js';
import { createClient } from '../../src/index.node.js';
import { createTestBackend } from '../../src/testing/index.js';

function summary(e: InspectionEvent): string {
  switch (e.type) {
    case '@xstate.event':
      return `${e.type} ${e.event.type}`;
    case '@xstate.snapshot':
    case '@xstate.microstep':
      return `${e.type} ${e.event.type} ${String((e.snapshot as { value?: unknown }).value)}`;
    default:
      return e.type;
  }
}

describe('createClient({ inspect })', () => {
  it('forwards the inspection events of its tasks, as an actor of the machine fed the same events would emit them', async () => {
    const backend = createTestBackend();
    const seen: InspectionEvent[] = [];
    const client = createClient({ backend, inspect: (e) => seen.push(e) });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('exports/roads.ndjson');
    backend.emit(task.tuid, { type: 'started' });
    backend.emit(task.tuid, { type: 'progress', fraction: 0.5 });
    backend.emit(task.tuid, { type: 'failed', failure_type: 'oom', exception_name: 'MemoryError', stacktrace: null, runtime: 2, peak_memory_usage: 1 << 30 });
    await task.getResult({ wait: true, timeout: 1_000 });

    const reference: InspectionEvent[] = [];
    const actor = createActor(exportTaskMachine, { input: { productId: 'roads', exportId: task.tuid }, inspect: (e) => reference.push(e) }).start();
    for (const event of backend.history(task.tuid)) actor.send(event);
    const expected = reference.map(summary);
    actor.stop();

    expect(seen.map(summary)).toEqual(expected);
    expect(seen.at(-1)).toMatchObject({ type: '@xstate.snapshot', snapshot: { value: 'failure', status: 'done', context: { progress: 0.5 } } });
    expect(new Set(seen.map((e) => e.actorRef.sessionId))).toEqual(new Set([`export-task:roads/${task.tuid}`]));
    await client.close();
  });

  it('takes an observer with next (as createBrowserInspector().inspect is), and stops forwarding once the client is closed', async () => {
    const backend = createTestBackend();
    const seen: InspectionEvent[] = [];
    const client = createClient({ backend, inspect: { next: (e) => seen.push(e) } });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('out.ndjson');
    expect(seen.map((e) => e.type)).toEqual(['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@xstate.event', '@xstate.microstep', '@xstate.snapshot']);
    await client.close();
    client.store.apply({ type: 'started', product_id: 'roads', export_id: task.tuid, seq: 2, time: new Date().toISOString() });
    expect(seen).toHaveLength(6);
    expect(backend.openStreams).toBe(0);
  });

  it('leaves a task actor uninspected unless asked, so that a task does not show twice', async () => {
    const backend = createTestBackend();
    const seen: InspectionEvent[] = [];
    const client = createClient({ backend, inspect: (e) => seen.push(e) });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('out.ndjson');
    const actor = task.actor();
    backend.emit(task.tuid, { type: 'started' });
    expect(actor.getSnapshot().value).toBe('running');
    expect(new Set(seen.map((e) => e.actorRef.sessionId))).toEqual(new Set([`export-task:roads/${task.tuid}`]));
    actor.stop();
    await client.close();
  });

  it('rejects an inspect that is neither a function nor an observer, at once', () => {
    expect(() => createClient({ backend: createTestBackend(), inspect: 'console' as never })).toThrow(
      new TypeError(
        'createClient(): expected `inspect` to be a function receiving XState inspection events, or an observer with `next` (such as createBrowserInspector().inspect), got "console"',
      ),
    );
  });
});
