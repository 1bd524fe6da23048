import { QueueKeys } from 'bullmq';
import { Observable } from 'rxjs';
import { describeValue } from '../core/errors.js';
import { checkOptionBag } from '../internal/options.js';
import type { FailedEvent, SnapshotEvent, TaskEvent } from '../core/events.js';
import { checkRedisTarget } from '../server/redis/check-redis-target.js';
import type { RedisTarget } from '../server/redis/check-redis-target.js';
import { EXPORT_QUEUE, exportJobId, fromExportJobId, QUEUE_OPTIONS, redisKeys } from '../server/redis/redis-keys.js';
import { createConnection } from '../server/redis/redis-target.js';
import type { RedisConnection } from '../server/redis/redis-target.js';
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
  /** The Redis of the service, e.g. `redis://127.0.0.1:6379`; or give {@link BullmqSourceOptions.redisCluster}. */
  readonly redis?: string | undefined;
  /**
   * Instead of `redis`: the Redis Cluster of the service, by some of its nodes (`host:port` or
   * `redis://host:port` each), e.g. `['127.0.0.1:7000']`.
   */
  readonly redisCluster?: readonly string[] | string | undefined;
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
/**
 * After a read that brought entries, the source waits this long before the next, ms: on a busy
 * product each read carries that time's events instead of one or two (fewer round trips and
 * fewer checks), for at most this much more latency. A read after a quiet time returns at once.
 */
const COALESCE_MS = 10;
/** Exports whose state is read (or checked) per pipelined round trip. */
const STATE_BATCH = 500;
/** BullMQ's events looked at per script call, at most. */
const QUEUE_BATCH = 1000;
/** After BullMQ's events were looked at, the source waits this long before it looks again, ms: what it looks for is rare. */
const QUEUE_COALESCE_MS = 100;
/**
 * Picks out of BullMQ's event stream (KEYS[1]) what can leave an export unended, after the
 * entry ARGV[1], ARGV[2] entries at most: answers {the last entry looked at, how many were
 * looked at, the job ids of the `removed`, `failed` and `stalled` events}. Every other event
 * (added, waiting, active, progress, completed, drained, ...) stays in Redis: the source
 * learns of those from the export's own log.
 */
const QUEUE_EVENTS_SCRIPT = `
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local jobs = {}
local last = ARGV[1]
for _, entry in ipairs(entries) do
  last = entry[1]
  local fields = entry[2]
  local event = fields[2]
  if fields[1] == 'event' and (event == 'removed' or event == 'failed' or event == 'stalled') then
    for i = 3, #fields - 1, 2 do
      if fields[i] == 'jobId' then
        jobs[#jobs + 1] = fields[i + 1]
        break
      end
    end
  end
end
return {last, #entries, jobs}
`;
/** In {@link Follower}'s map of exports, a followed export that is final: it is neither pending nor followed again. */
const FINAL = -1;
const OPTION_KEYS = ['redis', 'redisCluster', 'productId', 'exportIds', 'checkIntervalMs', 'hooks'];

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
  readonly redis: RedisTarget;
  readonly productId: string;
  readonly exportIds: readonly string[] | undefined;
  readonly checkIntervalMs: number;
  readonly hooks: BullmqSourceOptions['hooks'];
}

class Follower {
  readonly #options: CheckedOptions;
  readonly #emit: (event: TaskEvent) => void;
  readonly #redis: RedisConnection;
  readonly #blocking: RedisConnection;
  readonly #queueBlocking: RedisConnection;
  readonly #log: RedisExportLog;
  readonly #stream: string;
  /** BullMQ's event stream of the export queue. */
  readonly #queueEvents: string;
  readonly #queueKeys = new QueueKeys(QUEUE_OPTIONS.prefix);
  /**
   * The exports followed: of each not final yet, the highest `seq` delivered; {@link FINAL} for
   * a followed export that is final (the store holds it). Following the whole product, a final
   * export leaves it instead. One map, the only per-export state the source keeps.
   */
  readonly #exports = new Map<string, number>();
  #cursor = '0-0';
  /** The last entry of BullMQ's event stream looked at. */
  #queueCursor = '0-0';
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** Wakes the loops' pauses at once when the source stops. */
  readonly #sleepers = new Set<() => void>();
  /** Where the sweep goes on from, in the pending exports' order. */
  #sweepFrom: string | undefined;

  constructor(options: CheckedOptions, emit: (event: TaskEvent) => void) {
    this.#options = options;
    this.#emit = emit;
    // Named, so that `CLIENT LIST` tells what holds a connection.
    const connect = (): RedisConnection => createConnection(options.redis, { connectionName: SOURCE_CONNECTION_NAME });
    this.#redis = connect();
    this.#blocking = connect();
    this.#queueBlocking = connect();
    for (const connection of [this.#redis, this.#blocking, this.#queueBlocking]) connection.on('error', () => undefined);
    this.#log = new RedisExportLog(this.#redis);
    this.#stream = redisKeys.events(options.productId);
    this.#queueEvents = this.#queueKeys.toKey(EXPORT_QUEUE, 'events');
    if (options.exportIds !== undefined) for (const exportId of options.exportIds) this.#exports.set(exportId, 0);
  }

  /** Whether the export is followed and not final yet. */
  #pending(exportId: string): boolean {
    return (this.#exports.get(exportId) ?? FINAL) !== FINAL;
  }

  /** The followed exports not final yet. */
  #pendingIds(): string[] {
    const ids: string[] = [];
    for (const [exportId, seq] of this.#exports) if (seq !== FINAL) ids.push(exportId);
    return ids;
  }

  async run(): Promise<void> {
    const { exportIds, hooks } = this.#options;
    // BullMQ's events from now on: a removal after this point is heard.
    const [queueEnd] = await this.#redis.xrevrange(this.#queueEvents, '+', '-', 'COUNT', 1);
    this.#queueCursor = queueEnd?.[0] ?? '0-0';
    void this.#watchQueue();
    if (exportIds !== undefined) {
      // 1. Listen: from here on, every entry of the stream will be delivered.
      this.#cursor = await this.#end();
      await hooks?.afterSubscribe?.();
      // 2. Read the current state; 3. the entries since (the store drops what the state covers).
      await this.#resync();
      await hooks?.afterStateRead?.();
      // A job removed before the subscription was heard by no one: look once.
      await this.#check(this.#pendingIds());
    }
    this.#schedule();
    while (!this.#stopped) {
      try {
        if (await this.#readMore()) await this.#sleep(COALESCE_MS);
      } catch {
        if (this.#stopped) return;
        // Redis is away: the clients reconnect; look again shortly.
        await this.#sleep(100);
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const wake of [...this.#sleepers]) wake();
    this.#blocking.disconnect();
    this.#queueBlocking.disconnect();
    this.#redis.disconnect();
  }

  /** Resolves after `ms`, or at once when the source stops. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  /**
   * BullMQ's word on the queue, for what the export's log cannot say (a job removed, failed by
   * BullMQ, or stalled): a blocking read wakes on any new event, then a script in Redis picks out
   * the few that matter, so the many others are not sent here.
   */
  async #watchQueue(): Promise<void> {
    while (!this.#stopped) {
      try {
        const woke = await this.#queueBlocking.xread('COUNT', 1, 'BLOCK', BLOCK_MS, 'STREAMS', this.#queueEvents, this.#queueCursor);
        if (this.#stopped) return;
        if (woke === null) continue;
        let looked: number;
        do {
          const [last, count, jobIds] = (await this.#redis.eval(QUEUE_EVENTS_SCRIPT, 1, this.#queueEvents, this.#queueCursor, QUEUE_BATCH)) as [string, number, string[]];
          this.#queueCursor = last;
          looked = count;
          const ours: string[] = [];
          for (const jobId of jobIds) {
            const job = fromExportJobId(jobId);
            if (job?.productId === this.#options.productId && this.#pending(job.exportId)) ours.push(job.exportId);
          }
          if (ours.length > 0) await this.#check(ours);
        } while (looked === QUEUE_BATCH && !this.#stopped);
        await this.#sleep(QUEUE_COALESCE_MS);
      } catch {
        if (this.#stopped) return;
        await this.#sleep(100);
      }
    }
  }

  /** The id of the stream's last entry, `"0-0"` when there is none. */
  async #end(): Promise<string> {
    return this.#log.lastCursor(this.#options.productId);
  }

  /** Reads and delivers the next entries of the product's stream. @returns Whether there were any. */
  async #readMore(): Promise<boolean> {
    const answer = await this.#blocking.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', this.#stream, this.#cursor);
    const entries = answer?.[0]?.[1] ?? [];
    if (this.#stopped) return false;
    if (entries.length === 0) {
      await this.#checkStream();
      return false;
    }
    // Entries right after the cursor were trimmed away: what they said is lost, resync.
    if (this.#cursor !== '0-0' && (await this.#trimmedAfterCursor())) await this.#resync(this.#cursor);
    for (const [id, fields] of entries) {
      if (this.#stopped) return false;
      this.#cursor = id;
      const json = fields[fields.indexOf('e') + 1];
      if (json === undefined) continue;
      const event = JSON.parse(json) as TaskEvent;
      if (!this.#follows(event.export_id)) continue;
      this.#note(event.export_id, event.seq, event.type === 'succeeded' || event.type === 'failed');
      this.#emit(event);
    }
    return true;
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
    if (this.#options.exportIds === undefined && since !== undefined) {
      this.#deliverState(await this.#log.changedSince(productId, Number(since.slice(0, since.indexOf('-')))));
      return;
    }
    const pending = this.#pendingIds();
    // A batch at a time: the client's command queue and the records read stay small whatever the number followed.
    for (let i = 0; i < pending.length && !this.#stopped; i += STATE_BATCH) {
      this.#deliverState((await this.#log.getMany(productId, pending.slice(i, i + STATE_BATCH))).filter((record): record is ExportRecord => record !== undefined));
    }
  }

  #deliverState(records: readonly ExportRecord[]): void {
    for (const record of records) {
      if (this.#stopped) return;
      const snapshot: SnapshotEvent = record.snapshot();
      if (!this.#follows(record.exportId)) continue;
      this.#note(record.exportId, snapshot.seq, record.final);
      this.#emit(snapshot);
    }
  }

  #follows(exportId: string): boolean {
    if (this.#options.exportIds === undefined) {
      if (!this.#exports.has(exportId)) this.#exports.set(exportId, 0);
      return true;
    }
    return this.#exports.has(exportId);
  }

  #note(exportId: string, seq: number, final: boolean): void {
    const known = this.#exports.get(exportId);
    if (known === undefined || known === FINAL) return;
    if (final) {
      // Following the whole product, a final export is forgotten; a followed one stays, as final.
      if (this.#options.exportIds === undefined) this.#exports.delete(exportId);
      else this.#exports.set(exportId, FINAL);
    } else if (seq > known) this.#exports.set(exportId, seq);
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
    for (const [exportId, seq] of this.#exports) {
      if (!started) {
        started = exportId === this.#sweepFrom;
        continue;
      }
      if (seq === FINAL) continue;
      batch.push(exportId);
      if (batch.length === SWEEP_BATCH) break;
    }
    this.#sweepFrom = batch.length === SWEEP_BATCH ? batch.at(-1) : undefined;
    await this.#check(batch);
  }

  /** Settles those of `exportIds` that are not final while their job is gone, or whose record is gone: one pipelined round trip per 500. */
  async #check(exportIds: readonly string[]): Promise<void> {
    for (let i = 0; i < exportIds.length && !this.#stopped; i += STATE_BATCH) await this.#checkBatch(exportIds.slice(i, i + STATE_BATCH));
  }

  /** Two pipelined round trips at once, one in the product's slot and one in the queue's (on a cluster, a pipeline goes to one master). */
  async #checkBatch(exportIds: readonly string[]): Promise<void> {
    if (exportIds.length === 0) return;
    const { productId } = this.#options;
    const records = this.#redis.pipeline();
    const jobs = this.#redis.pipeline();
    const outcomes = redisKeys.outcomes(productId);
    for (const exportId of exportIds) {
      records.hget(redisKeys.export(productId, exportId), 'state').hexists(outcomes, exportId);
      jobs.exists(this.#queueKeys.toKey(EXPORT_QUEUE, exportJobId(productId, exportId)));
    }
    const [recordAnswers, jobAnswers] = await Promise.all([records.exec(), jobs.exec()]);
    const value = (answer: [Error | null, unknown] | undefined): unknown => (answer === undefined || answer[0] !== null ? undefined : answer[1]);
    exportIds.forEach((exportId, i) => {
      const [state, outcome, job] = [value(recordAnswers?.[2 * i]), value(recordAnswers?.[2 * i + 1]), value(jobAnswers?.[i])];
      if (this.#stopped || !this.#pending(exportId) || outcome === 1) return;
      const record = typeof state === 'string' ? ExportRecord.fromState(JSON.parse(state) as ExportRecordState) : undefined;
      if (record?.final === true) return;
      // The job of a record not final is gone (removed, or failed and removed), or the record is gone.
      // A command that failed (Redis away) says nothing: the next check will.
      if (state === undefined || outcome === undefined || job === undefined) return;
      if (record === undefined || job === 0) this.#settleRemoved(exportId, Math.max(this.#exports.get(exportId) ?? 0, record?.seq ?? 0), record === undefined);
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
  const redis = checkRedisTarget(o['redis'], o['redisCluster']);
  if (redis === undefined) {
    throw new TypeError('Expected `redis` (the URL of the service\'s Redis, e.g. "redis://127.0.0.1:6379") or `redisCluster` (some nodes of its Redis Cluster), got neither');
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
