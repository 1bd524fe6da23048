import { parseTaskEvent } from '../core/parse-task-event.js';
import type { TaskStore } from '../core/task-store.js';
import type { ExportBackend } from '../client/backend.js';

/** Options of a {@link PollSource}. */
export interface PollSourceOptions {
  /** First (and minimum) delay between polls, ms. */
  readonly pollInterval: number;
  /** Longest delay between polls, ms. */
  readonly maxPollInterval: number;
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
  readonly #backend: ExportBackend;
  readonly #productId: string;
  readonly #options: PollSourceOptions;
  #delay: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = false;
  #stopped = false;
  /** How many status requests this source has sent (for the client's metrics and tests). */
  requests = 0;

  constructor(store: TaskStore, backend: ExportBackend, productId: string, options: PollSourceOptions) {
    this.#store = store;
    this.#backend = backend;
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
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    // Jitter of +-20% keeps many clients from polling in step.
    const delay = this.#delay * (0.8 + Math.random() * 0.4);
    this.#timer = setTimeout(() => {
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
      const snapshots = await this.#backend.status(this.#productId, ids);
      for (const snapshot of snapshots) {
        const before = this.#store.get(snapshot.export_id);
        const after = this.#store.applyEvent(parseTaskEvent(snapshot));
        if (after !== before) changed = true;
      }
    } catch (error) {
      this.#store.reportError(error as Error);
    } finally {
      this.#inFlight = false;
    }
    this.#delay = changed ? this.#options.pollInterval : Math.min(this.#options.maxPollInterval, this.#delay * 1.5);
    if (this.#store.observedPending(this.#productId).length > 0) this.#schedule();
  }
}
