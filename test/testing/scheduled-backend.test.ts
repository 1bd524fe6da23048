import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.node.js';
import type { TaskEvent } from '../../src/core/events.js';
import { replay } from '../../src/core/replay.js';
import { createScheduledBackend, taskHistoryArb, TASK_OUTCOMES, type ScheduledBackend } from '../../src/testing/index.js';

// Each run starts a client and plays a history through the scheduler: a few ms per run.
const RUNS = Math.min(fc.readConfigureGlobal().numRuns ?? 100, 100);

/** The export's history on the backend, as the truth the client must end at. */
const truth = (backend: ScheduledBackend, exportId: string) => replay(backend.history(exportId));

/** Starts a client on the backend, exports once and plays `history` on the export; resolves with the task. */
async function exportAndPlay(s: fc.Scheduler, backend: ScheduledBackend, history: readonly TaskEvent[]) {
  const client = createClient({ backend });
  const roads = await client.createFeatureCollection('roads');
  const task = await s.waitFor(roads.export('exports/roads.ndjson'));
  const played = backend.play(task.tuid, history);
  return { client, task, played };
}

describe('createScheduledBackend', () => {
  it('brings the client to the backend\'s truth whatever order the scheduler delivers events and answers in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), taskHistoryArb({ outcome: TASK_OUTCOMES }), async (s, history) => {
        const backend = createScheduledBackend(s);
        const { client, task, played } = await exportAndPlay(s, backend, history);
        // A status request races with the stream.
        const refreshed = task.refresh();
        await s.waitFor(played);
        await s.waitFor(refreshed);
        await s.waitIdle();
        expect(task.snapshot).toEqual(truth(backend, task.tuid));
        await client.close();
        expect(backend.openStreams).toBe(0);
        expect(client.store.pendingWaits).toBe(0);
        expect(client.store.timerArmed).toBe(false);
        await backend.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('settles getResult exactly when the played history ends final, however deliveries interleave', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), taskHistoryArb({ outcome: ['success', 'cancelled'] }), async (s, history) => {
        const backend = createScheduledBackend(s);
        const { client, task, played } = await exportAndPlay(s, backend, history);
        const settled = task.getResult({ wait: true });
        await s.waitFor(played);
        await s.waitFor(settled);
        expect(task.ready).toBe(true);
        expect(await task.status).toBe(truth(backend, task.tuid).attributes!.status);
        await client.close();
        await backend.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('reaches the truth after a cut, whether the stream resumes by cursor or only the reconciliation makes good', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), taskHistoryArb({ outcome: TASK_OUTCOMES }), fc.boolean(), fc.nat(), async (s, history, resume, at) => {
        const backend = createScheduledBackend(s);
        const { client, task, played } = await exportAndPlay(s, backend, history);
        // Cut the stream after a few scheduled steps, while the job goes on.
        for (let i = 0; i < at % 4 && s.count() > 0; i++) await s.waitOne();
        backend.disconnect('roads');
        await s.waitFor(played);
        backend.reconnect('roads', { resume });
        await s.waitIdle();
        expect(task.snapshot).toEqual(truth(backend, task.tuid));
        await client.close();
        await backend.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('loses the events sent during a cut until the stream reconnects', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const backend = createScheduledBackend(s, { scheduleRequests: [] });
        const client = createClient({ backend });
        const roads = await client.createFeatureCollection('roads');
        const task = await roads.export('out.ndjson');
        await s.waitIdle();
        backend.disconnect('roads');
        backend.emit(task.tuid, { type: 'started' });
        await s.waitIdle();
        expect(task.snapshot.phase).toBe('pending');
        backend.reconnect('roads', { resume: false });
        await s.waitIdle();
        // The client's reconciliation (a status request) tells it what the cut lost.
        expect(task.snapshot.phase).toBe('running');
        expect(backend.requests.status).toBe(1);
        await client.close();
        await backend.close();
      }),
      { numRuns: 10 },
    );
  });

  it('explores different interleavings across runs, and replays the same ones from the same seed', async () => {
    const orders = async (seed: number): Promise<string[]> => {
      const seen: string[] = [];
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), async (s) => {
          const backend = createScheduledBackend(s);
          const client = createClient({ backend });
          const delivered: string[] = [];
          const sub = client.store.changes$.subscribe((snap) => delivered.push(`${snap.phase}@${snap.seq}`));
          const roads = await client.createFeatureCollection('roads');
          const task = await s.waitFor(roads.export('out.ndjson'));
          backend.emit(task.tuid, { type: 'started' });
          backend.emit(task.tuid, { type: 'progress', fraction: 0.5 });
          backend.emit(task.tuid, { type: 'log', line: 'half way' });
          const refreshed = task.refresh();
          await s.waitFor(refreshed);
          await s.waitIdle();
          sub.unsubscribe();
          seen.push(delivered.join(' '));
          await client.close();
          await backend.close();
        }),
        { seed, numRuns: 30 },
      );
      return seen;
    };
    const first = await orders(20261129);
    expect(new Set(first).size).toBeGreaterThan(1);
    expect(await orders(20261129)).toEqual(first);
  });

  it('shrinks a race to a replayable counterexample: a check that only holds in order fails, and the seed and path give it again', async () => {
    const property = fc.asyncProperty(fc.scheduler(), async (s) => {
      const backend = createScheduledBackend(s, { scheduleRequests: [] });
      const client = createClient({ backend });
      const roads = await client.createFeatureCollection('roads');
      const task = await roads.export('out.ndjson');
      const applied: number[] = [];
      const sub = client.store.changes$.subscribe((snap) => applied.push(snap.seq));
      backend.emit(task.tuid, { type: 'started' });
      backend.emit(task.tuid, { type: 'log', line: 'a' });
      await s.waitIdle();
      sub.unsubscribe();
      await client.close();
      await backend.close();
      // Wrong on purpose: when seq 3 arrives before seq 2, the store holds it and commits once.
      return applied.join(',') === '1,2,3' || applied.join(',') === '2,3';
    });
    const first = await fc.check(property, { seed: 42, numRuns: 200 });
    expect(first.failed).toBe(true);
    const again = await fc.check(property, { seed: first.seed, path: first.counterexamplePath!, numRuns: 1, endOnFailure: true });
    expect(again.failed).toBe(true);
    // The same deliveries in the same order, of the same events (the backend's clock is logical).
    // (A scheduler prints its report: which task was released when, with what.)
    const report = (details: fc.RunDetails<[fc.Scheduler]>): string => fc.stringify(details.counterexample?.[0]);
    expect(report(first)).toMatch(/promise::log seq 3 of export-1/);
    expect(report(again)).toBe(report(first));
  });

  it('keeps each stream in order with reorder: false, still interleaved with the test\'s own steps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), taskHistoryArb({ outcome: TASK_OUTCOMES, maxSnapshots: 0 }), async (s, history) => {
        const backend = createScheduledBackend(s, { reorder: false, scheduleRequests: [] });
        const client = createClient({ backend });
        const seqs: number[] = [];
        const sub = client.store.changes$.subscribe((snap) => seqs.push(snap.seq));
        const roads = await client.createFeatureCollection('roads');
        const task = await roads.export('out.ndjson');
        await s.waitFor(backend.play(task.tuid, history));
        await s.waitIdle();
        sub.unsubscribe();
        // Every event applied as it arrived: none held for a gap, so each commit is the next seq.
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
        expect(task.snapshot).toEqual(truth(backend, task.tuid));
        await client.close();
        await backend.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('throws a TypeError for something that is not a scheduler, or a bad option', () => {
    expect(() => createScheduledBackend({} as fc.Scheduler)).toThrow(/expected a scheduler from fc.scheduler\(\)/);
    const [s] = fc.sample(fc.scheduler(), { numRuns: 1, seed: 1 });
    expect(() => createScheduledBackend(s!, { reorder: true, scheduleRequests: ['events' as 'status'] })).toThrow(
      /expected `scheduleRequests` to list some of createProduct, addFeatures/,
    );
    expect(() => createScheduledBackend(s!, { order: 'fifo' } as never)).toThrow(/unknown option `order`/);
  });
});
