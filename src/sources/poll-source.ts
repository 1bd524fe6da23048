import type { Clock } from '../core/clock.js';
import type { SnapshotEvent } from '../core/events.js';
import type { TaskStore } from '../core/task-store.js';

/**
 * One batch status request for a product's `ids`, folded into the store by whoever made it
 * (so that it can also settle what the service no longer knows); answers the snapshots.
 * @internal
 */
export type StatusCheck = (productId: string, ids: readonly string[]) => Promise<readonly SnapshotEvent[]>;

/** Options of a {@link PollSource}. */
export interface PollSourceOptions {
  /** First (and minimum) delay between polls, ms. */
  readonly pollInterval: number;
  /** Longest delay between polls, ms. */
  readonly maxPollInterval: number;
}

/** {@link PollSourceOptions}, with the clock the polls are timed on (the store's). @internal */
export interface PollTiming extends PollSourceOptions {
  readonly clock: Clock;
}

/**
 * Keeps a product's tasks up to date by polling, for servers without an events route or when
 * polling is asked for. Each poll is ONE status request for all the product's tasks that are
 * pending and waited for or watched (never one request per task, where the server has the
 * batch route), so the number of requests per interval stays flat however many tasks wait.
 * The delay starts at `pollInterval`, grows by half each poll that brings nothing new (with
 * jitter) up to `maxPollInterval`, and falls back to `pollInterval` after a change. With
 * nothing to ask about it arms no timer at all; {@link PollSource.wake} starts it again.
 * @internal
 */
export class PollSource {
  readonly #store: TaskStore;
  readonly #check: StatusCheck;
  readonly #productId: string;
  readonly #options: PollTiming;
  #delay: number;
  #timer: unknown;
  #inFlight = false;
  #stopped = false;
  /** How many status requests this source has sent (for the client's metrics and tests). */
  requests = 0;

  constructor(store: TaskStore, check: StatusCheck, productId: string, options: PollTiming) {
    this.#store = store;
    this.#check = check;
    this.#productId = productId;
    this.#options = options;
    this.#delay = options.pollInterval;
  }

  /** Something new waits or watches: make sure a poll is scheduled. */
  wake(): void {
    if (this.#stopped || this.#timer !== undefined || this.#inFlight) return;
    this.#delay = this.#options.pollInterval;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    // Jitter of +-20% keeps many clients from polling in step.
    const delay = this.#delay * (0.8 + Math.random() * 0.4);
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, delay);
  }

  async #poll(): Promise<void> {
    const ids = this.#store.observedPending(this.#productId);
    if (ids.length === 0 || this.#stopped) return;
    this.#inFlight = true;
    let changed = false;
    try {
      this.requests++;
      const before = ids.map((id) => this.#store.get(id));
      await this.#check(this.#productId, ids);
      changed = ids.some((id, i) => this.#store.get(id) !== before[i]);
    } catch (error) {
      this.#store.reportError(error as Error);
    } finally {
      this.#inFlight = false;
    }
    this.#delay = changed ? this.#options.pollInterval : Math.min(this.#options.maxPollInterval, this.#delay * 1.5);
    if (this.#store.observedPending(this.#productId).length > 0) this.#schedule();
  }
}
