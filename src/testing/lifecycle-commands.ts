import fc, { type Arbitrary, type AsyncCommand } from 'fast-check';
import type { FailureType } from '../core/events.js';
import { describeValue } from '../core/errors.js';
import { replay } from '../core/replay.js';
import { checkOptionBag } from '../internal/options.js';
import type { TestBackend } from './test-backend.js';

/**
 * The model the lifecycle commands keep: what the backend was made to do to each export the
 * application started, in order. Extend it with your application's own state (the commands only
 * read and write `exports`).
 *
 * @example
 * ```ts
 * interface MyModel extends LifecycleModel { retriesSeen: number }
 * const model: MyModel = { exports: [], retriesSeen: 0 };
 * ```
 */
export interface LifecycleModel {
  /** The exports started so far, oldest first, as the commands moved them. */
  readonly exports: LifecycleExport[];
}

/**
 * One export of a {@link LifecycleModel}.
 *
 * @example
 * ```ts
 * const running: LifecycleExport = { exportId: 'export-1', ended: false, failureType: undefined, progress: 0.25 };
 * ```
 */
export interface LifecycleExport {
  /** Its id on the backend. */
  readonly exportId: string;
  /** Whether its job sent its end (success or a failure). */
  ended: boolean;
  /** How it ended: `null` for success, the failure type otherwise; `undefined` while running. */
  failureType: FailureType | null | undefined;
  /** The last progress its job sent. */
  progress: number;
}

/**
 * What the lifecycle commands act on: the test backend, and how the application's own state is
 * read to know which exports it started (new ones are added to the model as they appear).
 *
 * @example
 * ```ts
 * const real: LifecycleReal = { backend: createTestBackend(), exportIds: () => app.exportIds() };
 * ```
 */
export interface LifecycleReal {
  /** The backend the application runs against (its exports are moved by the commands). */
  readonly backend: TestBackend;
  /** The ids of the exports the application has started so far. */
  readonly exportIds: () => readonly string[];
}

/**
 * Options of {@link lifecycleCommands}.
 *
 * @example
 * ```ts
 * lifecycleCommands({ failureTypes: ['internal', 'exception'], check: () => expect(app.view()).not.toContain('undefined') } satisfies LifecycleCommandsOptions<LifecycleModel, LifecycleReal>);
 * ```
 */
export interface LifecycleCommandsOptions<Model extends LifecycleModel, Real extends LifecycleReal> {
  /** The failure types an `end` command draws. @defaultValue exception, oom, timeout, internal */
  readonly failureTypes?: readonly FailureType[] | undefined;
  /** Your invariant, checked after every command once the application had a moment to react. */
  readonly check?: ((model: Model, real: Real) => unknown) | undefined;
}

/**
 * The model to start an `fc.asyncModelRun` with: the exports the application has started
 * already (a command runs only on exports its model knows; those the application starts later
 * are added after each command).
 *
 * @example
 * ```ts
 * const backend = createTestBackend();
 * const commands = fc.sample(fc.commands(lifecycleCommands()), 1)[0]!;
 * await fc.asyncModelRun(() => ({ model: lifecycleModel(app.exportIds()), real: { backend, exportIds: () => app.exportIds() } }), commands);
 * ```
 * @param exportIds - The ids of the exports started so far.
 * @returns A {@link LifecycleModel} of them, all running.
 */
export function lifecycleModel(exportIds: readonly string[]): LifecycleModel {
  return { exports: exportIds.map((exportId) => ({ exportId, ended: false, failureType: undefined, progress: 0 })) };
}

const DEFAULT_FAILURES: readonly FailureType[] = ['exception', 'oom', 'timeout', 'internal'];

/** Lets the application react to what a command did: one macrotask. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Adds the exports the application started since the last command to the model. */
function sync(model: LifecycleModel, real: LifecycleReal): void {
  for (const exportId of real.exportIds()) {
    if (!model.exports.some((e) => e.exportId === exportId)) model.exports.push({ exportId, ended: false, failureType: undefined, progress: 0 });
  }
}

function running(model: LifecycleModel): LifecycleExport[] {
  return model.exports.filter((e) => !e.ended);
}

abstract class LifecycleCommand<Model extends LifecycleModel, Real extends LifecycleReal> implements AsyncCommand<Model, Real> {
  constructor(
    protected readonly pick: number,
    private readonly invariant: ((model: Model, real: Real) => unknown) | undefined,
  ) {}
  /** fast-check's precondition. */
  abstract check(model: Readonly<Model>): boolean;
  abstract act(model: Model, real: Real): Promise<void> | void;
  abstract describe(): string;
  protected target(model: Readonly<Model>, among: (m: LifecycleModel) => LifecycleExport[] = running): LifecycleExport {
    const candidates = among(model);
    return candidates[this.pick % candidates.length]!;
  }
  async run(model: Model, real: Real): Promise<void> {
    sync(model, real);
    await this.act(model, real);
    await settle();
    sync(model, real);
    await this.invariant?.(model, real);
  }
  toString(): string {
    return this.describe();
  }
}

class Progress<M extends LifecycleModel, R extends LifecycleReal> extends LifecycleCommand<M, R> {
  #label = '';
  constructor(pick: number, private readonly step: number, check: ((model: M, real: R) => unknown) | undefined) {
    super(pick, check);
  }
  check(model: Readonly<M>): boolean {
    return running(model).length > 0;
  }
  act(model: M, real: R): void {
    const target = this.target(model);
    if (real.backend.history(target.exportId).every((e) => e.type !== 'started')) real.backend.emit(target.exportId, { type: 'started' });
    target.progress = Math.min(0.99, target.progress + this.step);
    real.backend.emit(target.exportId, { type: 'progress', fraction: target.progress });
    this.#label = ` ${target.exportId} to ${target.progress.toFixed(2)}`;
  }
  describe(): string {
    return `progress(${this.pick}, +${this.step})${this.#label}`;
  }
}

class End<M extends LifecycleModel, R extends LifecycleReal> extends LifecycleCommand<M, R> {
  constructor(pick: number, private readonly failureType: FailureType | null, check: ((model: M, real: R) => unknown) | undefined) {
    super(pick, check);
  }
  check(model: Readonly<M>): boolean {
    return running(model).length > 0;
  }
  async act(model: M, real: R): Promise<void> {
    const target = this.target(model);
    const { backend } = real;
    if (backend.history(target.exportId).every((e) => e.type !== 'started')) backend.emit(target.exportId, { type: 'started' });
    target.ended = true;
    target.failureType = this.failureType;
    if (this.failureType === null) {
      const key = backend.history(target.exportId).length > 0 ? `exports/${target.exportId}.ndjson` : 'out.ndjson';
      const bytes = new TextEncoder().encode(`{"export":"${target.exportId}"}\n`);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      backend.putFile(key, bytes);
      const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      backend.emit(target.exportId, { type: 'succeeded', runtime: 1, peak_memory_usage: 1024, key, labels: ['vector', 'p', target.exportId, key], size_bytes: bytes.length, sha256 });
    } else {
      const exception = this.failureType === 'exception';
      backend.emit(target.exportId, {
        type: 'failed',
        failure_type: this.failureType,
        exception_name: exception ? 'ValueError' : null,
        stacktrace: exception ? 'Traceback (most recent call last):\n  ValueError' : null,
        runtime: 1,
        peak_memory_usage: 1024,
      });
    }
  }
  describe(): string {
    return `end(${this.pick}, ${this.failureType === null ? 'success' : this.failureType})`;
  }
}

class ResendTerminal<M extends LifecycleModel, R extends LifecycleReal> extends LifecycleCommand<M, R> {
  check(model: Readonly<M>): boolean {
    return model.exports.some((e) => e.ended);
  }
  act(model: M, real: R): void {
    const target = this.target(model, (m) => m.exports.filter((e) => e.ended));
    const terminal = [...real.backend.history(target.exportId)].reverse().find((e) => e.type === 'succeeded' || e.type === 'failed');
    if (terminal === undefined) return;
    const { product_id: _p, export_id: _e, seq: _s, time: _t, ...again } = terminal;
    real.backend.emit(target.exportId, again);
  }
  describe(): string {
    return `resendTerminal(${this.pick})`;
  }
}

class Cut<M extends LifecycleModel, R extends LifecycleReal> extends LifecycleCommand<M, R> {
  check(model: Readonly<M>): boolean {
    return running(model).length > 0;
  }
  async act(model: M, real: R): Promise<void> {
    // The stream is cut while the job goes on, then resumes by cursor.
    real.backend.deliver = false;
    const target = this.target(model);
    if (real.backend.history(target.exportId).every((e) => e.type !== 'started')) real.backend.emit(target.exportId, { type: 'started' });
    real.backend.emit(target.exportId, { type: 'log', line: 'written while the stream was cut' });
    await settle();
    real.backend.deliver = true;
  }
  describe(): string {
    return `cut(${this.pick})`;
  }
}

class Cancel<M extends LifecycleModel, R extends LifecycleReal> extends LifecycleCommand<M, R> {
  check(model: Readonly<M>): boolean {
    return running(model).length > 0;
  }
  async act(model: M, real: R): Promise<void> {
    const target = this.target(model);
    const productId = real.backend.history(target.exportId)[0]!.product_id;
    await real.backend.cancel(productId, target.exportId);
    // Honoured at once, as a job that stops at its next step.
    if (replay(real.backend.history(target.exportId)).phase !== 'success') {
      target.ended = true;
      target.failureType = 'cancelled';
      real.backend.emit(target.exportId, { type: 'failed', failure_type: 'cancelled', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null });
    }
  }
  describe(): string {
    return `cancelByBackend(${this.pick})`;
  }
}

/**
 * Ready `fc.commands` building blocks for the export lifecycle, to compose with your own
 * commands (the user's clicks, your application's actions): `progress`, `end` (success or any
 * failure type, with a real file on success), `resendTerminal` (a worker sending its end
 * again), `cut` (the stream cut while the job goes on, then resumed), and `cancelByBackend` (an
 * operator or a limit ending a job cancelled). Each acts on the exports your application
 * started (those of the initial model, see {@link lifecycleModel}, and those read through
 * `real.exportIds()` after each command), lets it react for one macrotask, then runs your `check`.
 *
 * @example
 * ```ts
 * let highest = 0;
 * const check = (): void => {
 *   expect(app.progress()).toBeGreaterThanOrEqual(highest); // the application's own invariant
 *   highest = app.progress();
 * };
 * await fc.assert(
 *   fc.asyncProperty(fc.commands([...lifecycleCommands({ check })]), async (commands) => {
 *     const backend = createTestBackend();
 *     highest = 0;
 *     await fc.asyncModelRun(() => ({ model: lifecycleModel(app.exportIds()), real: { backend, exportIds: () => app.exportIds() } }), commands);
 *   }),
 * );
 * ```
 * @param options - See {@link LifecycleCommandsOptions}.
 * @returns Arbitraries of commands, for `fc.commands([...])`.
 * @throws TypeError at once for a bad option.
 */
export function lifecycleCommands<Model extends LifecycleModel = LifecycleModel, Real extends LifecycleReal = LifecycleReal>(
  options?: LifecycleCommandsOptions<Model, Real>,
): Arbitrary<AsyncCommand<Model, Real>>[] {
  checkOptionBag('lifecycleCommands()', options, ['failureTypes', 'check']);
  const failureTypes: unknown = options?.failureTypes ?? DEFAULT_FAILURES;
  if (!Array.isArray(failureTypes) || failureTypes.length === 0) {
    throw new TypeError(`lifecycleCommands(): expected \`failureTypes\` to be a non-empty array of failure types, got ${describeValue(failureTypes)}`);
  }
  const check = options?.check;
  if (check !== undefined && typeof check !== 'function') {
    throw new TypeError(`lifecycleCommands(): expected \`check\` to be a function (model, real) => ..., got ${describeValue(check)}`);
  }
  const pick = fc.nat(7);
  return [
    fc.tuple(pick, fc.constantFrom(0.1, 0.25, 0.5)).map(([p, step]) => new Progress<Model, Real>(p, step, check)),
    fc.tuple(pick, fc.constantFrom<FailureType | null>(null, ...(failureTypes as FailureType[]))).map(([p, type]) => new End<Model, Real>(p, type, check)),
    pick.map((p) => new ResendTerminal<Model, Real>(p, check)),
    pick.map((p) => new Cut<Model, Real>(p, check)),
    pick.map((p) => new Cancel<Model, Real>(p, check)),
  ];
}

/**
 * Leaks of a test: what a client or backend still has open once the test is over, for an
 * `afterEach`.
 *
 * @example
 * ```ts
 * const backend = createTestBackend();
 * const before = leakReport();
 * // ... the test, then client.close() and backend.close()
 * expect(leakReport({ backend, client })).toEqual({ ...before, openStreams: 0, runningJobs: 0, waits: 0 });
 * ```
 * @param of - The backend (its open event streams and running simulated jobs) and the client
 * (the waits still pending in its store) to look at.
 * @returns Counts: event streams still subscribed, simulated jobs still running, waits still
 * pending (`getResult`, the attributes, `settled`), and timers pending in this process (Node's
 * `process.getActiveResourcesInfo()`; 0 elsewhere).
 */
export function leakReport(of?: {
  readonly backend?: TestBackend | undefined;
  readonly client?: { readonly store: { readonly pendingWaits: number } } | undefined;
}): { openStreams: number; runningJobs: number; waits: number; timers: number } {
  checkOptionBag('leakReport()', of, ['backend', 'client']);
  const resources = typeof process !== 'undefined' && typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo() : [];
  return {
    openStreams: of?.backend?.openStreams ?? 0,
    runningJobs: of?.backend?.runningJobs ?? 0,
    waits: of?.client?.store.pendingWaits ?? 0,
    timers: resources.filter((r) => r === 'Timeout').length,
  };
}
