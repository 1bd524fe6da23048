/**
 * Heap: the bytes each task keeps reachable once its 6 events are applied (goal 1: the store,
 * the hand-written reducer, an XState actor per task), and the bytes each pending wait with a
 * timeout holds (goal 2, for information: `settled`, a bare promise, xstate's `waitFor`). Runs
 * after every timing, because it forces full GCs (see `harness.ts`).
 */
import { waitFor, type Actor } from 'xstate';
import type { exportTaskMachine } from '../../machines/export-task.js';
import { parseTaskEvent } from '../../src/core/parse-task-event.js';
import { TaskStore } from '../../src/core/task-store.js';
import { BareWaits } from '../baselines/bare-promises.js';
import { reduce, type PlainTask } from '../baselines/reducer.js';
import { exportId, forEachInterleaved, succeededEvent } from '../events.js';
import { attachedBytes, retainedBytes } from '../harness.js';
import type { Plan } from '../plan.js';
import { row, type Row } from '../report.js';
import { sendToActor } from './apply.js';
import { runningActors, runningStore, TIMEOUT } from './waits.js';

export async function heapCase(plan: Plan, alternativesToo: boolean): Promise<{ rows: Row[]; alternatives: Row[] }> {
  const rows: Row[] = [];
  const alternatives: Row[] = [];
  for (const n of plan.sizes) {
    plan.log(`goal 1, N=${n}: retained heap`);
    // The events are built on the fly, so that nothing but what the structure keeps survives.
    const rounds = n >= 100_000 ? 1 : 3;
    const ours = retainedBytes(
      () => {
        const store = new TaskStore();
        forEachInterleaved(n, (event) => store.apply(event));
        return store;
      },
      n,
      rounds,
    );
    const reducer = retainedBytes(
      () => {
        const tasks = new Map<string, PlainTask>();
        forEachInterleaved(n, (event) => reduce(tasks, event));
        return tasks;
      },
      n,
      rounds,
    );
    rows.push(row({ goal: '1 heap', subject: 'ours', n, unit: 'B/task', value: ours, baseline: reducer, baselineName: 'reducer', target: 4 }));
    // An actor's heap does not depend on N (4.6 kB at 1,000 and at 10,000); 100,000 of them
    // would add half a minute to the run.
    if (alternativesToo && n <= 10_000) {
      const actors = retainedBytes(
        () => {
          const map = new Map<string, Actor<typeof exportTaskMachine>>();
          forEachInterleaved(n, (event) => sendToActor(map, event));
          return map;
        },
        n,
        1,
      );
      alternatives.push(
        row({ goal: '1 heap', subject: 'XState actor per task', n, unit: 'B/task', value: actors, baseline: reducer, baselineName: 'reducer', target: 4 }),
      );
    }

    plan.log(`goal 2, N=${n}: heap per wait`);
    const ids = Array.from({ length: n }, (_, i) => exportId(i));
    const finals = Array.from({ length: n }, (_, i) => parseTaskEvent(succeededEvent(i, 3)));
    const waitRounds = n >= 100_000 ? 1 : 3;
    const settled = await attachedBytes(
      () => runningStore(n),
      (store) => ids.map((id) => store.settled(id, { timeout: TIMEOUT })),
      async (store, waits) => {
        for (const event of finals) store.applyEvent(event);
        await Promise.all(waits);
      },
      n,
      waitRounds,
    );
    const bare = await attachedBytes(
      () => new BareWaits<string>(),
      (waits) => ids.map((id) => waits.wait(id)),
      async (waits, promises) => {
        for (const id of ids) waits.settle(id, id);
        await Promise.all(promises);
      },
      n,
      waitRounds,
    );
    rows.push(
      row({ goal: '2 heap', subject: 'ours', n, unit: 'B/wait', value: settled, baseline: bare, baselineName: 'bare promise', target: null, note: 'settled() with a timeout, pending' }),
    );
    if (!alternativesToo || n > 10_000) continue;
    const waitForBytes = await attachedBytes(
      () => runningActors(n),
      (actors) => actors.map((actor) => waitFor(actor, (s) => s.status === 'done', { timeout: TIMEOUT })),
      async (actors, waits) => {
        for (let i = 0; i < n; i++) actors[i]!.send(finals[i]!);
        await Promise.all(waits);
      },
      n,
      1,
    );
    alternatives.push(
      row({ goal: '2 heap', subject: 'xstate waitFor', n, unit: 'B/wait', value: waitForBytes, baseline: bare, baselineName: 'bare promise', target: null }),
    );
  }
  return { rows, alternatives };
}
