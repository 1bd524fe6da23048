import type { SnapshotFrom } from 'xstate';
import { createTestModel, type TestModel } from 'xstate/graph';
import { exportTaskMachine, type ExportTaskMachine } from '../../machines/export-task.js';
import type { FailureType, TaskEvent, TaskPhase } from '../core/events.js';
import { parseTaskEvent } from '../core/parse-task-event.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import { TaskStore } from '../core/task-store.js';
import { checkOptionBag } from '../internal/options.js';

/**
 * Which paths of the machine {@link taskPaths} gives.
 *
 * - `'transitions'`: paths that, together, take every transition of the machine (each state,
 *   event type and guarded branch of a `snapshot` event) at least once;
 * - `'states'`: the shortest path to each state;
 * - `'simple'`: every path that visits no state twice (straight to a final state, or through
 *   `running`).
 *
 * @example
 * ```ts
 * const shortest = taskPaths({ coverage: 'states' satisfies TaskPathCoverage });
 * for (const path of shortest) console.log(path.description); // the shortest path to each state
 * ```
 */
export type TaskPathCoverage = 'transitions' | 'states' | 'simple';

/**
 * Options of {@link taskPaths}, {@link forEachTaskPath} and {@link createTaskTestModel}.
 *
 * @example
 * ```ts
 * taskPaths({ coverage: 'simple', productId: 'roads', exportId: 'e1' });
 * ```
 */
export interface TaskPathOptions {
  /** The product id of the paths' events. @defaultValue 'roads' */
  readonly productId?: string | undefined;
  /** The export id of the paths' events. @defaultValue 'e1' */
  readonly exportId?: string | undefined;
  /** Which paths: see {@link TaskPathCoverage}. @defaultValue 'transitions' */
  readonly coverage?: TaskPathCoverage | undefined;
  /**
   * The failure types the paths' `failed` events take, each its own branch of the graph (so
   * code that retries on `internal` and gives up on `exception` is tried with both).
   * @defaultValue ['exception']
   */
  readonly failureTypes?: readonly FailureType[] | undefined;
  /**
   * Whether each path that ends final goes on with events after the end: its terminal event
   * re-sent (as a worker that sends its end twice) and a late `log`. Their snapshots are the
   * final one: a correct client ignores them (they go to `diagnostics$`).
   * @defaultValue false
   */
  readonly afterEnd?: boolean | undefined;
}

/**
 * One step of a {@link TaskPath}: an event and the task's snapshot once it is applied.
 *
 * @example
 * ```ts
 * const store = new TaskStore();
 * const steps: readonly TaskPathStep[] = taskPaths()[0]!.steps;
 * for (const { event, snapshot } of steps) expect(store.apply(event)).toEqual(snapshot);
 * ```
 */
export interface TaskPathStep {
  /** The event, with its `seq` on the path (1, 2, 3, ...). */
  readonly event: TaskEvent;
  /** The task's snapshot after the event, as a `TaskStore` (and so a client) folds it. */
  readonly snapshot: ExportTaskSnapshot;
}

/**
 * A path of the task's machine from its initial state, as events and the snapshots they give.
 *
 * @example
 * ```ts
 * await forEachTaskPath(async (path: TaskPath) => {
 *   const store = new TaskStore();
 *   for (const event of path.events) store.apply(event);
 *   expect(store.get(path.final.exportId) ?? path.initial).toEqual(path.final);
 * });
 * ```
 */
export interface TaskPath {
  /** The path in words, for test names: `pending -started-> running -succeeded-> success`. */
  readonly description: string;
  /** The task before any event (pending, seq 0). */
  readonly initial: ExportTaskSnapshot;
  /** The events in order, each with the snapshot after it. */
  readonly steps: readonly TaskPathStep[];
  /** The path's events, ready to feed to a store, a test backend or your own code. */
  readonly events: readonly TaskEvent[];
  /** The snapshot at the end of the path (`initial` for the empty path). */
  readonly final: ExportTaskSnapshot;
}

const T0 = Date.UTC(2026, 0, 1);
const SHA256 = '0123456789abcdef'.repeat(4);

/** One event per event type and per guarded branch of `snapshot`: what each state is tried with. */
function pathEvents(productId: string, exportId: string, failureTypes: readonly FailureType[]): TaskEvent[] {
  const key = `exports/${exportId}.ndjson`;
  const labels = ['vector', productId, exportId, key];
  const raw: Record<string, unknown>[] = [
    { type: 'queued' },
    { type: 'started' },
    { type: 'progress', fraction: 0.5, message: 'half way' },
    { type: 'log', line: 'INFO writing features' },
    { type: 'cancel_requested' },
    { type: 'succeeded', runtime: 12.5, peak_memory_usage: 1 << 20, key, labels, size_bytes: 4096, sha256: SHA256 },
    ...failureTypes.map((type) =>
      type === 'exception'
        ? { type: 'failed', failure_type: type, exception_name: 'ValueError', stacktrace: 'Traceback (most recent call last):\n  ValueError', runtime: 1.5, peak_memory_usage: 1 << 19 }
        : { type: 'failed', failure_type: type, exception_name: null, stacktrace: null, runtime: 1.5, peak_memory_usage: 1 << 19 },
    ),
    { type: 'snapshot', phase: 'pending', progress: 0.1, log: ['INFO queued again'], cancel_requested: false },
    { type: 'snapshot', phase: 'running', progress: 0.7, message: 'from a poll', log: ['INFO started', 'INFO writing features'] },
    {
      type: 'snapshot',
      phase: 'success',
      progress: 1,
      attributes: { status: 'SUCCESS', key, labels, size_bytes: 4096, sha256: SHA256, runtime: 12.5, peak_memory_usage: 1 << 20 },
    },
    {
      type: 'snapshot',
      phase: 'failure',
      progress: 0.3,
      attributes: { status: 'FAILURE', failure_type: 'oom', exception_name: 'MemoryError', peak_memory_usage: 1 << 30 },
    },
  ];
  return raw.map((fields) => parseTaskEvent({ product_id: productId, export_id: exportId, seq: 1, time: new Date(T0).toISOString(), ...fields }));
}

type MachineSnapshot = SnapshotFrom<ExportTaskMachine>;

interface PathOptions {
  readonly productId: string;
  readonly exportId: string;
  readonly coverage: TaskPathCoverage;
  readonly failureTypes: readonly FailureType[];
  readonly afterEnd: boolean;
}

function checkPathOptions(where: string, options: TaskPathOptions | undefined): PathOptions {
  checkOptionBag(where, options, ['productId', 'exportId', 'coverage', 'failureTypes', 'afterEnd']);
  const failureTypes: unknown = options?.failureTypes ?? ['exception'];
  if (!Array.isArray(failureTypes) || failureTypes.length === 0 || !failureTypes.every((t) => typeof t === 'string' && t !== '')) {
    throw new TypeError(`${where}: expected \`failureTypes\` to be a non-empty array of failure types (such as ['exception', 'internal']), got ${JSON.stringify(failureTypes)}`);
  }
  const afterEnd: unknown = options?.afterEnd ?? false;
  if (typeof afterEnd !== 'boolean') throw new TypeError(`${where}: expected \`afterEnd\` to be true or false, got ${JSON.stringify(afterEnd)}`);
  const coverage = options?.coverage ?? 'transitions';
  if (!['transitions', 'states', 'simple'].includes(coverage)) {
    throw new TypeError(`${where}: expected \`coverage\` to be 'transitions', 'states' or 'simple', got ${JSON.stringify(coverage)}`);
  }
  for (const name of ['productId', 'exportId'] as const) {
    const value = options?.[name];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new TypeError(`${where}: expected \`${name}\` to be a non-empty string, got ${JSON.stringify(value)}`);
    }
  }
  return {
    productId: options?.productId ?? 'roads',
    exportId: options?.exportId ?? 'e1',
    coverage,
    failureTypes: [...new Set(failureTypes as FailureType[])],
    afterEnd,
  };
}

/** The state a graph vertex stands for: with `transitions`, also the event and the state it came from. */
function serializer(coverage: TaskPathCoverage): (state: MachineSnapshot, event: TaskEvent | undefined, prev?: MachineSnapshot) => string {
  if (coverage !== 'transitions') return (state) => JSON.stringify(state.value);
  // Told apart by the event that led there and the state it came from, the shortest paths take
  // every transition once; the context (a growing log) would make the graph infinite.
  return (state, event, prev) => JSON.stringify([state.value, event ?? null, prev?.value ?? null]);
}

/**
 * The machine's test model (`createTestModel` from `xstate/graph`), tried in every state with
 * one event per event type and per guarded branch of `snapshot`. For tests that use
 * `xstate/graph`'s own `path.test()`; {@link taskPaths} gives the same paths as plain events.
 *
 * The model's events all carry `seq: 1` (a model cannot number them): give each the next
 * `seq` of the path as you apply it, or a store drops every event after the first as a
 * duplicate. {@link taskPaths} numbers them for you.
 *
 * `getSimplePaths()` walks the machine's states (a path visits no state twice) whatever the
 * coverage: with the `transitions` coverage a state is told apart by the transition that led
 * to it, and the paths that repeat no such state are too many to list.
 *
 * @example
 * ```ts
 * const model = createTaskTestModel();
 * for (const path of model.getShortestPaths()) {
 *   const view = new TaskStore(); // stands for your view of the task
 *   let seq = 0;
 *   await path.test({
 *     events: Object.fromEntries(TASK_EVENT_TYPES.map((type) => [type, ({ event }: { event: TaskEvent }) => void view.apply({ ...event, seq: ++seq })])),
 *     states: { '*': (state) => expect(view.get('e1')?.phase ?? 'pending').toBe(state.value) },
 *   });
 * }
 * ```
 * @param options - See {@link TaskPathOptions}.
 * @returns A `TestModel` of `exportTaskMachine`.
 * @throws TypeError at once for a bad option.
 */
export function createTaskTestModel(options?: TaskPathOptions): TestModel<MachineSnapshot, TaskEvent, unknown> {
  return modelOf(checkPathOptions('createTaskTestModel()', options));
}

function modelOf({ productId, exportId, coverage, failureTypes }: PathOptions): TestModel<MachineSnapshot, TaskEvent, unknown> {
  const model = (by: TaskPathCoverage): TestModel<MachineSnapshot, TaskEvent, unknown> =>
    createTestModel(exportTaskMachine, {
      input: { productId, exportId },
      events: pathEvents(productId, exportId, failureTypes),
      serializeState: serializer(by),
    });
  const main = model(coverage);
  if (coverage === 'transitions') {
    const byState = model('simple');
    main.getSimplePaths = (traversal) => byState.getSimplePaths(traversal);
  }
  return main;
}

function describeStep(from: TaskPhase, event: TaskEvent, to: TaskPhase): string {
  const label = event.type === 'snapshot' ? `snapshot(${event.phase})` : event.type;
  return ` -${label}-> ${to}`;
}

/**
 * The machine's paths from its initial state (from its `xstate/graph` test model), each as the
 * events that take it and the snapshot after each event. With the default coverage they take
 * every transition of the machine; run your code on each and assert what it shows at each
 * step, and you have tested it against everything a task can do.
 *
 * @example
 * ```ts
 * describe.each(taskPaths())('$description', (path) => {
 *   it('shows each state', () => {
 *     const store = new TaskStore();
 *     for (const { event, snapshot } of path.steps) {
 *       store.apply(event);
 *       expect(render(store.get(snapshot.exportId)!)).toContain(snapshot.phase);
 *     }
 *   });
 * });
 * ```
 * @param options - See {@link TaskPathOptions}.
 * @returns The paths, none a prefix of another.
 * @throws TypeError at once for a bad option.
 */
export function taskPaths(options?: TaskPathOptions): TaskPath[] {
  const checked = checkPathOptions('taskPaths()', options);
  const { productId, exportId, coverage, afterEnd } = checked;
  const model = modelOf(checked);
  const graphPaths = coverage === 'simple' ? model.getSimplePaths() : model.getShortestPaths();
  const paths = graphPaths.map((graphPath) => {
    const store = new TaskStore();
    const initial = store.track(productId, exportId);
    const steps: TaskPathStep[] = [];
    let description: string = initial.phase;
    for (const step of graphPath.steps) {
      if ((step.event.type as string) === 'xstate.init') continue;
      const event = { ...step.event, seq: steps.length + 1, time: new Date(T0 + (steps.length + 1) * 1000).toISOString() };
      const before = store.get(exportId)!;
      const snapshot = store.apply(event);
      description += describeStep(before.phase, event, snapshot.phase);
      steps.push({ event, snapshot });
    }
    const last = steps.at(-1);
    if (afterEnd && last !== undefined && (last.snapshot.phase === 'success' || last.snapshot.phase === 'failure')) {
      const late = [{ ...last.event }, { type: 'log', product_id: productId, export_id: exportId, line: 'INFO late line' } as TaskEvent];
      for (const fields of late) {
        const event = parseTaskEvent({ ...fields, seq: steps.length + 1, time: new Date(T0 + (steps.length + 1) * 1000).toISOString() });
        store.apply(event);
        // After the end the task stays as it ended: each late step's snapshot is the final one.
        steps.push({ event, snapshot: last.snapshot });
      }
      description += ' (then its end again and a late log)';
    }
    return { description, initial, steps, events: steps.map((s) => s.event), final: steps.at(-1)?.snapshot ?? initial };
  });
  // xstate/graph already leaves out most paths that others extend; drop the rest.
  const keys = paths.map((p) => p.events.map((e) => JSON.stringify({ ...e, seq: 0, time: '' })));
  return paths.filter((_, i) => !keys.some((other, j) => j !== i && other.length > keys[i]!.length && keys[i]!.every((k, n) => other[n] === k)));
}

/**
 * Hooks of {@link PlayPath}: the application's own actions, interleaved with the path's steps.
 *
 * @example
 * ```ts
 * const hooks: PathHooks = { afterStep: ({ snapshot }) => expect(app.view()).toContain(snapshot.phase) };
 * ```
 */
export interface PathHooks {
  /** Runs before step `index` is applied (awaited). */
  readonly beforeStep?: ((step: TaskPathStep, index: number) => unknown) | undefined;
  /** Runs after step `index` is applied (awaited): assert what the application shows, or act (cancel, retry). */
  readonly afterStep?: ((step: TaskPathStep, index: number) => unknown) | undefined;
}

/**
 * Plays the path's steps through `apply` (feed a store, `backend.emit`, your own code), one
 * after another, calling the hooks around each and awaiting everything.
 *
 * @example
 * ```ts
 * await forEachTaskPath(async (path, play: PlayPath) => {
 *   const store = new TaskStore();
 *   await play((event) => store.apply(event), { afterStep: ({ snapshot }) => expect(store.get('e1')).toEqual(snapshot) });
 * });
 * ```
 */
export type PlayPath = (apply: (event: TaskEvent, step: TaskPathStep, index: number) => unknown, hooks?: PathHooks) => Promise<void>;

/**
 * Runs `run` on every path of {@link taskPaths}, one after another. A failure names the path
 * it happened on (the original error is its `cause`). `run` gets, besides the path, a
 * {@link PlayPath} that plays its steps with per-step hooks, so that the application's own
 * actions interleave with the task's events.
 *
 * @example
 * ```ts
 * await forEachTaskPath(async (path, play) => {
 *   const backend = createTestBackend();
 *   const client = createClient({ backend });
 *   const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
 *   const strip = ({ product_id, export_id, seq, time, ...rest }: TaskEvent) => rest;
 *   await play((event) => event.type !== 'queued' && backend.emit(task.exportId, strip(event)), {
 *     afterStep: ({ snapshot }) => expect(task.snapshot.phase).toBe(snapshot.phase),
 *   });
 *   await client.close();
 * }, { failureTypes: ['internal', 'exception'], afterEnd: true });
 * ```
 * @param run - Your assertions on one path; may be async.
 * @param options - See {@link TaskPathOptions}.
 * @returns How many paths ran.
 * @throws Error `Path "<description>" failed: <message>` at the first failing path.
 */
export async function forEachTaskPath(run: (path: TaskPath, play: PlayPath) => unknown, options?: TaskPathOptions): Promise<number> {
  if (typeof run !== 'function') throw new TypeError(`forEachTaskPath(): expected a function (path, play) => ..., got ${String(run)}`);
  const paths = taskPaths(options);
  for (const path of paths) {
    const play: PlayPath = async (apply, hooks) => {
      if (typeof apply !== 'function') throw new TypeError(`play(): expected a function (event) => ... that applies each event, got ${String(apply)}`);
      checkOptionBag('play()', hooks, ['beforeStep', 'afterStep']);
      for (const [index, step] of path.steps.entries()) {
        await hooks?.beforeStep?.(step, index);
        await apply(step.event, step, index);
        await hooks?.afterStep?.(step, index);
      }
    };
    try {
      await run(path, play);
    } catch (error) {
      throw new Error(`Path "${path.description}" failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return paths.length;
}
