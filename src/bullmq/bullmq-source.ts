import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { Observable } from 'rxjs';
import { describeValue } from '../core/errors.js';
import { checkOptionBag } from '../internal/options.js';
import type { FailedEvent, SnapshotEvent, TaskEvent } from '../core/events.js';
import { EXPORT_QUEUE, redisKeys } from '../server/redis/redis-keys.js';
import { compareEntryIds, RedisExportLog } from '../server/redis/redis-export-log.js';
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
   * How often the safety-net sweep runs, ms: it checks the next 100 exports not final yet (one
   * pipelined round trip) for a job that is gone from the queue while the export never ended,
   * which then settles as a failure. Removals and failures BullMQ announces are acted on at once;
   * the sweep is for what no event said.
   * @defaultValue 30000
   */
  readonly checkIntervalMs?: number | undefined;
  /**
   * Called once the source listens, before it reads the current state, and once it has read
   * it, before it delivers the events that came since: for tests that make a job finish right
   * there, which is when sources that wait on queue events miss it.
   * @internal
   */
  readonly hooks?: { readonly afterSubscribe?: (() => Promise<void>) | undefined; readonly afterStateRead?: (() => Promise<void>) | undefined } | undefined;
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
/** Exports the safety-net sweep checks at most per round: its cost per round does not grow with the number followed. */
const SWEEP_BATCH = 100;
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
 *   were trimmed away (retention), or the stream is gone or starts over below its cursor (a
 *   Redis that lost its data), it reads the state again as `snapshot` events (every followed
 *   export; without `exportIds`, every export of the product changed since its cursor) and
 *   goes on from the stream's new end.
 * - **A removed job settles.** An export that is not final while its BullMQ job is gone gets a
 *   `failed` event (`failure_type: "internal"`, exception name {@link JOB_REMOVED}) with the
 *   next `seq`, so nothing waits on it forever; so does an export whose record is gone. It
 *   learns of removals and failures from BullMQ's own events (`QueueEvents` `removed`,
 *   `failed`, `stalled`), checks every pending export once when subscribed, and sweeps a few
 *   of them (pipelined) every `checkIntervalMs` as a safety net: idle, it sends a few Redis
 *   commands per second whatever the number of exports.
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
  readonly #eventsConnection: Redis;
  readonly #log: RedisExportLog;
  readonly #events: QueueEvents;
  readonly #stream: string;
  readonly #jobPrefix: string;
  /** The highest `seq` delivered of each followed export not final yet: a final one leaves it (the store holds it). */
  readonly #pending = new Map<string, number>();
  /** The followed exports, when given: one that is final is neither pending nor followed again. */
  readonly #followed: ReadonlySet<string> | undefined;
  #cursor = '0-0';
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** Where the sweep goes on from, in the pending exports' order. */
  #sweepFrom: string | undefined;

  constructor(options: CheckedOptions, emit: (event: TaskEvent) => void) {
    this.#options = options;
    this.#emit = emit;
    // Named, so that `CLIENT LIST` tells what holds a connection.
    const connect = (): Redis => new Redis(options.redis, { maxRetriesPerRequest: null, connectionName: SOURCE_CONNECTION_NAME });
    this.#redis = connect();
    this.#blocking = connect();
    this.#eventsConnection = connect();
    for (const connection of [this.#redis, this.#blocking, this.#eventsConnection]) connection.on('error', () => undefined);
    this.#log = new RedisExportLog(this.#redis);
    this.#events = new QueueEvents(EXPORT_QUEUE, { connection: this.#eventsConnection, autorun: false });
    this.#events.on('error', () => undefined);
    const check = ({ jobId }: { jobId: string }): void => {
      if (this.#pending.has(jobId)) void this.#check([jobId]).catch(() => undefined);
    };
    this.#events.on('removed', check);
    this.#events.on('failed', check);
    this.#events.on('stalled', check);
    this.#stream = redisKeys.events(options.productId);
    this.#jobPrefix = `bull:${EXPORT_QUEUE}:`;
    if (options.exportIds !== undefined) {
      this.#followed = new Set(options.exportIds);
      for (const exportId of this.#followed) this.#pending.set(exportId, 0);
    }
  }

  async run(): Promise<void> {
    const { exportIds, hooks } = this.#options;
    // BullMQ's events from now on: a removal after this point is heard.
    void this.#events.run().catch(() => undefined);
    if (exportIds !== undefined) {
      // 1. Listen: from here on, every entry of the stream will be delivered.
      this.#cursor = await this.#end();
      await hooks?.afterSubscribe?.();
      // 2. Read the current state; 3. the entries since (the store drops what the state covers).
      await this.#resync();
      await hooks?.afterStateRead?.();
      // A job removed before the subscription was heard by no one: look once.
      await this.#check([...this.#pending.keys()]);
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
    void this.#events.close().finally(() => {
      this.#eventsConnection.disconnect();
      this.#redis.disconnect();
    });
  }

  /** The id of the stream's last entry, `"0-0"` when there is none. */
  async #end(): Promise<string> {
    return this.#log.lastCursor(this.#options.productId);
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
    if (this.#cursor !== '0-0' && (await this.#trimmedAfterCursor())) await this.#resync(this.#cursor);
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

  /** Whether the cursor's own entry is gone from the stream (trimmed or deleted) while it was there. */
  async #trimmedAfterCursor(): Promise<boolean> {
    return (await this.#log.locate(this.#options.productId, this.#cursor)) === 'trimmed';
  }

  /** Nothing new: was the stream deleted, or does it now end before the cursor (a Redis that lost its data)? */
  async #checkStream(): Promise<void> {
    if (this.#cursor === '0-0') return;
    const end = await this.#end();
    if (compareEntryIds(end, this.#cursor) >= 0) return;
    this.#cursor = end;
    await this.#resync();
  }

  /**
   * Reads the state and delivers it as `snapshot` events: of every followed export not final;
   * following the whole product, of every export of it changed since the trimmed cursor
   * `since` (those not final, and those final after its time).
   */
  async #resync(since?: string): Promise<void> {
    const { productId } = this.#options;
    const records =
      this.#followed === undefined && since !== undefined
        ? await this.#log.changedSince(productId, Number(since.slice(0, since.indexOf('-'))))
        : (await this.#log.getMany(productId, [...this.#pending.keys()])).filter((record): record is ExportRecord => record !== undefined);
    for (const record of records) {
      if (this.#stopped) return;
      const snapshot: SnapshotEvent = record.snapshot();
      if (!this.#follows(record.exportId)) continue;
      this.#note(record.exportId, snapshot.seq, record.final);
      this.#emit(snapshot);
    }
  }

  #follows(exportId: string): boolean {
    if (this.#followed === undefined) {
      if (!this.#pending.has(exportId)) this.#pending.set(exportId, 0);
      return true;
    }
    return this.#followed.has(exportId);
  }

  #note(exportId: string, seq: number, final: boolean): void {
    const known = this.#pending.get(exportId);
    if (known === undefined) return;
    if (final) this.#pending.delete(exportId);
    else if (seq > known) this.#pending.set(exportId, seq);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#sweep().then(
        () => this.#schedule(),
        () => this.#schedule(),
      );
    }, this.#options.checkIntervalMs);
  }

  /** The safety net: checks the next few pending exports, so every one is looked at now and then whatever BullMQ's events said. */
  async #sweep(): Promise<void> {
    const batch: string[] = [];
    let started = this.#sweepFrom === undefined;
    for (const exportId of this.#pending.keys()) {
      if (!started) {
        started = exportId === this.#sweepFrom;
        continue;
      }
      batch.push(exportId);
      if (batch.length === SWEEP_BATCH) break;
    }
    this.#sweepFrom = batch.length === SWEEP_BATCH ? batch.at(-1) : undefined;
    await this.#check(batch);
  }

  /** Settles those of `exportIds` that are not final while their job is gone, or whose record is gone: one pipelined round trip. */
  async #check(exportIds: readonly string[]): Promise<void> {
    if (exportIds.length === 0) return;
    const { productId } = this.#options;
    const pipeline = this.#redis.pipeline();
    const outcomes = redisKeys.outcomes(productId);
    for (const exportId of exportIds) {
      pipeline.hget(redisKeys.export(productId, exportId), 'state').hexists(outcomes, exportId).exists(`${this.#jobPrefix}${exportId}`);
    }
    const answers = (await pipeline.exec()) ?? [];
    exportIds.forEach((exportId, i) => {
      const [state, outcome, job] = answers.slice(3 * i, 3 * i + 3).map(([error, value]) => (error === null ? value : undefined));
      if (this.#stopped || !this.#pending.has(exportId) || outcome === 1) return;
      const record = typeof state === 'string' ? ExportRecord.fromState(JSON.parse(state) as ExportRecordState) : undefined;
      if (record?.final === true) return;
      // The job of a record not final is gone (removed, or failed and removed), or the record is gone.
      // A command that failed (Redis away) says nothing: the next check will.
      if (state === undefined || outcome === undefined || job === undefined) return;
      if (record === undefined || job === 0) this.#settleRemoved(exportId, Math.max(this.#pending.get(exportId) ?? 0, record?.seq ?? 0), record === undefined);
    });
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
  const checkIntervalMs = o['checkIntervalMs'] ?? 30_000;
  if (typeof checkIntervalMs !== 'number' || !Number.isFinite(checkIntervalMs) || checkIntervalMs <= 0) {
    throw new TypeError(`Expected \`checkIntervalMs\` to be a positive number of milliseconds, got ${describeValue(checkIntervalMs)}`);
  }
  return { redis, productId, exportIds: exportIds as string[] | undefined, checkIntervalMs, hooks: o['hooks'] as BullmqSourceOptions['hooks'] };
}
