import fc from 'fast-check';

/**
 * The two hooks of your test runner that {@link setupFastCheckReplay} needs: vitest's (or
 * jest's) `afterEach` and `afterAll`, passed in so that this package imports no runner.
 *
 * @example
 * ```ts
 * import { afterAll, afterEach } from 'vitest';
 * const hooks: ReplayHooks = { afterEach, afterAll };
 * ```
 */
export interface ReplayHooks {
  /** Called after each test with its context (`{ task }` in vitest). */
  readonly afterEach: (fn: (context: ReplayTestContext) => void) => unknown;
  /** Called once after the file's tests. */
  readonly afterAll: (fn: () => void) => unknown;
}

/**
 * What {@link setupFastCheckReplay} reads of a finished test (vitest's `context.task`).
 *
 * @example
 * ```ts
 * const context: ReplayTestContext = { task: { name: 'keeps n small', result: { state: 'fail', errors: [{ message: '...' }] } } };
 * ```
 */
export interface ReplayTestContext {
  /** The test: its name, its file and how it ended. */
  readonly task?:
    | {
        readonly name: string;
        readonly file?: { readonly name?: string | undefined } | undefined;
        readonly result?: { readonly state?: string | undefined; readonly errors?: readonly { readonly message?: string | undefined }[] | undefined } | undefined;
      }
    | undefined;
}

/**
 * What {@link setupFastCheckReplay} configured.
 *
 * @example
 * ```ts
 * const { seed }: ReplaySettings = setupFastCheckReplay({ afterEach, afterAll });
 * ```
 */
export interface ReplaySettings {
  /** The seed of every property of the run (`FC_SEED`, or a random one). */
  readonly seed: number;
  /** Runs per property (`FC_RUNS`, default 100 as fast-check's). */
  readonly numRuns: number;
  /** The counterexample's path being replayed (`FC_PATH`), if any. */
  readonly path: string | undefined;
}

function readInteger(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new TypeError(`setupFastCheckReplay(): expected the environment variable ${name} to be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * A test-runner setup that makes every fast-check failure replayable with one command. Call it
 * from a setup file (vitest's `setupFiles`):
 *
 * - it reads `FC_SEED` (the seed of every property of the run; random when unset) and `FC_RUNS`
 *   (runs per property) and sets them with `fc.configureGlobal`; `FC_PATH` (a counterexample's
 *   path) reaches the properties that spread {@link replayParameters} into their `fc.assert`
 *   (fast-check takes a path per assertion, not globally);
 * - after a failing test whose error is fast-check's, it prints the exact command that replays
 *   it: `FC_SEED=… FC_PATH="…" npx vitest run <file> -t "<test>"`.
 *
 * Caveats (fast-check's own behaviour): a path belongs to one property, so replay one test at a
 * time (the printed `-t` does); a scheduler (`fc.scheduler()`) replays the
 * same decisions, which is the same interleaving only if the code under test schedules the
 * same tasks in the same order (real timers, the clock or real I/O can change that); and an
 * `fc.commands` counterexample needs the `replayPath` fast-check prints, passed to
 * `fc.commands(commands, { replayPath })`.
 *
 * @example
 * ```ts
 * // test/setup.ts, named in vitest.config.ts as test.setupFiles
 * import { afterAll, afterEach } from 'vitest';
 * import { setupFastCheckReplay } from 'export-task/testing';
 * setupFastCheckReplay({ afterEach, afterAll });
 * ```
 * @param hooks - The runner's `afterEach` and `afterAll`.
 * @param env - Where the variables are read from. @defaultValue process.env
 * @param log - Where the replay command is printed. @defaultValue console.log
 * @returns The settings it configured.
 * @throws TypeError at once when a variable is not an integer, or the hooks are not functions.
 */
export function setupFastCheckReplay(
  hooks: ReplayHooks,
  env: Record<string, string | undefined> = typeof process === 'undefined' ? {} : process.env,
  log: (line: string) => void = console.log,
): ReplaySettings {
  if (typeof hooks?.afterEach !== 'function' || typeof hooks.afterAll !== 'function') {
    throw new TypeError("setupFastCheckReplay(): expected your runner's hooks, as in setupFastCheckReplay({ afterEach, afterAll }) with both imported from 'vitest'");
  }
  // fast-check takes a 32-bit seed; `| 0` keeps the random one in range.
  const seed = readInteger(env, 'FC_SEED') ?? (Math.random() * 0x1_0000_0000) | 0;
  const numRuns = readInteger(env, 'FC_RUNS') ?? 100;
  if (numRuns < 1) throw new TypeError(`setupFastCheckReplay(): expected FC_RUNS to be a positive integer, got ${numRuns}`);
  const path = env.FC_PATH === undefined || env.FC_PATH === '' ? undefined : env.FC_PATH;
  fc.configureGlobal({ seed, numRuns });
  let failed = false;
  hooks.afterEach((context) => {
    const task = context?.task;
    if (task?.result?.state !== 'fail') return;
    failed = true;
    const message = task.result.errors?.map((e) => e.message ?? '').join('\n') ?? '';
    // fast-check's report says: `{ seed: -1234, path: "3:1:0", endOnFailure: true }`.
    const found = /seed: (-?\d+), path: "([^"]*)"/.exec(message);
    if (found === null) return;
    const file = task.file?.name ?? '<file>';
    const replayPath = /replayPath: ?"([^"]*)"/.exec(message);
    log(
      `Replay this counterexample: FC_SEED=${found[1]} FC_PATH="${found[2]}" npx vitest run ${file} -t ${JSON.stringify(task.name)}` +
        (replayPath === null ? '' : `\n  (an fc.commands run: pass { replayPath: ${JSON.stringify(replayPath[1])} } to fc.commands)`),
    );
  });
  hooks.afterAll(() => {
    if (failed) log(`fast-check seed of this run: ${seed} (FC_SEED=${seed} FC_RUNS=${numRuns})`);
  });
  return { seed, numRuns, path };
}

/**
 * The replay settings for one `fc.assert`: with `FC_PATH` set (as the command
 * {@link setupFastCheckReplay} prints), `{ seed, path, endOnFailure: true }`, so that the
 * assertion runs only the counterexample; otherwise nothing (the global settings apply).
 *
 * @example
 * ```ts
 * fc.assert(fc.property(taskHistoryArb(), (history) => replay(history).seq >= 1), { ...replayParameters() });
 * ```
 * @param env - Where the variables are read from. @defaultValue process.env
 * @returns Parameters to spread into `fc.assert`.
 * @throws TypeError at once when `FC_PATH` is set without an integer `FC_SEED`.
 */
export function replayParameters(env: Record<string, string | undefined> = typeof process === 'undefined' ? {} : process.env): { seed?: number; path?: string; endOnFailure?: boolean } {
  const path = env.FC_PATH;
  if (path === undefined || path === '') return {};
  const seed = readInteger(env, 'FC_SEED');
  if (seed === undefined) throw new TypeError('replayParameters(): FC_PATH is set but FC_SEED is not: set both, as the printed replay command does');
  return { seed, path, endOnFailure: true };
}
