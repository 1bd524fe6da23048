/**
 * Goal 3: a `watch(id)` subscription on every task; what it adds per event must not grow with
 * the number of tasks. Judged at each N against the same store and events with no subscriber
 * (which also grows with N: cache misses and the GC of more live tasks). The alternative is one
 * rxjs `filter` per subscriber on the stream of all changes, which grows with N.
 */
import type { Subscription } from 'rxjs';
import { TaskStore } from '../../src/core/task-store.js';
import { subscribeFiltered } from '../baselines/filter-per-subscriber.js';
import { exportId, interleavedEvents } from '../events.js';
import { compareTimes, variant } from '../harness.js';
import type { Plan } from '../plan.js';
import { row, type Row } from '../report.js';

/** Tasks whose events are applied, with all N subscriptions attached, for the O(N) alternative. */
export const FILTER_SAMPLE_TASKS = 100;

let seen = 0;
const onChange = (): void => {
  seen++;
};

export interface WatchResult {
  readonly rows: Row[];
  /** Per event with no subscriber, at each N: the baseline of the alternative too. */
  readonly bare: ReadonlyMap<number, number>;
}

export async function watchCase(plan: Plan): Promise<WatchResult> {
  const rows: Row[] = [];
  const watchedAt = new Map<number, number>();
  const bareAt = new Map<number, number>();
  for (const n of plan.sizes) {
    const events = interleavedEvents(n);
    const count = events.length;
    plan.log(`goal 3, N=${n}: a watch() on every task`);
    const apply = (store: TaskStore): void => {
      for (const event of events) store.apply(event);
    };
    const { times, ratio } = await compareTimes(
      {
        bare: variant(() => new TaskStore(), apply),
        watched: variant(() => {
          const store = new TaskStore();
          for (let i = 0; i < n; i++) store.watch(exportId(i)).subscribe(onChange);
          return store;
        }, apply),
      },
      plan.rounds(n),
      plan.repeat(n),
    );
    watchedAt.set(n, times.watched / count);
    bareAt.set(n, times.bare / count);
    rows.push(
      row({
        goal: '3 watch()',
        subject: 'ours',
        n,
        unit: 'ns/event',
        value: times.watched / count,
        baseline: times.bare / count,
        baselineName: 'no subscriber',
        ratio: ratio('watched', 'bare'),
        target: 2,
      }),
    );
  }
  if (seen === 0) throw new Error('the subscribers saw nothing');
  const first = plan.sizes[0]!;
  const last = plan.sizes[plan.sizes.length - 1]!;
  rows.push(
    row({
      goal: '3 watch()',
      subject: 'ours',
      n: last,
      unit: 'x',
      value: watchedAt.get(last)! / watchedAt.get(first)!,
      baseline: bareAt.get(last)! / bareAt.get(first)!,
      baselineName: 'no subscriber',
      target: 2,
      note: `growth of the per-event cost from N=${first} to N=${last}, with a watch on every task (ours) and with none (baseline)`,
    }),
  );
  return { rows, bare: bareAt };
}

/**
 * The alternative: one `filter` per subscriber on `changes$`. Every event runs all N
 * predicates, so it is timed on the histories of {@link FILTER_SAMPLE_TASKS} tasks (600 events)
 * with all N subscriptions attached; the whole history at N = 100,000 would take an hour.
 */
export async function filterPerSubscriber(plan: Plan, bare: ReadonlyMap<number, number>): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const perEventAt = new Map<number, number>();
  const sample = interleavedEvents(FILTER_SAMPLE_TASKS);
  for (const n of plan.sizes) {
    plan.log(`goal 3, N=${n}: rxjs filter per subscriber (${sample.length} events)`);
    const { times } = await compareTimes(
      {
        filtered: variant(
          () => {
            const store = new TaskStore();
            const subscriptions: Subscription[] = [];
            for (let i = 0; i < n; i++) subscriptions.push(subscribeFiltered(store.changes$, exportId(i), onChange));
            return store;
          },
          (store) => {
            for (const event of sample) store.apply(event);
          },
        ),
      },
      plan.alternativeRounds(n),
      plan.repeat(n),
    );
    const perEvent = times.filtered / sample.length;
    perEventAt.set(n, perEvent);
    const whole = (perEvent * 6 * n) / 1e9;
    rows.push(
      row({
        goal: '3 watch()',
        subject: 'rxjs filter per subscriber',
        n,
        unit: 'ns/event',
        value: perEvent,
        baseline: bare.get(n)!,
        baselineName: 'no subscriber',
        target: 2,
        note: `timed on ${sample.length} events with all ${n} subscriptions attached; the whole history (${6 * n} events) would take about ${whole.toFixed(1)} s`,
      }),
    );
    notes.push(`rxjs filter per subscriber, N=${n}: timed on ${sample.length} events; all ${6 * n} events would take about ${whole.toFixed(1)} s a round`);
  }
  const first = plan.sizes[0]!;
  const last = plan.sizes[plan.sizes.length - 1]!;
  rows.push(
    row({
      goal: '3 watch()',
      subject: 'rxjs filter per subscriber',
      n: last,
      unit: 'x',
      value: perEventAt.get(last)! / perEventAt.get(first)!,
      baseline: bare.get(last)! / bare.get(first)!,
      baselineName: 'no subscriber',
      target: 2,
      note: `growth of the per-event cost from N=${first} to N=${last}`,
    }),
  );
  return { rows, notes };
}
