/**
 * Checks that the store's snapshots share hidden classes (V8 "maps"): for each event of the
 * history, how many tasks' snapshots have the same hidden class as the previous task's. A
 * snapshot built as `{ ...context, phase, seq }` gave almost every new task a class of its
 * own on Node 20 (see BENCHMARKS.md, "Profiles and optimisations").
 *
 *   node --allow-natives-syntax --import tsx bench/profile/hidden-classes.ts
 */
import { initialSnapshot } from '../../src/core/internal/advance.js';
import { INITIAL_PHASE, initialContext } from '../../src/core/internal/compiled-machine.js';
import { TaskStore } from '../../src/core/task-store.js';
import { EVENTS_PER_TASK, exportId, PRODUCT, taskEvent } from '../events.js';

// V8's own check, reachable only with --allow-natives-syntax.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: unknown, b: unknown) => boolean;

const n = 2000;
const sharing = (objects: readonly unknown[]): number => objects.filter((o, i) => i > 0 && haveSameMap(o, objects[i - 1])).length;
const spread = Array.from({ length: n }, (_, i) => ({ ...initialContext({ productId: PRODUCT, exportId: exportId(i) }), phase: INITIAL_PHASE, seq: 0 }));
console.log(`{ ...context, phase, seq } (the former initialSnapshot): ${sharing(spread)} of ${n - 1} share the previous one's hidden class`);
const fresh = Array.from({ length: n }, (_, i) => initialSnapshot(PRODUCT, exportId(i)));
console.log(`initialSnapshot: ${sharing(fresh)} of ${n - 1}`);
const store = new TaskStore();
for (let k = 0; k < EVENTS_PER_TASK; k++) {
  for (let i = 0; i < n; i++) store.apply(taskEvent(k, i));
  console.log(`after event ${k + 1} of each task: ${sharing([...store.snapshots()])} of ${n - 1}`);
}
