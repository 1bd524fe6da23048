/**
 * Focused script for profiling goal 1: `TaskStore.apply` over N tasks x 6 interleaved events,
 * split into its parts (validation alone, folding pre-validated events alone), next to the
 * hand-written reducer. CPU time, median of the rounds.
 *
 *   node --import tsx bench/profile/apply.ts [N] [rounds] [only]
 *
 * Profile a bundle of it for line-level ticks (BENCHMARKS.md, "How to profile").
 *
 * `only` (apply | parse | applyEvent | reducer) runs that part alone, for a profile of it.
 */
import type { TaskEvent } from '../../src/core/events.js';
import { parseTaskEvent } from '../../src/core/parse-task-event.js';
import { TaskStore } from '../../src/core/task-store.js';
import { reduce, type PlainTask } from '../baselines/reducer.js';
import { interleavedEvents } from '../events.js';
import { cpuNow, keep, median } from '../harness.js';

const n = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 20);
const only = process.argv[4];
const events = interleavedEvents(n);
const parsed: TaskEvent[] = events.map((event) => parseTaskEvent(event));

const parts: Record<string, () => unknown> = {
  apply: () => {
    const store = new TaskStore();
    for (const event of events) store.apply(event);
    return store;
  },
  parse: () => {
    let last: unknown;
    for (const event of events) last = parseTaskEvent(event);
    return last;
  },
  applyEvent: () => {
    const store = new TaskStore();
    for (const event of parsed) store.applyEvent(event);
    return store;
  },
  reducer: () => {
    const tasks = new Map<string, PlainTask>();
    for (const event of events) reduce(tasks, event);
    return tasks;
  },
};
const times: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(parts)) {
    if (only !== undefined && name !== only) continue;
    const t0 = cpuNow();
    keep(run());
    (times[name] ??= []).push((cpuNow() - t0) / events.length);
  }
}
console.log(
  `N=${n}, ns per event (CPU time, median of ${rounds}): ` +
    Object.entries(times)
      .map(([name, t]) => `${name} ${median(t).toFixed(0)}`)
      .join(', '),
);
