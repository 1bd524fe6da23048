import type { Clock } from '../core/clock.js';

/**
 * A {@link Clock} that moves only when told: time starts at `start` and goes forward by
 * {@link ManualClock.advance}, which fires every timer that falls due on the way, in the order
 * they fall due (those of the same time in the order they were armed). For testing timeouts of
 * a `TaskStore` or a client without global fake timers.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const store = new TaskStore({ clock });
 * const waiting = store.settled('e1', { timeout: 5_000 });
 * await clock.advance(5_000); // the wait rejects with TimeoutError
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fire: () => void }>();

  /**
   * Makes a clock standing still at `start`.
   *
   * @param start - The time it shows first, in epoch ms.
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The time it shows. */
  now(): number {
    return this.#now;
  }

  /** Arms a timer; answers its handle. */
  setTimeout(fire: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fire });
    return id;
  }

  /** Cancels a timer (a no-op for one fired or unknown). */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** How many timers are armed (for leak checks). */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves the time forward by `ms`, firing each timer due on the way at its own time, and lets
   * the promise callbacks each fire starts run (a microtask turn) before the next.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new TypeError(`ManualClock.advance(): expected a non-negative number of ms, got ${String(ms)}`);
    const end = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; fire: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fire();
      await flush();
    }
    this.#now = end;
    await flush();
  }
}

/** Lets pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
