/**
 * Goal 2: N waits with a timeout (`TaskStore.settled`, `ExportTask.getResult`), attached to
 * running tasks and then settled by their final events, against bare promises (their resolvers
 * kept in a Map, called once the final event is applied); and the alternative, XState's
 * `waitFor` on an actor per task.
 *
 * The final events must be applied whether anyone waits or not, so a wait's cost is what it
 * adds to them: each variant is timed, pair by pair, against the same events applied with no
 * wait (see `pairedCost`).
 */
import { createActor, waitFor, type Actor } from 'xstate';
import { exportTaskMachine } from '../../machines/export-task.js';
import { createClient } from '../../src/index.node.js';
import type { ExportTask } from '../../src/client/export-task.js';
import { isFinalPhase, type TaskEvent } from '../../src/core/events.js';
import { parseTaskEvent } from '../../src/core/parse-task-event.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { TaskStore } from '../../src/core/task-store.js';
import { BareWaits } from '../baselines/bare-promises.js';
import { exportId, PRODUCT, succeededEvent, taskEvent, type WireEvent } from '../events.js';
import { liveTimers, pairedCost, pairedCosts } from '../harness.js';
import { MemoryBackend } from '../memory-backend.js';
import type { Plan } from '../plan.js';
import { row, type Row } from '../report.js';

/** Long enough never to fire during a round. */
export const TIMEOUT = 600_000;

type TaskActor = Actor<typeof exportTaskMachine>;

export interface TimerCheck {
  readonly subject: string;
  readonly n: number;
  /** Timers the process gained while the N waits were attached. */
  readonly timersWhileWaiting: number;
  /** Timers left once every wait had settled. */
  readonly timersAfter: number;
  readonly note: string;
}

export function runningStore(n: number): TaskStore {
  const store = new TaskStore();
  for (let i = 0; i < n; i++) store.apply(taskEvent(0, i));
  for (let i = 0; i < n; i++) store.apply(taskEvent(1, i));
  return store;
}

export function runningActors(n: number): TaskActor[] {
  const actors: TaskActor[] = [];
  for (let i = 0; i < n; i++) {
    const actor = createActor(exportTaskMachine, { input: { productId: PRODUCT, exportId: exportId(i) } }).start();
    actor.send(parseTaskEvent(taskEvent(0, i)));
    actor.send(parseTaskEvent(taskEvent(1, i)));
    actors.push(actor);
  }
  return actors;
}

interface ClientRound {
  readonly backend: MemoryBackend;
  readonly tasks: ExportTask[];
  readonly store: TaskStore;
}

async function runningClient(n: number): Promise<ClientRound> {
  const backend = new MemoryBackend();
  const client = createClient({ backend });
  const collection = client.featureCollection(PRODUCT);
  const tasks: ExportTask[] = [];
  for (let i = 0; i < n; i++) tasks.push(await collection.export(`exports/${exportId(i)}.ndjson`));
  const started: WireEvent[] = [];
  for (let i = 0; i < n; i++) started.push(taskEvent(1, i));
  backend.emit(started);
  return { backend, tasks, store: client.store };
}

export interface WaitsResult {
  readonly rows: Row[];
  readonly timers: TimerCheck[];
  /** The cost of a bare promise at each N, the baseline of the alternatives too. */
  readonly bareWait: ReadonlyMap<number, number>;
}

function finalEvents(n: number): { finals: WireEvent[]; parsedFinals: TaskEvent[] } {
  const finals = Array.from({ length: n }, (_, i) => succeededEvent(i, 3));
  // Validated once: what is timed is the waits and the fold, not parsing.
  return { finals, parsedFinals: finals.map((event) => parseTaskEvent(event)) };
}

export async function waitsCase(plan: Plan): Promise<WaitsResult> {
  const rows: Row[] = [];
  const timers: TimerCheck[] = [];
  const bareWaitAt = new Map<number, number>();
  for (const n of plan.sizes) {
    const ids = Array.from({ length: n }, (_, i) => exportId(i));
    const { finals, parsedFinals } = finalEvents(n);
    const rounds = plan.rounds(n);
    const repeat = plan.repeat(n);

    plan.log(`goal 2, N=${n}: TaskStore.settled against bare promises`);
    const applyFinals = (store: TaskStore): void => {
      for (const event of parsedFinals) store.applyEvent(event);
    };
    const { settled, bare } = await pairedCosts(
      () => runningStore(n),
      applyFinals,
      {
        settled: async (store: TaskStore) => {
          const waits = ids.map((id) => store.settled(id, { timeout: TIMEOUT }));
          applyFinals(store);
          await Promise.all(waits);
        },
        bare: async (store: TaskStore) => {
          const bareWaits = new BareWaits<ExportTaskSnapshot>();
          const waits = ids.map((id) => bareWaits.wait(id));
          for (const event of parsedFinals) {
            const snapshot = store.applyEvent(event);
            if (isFinalPhase(snapshot.phase)) bareWaits.settle(snapshot.exportId, snapshot);
          }
          await Promise.all(waits);
        },
      },
      rounds,
      repeat,
    );
    const bareWait = bare.cost / n;
    bareWaitAt.set(n, bareWait);
    rows.push(
      row({
        goal: '2 settled()',
        subject: 'ours',
        n,
        unit: 'ns/wait',
        value: settled.cost / n,
        baseline: bareWait,
        baselineName: 'bare promise',
        target: 3,
        note: `end to end with the final events: ${(settled.subject / n).toFixed(0)} vs ${(bare.subject / n).toFixed(0)} ns per task (${(settled.subject / bare.subject).toFixed(2)}x); the events alone ${(settled.control / n).toFixed(0)} ns`,
      }),
    );
    {
      const store = runningStore(n);
      const before = liveTimers();
      const waits = ids.map((id) => store.settled(id, { timeout: TIMEOUT }));
      const during = liveTimers() - before;
      const armed = store.timerArmed;
      applyFinals(store);
      await Promise.all(waits);
      timers.push({
        subject: 'TaskStore.settled',
        n,
        timersWhileWaiting: during,
        timersAfter: liveTimers() - before,
        note: `timerArmed ${String(armed)} while waiting, ${String(store.timerArmed)} after; pendingWaits ${store.pendingWaits} after`,
      });
    }

    plan.log(`goal 2, N=${n}: ExportTask.getResult against bare promises`);
    const emitFinals = ({ backend }: ClientRound): void => {
      for (const event of finals) backend.emit([event]);
    };
    // Paired with bare promises on the same client rounds, so that both costs carry the same
    // spell of the machine. The bare promises are settled once the final events are in.
    const client = await pairedCosts(
      () => runningClient(n),
      emitFinals,
      {
        getResult: async (round: ClientRound) => {
          const waits = round.tasks.map((task) => task.getResult({ wait: true, timeout: TIMEOUT }));
          emitFinals(round);
          await Promise.all(waits);
        },
        bare: async (round: ClientRound) => {
          const bareWaits = new BareWaits<undefined>();
          const waits = ids.map((id) => bareWaits.wait(id));
          emitFinals(round);
          for (const id of ids) bareWaits.settle(id, undefined);
          await Promise.all(waits);
        },
      },
      // Building N tasks through the client takes a while: one round at the largest size.
      n >= 100_000 ? 1 : rounds,
      repeat,
    );
    rows.push(
      row({
        goal: '2 getResult()',
        subject: 'ours',
        n,
        unit: 'ns/wait',
        value: client.getResult.cost / n,
        baseline: client.bare.cost / n,
        baselineName: 'bare promise',
        target: 3,
        note: `paired with bare promises on the same client rounds; the final events through the client's event stream (${(client.getResult.control / n).toFixed(0)} ns per task) subtracted`,
      }),
    );
  }
  return { rows, timers, bareWait: bareWaitAt };
}

/** The alternative: xstate's `waitFor` with a timeout on an actor per task. */
export async function waitForPerTask(plan: Plan, bareWait: ReadonlyMap<number, number>): Promise<{ rows: Row[]; timers: TimerCheck[] }> {
  const rows: Row[] = [];
  const timers: TimerCheck[] = [];
  for (const n of plan.sizes) {
    const { parsedFinals } = finalEvents(n);
    plan.log(`goal 2, N=${n}: xstate waitFor on an actor per task`);
    const sendFinals = (actors: TaskActor[]): void => {
      for (let i = 0; i < n; i++) actors[i]!.send(parsedFinals[i]!);
    };
    const waitForCost = await pairedCost(
      () => runningActors(n),
      sendFinals,
      async (actors) => {
        const waits = actors.map((actor) => waitFor(actor, (s) => s.status === 'done', { timeout: TIMEOUT }));
        sendFinals(actors);
        await Promise.all(waits);
      },
      plan.alternativeRounds(n),
      plan.repeat(n),
    );
    rows.push(
      row({
        goal: '2 waits',
        subject: 'xstate waitFor',
        n,
        unit: 'ns/wait',
        value: waitForCost.cost / n,
        baseline: bareWait.get(n)!,
        baselineName: 'bare promise',
        target: 3,
        note: `the actors' own handling of the final events (${(waitForCost.control / n).toFixed(0)} ns per task) subtracted`,
      }),
    );
    // At 100,000 the answer is known (one timer per wait) and the check would build 100,000 more actors.
    if (n > 10_000) continue;
    const actors = runningActors(n);
    const before = liveTimers();
    const waits = actors.map((actor) => waitFor(actor, (s) => s.status === 'done', { timeout: TIMEOUT }));
    const during = liveTimers() - before;
    sendFinals(actors);
    await Promise.all(waits);
    timers.push({ subject: 'xstate waitFor', n, timersWhileWaiting: during, timersAfter: liveTimers() - before, note: 'one setTimeout per wait' });
  }
  return { rows, timers };
}
