import type { RedisConnection } from './redis-target.js';
import type { BackendEvent } from '../../client/backend.js';
import type { TaskEvent, WireAttributes } from '../../core/events.js';
import type { CheckedExportRequest } from '../embedded/check-export-request.js';
import { ExportRecord } from '../embedded/export-record.js';
import type { EventBody, ExportRecordState } from '../embedded/export-record.js';
import { redisKeys } from './redis-keys.js';

/** How long a final export's events stay in its product's stream, and its full record (with its log lines) in Redis, by default, ms: a day. @internal */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** How long a final export's compact outcome stays (its status, its list entry), by default, ms: 30 days. @internal */
export const DEFAULT_OUTCOME_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** How long an `Idempotency-Key` names its export, by default, ms: a day. @internal */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** Outcomes past their retention removed by one final append, at most: the rest go with the next ones. */
const PRUNE_BATCH = 100;

/**
 * Appends an event if the export's `seq` is still the one the event was folded from:
 * KEYS export hash, product stream, final set, finished set, active set, outcomes hash,
 * request (all of one product: one slot on a cluster); ARGV expected seq, new state JSON,
 * event JSON, "1" when the new state is final, the ordinal, the export id, the compact
 * outcome (final only). Answers the entry id, or false when another writer appended first
 * (the caller folds again).
 *
 * A final event also applies the retention the export was created under (kept in its hash):
 * the export leaves the active set for the finished one, its full record expires after the
 * retention window (its compact outcome stays), its request goes, outcomes past their own
 * retention are removed, and the stream is trimmed (XTRIM MINID) to the events of the window
 * and of every export not final yet.
 */
const APPEND_SCRIPT = `
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if seq ~= tonumber(ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
redis.call('HSET', KEYS[1], 'seq', tonumber(ARGV[1]) + 1, 'state', ARGV[2])
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local r = redis.call('HMGET', KEYS[1], 'retention_ms', 'outcome_retention_ms')
  local window = tonumber(r[1] or '${DEFAULT_RETENTION_MS}')
  local keep = tonumber(r[2] or '${DEFAULT_OUTCOME_RETENTION_MS}')
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
  redis.call('ZADD', KEYS[4], now, ARGV[6])
  redis.call('ZREM', KEYS[5], ARGV[6])
  redis.call('HSET', KEYS[6], ARGV[6], ARGV[7])
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('DEL', KEYS[7])
  local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - keep, 'LIMIT', 0, ${PRUNE_BATCH})
  for _, gone in ipairs(old) do
    redis.call('HDEL', KEYS[6], gone)
    redis.call('ZREM', KEYS[3], gone)
    redis.call('ZREM', KEYS[4], gone)
  end
  local minid = now - window
  local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  if oldest[2] ~= nil and tonumber(oldest[2]) < minid then minid = tonumber(oldest[2]) end
  if minid > 0 then redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d', minid)) end
end
return id
`;

/**
 * Creates an export with its \`queued\` event, unless its idempotency key names one already:
 * KEYS export hash, request, product stream, active set, and the idempotency key when there
 * is one (all of one product: an absent key is left out rather than given as "", whose slot
 * is another); ARGV export id, state JSON, request JSON, event JSON, the idempotency key's
 * lifetime (ms), the retention window and the outcome retention (ms). Answers {1, entry id}
 * or {0, the existing export id}.
 */
const CREATE_SCRIPT = `
if KEYS[5] then
  local known = redis.call('GET', KEYS[5])
  if known then return {0, known} end
  redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[5])
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'seq', 1, 'state', ARGV[2], 'retention_ms', ARGV[6], 'outcome_retention_ms', ARGV[7])
local id = redis.call('XADD', KEYS[3], '*', 'e', ARGV[4])
redis.call('ZADD', KEYS[4], tonumber(string.match(id, '^(%d+)')), ARGV[1])
return {1, id}
`;

/**
 * A final export as kept once its full record expired: the same content, without what its
 * ids say again (`[seq, ordinal, key, created, progress, cancel requested (0 or 1),
 * attributes without created, labels and key, log lines, message]`; the message is 0 when it
 * is the last log line, as it most often is). A field of the product's outcomes hash costs
 * about a third of the record's own key. @internal
 */
export type CompactOutcome = [
  number,
  number,
  string,
  string | null,
  number,
  0 | 1,
  Omit<WireAttributes, 'created' | 'labels' | 'key'>,
  readonly string[],
  string | null | 0,
];

/** The compact outcome of a final record. @internal */
export function compactOutcome(record: ExportRecord): CompactOutcome {
  const { created: _created, labels: _labels, key: _key, ...rest } = record.attributes!;
  const message = record.message !== null && record.message === record.log.at(-1) ? 0 : record.message;
  return [record.seq, record.ordinal, record.key, record.created, record.progress, record.cancelRequested ? 1 : 0, rest, record.log, message];
}

/** The record a compact outcome stands for, equal to the one it was made of. @internal */
export function fromCompactOutcome(productId: string, exportId: string, outcome: CompactOutcome): ExportRecord {
  const [seq, ordinal, key, created, progress, cancelRequested, attributes, log, message] = outcome;
  const record = ExportRecord.fromState({
    productId,
    exportId,
    key,
    ordinal,
    seq,
    phase: attributes.status === 'SUCCESS' ? 'success' : 'failure',
    progress,
    message: message === 0 ? (log.at(-1) ?? null) : message,
    log,
    cancelRequested: cancelRequested === 1,
    created,
    attributes: null,
  });
  record.attributes = { ...attributes, created, labels: record.labels, key };
  return record;
}

/** How often an append folds again after losing a race to another writer before giving up. */
const MAX_APPEND_ATTEMPTS = 100;

/** What {@link RedisExportLog.create} did. @internal */
export type CreateResult = { readonly created: true; readonly event: BackendEvent } | { readonly created: false; readonly exportId: string };

/**
 * The event log and the export projections in Redis, shared by every API instance and
 * worker: one Redis Stream per product (its entry ids are the cursors), one hash per export
 * holding its fold (the same {@link ExportRecord} the other logs keep), a sorted set of final
 * exports by creation order, and idempotency keys. Many processes write it; each append is a
 * compare-and-set on the export's `seq` in one Lua script (fold, check, `XADD`, save), so
 * events of an export are numbered without gaps whoever appends them, and nothing is appended
 * to a final export.
 * @internal
 */
export class RedisExportLog {
  readonly #redis: RedisConnection;
  readonly #idempotencyTtlMs: number;
  readonly #retentionMs: number;
  readonly #outcomeRetentionMs: number;
  readonly #onAppended: ((event: TaskEvent) => void) | undefined;

  /**
   * @param options - `idempotencyTtlMs`: how long an Idempotency-Key names its export;
   * `retentionMs`, `outcomeRetentionMs`: the retention of the exports this process creates
   * (kept with each, so that whoever appends its final event applies it: a worker has no such setting);
   * `onAppended`: hears each event this process appended (for the service's metrics and logs); it must not throw.
   */
  constructor(
    redis: RedisConnection,
    options: {
      readonly idempotencyTtlMs?: number | undefined;
      readonly retentionMs?: number | undefined;
      readonly outcomeRetentionMs?: number | undefined;
      readonly onAppended?: ((event: TaskEvent) => void) | undefined;
    } = {},
  ) {
    this.#redis = redis;
    this.#idempotencyTtlMs = options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
    this.#retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.#outcomeRetentionMs = options.outcomeRetentionMs ?? DEFAULT_OUTCOME_RETENTION_MS;
    this.#onAppended = options.onAppended;
  }

  /** The export an idempotency key of the product was given to, if any. */
  async exportIdFor(productId: string, idempotencyKey: string): Promise<string | undefined> {
    return (await this.#redis.get(redisKeys.idempotency(productId, idempotencyKey))) ?? undefined;
  }

  /** Records a new export and its `queued` event atomically, or answers the export its idempotency key already names. */
  async create(productId: string, exportId: string, request: CheckedExportRequest, idempotencyKey: string | undefined): Promise<CreateResult> {
    // Ordinals only need to grow: one taken by a call that finds its idempotency key used is skipped.
    const ordinal = await this.#redis.incr(redisKeys.ordinal(productId));
    const record = new ExportRecord(productId, exportId, request.key, ordinal);
    const event = record.next({ type: 'queued' });
    const keys = [redisKeys.export(productId, exportId), redisKeys.request(productId, exportId), redisKeys.events(productId), redisKeys.active(productId)];
    if (idempotencyKey !== undefined) keys.push(redisKeys.idempotency(productId, idempotencyKey));
    const answer = (await this.#redis.eval(
      CREATE_SCRIPT,
      keys.length,
      ...keys,
      exportId,
      JSON.stringify(record.state()),
      JSON.stringify(request),
      JSON.stringify(event),
      this.#idempotencyTtlMs,
      this.#retentionMs,
      this.#outcomeRetentionMs,
    )) as [number, string];
    if (answer[0] !== 1) return { created: false, exportId: answer[1] };
    this.#onAppended?.(event);
    return { created: true, event: { cursor: answer[1], event } };
  }

  /**
   * Appends the next event of an export and folds it into its record, atomically, unless the
   * export is final (or unknown): then nothing is appended.
   * @param when - Appends only if it holds for the record as of the append (checked again after a lost race).
   * @returns The event with its cursor, or `undefined` when nothing was appended.
   */
  async append(
    productId: string,
    exportId: string,
    body: EventBody | ((record: ExportRecord) => EventBody | undefined),
  ): Promise<BackendEvent | undefined> {
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const record = await this.get(productId, exportId);
      if (record === undefined || record.final) return undefined;
      const next = typeof body === 'function' ? body(record) : body;
      if (next === undefined) return undefined;
      const before = record.seq;
      const event = record.next(next);
      const id = (await this.#redis.eval(
        APPEND_SCRIPT,
        7,
        redisKeys.export(productId, exportId),
        redisKeys.events(productId),
        redisKeys.final(productId),
        redisKeys.finished(productId),
        redisKeys.active(productId),
        redisKeys.outcomes(productId),
        redisKeys.request(productId, exportId),
        before,
        JSON.stringify(record.state()),
        JSON.stringify(event),
        record.final ? '1' : '0',
        record.ordinal,
        exportId,
        record.final ? JSON.stringify(compactOutcome(record)) : '',
      )) as string | null;
      if (id !== null) {
        this.#onAppended?.(event);
        return { cursor: id, event };
      }
    }
    throw new Error(`Could not append to export ${exportId}: ${MAX_APPEND_ATTEMPTS} other appends to it came first`);
  }

  /**
   * The export's record, or `undefined` when the product has no such export (or it is past
   * its outcome's retention). A final export past the retention window is its compact outcome.
   */
  async get(productId: string, exportId: string): Promise<ExportRecord | undefined> {
    return (await this.getMany(productId, [exportId]))[0];
  }

  /** The records of many exports of a product, in the order asked (`undefined` for the unknown ones), in one round trip. */
  async getMany(productId: string, exportIds: readonly string[]): Promise<(ExportRecord | undefined)[]> {
    if (exportIds.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    const outcomes = redisKeys.outcomes(productId);
    for (const exportId of exportIds) pipeline.hget(redisKeys.export(productId, exportId), 'state').hget(outcomes, exportId);
    const answers = (await pipeline.exec()) ?? [];
    return exportIds.map((exportId, i) => {
      const [error, state] = answers[2 * i]!;
      const [outcomeError, outcome] = answers[2 * i + 1]!;
      if (error !== null) throw error;
      if (outcomeError !== null) throw outcomeError;
      if (typeof state === 'string') return ExportRecord.fromState(JSON.parse(state) as ExportRecordState);
      return typeof outcome === 'string' ? fromCompactOutcome(productId, exportId, JSON.parse(outcome) as CompactOutcome) : undefined;
    });
  }

  /** The records of the product's exports not final yet, in creation order. */
  async active(productId: string): Promise<ExportRecord[]> {
    const ids = await this.#redis.zrange(redisKeys.active(productId), '0', '-1');
    return (await this.getMany(productId, ids)).filter((record): record is ExportRecord => record !== undefined && !record.final);
  }

  /**
   * What a client whose cursor was trimmed away must be told: the records of every export of
   * the product not final yet, and of every one final since `sinceMs` (ms since the epoch),
   * read after the stream's end was noted by the caller.
   */
  async changedSince(productId: string, sinceMs: number): Promise<ExportRecord[]> {
    const answers = ((await this.#redis
      .pipeline()
      .zrange(redisKeys.active(productId), '0', '-1')
      .zrangebyscore(redisKeys.finished(productId), sinceMs, '+inf')
      .exec()) ?? []) as [Error | null, string[]][];
    const ids = new Set<string>();
    for (const [error, found] of answers) {
      if (error !== null) throw error;
      for (const id of found) ids.add(id);
    }
    return (await this.getMany(productId, [...ids])).filter((record): record is ExportRecord => record !== undefined);
  }

  /** What the export's job is asked to do. */
  async request(productId: string, exportId: string): Promise<CheckedExportRequest | undefined> {
    const request = await this.#redis.get(redisKeys.request(productId, exportId));
    return request === null ? undefined : (JSON.parse(request) as CheckedExportRequest);
  }

  /** Up to `limit` of the product's final exports created after `afterOrdinal`, in creation order. */
  async listFinal(productId: string, afterOrdinal: number, limit: number): Promise<ExportRecord[]> {
    const ids = await this.#redis.zrangebyscore(redisKeys.final(productId), `(${afterOrdinal}`, '+inf', 'LIMIT', 0, limit);
    const records = await this.getMany(productId, ids);
    return records.filter((record): record is ExportRecord => record !== undefined);
  }

  /** Up to `limit` of the product's events after the cursor `after` (`"0-0"` for all), in order. */
  async read(productId: string, after: string, limit: number): Promise<BackendEvent[]> {
    const entries = await this.#redis.xrange(redisKeys.events(productId), `(${after}`, '+', 'COUNT', limit);
    return entries.map(toBackendEvent);
  }

  /**
   * Where a cursor stands in the product's log: `held` (its entry is there), `trimmed` (its
   * entry was there and was trimmed or deleted: the log holds only what came after), or
   * `unknown` (this log never held it: the log was replaced, or the cursor is of another).
   */
  async locate(productId: string, cursor: string): Promise<'held' | 'trimmed' | 'unknown'> {
    const key = redisKeys.events(productId);
    if ((await this.#redis.xrange(key, cursor, cursor)).length > 0) return 'held';
    let info: unknown[];
    try {
      info = (await this.#redis.xinfo('STREAM', key)) as unknown[];
    } catch (error) {
      // No stream: the product has no event, so no cursor of it can be known.
      if (error instanceof Error && /no such key/i.test(error.message)) return 'unknown';
      throw error;
    }
    const field = (name: string): unknown => info[info.indexOf(name) + 1];
    const last = field('last-generated-id') as string;
    if (compareEntryIds(cursor, last) > 0) return 'unknown';
    // XDEL moves max-deleted-entry-id on; XTRIM does not, but leaves fewer entries than were added.
    const deleted = field('max-deleted-entry-id');
    if (typeof deleted === 'string' && compareEntryIds(cursor, deleted) <= 0) return 'trimmed';
    const first = (field('first-entry') as [string, unknown] | null)?.[0];
    const removed = Number(field('entries-added')) > Number(field('length'));
    return removed && (first === undefined || compareEntryIds(cursor, first) < 0) ? 'trimmed' : 'unknown';
  }

  /** The id of the product's last event, `"0-0"` when it has none. */
  async lastCursor(productId: string): Promise<string> {
    const [last] = await this.#redis.xrevrange(redisKeys.events(productId), '+', '-', 'COUNT', 1);
    return last === undefined ? '0-0' : last[0];
  }
}

/** A stream entry (`[id, ['e', json]]`) as an event with its cursor. @internal */
export function toBackendEvent([id, fields]: [string, string[]]): BackendEvent {
  const json = fields[fields.indexOf('e') + 1];
  if (json === undefined) throw new Error(`Stream entry ${id} has no \`e\` field: it was not written by export-task`);
  return { cursor: id, event: JSON.parse(json) as TaskEvent };
}

/**
 * Compares two stream entry ids (`"<ms>-<n>"`).
 * @returns Negative, zero or positive as `a` is before, equal to or after `b`.
 * @internal
 */
export function compareEntryIds(a: string, b: string): number {
  // Both parts are below 2^53 for any id Redis makes (ms since 1970, a counter within one ms).
  const ai = a.indexOf('-');
  const bi = b.indexOf('-');
  const am = Number(ai < 0 ? a : a.slice(0, ai));
  const bm = Number(bi < 0 ? b : b.slice(0, bi));
  if (am !== bm) return am < bm ? -1 : 1;
  const an = ai < 0 ? 0 : Number(a.slice(ai + 1));
  const bn = bi < 0 ? 0 : Number(b.slice(bi + 1));
  return an === bn ? 0 : an < bn ? -1 : 1;
}
