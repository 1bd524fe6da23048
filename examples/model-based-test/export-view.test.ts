/**
 * Tests of the export view model (`export-view.ts`) with `export-task/testing`:
 *
 * 1. on every path of the task's machine (`taskPaths`, from its `xstate/graph` test model), the
 *    view follows its rules at every step;
 * 2. a model-based test (`fc.commands`): random sequences of what the job and the user do,
 *    against a client on a test backend, each step checked against a small model of the page;
 * 3. hostile deliveries and races: whatever order, copies, cuts and garbage the events come
 *    with, and however the scheduler interleaves them with the user's clicks, the page ends
 *    showing what the history says.
 *
 * Runs with `npm test` (it imports the package by name, which resolves to the build).
 */
import fc from 'fast-check';
import { createClient, replay, TaskStore, type ExportTask, type ExportTaskSnapshot } from 'export-task';
import {
  applyDelivery,
  createScheduledBackend,
  createTestBackend,
  forEachTaskPath,
  hostileStreamArb,
  taskHistoryArb,
  taskPaths,
  TASK_OUTCOMES,
  type TestBackend,
} from 'export-task/testing';
import { describe, expect, it } from 'vitest';
import { followExport, renderExport, type ExportView } from './export-view.js';

/** The rules of the page, for any snapshot. */
function expectRules(view: ExportView, snapshot: ExportTaskSnapshot): void {
  expect(view.text).not.toBe('');
  expect(view.percent).toBeGreaterThanOrEqual(0);
  expect(view.percent).toBeLessThanOrEqual(100);
  // A download only once succeeded, and then for the exported key.
  expect(view.download === null).toBe(snapshot.phase !== 'success' || snapshot.attributes?.key == null);
  if (view.download !== null) expect(view.download.key).toBe(snapshot.attributes!.key);
  // Nothing to cancel once final, or once asked.
  expect(view.canCancel).toBe((snapshot.phase === 'pending' || snapshot.phase === 'running') && !snapshot.cancelRequested);
  if (snapshot.phase === 'success') expect(view.text).toMatch(/^Done: /);
  if (snapshot.phase === 'failure') expect(view.text).not.toMatch(/^Done/);
}

describe('the export view on every path of the task machine', () => {
  describe.each(taskPaths())('$description', (path) => {
    it('follows the rules at every step, and its progress never goes back', () => {
      const store = new TaskStore();
      let percent = 0;
      for (const { event, snapshot } of path.steps) {
        store.apply(event);
        const view = renderExport(store.get(snapshot.exportId)!);
        expectRules(view, snapshot);
        expect(view.percent).toBeGreaterThanOrEqual(percent);
        percent = view.percent;
      }
    });
  });

  it('shows each path live through a client, ending where the path ends', async () => {
    await forEachTaskPath(async (path) => {
      const backend = createTestBackend();
      const client = createClient({ backend });
      const roads = await client.createFeatureCollection('roads');
      const task = await roads.export(`exports/${path.final.exportId}.ndjson`);
      const views: ExportView[] = [];
      const stop = followExport(task, (view) => views.push(view));
      for (const { product_id: _p, export_id: _e, seq: _s, time: _t, ...event } of path.events) backend.emit(task.tuid, event);
      stop();
      expect(views.at(-1)!.download !== null).toBe(path.final.phase === 'success');
      expect(views.at(-1)!.canCancel).toBe(path.final.phase !== 'success' && path.final.phase !== 'failure' && !path.final.cancelRequested);
      expectRules(views.at(-1)!, task.snapshot);
      await client.close();
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Model-based: what the job and the user do, against a model of the page.

interface Model {
  phase: 'pending' | 'running' | 'success' | 'failure';
  progress: number;
  cancelRequested: boolean;
}

interface Real {
  backend: TestBackend;
  task: ExportTask;
  view: () => ExportView;
}

const isFinal = (m: Readonly<Model>): boolean => m.phase === 'success' || m.phase === 'failure';

/** After each command, the page shows what the model says. */
function checkView(model: Readonly<Model>, real: Real): void {
  const view = real.view();
  expect(view.percent).toBe(Math.floor((model.phase === 'success' ? 1 : model.progress) * 100));
  expect(view.canCancel).toBe(!isFinal(model) && !model.cancelRequested);
  expect(view.download !== null).toBe(model.phase === 'success');
  expectRules(view, real.task.snapshot);
}

class JobProgresses implements fc.AsyncCommand<Model, Real> {
  constructor(readonly fraction: number) {}
  check = (m: Readonly<Model>): boolean => !isFinal(m);
  async run(m: Model, r: Real): Promise<void> {
    r.backend.emit(r.task.tuid, { type: 'progress', fraction: this.fraction });
    m.phase = 'running';
    m.progress = Math.max(m.progress, this.fraction);
    await Promise.resolve();
    checkView(m, r);
  }
  toString = (): string => `progress(${this.fraction})`;
}

class JobEnds implements fc.AsyncCommand<Model, Real> {
  constructor(readonly outcome: 'succeeded' | 'oom' | 'exception') {}
  check = (m: Readonly<Model>): boolean => !isFinal(m);
  async run(m: Model, r: Real): Promise<void> {
    if (this.outcome === 'succeeded') {
      r.backend.emit(r.task.tuid, { type: 'succeeded', runtime: 1, peak_memory_usage: 1024, key: 'exports/roads.ndjson', labels: ['vector', 'roads', r.task.tuid, 'exports/roads.ndjson'], size_bytes: 2048, sha256: 'ab'.repeat(32) });
      m.phase = 'success';
    } else {
      r.backend.emit(r.task.tuid, { type: 'failed', failure_type: this.outcome, exception_name: this.outcome === 'oom' ? 'MemoryError' : 'ValueError', stacktrace: null, runtime: null, peak_memory_usage: null });
      m.phase = 'failure';
    }
    await Promise.resolve();
    checkView(m, r);
  }
  toString = (): string => `jobEnds(${this.outcome})`;
}

class UserCancels implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>): boolean => !isFinal(m) && !m.cancelRequested;
  async run(m: Model, r: Real): Promise<void> {
    expect(r.view().canCancel).toBe(true);
    await r.task.cancel();
    m.cancelRequested = true;
    checkView(m, r);
  }
  toString = (): string => 'userCancels()';
}

class JobHonoursCancel implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>): boolean => !isFinal(m) && m.cancelRequested;
  async run(m: Model, r: Real): Promise<void> {
    r.backend.emit(r.task.tuid, { type: 'failed', failure_type: 'cancelled', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null });
    m.phase = 'failure';
    await Promise.resolve();
    checkView(m, r);
    expect(r.view().text).toBe('Cancelled');
  }
  toString = (): string => 'jobHonoursCancel()';
}

describe('the export view, model-based', () => {
  it('shows what the model of the page says after anything the job or the user does', async () => {
    const commands = fc.commands([
      fc.double({ min: 0, max: 1, noNaN: true }).map((f) => new JobProgresses(f)),
      fc.constantFrom('succeeded', 'oom', 'exception' as const).map((o) => new JobEnds(o)),
      fc.constant(new UserCancels()),
      fc.constant(new JobHonoursCancel()),
    ]);
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const backend = createTestBackend();
        const client = createClient({ backend });
        const roads = await client.createFeatureCollection('roads');
        const task = await roads.export('exports/roads.ndjson');
        let current: ExportView | undefined;
        const stop = followExport(task, (view) => (current = view));
        await fc.asyncModelRun(() => ({ model: { phase: 'pending' as const, progress: 0, cancelRequested: false }, real: { backend, task, view: () => current! } }), cmds);
        stop();
        await client.close();
        expect(backend.openStreams).toBe(0);
      }),
      { numRuns: Math.min(fc.readConfigureGlobal().numRuns ?? 200, 200) },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile deliveries and races.

describe('the export view under hostile deliveries and races', () => {
  it('ends showing what the history says, whatever the stream does to its events', () => {
    fc.assert(
      fc.property(
        taskHistoryArb({ outcome: TASK_OUTCOMES }).chain((history) => hostileStreamArb(history)),
        ({ steps, expected }) => {
          const store = new TaskStore();
          applyDelivery(store, steps);
          expect(renderExport(store.get(expected.exportId)!)).toEqual(renderExport(expected));
        },
      ),
      // The library's own suite runs the full count on the fold; the example keeps to seconds.
      { numRuns: Math.min(fc.readConfigureGlobal().numRuns ?? 300, 300) },
    );
  });

  it('ends showing the backend\'s truth when the user cancels while the job runs and events race', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), taskHistoryArb({ outcome: ['success', 'failure', 'unfinished'] }), async (s, history) => {
        const backend = createScheduledBackend(s);
        const client = createClient({ backend });
        const roads = await client.createFeatureCollection('roads');
        const task = await s.waitFor(roads.export('exports/roads.ndjson'));
        let current: ExportView | undefined;
        const stop = followExport(task, (view) => (current = view));
        const played = backend.play(task.tuid, history);
        // The user clicks cancel at a moment the scheduler picks (if the button is there then).
        const click = s.schedule(Promise.resolve('click cancel')).then(() => (current?.canCancel ? task.cancel() : undefined));
        await s.waitFor(played);
        await s.waitFor(click);
        await s.waitIdle();
        expect(current).toEqual(renderExport(replay(backend.history(task.tuid))));
        stop();
        await client.close();
      }),
      { numRuns: Math.min(fc.readConfigureGlobal().numRuns ?? 100, 100) },
    );
  });
});
