/**
 * Before anything is timed: the baselines and the alternatives compute what the library
 * computes, on the same input, so that the ratios compare equal work.
 */
import { deepStrictEqual } from 'node:assert/strict';
import type { Actor } from 'xstate';
import type { exportTaskMachine } from '../machines/export-task.js';
import { createClient } from '../src/index.node.js';
import { TaskStore } from '../src/core/task-store.js';
import { listPlainExports } from './baselines/plain-exports.js';
import { reduce, type PlainTask } from './baselines/reducer.js';
import { sendToActor } from './cases/apply.js';
import { exportId, interleavedEvents, PRODUCT } from './events.js';
import { MemoryBackend } from './memory-backend.js';

export async function verifyBaselines(n: number): Promise<void> {
  const events = interleavedEvents(n);
  const store = new TaskStore();
  const reduced = new Map<string, PlainTask>();
  const actors = new Map<string, Actor<typeof exportTaskMachine>>();
  for (const event of events) {
    store.apply(event);
    reduce(reduced, event);
    sendToActor(actors, event);
  }
  for (let i = 0; i < n; i++) {
    const id = exportId(i);
    const snapshot = store.get(id)!;
    deepStrictEqual(reduced.get(id), snapshot, `the reducer disagrees with TaskStore on ${id}`);
    const actor = actors.get(id)!.getSnapshot();
    const { phase, seq: _seq, ...context } = snapshot;
    deepStrictEqual({ value: actor.value, context: actor.context }, { value: phase, context }, `the actor disagrees with TaskStore on ${id}`);
  }
  const backend = new MemoryBackend(n);
  const tasks = await createClient({ backend }).featureCollection(PRODUCT).listExports();
  const plain = await listPlainExports(backend, PRODUCT);
  deepStrictEqual(
    plain,
    tasks.map((task) => task.snapshot),
    'the plain objects disagree with the ExportTasks',
  );
}
