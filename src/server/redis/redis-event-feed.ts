import type { BackendEvent } from '../../client/backend.js';
import type { EventFeed } from '../embedded/engine.js';
import type { RedisExportLog } from './redis-export-log.js';
import type { RedisTails } from './redis-tails.js';

/**
 * Whether the product's log is still the one the feed reads: the reason it is not, in words,
 * or `undefined`. @internal
 */
export type LogCheck = (scanned: string) => Promise<string | undefined>;

/** Entries read from the stream at a time: what a feed holds read ahead, at most. */
const READ_BATCH = 256;
/** How soon a read that failed (Redis away) is tried again, ms. */
const RETRY_MS = 200;

/**
 * A product's events after a cursor, from its Redis Stream, for one event stream of the HTTP
 * server. The server's streams pull synchronously ({@link EventFeed.take}); this feed reads a
 * batch ahead (`XRANGE` after the last entry read, never more than one batch held), and
 * reads the next batch when the one held is taken or the product's tail says something was
 * appended; then it tells its listener. Cursors are the entries' ids, so a client resumes at
 * any API instance.
 * @internal
 */
export class RedisEventFeed implements EventFeed {
  readonly #log: RedisExportLog;
  readonly #tails: RedisTails;
  readonly #productId: string;
  readonly #exportId: string | undefined;
  /** The last entry read from the stream (a batch may hold none of the feed's when it is narrowed to one export). */
  #scanned: string;
  /** The last entry taken. */
  #taken: string;
  #ahead: BackendEvent[] = [];
  /** The stream may hold entries after {@link RedisEventFeed.#scanned}. */
  #more = true;
  /** Counts the tail's notices: one that comes while a read is under way may be of an entry the read did not see. */
  #notices = 0;
  #reading = false;
  #listener: (() => void) | undefined;
  #stopTail: (() => void) | undefined;
  #closed = false;
  #checking = false;
  /** The product's log id seen by the tail is not the feed's: read nothing until checked. */
  #suspect = false;
  #lost: string | undefined;
  readonly #logId: string | undefined;
  readonly #check: LogCheck;
  readonly #onClose: () => void;

  constructor(
    log: RedisExportLog,
    tails: RedisTails,
    productId: string,
    after: string,
    exportId: string | undefined,
    logId: string | undefined,
    check: LogCheck,
    onClose: () => void,
  ) {
    this.#logId = logId;
    this.#onClose = onClose;
    this.#check = check;
    this.#log = log;
    this.#tails = tails;
    this.#productId = productId;
    this.#exportId = exportId;
    this.#scanned = after;
    this.#taken = after;
  }

  /**
   * Starts listening to the product's tail, then reads the first batch: whatever is appended
   * after the read is told by the tail, so nothing falls between the two.
   */
  async open(): Promise<void> {
    this.#stopTail = await this.#tails.listen(this.#productId, (what, logId) => {
      if (what === 'check' || logId !== this.#logId) {
        // Read nothing more until the check says the log is still the one read.
        if (logId !== this.#logId) this.#suspect = true;
        this.#verify();
        if (what === 'check') return;
      }
      this.#notices++;
      this.#more = true;
      this.#read();
    });
    if (this.#scanned !== '0-0') {
      const where = await this.#log.locate(this.#productId, this.#scanned);
      if (where === 'unknown') {
        this.#lost =
          `the cursor ${this.#scanned} is not in the log of product ${JSON.stringify(this.#productId)}: the log was replaced (Redis lost its data, ` +
          'or a failover to a replica without it) or the cursor is of another service';
        return;
      }
      if (where === 'trimmed') await this.#snapshots();
    }
    await this.#readBatch();
  }

  /**
   * The cursor's events were trimmed away: instead of what is left (a partial replay), a
   * `snapshot` of every export of the product that changed after it (those not final, and those
   * final since its time), then the events after the stream's end as noted before they were
   * read. Only the last snapshot carries that end as its cursor: a client cut off among the
   * snapshots resumes from the trimmed cursor again, and gets them all.
   */
  async #snapshots(): Promise<void> {
    const trimmed = this.#scanned;
    const end = await this.#log.lastCursor(this.#productId);
    const records = await this.#log.changedSince(this.#productId, Number(trimmed.split('-')[0]));
    const snapshots = records.filter((record) => this.#exportId === undefined || record.exportId === this.#exportId).map((record) => record.snapshot());
    this.#ahead = snapshots.map((event, i) => ({ cursor: i === snapshots.length - 1 ? end : trimmed, event }));
    this.#scanned = end;
  }

  /**
   * Why the feed cannot go on (its product or its log vanished or was replaced), once it knows:
   * the stream then says `event: reset` and ends.
   */
  get lost(): string | undefined {
    return this.#ahead.length === 0 ? this.#lost : undefined;
  }

  get cursor(): string {
    return this.#ahead.length === 0 ? this.#scanned : this.#taken;
  }

  take(limit: number): BackendEvent[] {
    const taken = this.#ahead.splice(0, limit);
    if (taken.length > 0) this.#taken = taken.at(-1)!.cursor;
    if (this.#ahead.length === 0) this.#read();
    return taken;
  }

  onAppend(listener: () => void): () => void {
    this.#listener = listener;
    return () => this.close();
  }

  /** Stops reading and listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#listener = undefined;
    this.#stopTail?.();
    this.#stopTail = undefined;
  }

  /** Checks the product's log is still the one read; tells the listener when it is not. */
  #verify(): void {
    if (this.#checking || this.#closed || this.#lost !== undefined) return;
    this.#checking = true;
    this.#check(this.#scanned).then(
      (reason) => {
        this.#checking = false;
        if (reason === undefined) {
          this.#suspect = false;
          this.#read();
          return;
        }
        if (this.#closed) return;
        this.#lost = reason;
        this.#more = false;
        this.#listener?.();
      },
      () => {
        // Redis is away again: the tail will ask again once it reads.
        this.#checking = false;
      },
    );
  }

  /** Reads the next batch in the background when none is held, then tells the listener. */
  #read(): void {
    if (this.#reading || !this.#more || this.#closed || this.#ahead.length > 0 || this.#lost !== undefined || this.#suspect) return;
    this.#readBatch().then(
      () => {
        if (this.#ahead.length > 0) this.#listener?.();
        else this.#read();
      },
      () => {
        // Redis is away (restarting): try again shortly; the clients reconnect by themselves.
        this.#more = true;
        if (!this.#closed) setTimeout(() => this.#read(), RETRY_MS).unref();
      },
    );
  }

  async #readBatch(): Promise<void> {
    this.#reading = true;
    const notices = this.#notices;
    try {
      const batch = await this.#log.read(this.#productId, this.#scanned, READ_BATCH);
      // A full batch, or a notice during the read (its entry may have come after the read's
      // snapshot of the stream): there may be more.
      this.#more = batch.length === READ_BATCH || this.#notices !== notices;
      if (batch.length === 0 || this.#closed) return;
      this.#scanned = batch.at(-1)!.cursor;
      const exportId = this.#exportId;
      this.#ahead.push(...(exportId === undefined ? batch : batch.filter((e) => e.event.export_id === exportId)));
    } finally {
      this.#reading = false;
    }
  }
}
