import type { Redis } from 'ioredis';
import type { BackendEvent } from '../../client/backend.js';
import type { TaskEvent } from '../../core/events.js';
import type { CheckedExportRequest } from '../embedded/check-export-request.js';
import { ExportRecord } from '../embedded/export-record.js';
import type { EventBody, ExportRecordState } from '../embedded/export-record.js';
import { redisKeys } from './redis-keys.js';

/**
 * Appends an event if the export's `seq` is still the one the event was folded from:
 * KEYS export hash, product stream, final set; ARGV expected seq, new state JSON, event JSON,
 * "1" when the new state is final, the ordinal, the export id. Answers the entry id, or
 * false when another writer appended first (the caller folds again).
 */
const APPEND_SCRIPT = `
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if seq ~= tonumber(ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
redis.call('HSET', KEYS[1], 'seq', tonumber(ARGV[1]) + 1, 'state', ARGV[2])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6]) end
return id
`;

/**
 * Creates an export with its \`queued\` event, unless its idempotency key names one already:
 * KEYS export hash, request, product stream, idempotency key (or "" for none), product-of
 * hash; ARGV export id, state JSON, request JSON, event JSON, product id. Answers {1, entry id} or {0, the existing export id}.
 */
const CREATE_SCRIPT = `
if KEYS[4] ~= '' then
  local known = redis.call('GET', KEYS[4])
  if known then return {0, known} end
  redis.call('SET', KEYS[4], ARGV[1])
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[5])
redis.call('HSET', KEYS[1], 'seq', 1, 'state', ARGV[2])
local id = redis.call('XADD', KEYS[3], '*', 'e', ARGV[4])
return {1, id}
`;

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
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
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
    const answer = (await this.#redis.eval(
      CREATE_SCRIPT,
      5,
      redisKeys.export(productId, exportId),
      redisKeys.request(productId, exportId),
      redisKeys.events(productId),
      idempotencyKey === undefined ? '' : redisKeys.idempotency(productId, idempotencyKey),
      redisKeys.productOf,
      exportId,
      JSON.stringify(record.state()),
      JSON.stringify(request),
      JSON.stringify(event),
      productId,
    )) as [number, string];
    return answer[0] === 1 ? { created: true, event: { cursor: answer[1], event } } : { created: false, exportId: answer[1] };
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
        3,
        redisKeys.export(productId, exportId),
        redisKeys.events(productId),
        redisKeys.final(productId),
        before,
        JSON.stringify(record.state()),
        JSON.stringify(event),
        record.final ? '1' : '0',
        record.ordinal,
        exportId,
      )) as string | null;
      if (id !== null) return { cursor: id, event };
    }
    throw new Error(`Could not append to export ${exportId}: ${MAX_APPEND_ATTEMPTS} other appends to it came first`);
  }

  /** The export's record, or `undefined` when the product has no such export. */
  async get(productId: string, exportId: string): Promise<ExportRecord | undefined> {
    const state = await this.#redis.hget(redisKeys.export(productId, exportId), 'state');
    return state === null ? undefined : ExportRecord.fromState(JSON.parse(state) as ExportRecordState);
  }

  /** The records of many exports of a product, in the order asked (`undefined` for the unknown ones), in one round trip. */
  async getMany(productId: string, exportIds: readonly string[]): Promise<(ExportRecord | undefined)[]> {
    if (exportIds.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const exportId of exportIds) pipeline.hget(redisKeys.export(productId, exportId), 'state');
    const answers = (await pipeline.exec()) ?? [];
    return answers.map(([error, state]) => {
      if (error !== null) throw error;
      return typeof state === 'string' ? ExportRecord.fromState(JSON.parse(state) as ExportRecordState) : undefined;
    });
  }

  /** The product of an export, by export id alone (a job names its export by id). */
  async productOf(exportId: string): Promise<string | undefined> {
    return (await this.#redis.hget(redisKeys.productOf, exportId)) ?? undefined;
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
    const deleted = info[info.indexOf('max-deleted-entry-id') + 1];
    return typeof deleted === 'string' && compareEntryIds(cursor, deleted) <= 0 ? 'trimmed' : 'unknown';
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
  const [am = 0n, an = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bn = 0n] = b.split('-').map(BigInt);
  return am === bm ? (an === bn ? 0 : an < bn ? -1 : 1) : am < bm ? -1 : 1;
}
