import { createActor, initialTransition, transition, type SnapshotFrom } from 'xstate';
import { createTestModel } from 'xstate/graph';
import { describe, expect, it } from 'vitest';
import { attributesFromWire, exportTaskMachine } from '../../machines/export-task.js';
import type { TaskEvent, TaskEventType } from '../../src/core/events.js';
import { parseTaskEvent } from '../../src/core/parse-task-event.js';
import { TaskStore } from '../../src/core/task-store.js';

type MachineSnapshot = SnapshotFrom<typeof exportTaskMachine>;

const input = { productId: 'roads', exportId: 'e1' };
const T0 = '2026-01-01T00:00:00.000Z';
const SHA = '0123456789abcdef'.repeat(4);
const base = { product_id: 'roads', export_id: 'e1', seq: 1, time: T0 };
const event = (raw: Record<string, unknown>): TaskEvent => parseTaskEvent({ ...base, ...raw });

/** One concrete payload per event type, and one per guarded branch of `snapshot`. */
const EVENT_CASES: readonly TaskEvent[] = [
  event({ type: 'queued' }),
  event({ type: 'started' }),
  event({ type: 'progress', fraction: 0.5, message: 'half way' }),
  event({ type: 'log', line: 'INFO writing' }),
  event({ type: 'cancel_requested' }),
  event({ type: 'succeeded', runtime: 12.5, peak_memory_usage: 1 << 20, key: 'exports/e1.ndjson', labels: ['v', 'roads', 'e1', 'exports/e1.ndjson'], size_bytes: 99, sha256: SHA }),
  event({ type: 'failed', failure_type: 'oom', exception_name: 'MemoryError', stacktrace: 'Traceback', runtime: null, peak_memory_usage: 4096 }),
  event({ type: 'snapshot', phase: 'pending', progress: 0.1, log: ['queued again'], cancel_requested: false }),
  event({ type: 'snapshot', phase: 'running', progress: 0.7, message: 'from a poll', log: ['a', 'b'] }),
  event({
    type: 'snapshot',
    phase: 'success',
    progress: 1,
    attributes: { status: 'SUCCESS', key: 'k', labels: ['v', 'roads', 'e1', 'k'], size_bytes: 1, sha256: SHA, runtime: 1, peak_memory_usage: 2 },
  }),
  event({ type: 'snapshot', phase: 'failure', progress: 0.3, attributes: { status: 'FAILURE', failure_type: 'None', exception_name: 'None', created: T0 } }),
];

const STATES = Object.keys(exportTaskMachine.root.states);

/** Every transition of the machine: `state.event[i]` for the i-th candidate of the state's `on[event]`. */
const ALL_TRANSITIONS = new Set(
  Object.entries(exportTaskMachine.root.states).flatMap(([state, node]) =>
    [...node.transitions].flatMap(([type, candidates]) => candidates.map((_, i) => `${state}.${type}[${i}]`)),
  ),
);

/** Which candidate transition XState takes for `event` in `snapshot`. */
function transitionKey(snapshot: MachineSnapshot, event: TaskEvent): string {
  const state = snapshot.value;
  const [taken] = exportTaskMachine.getTransitionData(snapshot, event);
  const candidates = exportTaskMachine.root.states[state]!.transitions.get(event.type) ?? [];
  return `${state}.${event.type}[${taken === undefined ? -1 : candidates.indexOf(taken)}]`;
}

const valueOf = (snapshot: MachineSnapshot | undefined): string | null => (snapshot === undefined ? null : snapshot.value);

type TestPath = ReturnType<ReturnType<typeof createTestModel<typeof exportTaskMachine>>['getShortestPaths']>[number];

/**
 * Runs a path through a fresh store: at each step the store's phase must be the path's state,
 * and its context what XState's own `transition()` gives for the path's events so far. (A path's
 * states are the graph's representatives, told apart without their context, so the context is
 * checked against XState rather than against them.)
 */
async function runThroughStore(path: TestPath): Promise<void> {
  const store = new TaskStore();
  store.track(input.productId, input.exportId);
  let reference = initialTransition(exportTaskMachine, input)[0];
  let seq = 0;
  const apply = (step: { event: unknown }) => {
    const e = { ...(step.event as TaskEvent), seq: ++seq };
    store.apply(e);
    reference = transition(exportTaskMachine, reference, e)[0];
  };
  const events = Object.fromEntries(EVENT_CASES.map((e) => [e.type, apply])) as Record<TaskEventType, typeof apply>;
  await path.test({
    events,
    states: {
      '*': (state) => {
        const snapshot = store.get(input.exportId)!;
        expect(snapshot.phase).toBe(state.value);
        expect(reference.value).toBe(state.value);
        expect(snapshot.seq).toBe(seq);
        const { phase: _phase, seq: _seq, ...context } = snapshot;
        expect(context).toEqual(reference.context);
      },
    },
  });
}

describe('exportTaskMachine', () => {
  describe('model-based paths (xstate/graph)', () => {
    // States are told apart by value, by the event that led there and by the state it came
    // from, so that the shortest paths take every transition once; the context (a growing log)
    // would make the graph infinite.
    const transitionModel = createTestModel(exportTaskMachine, {
      input,
      events: EVENT_CASES,
      serializeState: (state, event, prev) => JSON.stringify([state.value, event ?? null, valueOf(prev)]),
    });
    // Every vertex's own path: deduplication would drop the paths that others extend.
    const shortest = transitionModel.getShortestPaths({ allowDuplicatePaths: true });

    const valueModel = createTestModel(exportTaskMachine, {
      input,
      events: EVENT_CASES,
      serializeState: (state) => JSON.stringify(state.value),
    });
    const simple = valueModel.getSimplePaths({ allowDuplicatePaths: true });

    it('reaches every state by some path', () => {
      expect(new Set(shortest.map((p) => p.state.value))).toEqual(new Set(STATES));
      expect(new Set(simple.map((p) => p.state.value))).toEqual(new Set(STATES));
    });

    it('takes every transition (state x event x guarded branch) in some shortest path', () => {
      const taken = new Set<string>();
      for (const path of shortest) {
        for (let i = 1; i < path.steps.length; i++) taken.add(transitionKey(path.steps[i - 1]!.state, path.steps[i]!.event));
      }
      expect(taken.has('pending.snapshot[-1]')).toBe(false);
      expect([...ALL_TRANSITIONS].filter((t) => !taken.has(t))).toEqual([]);
      // pending: 7 event types + 4 snapshot branches; running: 5 event types + 3 snapshot branches.
      expect(ALL_TRANSITIONS.size).toBe(7 + 4 + 5 + 3);
    });

    it('gives the path simple paths to both final states straight from pending and through running', () => {
      const routes = simple.map((p) => p.steps.map((s) => s.state.value).join('>'));
      expect(routes).toContain('pending>success');
      expect(routes).toContain('pending>failure');
      expect(routes).toContain('pending>running>success');
      expect(routes).toContain('pending>running>failure');
    });

    it('has the store in the same state as the machine at each step of every shortest path', async () => {
      expect(shortest.length).toBeGreaterThan(20);
      for (const path of shortest) await runThroughStore(path);
    });

    it('has the store in the same state as the machine at each step of every simple path', async () => {
      for (const path of simple) await runThroughStore(path);
    });
  });

  describe('transitions', () => {
    const start = (): MachineSnapshot => initialTransition(exportTaskMachine, input)[0];
    const run = (events: readonly object[]): MachineSnapshot =>
      events.reduce<MachineSnapshot>((s, raw, i) => transition(exportTaskMachine, s, event({ ...raw, seq: i + 1 }))[0], start());

    it('starts pending with an empty context', () => {
      const s = start();
      expect(s.value).toBe('pending');
      expect(s.context).toEqual({ ...input, progress: 0, message: null, log: [], cancelRequested: false, created: null, attributes: null });
    });

    it('records when the task was created from its first queued event', () => {
      const s = run([{ type: 'queued', time: T0 }, { type: 'queued', time: '2027-01-01T00:00:00Z' }]);
      expect(s.context.created).toBe(T0);
    });

    it('goes straight from pending to success for a fast task, with progress 1', () => {
      const s = run([{ type: 'queued' }, EVENT_CASES[5]!]);
      expect(s.value).toBe('success');
      expect(s.status).toBe('done');
      expect(s.context.progress).toBe(1);
      expect(s.context.attributes).toMatchObject({ status: 'SUCCESS', key: 'exports/e1.ndjson', sizeBytes: 99, created: T0 });
    });

    it('starts the task on a progress event, and never lowers progress', () => {
      const s = run([
        { type: 'progress', fraction: 0.6, message: 'a' },
        { type: 'progress', fraction: 0.2 },
      ]);
      expect(s.value).toBe('running');
      expect(s.context.progress).toBe(0.6);
      // A progress event without a message keeps the last one.
      expect(s.context.message).toBe('a');
    });

    it('keeps progress at +0 when the wire sends -0, which JSON allows and a percentage shows as "-0%"', () => {
      expect(Object.is((JSON.parse('{"fraction":-0}') as { fraction: number }).fraction, -0)).toBe(true);
      // toBe compares with Object.is: -0 fails it.
      expect(run([{ type: 'progress', fraction: -0 }]).context.progress).toBe(0);
      const s = run([{ type: 'started' }, { type: 'snapshot', phase: 'running', progress: -0 }]);
      expect(s.context.progress).toBe(0);
      expect(new Intl.NumberFormat('en', { style: 'percent' }).format(s.context.progress)).toBe('0%');
    });

    it('takes a pending task to failure by a final snapshot, with its attributes', () => {
      const attributes = { status: 'FAILURE', failure_type: 'timeout', created: T0 };
      const s = run([{ type: 'snapshot', phase: 'failure', progress: 0.4, attributes }]);
      expect(s.value).toBe('failure');
      expect(s.context.attributes).toMatchObject({ status: 'FAILURE', failureType: 'timeout', created: T0 });
    });

    it('takes a pending task to success by a final snapshot, with its attributes', () => {
      const attributes = { status: 'SUCCESS', created: T0, key: 'k', size_bytes: 3, sha256: SHA };
      const s = run([{ type: 'snapshot', phase: 'success', progress: 1, attributes }]);
      expect(s.value).toBe('success');
      expect(s.status).toBe('done');
      expect(s.context.attributes).toMatchObject({ status: 'SUCCESS', created: T0, sizeBytes: 3 });
    });

    it("is the machine with the id 'exportTask' (the id inspection events name)", () => {
      expect(exportTaskMachine.id).toBe('exportTask');
    });

    it('takes a pending task to running by a running snapshot, with its progress and cancel request', () => {
      const s = run([{ type: 'snapshot', phase: 'running', progress: 0.3, message: 'scanning', cancel_requested: true }]);
      expect(s.value).toBe('running');
      expect(s.context).toMatchObject({ progress: 0.3, message: 'scanning', cancelRequested: true, created: null, attributes: null });
    });

    it('keeps a pending task pending on a pending snapshot, and applies what it says', () => {
      const s = run([{ type: 'snapshot', phase: 'pending', progress: 0.2, message: 'queued behind 3', log: ['waiting'] }]);
      expect(s.value).toBe('pending');
      expect(s.context).toMatchObject({ progress: 0.2, message: 'queued behind 3', log: ['waiting'], cancelRequested: false });
    });

    it('keeps a running task running on a pending snapshot, and its progress', () => {
      const s = run([{ type: 'started' }, { type: 'progress', fraction: 0.5 }, { type: 'snapshot', phase: 'pending', progress: 0.1 }]);
      expect(s.value).toBe('running');
      expect(s.context.progress).toBe(0.5);
    });

    it('keeps the log when a snapshot leaves it out, and replaces it when a snapshot has one', () => {
      expect(run([{ type: 'log', line: 'a' }, { type: 'snapshot', phase: 'running', progress: 0 }]).context.log).toEqual(['a']);
      expect(run([{ type: 'log', line: 'a' }, { type: 'snapshot', phase: 'running', progress: 0, log: ['x', 'y'] }]).context.log).toEqual(['x', 'y']);
    });

    it('stays where it is on a cancel request, until failed as cancelled', () => {
      const s = run([{ type: 'started' }, { type: 'cancel_requested' }]);
      expect(s.value).toBe('running');
      expect(s.context.cancelRequested).toBe(true);
      const f = transition(exportTaskMachine, s, event({ type: 'failed', failure_type: 'cancelled' }))[0];
      expect(f.value).toBe('failure');
      expect(f.context.attributes).toMatchObject({ status: 'FAILURE', failureType: 'cancelled' });
    });

    it('takes the key of a failure from its labels when no key is sent', () => {
      const s = run([{ type: 'failed', labels: ['a', 'b', 'c', 'exports/k'] }]);
      expect(s.context.attributes?.key).toBe('exports/k');
    });

    it('absorbs every event once final', () => {
      const final = run([{ type: 'started' }, EVENT_CASES[6]!]);
      for (const e of EVENT_CASES) {
        const [next] = transition(exportTaskMachine, final, e);
        expect(next.value).toBe('failure');
        expect(next.context).toEqual(final.context);
      }
    });

    it('fills in the created time of final snapshot attributes from the task', () => {
      const s = run([{ type: 'queued' }, { type: 'snapshot', phase: 'success', progress: 0.2, attributes: { status: 'SUCCESS' } }]);
      expect(s.context.progress).toBe(1);
      expect(s.context.attributes?.created).toBe(T0);
    });

    it('keeps the progress message when a snapshot leaves it out, and takes it when a snapshot sends one (null included)', () => {
      const before = [{ type: 'progress', fraction: 0.2, message: 'reading' }];
      expect(run([...before, { type: 'snapshot', phase: 'running', progress: 0.3 }]).context.message).toBe('reading');
      expect(run([...before, { type: 'snapshot', phase: 'running', progress: 0.3, message: 'writing' }]).context.message).toBe('writing');
      expect(run([...before, { type: 'snapshot', phase: 'running', progress: 0.3, message: null }]).context.message).toBeNull();
    });

    it("keeps the created time the result attributes carry, and takes the task's from the snapshot", () => {
      const attributes = { status: 'SUCCESS', created: '2025-06-01T00:00:00Z' };
      const s = run([{ type: 'snapshot', phase: 'success', progress: 1, created: '2025-05-01T00:00:00Z', attributes }]);
      expect(s.context.created).toBe('2025-05-01T00:00:00Z');
      expect(s.context.attributes?.created).toBe('2025-06-01T00:00:00Z');
    });

    it('runs in a real actor as it does through transition()', () => {
      const actor = createActor(exportTaskMachine, { input }).start();
      const events = [EVENT_CASES[0]!, EVENT_CASES[2]!, EVENT_CASES[3]!, EVENT_CASES[8]!, EVENT_CASES[5]!];
      for (const e of events) actor.send(e);
      const expected = events.reduce<MachineSnapshot>((s, e) => transition(exportTaskMachine, s, e)[0], start());
      expect(actor.getSnapshot().value).toBe(expected.value);
      expect(actor.getSnapshot().context).toEqual(expected.context);
      expect(actor.getSnapshot().status).toBe('done');
    });
  });

  describe('attributesFromWire', () => {
    it('maps snake_case attributes to camelCase', () => {
      expect(
        attributesFromWire({
          created: T0,
          status: 'FAILURE',
          failure_type: 'timeout',
          exception_name: 'TimeoutError',
          stacktrace: 'st',
          peak_memory_usage: 1,
          runtime: 2,
          labels: ['a'],
          key: 'k',
          size_bytes: null,
          sha256: null,
        }),
      ).toEqual({
        created: T0,
        status: 'FAILURE',
        failureType: 'timeout',
        exceptionName: 'TimeoutError',
        stacktrace: 'st',
        peakMemoryUsage: 1,
        runtime: 2,
        labels: ['a'],
        key: 'k',
        sizeBytes: null,
        sha256: null,
      });
    });
  });
});
