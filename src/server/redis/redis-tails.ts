import { duplicateConnection } from './redis-target.js';
import type { RedisConnection } from './redis-target.js';
import { redisKeys } from './redis-keys.js';

/** How long one blocking read waits, ms; between reads the loop sees whether it should stop. */
const BLOCK_MS = 5_000;

/** One product's tail: a loop of `XREAD BLOCK` on its own connection, telling listeners of each new entry. */
interface Tail {
  readonly listeners: Set<TailListener>;
  readonly connection: RedisConnection;
  /** Resolves once the tail knows where the stream ended when it started: later entries are told. */
  readonly ready: Promise<void>;
  stopped: boolean;
}

/**
 * Told `'append'` after entries were appended, and `'check'` when the stream may have been
 * replaced while nothing was appended: after the tail lost its connection (Redis restarted)
 * and read again, and after each quiet {@link BLOCK_MS}. `logId` is the product's as read
 * right after (`null` when the product is gone), so that a listener tells a product created
 * again from its own before it reads what was appended. @internal
 */
export type TailListener = (what: 'append' | 'check', logId: string | null | undefined) => void;

/**
 * Live tails of the products' event streams, for one API instance: one loop per product
 * while anyone listens, each on a dedicated connection (a blocking `XREAD` holds its
 * connection, so it cannot share the one commands go through). Listeners are only told that
 * something was appended; they read it themselves, by cursor, so a tail that falls behind or
 * reconnects (Redis restarted) loses nothing.
 * @internal
 */
export class RedisTails {
  readonly #redis: RedisConnection;
  readonly #tails = new Map<string, Tail>();
  readonly #blockMs: number;

  constructor(redis: RedisConnection, blockMs = BLOCK_MS) {
    this.#redis = redis;
    this.#blockMs = blockMs;
  }

  /**
   * Calls `listener` after entries are appended to the product's stream, from the moment the
   * promise resolves on.
   * @returns The function that stops it (the tail ends with its last listener).
   */
  async listen(productId: string, listener: TailListener): Promise<() => void> {
    let tail = this.#tails.get(productId);
    if (tail === undefined) {
      tail = this.#start(productId);
      this.#tails.set(productId, tail);
    }
    tail.listeners.add(listener);
    const started = tail;
    await started.ready;
    return () => {
      started.listeners.delete(listener);
      if (started.listeners.size === 0 && this.#tails.get(productId) === started) this.#stop(productId, started);
    };
  }

  /** Ends every tail. */
  close(): void {
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
    const tail: Tail = { listeners: new Set(), connection, ready: new Promise((resolve) => (markReady = resolve)), stopped: false };
    void (async () => {
      let last: string | undefined;
      // Once the connection is back (Redis restarted), was Redis's data lost meanwhile? The read
      // in flight is sent again by the client, so this is not left to the loop.
      let connected = false;
      connection.on('ready', () => {
        if (connected && !tail.stopped) tell('check').catch(() => undefined);
        connected = true;
      });
      const product = redisKeys.product(productId);
      const tell = async (what: 'append' | 'check'): Promise<void> => {
        // On the commands' connection: this one may be blocked in a read.
        const json = await this.#redis.get(product);
        const logId = json === null ? null : (JSON.parse(json) as { logId?: string }).logId;
        for (const listener of [...tail.listeners]) listener(what, logId);
      };
      while (!tail.stopped) {
        try {
          if (last === undefined) {
            const [entry] = await connection.xrevrange(key, '+', '-', 'COUNT', 1);
            last = entry?.[0] ?? '0-0';
            markReady();
            continue;
          }
          const answer = await connection.xread('COUNT', 1000, 'BLOCK', this.#blockMs, 'STREAMS', key, last);
          const entries = answer?.[0]?.[1];
          if (entries === undefined || entries.length === 0) {
            if (!tail.stopped) await tell('check');
            continue;
          }
          last = entries.at(-1)![0];
          await tell('append');
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

  #stop(productId: string, tail: Tail): void {
    tail.stopped = true;
    this.#tails.delete(productId);
    tail.listeners.clear();
    tail.connection.disconnect();
  }
}
