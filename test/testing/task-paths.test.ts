import { initialTransition, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { exportTaskMachine } from '../../machines/export-task.js';
import { TaskStore } from '../../src/core/task-store.js';
import { createTaskTestModel, forEachTaskPath, taskPaths, type TaskPath } from '../../src/testing/index.js';

/** Every transition of the machine: `state.event[i]` for the i-th candidate of the state's `on[event]`. */
const ALL_TRANSITIONS = new Set(
  Object.entries(exportTaskMachine.root.states).flatMap(([state, node]) =>
    [...node.transitions].flatMap(([type, candidates]) => candidates.map((_, i) => `${state}.${type}[${i}]`)),
  ),
);

/** The transitions a path takes, as XState picks them. */
function transitionsOf(path: TaskPath): string[] {
  let snapshot = initialTransition(exportTaskMachine, { productId: path.initial.productId, exportId: path.initial.exportId })[0];
  return path.events.map((event) => {
    const [taken] = exportTaskMachine.getTransitionData(snapshot, event);
    const candidates = exportTaskMachine.root.states[snapshot.value]!.transitions.get(event.type) ?? [];
    const key = `${snapshot.value}.${event.type}[${taken === undefined ? -1 : candidates.indexOf(taken)}]`;
    snapshot = transition(exportTaskMachine, snapshot, event)[0];
    return key;
  });
}

describe('taskPaths', () => {
  it('takes every transition of the machine, and no event that does nothing', () => {
    const taken = new Set(taskPaths().flatMap(transitionsOf));
    expect(taken).toEqual(ALL_TRANSITIONS);
    // pending: 7 event types + 4 snapshot branches; running: 5 event types + 3 snapshot branches.
    expect(ALL_TRANSITIONS.size).toBe(19);
  });

  it.each(['transitions', 'states', 'simple'] as const)('reaches every state with coverage %s', (coverage) => {
    const visited = new Set(taskPaths({ coverage }).flatMap((p) => [p.initial.phase, ...p.steps.map((s) => s.snapshot.phase)]));
    expect(visited).toEqual(new Set(Object.keys(exportTaskMachine.root.states)));
  });

  it('gives simple paths straight to each final state and through running', () => {
    const routes = taskPaths({ coverage: 'simple' }).map((p) => [p.initial.phase, ...p.steps.map((s) => s.snapshot.phase)].join('>'));
    expect(routes).toEqual(expect.arrayContaining(['pending>success', 'pending>failure', 'pending>running>success', 'pending>running>failure']));
  });

  it('gives at each step the snapshot XState computes for the events so far, with the seq of the step', () => {
    for (const coverage of ['transitions', 'simple'] as const) {
      for (const path of taskPaths({ coverage, productId: 'parcels', exportId: 'x9' })) {
        let reference = initialTransition(exportTaskMachine, { productId: 'parcels', exportId: 'x9' })[0];
        path.steps.forEach(({ event, snapshot }, i) => {
          reference = transition(exportTaskMachine, reference, event)[0];
          const { phase, seq, ...context } = snapshot;
          expect(event.seq).toBe(i + 1);
          expect(seq).toBe(i + 1);
          expect(phase).toBe(reference.value);
          expect(context).toEqual(reference.context);
        });
        expect(path.final).toEqual(path.steps.at(-1)!.snapshot);
        expect(path.events).toEqual(path.steps.map((s) => s.event));
      }
    }
  });

  it('describes each path by its states and events, and gives no path that another extends', () => {
    const paths = taskPaths();
    expect(paths.map((p) => p.description)).toContain('pending -started-> running -snapshot(success)-> success');
    expect(new Set(paths.map((p) => p.description)).size).toBe(paths.length);
    for (const a of paths) {
      for (const b of paths) {
        if (a !== b) expect(b.description.startsWith(`${a.description} `)).toBe(false);
      }
    }
  });

  it('throws a TypeError naming a bad option', () => {
    expect(() => taskPaths({ coverage: 'all' as 'simple' })).toThrow(
      new TypeError(`taskPaths(): expected \`coverage\` to be 'transitions', 'states' or 'simple', got "all"`),
    );
    expect(() => taskPaths({ exportId: '' })).toThrow(/expected `exportId` to be a non-empty string, got ""/);
    expect(() => taskPaths({ depth: 3 } as never)).toThrow(/unknown option `depth`/);
  });
});

describe('forEachTaskPath', () => {
  it('runs the assertions on every path, in order, and says how many ran', async () => {
    const seen: string[] = [];
    const count = await forEachTaskPath(async (path) => {
      const store = new TaskStore();
      for (const { event, snapshot } of path.steps) expect(store.apply(event)).toEqual(snapshot);
      await Promise.resolve();
      seen.push(path.description);
    });
    expect(seen).toEqual(taskPaths().map((p) => p.description));
    expect(count).toBe(seen.length);
  });

  it('names the path that failed, and keeps the original error as the cause', async () => {
    const boom = new Error('the view showed nothing');
    const failure = await forEachTaskPath((path) => {
      if (path.final.phase === 'failure') throw boom;
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(failure!.message).toMatch(/^Path "pending .*-> failure" failed: the view showed nothing$/);
    expect(failure!.cause).toBe(boom);
  });

  it('rejects a run that is not a function', async () => {
    await expect(forEachTaskPath('nope' as never)).rejects.toThrow(new TypeError('forEachTaskPath(): expected a function (path, play) => ..., got nope'));
  });
});

describe('createTaskTestModel', () => {
  it('is the machine\'s xstate/graph model: path.test() runs state and event checks on its shortest paths', async () => {
    const model = createTaskTestModel({ coverage: 'states' });
    const paths = model.getShortestPaths();
    let checked = 0;
    for (const path of paths) {
      const local = new TaskStore();
      let seq = 0;
      await path.test({
        events: Object.fromEntries(
          ['queued', 'started', 'progress', 'log', 'cancel_requested', 'succeeded', 'failed', 'snapshot'].map((type) => [
            type,
            ({ event }: { event: unknown }) => void local.apply({ ...(event as object), seq: ++seq }),
          ]),
        ),
        states: {
          '*': (state) => {
            checked++;
            expect(local.get('e1')?.phase ?? 'pending').toBe(state.value);
          },
        },
      });
    }
    expect(checked).toBeGreaterThanOrEqual(Object.keys(exportTaskMachine.root.states).length);
  });
});
