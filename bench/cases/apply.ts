/**
 * Goal 1: `TaskStore.apply` over N tasks x 6 interleaved events, time per event against the
 * hand-written reducer; and the alternative, an XState actor per task. (The heap per task is
 * measured by `heap.ts`, after every timing.)
 */
import { createActor, type Actor } from 'xstate';
import { exportTaskMachine } from '../../machines/export-task.js';
import { parseTaskEvent } from '../../src/core/parse-task-event.js';
import { TaskStore } from '../../src/core/task-store.js';
import { reduce, type PlainTask } from '../baselines/reducer.js';
import { interleavedEvents, type WireEvent } from '../events.js';
import { compareTimes, variant, type Variant } from '../harness.js';
import type { Plan } from '../plan.js';
import { row, type Row } from '../report.js';

type TaskActor = Actor<typeof exportTaskMachine>;

/** What a user would write with XState alone: validate, route by id, one actor per task. */
export function sendToActor(actors: Map<string, TaskActor>, input: WireEvent): void {
  const event = parseTaskEvent(input);
  let actor = actors.get(event.export_id);
  if (actor === undefined) {
    actor = createActor(exportTaskMachine, { input: { productId: event.product_id, exportId: event.export_id } }).start();
    actors.set(event.export_id, actor);
  }
  actor.send(event);
}

function reducerVariant(events: readonly WireEvent[]): Variant<never> {
  return variant(
    () => new Map<string, PlainTask>(),
    (tasks) => {
      for (const event of events) reduce(tasks, event);
    },
  );
}

export async function applyCase(plan: Plan): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of plan.sizes) {
    const events = interleavedEvents(n);
    const count = events.length;
    plan.log(`goal 1, N=${n}: TaskStore.apply against the reducer`);
    const { times, ratio } = await compareTimes(
      {
        ours: variant(
          () => new TaskStore(),
          (store) => {
            for (const event of events) store.apply(event);
          },
        ),
        reducer: reducerVariant(events),
      },
      plan.rounds(n),
      plan.repeat(n),
    );
    rows.push(
      row({
        goal: '1 apply',
        subject: 'ours',
        n,
        unit: 'ns/event',
        value: times.ours / count,
        baseline: times.reducer / count,
        baselineName: 'reducer',
        ratio: ratio('ours', 'reducer'),
        target: 5,
      }),
    );
  }
  return rows;
}

/** The alternative: an XState actor per task, timed in the same rounds as the reducer. */
export async function actorPerTask(plan: Plan): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of plan.sizes) {
    const events = interleavedEvents(n);
    const count = events.length;
    plan.log(`goal 1, N=${n}: an XState actor per task`);
    const { times, ratio } = await compareTimes(
      {
        actors: variant(
          () => new Map<string, TaskActor>(),
          (actors) => {
            for (const event of events) sendToActor(actors, event);
          },
        ),
        reducer: reducerVariant(events),
      },
      plan.alternativeRounds(n),
      plan.repeat(n),
    );
    rows.push(
      row({
        goal: '1 apply',
        subject: 'XState actor per task',
        n,
        unit: 'ns/event',
        value: times.actors / count,
        baseline: times.reducer / count,
        baselineName: 'reducer',
        ratio: ratio('actors', 'reducer'),
        target: 5,
        note: 'createActor(exportTaskMachine).start() on its first event, then send(); events validated by parseTaskEvent',
      }),
    );
  }
  return rows;
}
