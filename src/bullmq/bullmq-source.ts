import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Observable } from 'rxjs';
import { describeValue } from '../core/errors.js';
import { checkOptionBag } from '../internal/options.js';
import type { FailedEvent, SnapshotEvent, TaskEvent } from '../core/events.js';
import { EXPORT_QUEUE, redisKeys } from '../server/redis/redis-keys.js';
import { compareEntryIds } from '../server/redis/redis-export-log.js';
import { ExportRecord } from '../server/embedded/export-record.js';
import type { ExportRecordState } from '../server/embedded/export-record.js';

/**
 * Options of {@link fromBullmq}.
 *
 * @example
 * ```ts
 * const events = fromBullmq({ redis: 'redis://127.0.0.1:6379', productId: 'roads', exportIds: [exportId], checkIntervalMs: 10_000 } satisfies BullmqSourceOptions);
 * const subscription = store.connect(events);
 * ```
 */
export interface BullmqSourceOptions {
  /** The Redis of the service, e.g. `redis://127.0.0.1:6379`. */
  readonly redis: string;
  /** The product whose exports to follow. */
  readonly productId: string;
  /**
   * The exports to follow: their current state is read once subscribed, then their events.
   * With none, every event of the product since its first is delivered instead.
   * @defaultValue every export of the product, from the start of its log
   */
  readonly exportIds?: readonly string[] | undefined;
  /**
   * How often exports not final yet are checked for a job that is gone from the queue (removed
   * by hand, or lost) while the export never ended, ms; such an export then settles as a failure.
   * @defaultValue 5000
   */
  readonly checkIntervalMs?: number | undefined;
  /**
   * Called once the source listens, before it reads the current state, and once it has read
   * it, before it delivers the events that came since: for tests that make a job finish right
   * there, which is when sources that wait on queue events miss it.
   * @internal
   */
  readonly hooks?: { readonly afterSubscribe?: () => Promise<void>; readonly afterStateRead?: () => Promise<void> } | undefined;
}

/**
 * The `exception_name` of an export that settled because its job was gone from the queue while it had not ended.
 *
 * @example
 * ```ts
 * const snapshot = await store.settled(exportId);
 * if (snapshot.attributes?.exceptionName === JOB_REMOVED) console.error('its job was removed from the queue: start the export again');
 * ```
 */
export const JOB_REMOVED = 'JobRemoved';

/** The name of the source's Redis connections (`CLIENT LIST` shows it). @internal */
export const SOURCE_CONNECTION_NAME = 'export-task-bullmq-source';

/** How long a blocking read waits before the loop looks again, ms. */
const BLOCK_MS = 2_000;
const OPTION_KEYS = ['redis', 'productId', 'exportIds', 'checkIntervalMs', 'hooks'];

/**
 * A source of a product's export events straight from the service's Redis, for Node clients
 * next to it (no HTTP hop): subscribe and feed a `TaskStore` with `store.connect(source)`.
 *
 * It avoids the holes of waiting on BullMQ's own events:
 * - **Subscribe first, then read, then reconcile by `seq`.** It notes the end of the
 *   product's Redis Stream (its log) before it reads the exports' current state (`snapshot`
 *   events), then delivers every entry after that point. A job that ends between the two is
 *   in both; the store ignores what it already applied (by `seq`), so nothing is missed and
 *   nothing counts twice.
 * - **A trimmed or restarted stream is noticed and resynced.** When entries after its cursor
 *   were trimmed away, or the stream is gone or starts over below its cursor (a Redis that
 *   lost its data), it reads every followed export's state again as `snapshot` events and goes
 *   on from the stream's new end.
 * - **A removed job settles.** An export that is not final while its BullMQ job is gone (and
 *   stays gone for a check) gets a `failed` event (`failure_type: "internal"`, exception
 *   name {@link JOB_REMOVED}) with the next `seq`, so nothing waits on it forever; so does an
 *   export whose record is gone.
 *
 * Needs the optional peer dependencies `bullmq` and `ioredis`. Unsubscribing closes its
 * Redis connections and timers.
 *
 * @example
 * ```ts
 * import { TaskStore } from 'export-task';
 * import { fromBullmq } from 'export-task/bullmq';
 *
 * const store = new TaskStore();
 * const subscription = store.connect(fromBullmq({ redis: 'redis://127.0.0.1:6379', productId: 'roads', exportIds: [exportId] }));
 * const done = await store.settled(exportId, { timeout: 60_000 });
 * subscription.unsubscribe();
 * ```
 * @param options - See {@link BullmqSourceOptions}.
 * @returns A cold observable of wire events (validate them with the store's `apply`/`connect`).
 * @throws TypeError at once for bad options.
 */
export function fromBullmq(options: BullmqSourceOptions): Observable<TaskEvent> {
  const checked = checkOptions(options);
  return new Observable<TaskEvent>((subscriber) => {
    const follower = new Follower(checked, (event) => subscriber.next(event));
    follower.run().catch((error: unknown) => subscriber.error(error));
    return () => follower.stop();
  });
}

interface CheckedOptions {
  readonly redis: string;
  readonly productId: string;
  readonly exportIds: readonly string[] | undefined;
  readonly checkIntervalMs: number;
  readonly hooks: BullmqSourceOptions['hooks'];
}

class Follower {
  readonly #options: CheckedOptions;
  readonly #emit: (event: TaskEvent) => void;
  readonly #redis: Redis;
  readonly #blocking: Redis;
  readonly #queue: Queue;
  readonly #stream: string;
  /** The highest `seq` delivered per followed export, and whether it is final. */
  readonly #known = new Map<string, { seq: number; final: boolean }>();
  #cursor = '0-0';
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** Exports found without a job at the last check: settled if still so at the next. */
  #suspects = new Set<string>();

  constructor(options: CheckedOptions, emit: (event: TaskEvent) => void) {
    this.#options = options;
    this.#emit = emit;
    // Named, so that `CLIENT LIST` tells what holds a connection.
    this.#redis = new Redis(options.redis, { maxRetriesPerRequest: null, connectionName: SOURCE_CONNECTION_NAME });
    this.#blocking = new Redis(options.redis, { maxRetriesPerRequest: null, connectionName: SOURCE_CONNECTION_NAME });
    for (const connection of [this.#redis, this.#blocking]) connection.on('error', () => undefined);
    this.#queue = new Queue(EXPORT_QUEUE, { connection: this.#redis });
    this.#queue.on('error', () => undefined);
    this.#stream = redisKeys.events(options.productId);
    for (const exportId of options.exportIds ?? []) this.#known.set(exportId, { seq: 0, final: false });
  }

  async run(): Promise<void> {
    const { exportIds, hooks } = this.#options;
    if (exportIds !== undefined) {
      // 1. Listen: from here on, every entry of the stream will be delivered.
      this.#cursor = await this.#end();
      await hooks?.afterSubscribe?.();
      // 2. Read the current state; 3. the entries since (the store drops what the state covers).
      await this.#resync();
      await hooks?.afterStateRead?.();
    }
    this.#schedule();
    while (!this.#stopped) {
      try {
        await this.#readMore();
      } catch (error) {
        if (this.#stopped) return;
        // Redis is away: the clients reconnect; look again shortly.
        void error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#blocking.disconnect();
    void this.#queue.close().finally(() => this.#redis.disconnect());
  }

  /** The id of the stream's last entry, `"0-0"` when there is none. */
  async #end(): Promise<string> {
    const [last] = await this.#redis.xrevrange(this.#stream, '+', '-', 'COUNT', 1);
    return last?.[0] ?? '0-0';
  }

  async #readMore(): Promise<void> {
    const answer = await this.#blocking.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', this.#stream, this.#cursor);
    const entries = answer?.[0]?.[1] ?? [];
    if (this.#stopped) return;
    if (entries.length === 0) {
      await this.#checkStream();
      return;
    }
    // Entries right after the cursor were trimmed away: what they said is lost, resync.
    if (this.#cursor !== '0-0' && (await this.#trimmedAfterCursor())) await this.#resync();
    for (const [id, fields] of entries) {
      if (this.#stopped) return;
      this.#cursor = id;
      const json = fields[fields.indexOf('e') + 1];
      if (json === undefined) continue;
      const event = JSON.parse(json) as TaskEvent;
      if (!this.#follows(event.export_id)) continue;
      this.#note(event.export_id, event.seq, event.type === 'succeeded' || event.type === 'failed');
      this.#emit(event);
    }
  }

  /** Whether the stream's first entry lies after the cursor while the cursor's own entry is gone. */
  async #trimmedAfterCursor(): Promise<boolean> {
    const [first] = await this.#redis.xrange(this.#stream, '-', '+', 'COUNT', 1);
    return first !== undefined && compareEntryIds(first[0], this.#cursor) > 0;
  }

  /** Nothing new: was the stream deleted, or does it now end before the cursor (a Redis that lost its data)? */
  async #checkStream(): Promise<void> {
    if (this.#cursor === '0-0') return;
    const end = await this.#end();
    if (compareEntryIds(end, this.#cursor) >= 0) return;
    this.#cursor = end;
    await this.#resync();
  }

  /** Reads every followed export's state and delivers it as `snapshot` events. */
  async #resync(): Promise<void> {
    const ids = [...this.#known.keys()];
    if (ids.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const exportId of ids) pipeline.hget(redisKeys.export(this.#options.productId, exportId), 'state');
    const answers = (await pipeline.exec()) ?? [];
    ids.forEach((exportId, i) => {
      const [error, state] = answers[i] ?? [null, null];
      if (error !== null || typeof state !== 'string' || this.#stopped) return;
      const snapshot: SnapshotEvent = ExportRecord.fromState(JSON.parse(state) as ExportRecordState).snapshot();
      this.#note(exportId, snapshot.seq, snapshot.phase === 'success' || snapshot.phase === 'failure');
      this.#emit(snapshot);
    });
  }

  #follows(exportId: string): boolean {
    if (this.#options.exportIds === undefined && !this.#known.has(exportId)) this.#known.set(exportId, { seq: 0, final: false });
    return this.#known.has(exportId);
  }

  #note(exportId: string, seq: number, final: boolean): void {
    const known = this.#known.get(exportId);
    if (known === undefined) return;
    known.seq = Math.max(known.seq, seq);
    known.final ||= final;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#checkJobs().then(
        () => this.#schedule(),
        () => this.#schedule(),
      );
    }, this.#options.checkIntervalMs);
  }

  /** Settles followed exports that are not final while their job is gone, twice in a row. */
  async #checkJobs(): Promise<void> {
    const suspects = new Set<string>();
    for (const [exportId, known] of this.#known) {
      if (known.final || this.#stopped) continue;
      const [state, job] = await Promise.all([
        this.#redis.hget(redisKeys.export(this.#options.productId, exportId), 'state'),
        this.#queue.getJobState(exportId),
      ]);
      const record = state === null ? undefined : ExportRecord.fromState(JSON.parse(state) as ExportRecordState);
      if (record?.final === true) continue;
      if (record === undefined || job === 'unknown') {
        if (this.#suspects.has(exportId)) this.#settleRemoved(exportId, Math.max(known.seq, record?.seq ?? 0), record === undefined);
        else suspects.add(exportId);
      }
    }
    this.#suspects = suspects;
  }

  #settleRemoved(exportId: string, seq: number, recordGone: boolean): void {
    const event: FailedEvent = {
      type: 'failed',
      product_id: this.#options.productId,
      export_id: exportId,
      seq: seq + 1,
      time: new Date().toISOString(),
      failure_type: 'internal',
      exception_name: JOB_REMOVED,
      stacktrace: recordGone
        ? 'The export is gone from Redis while it had not ended: start the export again.'
        : 'The export\'s job is gone from the BullMQ queue (removed) while the export had not ended: start the export again.',
      runtime: null,
      peak_memory_usage: null,
    };
    this.#note(exportId, event.seq, true);
    this.#emit(event);
  }
}

function checkOptions(options: unknown): CheckedOptions {
  checkOptionBag('fromBullmq()', options, OPTION_KEYS, true);
  const o = options as Record<string, unknown>;
  const redis = o['redis'];
  if (typeof redis !== 'string' || !/^rediss?:\/\/[^/]/.test(redis)) {
    throw new TypeError(`Expected \`redis\` to be a Redis URL such as "redis://127.0.0.1:6379", got ${describeValue(typeof redis === 'string' ? '(a string that is not one)' : redis)}`);
  }
  const productId = o['productId'];
  if (typeof productId !== 'string' || !/^[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,127}$/.test(productId)) {
    throw new TypeError(`Expected \`productId\` to be a product id (1 to 128 letters, digits, ".", "_", ":" or "-"), got ${describeValue(productId)}`);
  }
  const exportIds = o['exportIds'];
  if (exportIds !== undefined && (!Array.isArray(exportIds) || exportIds.some((id) => typeof id !== 'string' || id === ''))) {
    throw new TypeError(`Expected \`exportIds\` to be an array of export ids (non-empty strings), got ${describeValue(exportIds)}`);
  }
  const checkIntervalMs = o['checkIntervalMs'] ?? 5_000;
  if (typeof checkIntervalMs !== 'number' || !Number.isFinite(checkIntervalMs) || checkIntervalMs <= 0) {
    throw new TypeError(`Expected \`checkIntervalMs\` to be a positive number of milliseconds, got ${describeValue(checkIntervalMs)}`);
  }
  return { redis, productId, exportIds: exportIds as string[] | undefined, checkIntervalMs, hooks: o['hooks'] as BullmqSourceOptions['hooks'] };
}
