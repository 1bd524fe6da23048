/**
 * Every module of the statechart and the core loads on its own.
 *
 * A module that throws while loading (the machine's definition is checked and compiled then)
 * fails every test file that imports it before any of their tests runs. Loading each module
 * inside a test makes such a failure a failed test too, which is what mutation testing of
 * module-level code counts (`npm run mutate:static`, docs/mutants.md).
 */
import { describe, expect, it } from 'vitest';

const MODULES: readonly [string, () => Promise<object>][] = [
  ['machines/export-task.ts', () => import('../../machines/export-task.js')],
  ['src/core/errors.ts', () => import('../../src/core/errors.js')],
  ['src/core/events.ts', () => import('../../src/core/events.js')],
  ['src/core/parse-snapshot.ts', () => import('../../src/core/parse-snapshot.js')],
  ['src/core/parse-task-event.ts', () => import('../../src/core/parse-task-event.js')],
  ['src/core/replay.ts', () => import('../../src/core/replay.js')],
  ['src/core/task-store.ts', () => import('../../src/core/task-store.js')],
  ['src/core/internal/advance.ts', () => import('../../src/core/internal/advance.js')],
  ['src/core/internal/compiled-machine.ts', () => import('../../src/core/internal/compiled-machine.js')],
  ['src/core/internal/deadline-queue.ts', () => import('../../src/core/internal/deadline-queue.js')],
];

describe('the core modules', () => {
  it.each(MODULES)('load %s without throwing, and export something', async (_, load) => {
    const module = await load();
    expect(Object.keys(module).length).toBeGreaterThan(0);
  });
});
