import { Observable } from 'rxjs';
import type { BackendEvent } from '../../client/backend.js';
import { BadRequestError } from '../../client/http-errors.js';
import type { TaskEvent } from '../../core/events.js';
import { describeValue } from '../../core/errors.js';

/**
 * Every event of one product's exports, in emission order, kept in memory. The cursor of an
 * event is its rank in the log as a decimal string (`"1"` for the first), so resuming after a
 * cursor is taking the log from that rank on.
 * @internal
 */
export class ProductEventLog {
  readonly #events: BackendEvent[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #closers = new Set<() => void>();

  /** Appends an event and hands it to every live subscriber. */
  append(event: TaskEvent): void {
    this.#events.push({ cursor: String(this.#events.length + 1), event });
    for (const listener of [...this.#listeners]) listener();
  }

  /**
   * The events after `after` (all of them when absent), then each new one as it is appended.
   * Errors with `BadRequestError` for a cursor this log never gave.
   */
  events(after: string | undefined): Observable<BackendEvent> {
    return new Observable<BackendEvent>((subscriber) => {
      let position: number;
      try {
        position = this.#position(after);
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      // Deliver by rank, not by pushing what `append` was given: an event appended while
      // a subscriber's handler runs (reentrantly) is delivered once, after the ones before it.
      let draining = false;
      const drain = (): void => {
        if (draining) return;
        draining = true;
        try {
          while (position < this.#events.length && !subscriber.closed) subscriber.next(this.#events[position++]!);
        } finally {
          draining = false;
        }
      };
      const complete = (): void => subscriber.complete();
      this.#listeners.add(drain);
      this.#closers.add(complete);
      drain();
      return () => {
        this.#listeners.delete(drain);
        this.#closers.delete(complete);
      };
    });
  }

  /** Completes every live subscription: the service is closing. */
  close(): void {
    for (const complete of [...this.#closers]) complete();
    this.#listeners.clear();
    this.#closers.clear();
  }

  #position(after: string | undefined): number {
    if (after === undefined) return 0;
    const n = /^(0|[1-9][0-9]{0,15})$/.test(after) ? Number(after) : NaN;
    if (!Number.isSafeInteger(n) || n > this.#events.length) {
      throw new BadRequestError(
        `Expected \`after\` to be a cursor this service gave (a decimal number from 0 to ${this.#events.length}), got ${describeValue(after)}: ` +
          'resume from a cursor of a received event, or omit it to read the whole history',
      );
    }
    return n;
  }
}
