import type { BackendEvent } from '../../client/backend.js';
import { compareEntryIds, toBackendEvent } from './redis-export-log.js';
import { duplicateConnection } from './redis-target.js';
import type { RedisConnection } from './redis-target.js';
import { redisKeys } from './redis-keys.js';

/** How long one blocking read waits, ms; between reads the loop sees whether it should stop. */
const BLOCK_MS = 5_000;
/**
 * After a read that brought entries, the tail waits this long before the next, ms: on a busy
 * product each read (and each write to a stream) then carries the appends of that time instead
 * of one or two, for at most this much more latency. A read after a quiet time returns at once.
 */
export const COALESCE_MS = 10;
/** Entries one blocking read brings at most. */
const READ_COUNT = 1000;
/** Entries a tail keeps read (parsed) for the feeds: a feed further behind reads the stream by its own cursor. */
export const WINDOW = 2048;

/** One product's tail: a loop of `XREAD BLOCK` on its own connection, keeping what it read for the product's feeds. */
interface Tail {
  readonly listeners: Set<TailListener>;
  readonly connection: RedisConnection;
  /** Resolves once the tail knows where the stream ended when it started: later entries are told. */
  readonly ready: Promise<void>;
  stopped: boolean;
  /** The entries read after {@link Tail.base}, every one of them, in order, parsed once: what feeds take without a round trip. */
  window: BackendEvent[];
  /** The cursor the window starts after: undefined until the tail is ready. */
  base: string | undefined;
  /** The product's log id read right after the window's last read: a feed of another log takes nothing from the window. */
  logId: string | null | undefined;
}

/**
 * Told `'append'` after entries were appended (they are in the tail's window when it is told),
 * and `'check'` when the stream may have been replaced while nothing was appended: after the
 * tail lost its connection (Redis restarted) and read again, and after each quiet
 * {@link BLOCK_MS}. `logId` is the product's as read right after (`null` when the product is
 * gone), so that a listener tells a product created again from its own before it reads what
 * was appended. @internal
 */
export type TailListener = (what: 'append' | 'check', logId: string | null | undefined) => void;

/** What the tail read after a cursor, from its window. @internal */
export interface WindowRead {
  readonly events: BackendEvent[];
  /** Where the read ends: the last event given, or the window's end when it gave all it holds. */
  readonly cursor: string;
}

/** A listener's hold on its product's tail. @internal */
export interface TailHandle {
  /** Resolves once the tail is ready (what is appended from then on is told), or stopped. */
  readonly ready: Promise<void>;
  /**
   * Up to `limit` entries after `after` from the tail's window, when the window holds every
   * entry after it (the cursor is at or after the window's start) and was read from the log
   * `logId`; `undefined` when it does not (the caller reads the stream itself).
   */
  read(after: string, limit: number, logId: string | undefined): WindowRead | undefined;
  /** Whether `cursor` is an entry of the window's log `logId` that the window knows (its start, or one of its entries). */
  holds(cursor: string, logId: string | undefined): boolean;
  /** Stops listening (the tail ends with its last listener). */
  stop(): void;
}

/** The first index of `window` whose cursor is after `after`. */
function firstAfter(window: readonly BackendEvent[], after: string): number {
  let low = 0;
  let high = window.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareEntryIds(window[mid]!.cursor, after) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Live tails of the products' event streams, for one API instance: one loop per product
 * while anyone listens, each on a dedicated connection (a blocking `XREAD` holds its
 * connection, so it cannot share the one commands go through). What a tail reads it keeps,
 * parsed, in a window of the last {@link WINDOW} entries: the product's feeds take new entries
 * from it, so one `XREAD` per product brings each entry to every stream of this instance. A
 * feed whose cursor is before the window (it fell behind, or resumes from far back) reads the
 * stream by its cursor, so a tail that falls behind or reconnects (Redis restarted) loses nothing.
 * @internal
 */
export class RedisTails {
  readonly #redis: RedisConnection;
  readonly #tails = new Map<string, Tail>();
  readonly #blockMs: number;
  readonly #coalesceMs: number;
  readonly #window: number;
  #closed = false;

  /** @param options - `blockMs`, `coalesceMs` and `window`: {@link BLOCK_MS}, {@link COALESCE_MS} and {@link WINDOW} by default (shorter in tests). */
  constructor(redis: RedisConnection, options: { readonly blockMs?: number; readonly coalesceMs?: number; readonly window?: number } = {}) {
    this.#redis = redis;
    this.#blockMs = options.blockMs ?? BLOCK_MS;
    this.#coalesceMs = options.coalesceMs ?? COALESCE_MS;
    this.#window = options.window ?? WINDOW;
  }

  /**
   * Calls `listener` after entries are appended to the product's stream, from the moment the
   * handle's `ready` resolves on. Once closed, the handle is of no tail: it reads nothing and is never told.
   */
  listen(productId: string, listener: TailListener): TailHandle {
    if (this.#closed) {
      return { ready: Promise.resolve(), read: () => undefined, holds: () => false, stop: () => undefined };
    }
    let tail = this.#tails.get(productId);
    if (tail === undefined) {
      tail = this.#start(productId);
      this.#tails.set(productId, tail);
    }
    tail.listeners.add(listener);
    const started = tail;
    const usable = (logId: string | undefined): boolean => !started.stopped && started.base !== undefined && started.logId === logId;
    return {
      ready: started.ready,
      read: (after, limit, logId) => {
        if (!usable(logId) || compareEntryIds(after, started.base!) < 0) return undefined;
        const window = started.window;
        const from = firstAfter(window, after);
        const to = Math.min(window.length, from + limit);
        const end = window.length === 0 ? started.base! : window.at(-1)!.cursor;
        // A cursor ahead of the window (its feed read the stream further than this tail has yet) stays where it is.
        const cursor = to === window.length ? (compareEntryIds(after, end) > 0 ? after : end) : to > from ? window[to - 1]!.cursor : after;
        return { events: window.slice(from, to), cursor };
      },
      holds: (cursor, logId) => {
        if (!usable(logId)) return false;
        if (cursor === started.base) return true;
        const at = firstAfter(started.window, cursor) - 1;
        return at >= 0 && started.window[at]!.cursor === cursor;
      },
      stop: () => {
        started.listeners.delete(listener);
        if (started.listeners.size === 0 && this.#tails.get(productId) === started) this.#stop(productId, started);
      },
    };
  }

  /** Ends every tail; later listens get no tail. */
  close(): void {
    this.#closed = true;
    for (const [productId, tail] of [...this.#tails]) this.#stop(productId, tail);
  }

  #start(productId: string): Tail {
    // A blocking read waits longer than the API's command timeout: that option is not carried
    // over. On a cluster the copy is a Cluster too, which connects only to the master of the
    // product's slot (its nodes connect lazily) and follows the slot if it moves.
    const connection = duplicateConnection(this.#redis, { commandTimeout: false });
    connection.on('error', () => undefined);
    const key = redisKeys.events(productId);
    let markReady!: () => void;
    const tail: Tail = {
      listeners: new Set(),
      connection,
      ready: new Promise((resolve) => (markReady = resolve)),
      stopped: false,
      window: [],
      base: undefined,
      logId: undefined,
    };
    void (async () => {
      let last: string | undefined;
      // Once the connection is back (Redis restarted), was Redis's data lost meanwhile? The read
      // in flight is sent again by the client, so this is not left to the loop.
      let connected = false;
      connection.on('ready', () => {
        if (connected && !tail.stopped) {
          // What the window holds may be of a log Redis no longer has: the feeds read by cursor until it fills again.
          if (last !== undefined) this.#restartWindow(tail, last);
          tell('check').catch(() => undefined);
        }
        connected = true;
      });
      const product = redisKeys.product(productId);
      const logIdNow = async (): Promise<string | null | undefined> => {
        // On the commands' connection: this one may be blocked in a read.
        const json = await this.#redis.get(product);
        return json === null ? null : (JSON.parse(json) as { logId?: string }).logId;
      };
      const tell = async (what: 'append' | 'check'): Promise<void> => {
        const logId = await logIdNow();
        for (const listener of [...tail.listeners]) listener(what, logId);
      };
      while (!tail.stopped) {
        try {
          if (last === undefined) {
            const logId = await logIdNow();
            const [entry] = await connection.xrevrange(key, '+', '-', 'COUNT', 1);
            last = entry?.[0] ?? '0-0';
            tail.logId = logId;
            this.#restartWindow(tail, last);
            markReady();
            continue;
          }
          const answer = await connection.xread('COUNT', READ_COUNT, 'BLOCK', this.#blockMs, 'STREAMS', key, last);
          const entries = answer?.[0]?.[1];
          if (entries === undefined || entries.length === 0) {
            if (!tail.stopped) await tell('check');
            continue;
          }
          const logId = await logIdNow();
          if (tail.stopped) break;
          const events = entries.map(toBackendEvent);
          last = events.at(-1)!.cursor;
          if (logId !== tail.logId) {
            // Another log (the product was created again): the window starts over after this read.
            tail.logId = logId;
            this.#restartWindow(tail, last);
          } else {
            this.#keep(tail, events);
          }
          for (const listener of [...tail.listeners]) listener('append', logId);
          if (this.#coalesceMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#coalesceMs));
        } catch {
          // Redis went away (restarted) or the tail was stopped: wait a little and read again
          // from the last entry seen; listeners catch up by cursor.
          if (!tail.stopped) await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      markReady();
    })();
    return tail;
  }

  /** The window holds nothing, from `after` on. */
  #restartWindow(tail: Tail, after: string): void {
    tail.window = [];
    tail.base = after;
  }

  /** Adds what a read brought to the window; past 2 x {@link WINDOW} entries, its oldest go, down to {@link WINDOW}. */
  #keep(tail: Tail, events: readonly BackendEvent[]): void {
    for (const event of events) tail.window.push(event);
    if (tail.window.length <= 2 * this.#window) return;
    const cut = tail.window.length - this.#window;
    // The window now starts after the last entry it dropped.
    tail.base = tail.window[cut - 1]!.cursor;
    tail.window = tail.window.slice(cut);
  }

  #stop(productId: string, tail: Tail): void {
    tail.stopped = true;
    this.#tails.delete(productId);
    tail.listeners.clear();
    tail.connection.disconnect();
  }
}
