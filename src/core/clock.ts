/**
 * Where the core reads the time and arms its timers: the system clock by default, or one of
 * the caller's (a simulated clock in tests, as XState's `clock` and RxJS's schedulers).
 *
 * @example
 * ```ts
 * const clock: Clock = { now: () => Date.now(), setTimeout: (fire, ms) => setTimeout(fire, ms), clearTimeout: (h) => clearTimeout(h as never) };
 * const store = new TaskStore({ clock });
 * ```
 */
export interface Clock {
  /** The time now, in epoch milliseconds. */
  now(): number;
  /** Calls `fire` once, `ms` milliseconds from now; answers a handle for {@link Clock.clearTimeout}. */
  setTimeout(fire: () => void, ms: number): unknown;
  /** Cancels a timer armed by {@link Clock.setTimeout} that has not fired. */
  clearTimeout(handle: unknown): void;
}

/**
 * The system clock. It reads the globals on each call, so test fake timers installed after the
 * core was loaded (`vi.useFakeTimers()`) still apply.
 *
 * @example
 * ```ts
 * const store = new TaskStore({ clock: systemClock }); // the same as no clock
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fire: () => void, ms: number): unknown => setTimeout(fire, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
});

/** Throws unless `value` is undefined or a {@link Clock}; `where` names the caller. @internal */
export function checkClock(where: string, value: unknown): Clock | undefined {
  if (value === undefined) return undefined;
  const has = (name: keyof Clock): boolean => typeof (value as Record<string, unknown>)[name] === 'function';
  if (typeof value !== 'object' || value === null || !has('now') || !has('setTimeout') || !has('clearTimeout')) {
    throw new TypeError(`${where}: expected \`clock\` to be an object with now(), setTimeout(fire, ms) and clearTimeout(handle), such as a ManualClock from export-task/testing`);
  }
  return value as Clock;
}
