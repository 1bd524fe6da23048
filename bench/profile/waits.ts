/**
 * Focused script for profiling goal 2: N waits with a timeout attached to running tasks, then
 * settled by their final events: `TaskStore.settled`, `ExportTask.getResult`, bare promises, and
 * the events alone. CPU time, median of the rounds.
 *
 *   node --import tsx bench/profile/waits.ts [N] [rounds] [only: control | settled | bare | getResult | clientControl]
 */
import { createClient } from '../../src/index.node.js';
import type { ExportTask } from '../../src/client/export-task.js';
import { isFinalPhase, type TaskEvent } from '../../src/core/events.js';
import { parseTaskEvent } from '../../src/core/parse-task-event.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { TaskStore } from '../../src/core/task-store.js';
import { BareWaits } from '../baselines/bare-promises.js';
import { exportId, PRODUCT, succeededEvent, taskEvent, type WireEvent } from '../events.js';
import { cpuNow, median } from '../harness.js';
import { MemoryBackend } from '../memory-backend.js';

const n = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 20);
const only = process.argv[4];
const TIMEOUT = 600_000;
const ids = Array.from({ length: n }, (_, i) => exportId(i));
const finals = Array.from({ length: n }, (_, i) => succeededEvent(i, 3));
const parsedFinals: TaskEvent[] = finals.map((event) => parseTaskEvent(event));

function runningStore(): TaskStore {
  const store = new TaskStore();
  for (let i = 0; i < n; i++) store.apply(taskEvent(0, i));
  for (let i = 0; i < n; i++) store.apply(taskEvent(1, i));
  return store;
}

async function runningClient(): Promise<{ backend: MemoryBackend; tasks: ExportTask[] }> {
  const backend = new MemoryBackend();
  const collection = createClient({ backend }).featureCollection(PRODUCT);
  const tasks: ExportTask[] = [];
  for (let i = 0; i < n; i++) tasks.push(await collection.export(`exports/${exportId(i)}.ndjson`));
  const started: WireEvent[] = [];
  for (let i = 0; i < n; i++) started.push(taskEvent(1, i));
  backend.emit(started);
  return { backend, tasks };
}

const parts: Record<string, () => Promise<number>> = {
  control: async () => {
    const store = runningStore();
    const t0 = cpuNow();
    for (const event of parsedFinals) store.applyEvent(event);
    await Promise.resolve();
    return cpuNow() - t0;
  },
  settledNoTimeout: async () => {
    const store = runningStore();
    const t0 = cpuNow();
    const waits = ids.map((id) => store.settled(id));
    for (const event of parsedFinals) store.applyEvent(event);
    await Promise.all(waits);
    return cpuNow() - t0;
  },
  settled: async () => {
    const store = runningStore();
    const t0 = cpuNow();
    const waits = ids.map((id) => store.settled(id, { timeout: TIMEOUT }));
    for (const event of parsedFinals) store.applyEvent(event);
    await Promise.all(waits);
    return cpuNow() - t0;
  },
  bare: async () => {
    const store = runningStore();
    const t0 = cpuNow();
    const bare = new BareWaits<ExportTaskSnapshot>();
    const waits = ids.map((id) => bare.wait(id));
    for (const event of parsedFinals) {
      const snapshot = store.applyEvent(event);
      if (isFinalPhase(snapshot.phase)) bare.settle(snapshot.exportId, snapshot);
    }
    await Promise.all(waits);
    return cpuNow() - t0;
  },
  clientControl: async () => {
    const { backend } = await runningClient();
    const t0 = cpuNow();
    for (const event of finals) backend.emit([event]);
    await Promise.resolve();
    return cpuNow() - t0;
  },
  getResult: async () => {
    const { backend, tasks } = await runningClient();
    const t0 = cpuNow();
    const waits = tasks.map((task) => task.getResult({ wait: true, timeout: TIMEOUT }));
    for (const event of finals) backend.emit([event]);
    await Promise.all(waits);
    return cpuNow() - t0;
  },
};
const times: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(parts)) {
    if (only !== undefined && name !== only) continue;
    (times[name] ??= []).push((await run()) / n);
  }
}
console.log(
  `N=${n}, ns per task (CPU time, median of ${rounds}): ` +
    Object.entries(times)
      .map(([name, t]) => `${name} ${median(t).toFixed(0)}`)
      .join(', '),
);
