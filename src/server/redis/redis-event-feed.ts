import type { BackendEvent } from '../../client/backend.js';
import type { EventFeed, SharedFeedSource } from '../embedded/engine.js';
import { compareEntryIds } from './redis-export-log.js';
import type { RedisExportLog } from './redis-export-log.js';
import type { RedisTails, TailHandle } from './redis-tails.js';

/**
 * Whether the product's log is still the one the feed reads: the reason it is not, in words,
 * or `undefined`. @internal
 */
export type LogCheck = (scanned: string) => Promise<string | undefined>;

/** Entries read from the stream at a time: what a feed holds read ahead, at most. */
const READ_BATCH = 256;
/** How soon a read that failed (Redis away) is tried again, ms. */
const RETRY_MS = 200;

/** What the feeds of one product's log, as one API instance read it, have in common. @internal */
export interface RedisFeedContext {
  readonly log: RedisExportLog;
  readonly tails: RedisTails;
  readonly productId: string;
  /** The product's log id when the feeds were asked for: a log with another is not theirs. */
  readonly logId: string | undefined;
  readonly check: LogCheck;
  /** The feeds open: each adds itself as it is made and leaves as it closes (the engine closes those left). */
  readonly open: Set<RedisEventFeed>;
}

/**
 * The feeds of one product's log, and how the caught-up event streams of the product share
 * them ({@link SharedFeedSource}): one product feed per product and log id, fed by the
 * product's tail, whose one `XREAD` brings each entry to all of them. Cursors are stream entry
 * ids, ordered by their ms and sequence parts. @internal
 */
export class RedisFeedSource implements SharedFeedSource {
  readonly key: string;
  readonly #context: RedisFeedContext;

  constructor(context: RedisFeedContext) {
    this.#context = context;
    this.key = `${context.productId}\n${context.logId ?? ''}`;
  }

  /** A feed after `after` (a client's cursor, checked), of one export's events when `exportId` is given; {@link RedisEventFeed.open} it. */
  feed(after: string, exportId: string | undefined): RedisEventFeed {
    return new RedisEventFeed(this.#context, after, exportId, exportId === undefined ? this : undefined);
  }

  /** A feed of the whole product after `after`, a cursor one of these feeds gave; it opens in the background, and tells its listener once it has events. */
  from(after: number | string): RedisEventFeed {
    const feed = this.feed(String(after), undefined);
    feed.start();
    return feed;
  }

  compare(a: number | string, b: number | string): number {
    return compareEntryIds(String(a), String(b));
  }
}

/**
 * A product's events after a cursor, for one event stream of the HTTP server (or for the
 * product feed its caught-up streams share). The server's streams pull synchronously
 * ({@link EventFeed.take}). Near the stream's end, the feed takes entries from the product's
 * tail, which read them once for every feed of this instance ({@link RedisTails}); further
 * behind, it reads a batch ahead by its own cursor (`XRANGE` after the last entry read, never
 * more than one batch held) until it reaches what the tail holds. It tells its listener when
 * it has events to take. Cursors are the entries' ids, so a client resumes at any API instance.
 * @internal
 */
export class RedisEventFeed implements EventFeed {
  readonly #context: RedisFeedContext;
  readonly #exportId: string | undefined;
  readonly #source: RedisFeedSource | undefined;
  /** The last entry read from the stream (a batch may hold none of the feed's when it is narrowed to one export). */
  #scanned: string;
  /** The last entry taken. */
  #taken: string;
  #ahead: BackendEvent[] = [];
  /** The stream may hold entries after {@link RedisEventFeed.#scanned} that the tail does not. */
  #more = true;
  /** Counts the tail's notices: one that comes while a read is under way may be of an entry the read did not see. */
  #notices = 0;
  #reading = false;
  /** The cursor was located (and trimmed snapshots made): the feed may read. */
  #opened = false;
  #listener: (() => void) | undefined;
  #tail: TailHandle | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  #checking = false;
  /** The product's log id seen by the tail is not the feed's: read nothing until checked. */
  #suspect = false;
  #lost: string | undefined;

  constructor(context: RedisFeedContext, after: string, exportId: string | undefined, source: RedisFeedSource | undefined) {
    this.#context = context;
    this.#exportId = exportId;
    this.#source = source;
    this.#scanned = after;
    this.#taken = after;
    context.open.add(this);
  }

  /**
   * Starts listening to the product's tail, then reads the first batch: whatever is appended
   * after the read is told by the tail, so nothing falls between the two.
   */
  async open(): Promise<void> {
    const tail = this.#listen();
    await tail.ready;
    if (this.#closed || this.#opened) return;
    const { log, productId, logId } = this.#context;
    // A cursor the tail holds is of this log; another is looked for in the stream.
    if (this.#scanned !== '0-0' && !tail.holds(this.#scanned, logId)) {
      const where = await log.locate(productId, this.#scanned);
      if (where === 'unknown') {
        this.#lost =
          `the cursor ${this.#scanned} is not in the log of product ${JSON.stringify(productId)}: the log was replaced (Redis lost its data, ` +
          'or a failover to a replica without it) or the cursor is of another service';
        this.#opened = true;
        return;
      }
      if (where === 'trimmed') await this.#snapshots();
    }
    this.#opened = true;
    if (this.#ahead.length === 0 && !this.#fromTail()) await this.#readBatch();
  }

  /** Opens in the background (again shortly while Redis is away), then tells the listener. */
  start(): void {
    this.open().then(
      () => this.#wake(),
      () => {
        if (!this.#closed) this.#retry = setTimeout(() => this.start(), RETRY_MS).unref();
      },
    );
  }

  #listen(): TailHandle {
    this.#tail ??= this.#context.tails.listen(this.#context.productId, (what, logId) => {
      if (what === 'check' || logId !== this.#context.logId) {
        // Read nothing more until the check says the log is still the one read.
        if (logId !== this.#context.logId) this.#suspect = true;
        this.#verify();
        if (what === 'check') return;
      }
      this.#notices++;
      this.#more = true;
      this.#wake();
    });
    return this.#tail;
  }

  /**
   * The cursor's events were trimmed away: instead of what is left (a partial replay), a
   * `snapshot` of every export of the product that changed after it (those not final, and those
   * final since its time), then the events after the stream's end as noted before they were
   * read. Only the last snapshot carries that end as its cursor: a client cut off among the
   * snapshots resumes from the trimmed cursor again, and gets them all.
   */
  async #snapshots(): Promise<void> {
    const { log, productId } = this.#context;
    const trimmed = this.#scanned;
    const end = await log.lastCursor(productId);
    const records = await log.changedSince(productId, Number(trimmed.split('-')[0]));
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

  /** How the streams of the whole product share reads; a feed of one export's events has none. */
  get shared(): SharedFeedSource | undefined {
    return this.#source;
  }

  take(limit: number): BackendEvent[] {
    if (this.#ahead.length === 0) this.#fromTail();
    const taken = this.#ahead.splice(0, limit);
    if (taken.length > 0) this.#taken = taken.at(-1)!.cursor;
    if (this.#ahead.length === 0 && !this.#readsTail()) this.#read();
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
    this.#context.open.delete(this);
    this.#listener = undefined;
    clearTimeout(this.#retry);
    this.#tail?.stop();
    this.#tail = undefined;
  }

  /** Whether the feed may take from the tail: open, not in doubt, and its cursor within the tail's window. */
  #readsTail(): boolean {
    if (!this.#opened || this.#closed || this.#suspect || this.#lost !== undefined || this.#reading || this.#tail === undefined) return false;
    return this.#tail.read(this.#scanned, 0, this.#context.logId) !== undefined;
  }

  /** Takes what the tail read after the cursor into the batch held, when it can. @returns Whether it could. */
  #fromTail(): boolean {
    if (!this.#readsTail()) return false;
    const exportId = this.#exportId;
    for (;;) {
      const read = this.#tail!.read(this.#scanned, READ_BATCH, this.#context.logId)!;
      this.#scanned = read.cursor;
      for (const event of read.events) if (exportId === undefined || event.event.export_id === exportId) this.#ahead.push(event);
      if (this.#ahead.length > 0 || read.events.length < READ_BATCH) return true;
    }
  }

  /** Something may have come: tells the listener when the feed has it (or the tail does), else reads it. */
  #wake(): void {
    if (this.#closed || !this.#opened || this.#reading) return;
    if (this.#ahead.length > 0 || this.#lost !== undefined || this.#readsTail()) this.#listener?.();
    else this.#read();
  }

  /** Checks the product's log is still the one read; tells the listener when it is not. */
  #verify(): void {
    if (this.#checking || this.#closed || this.#lost !== undefined) return;
    this.#checking = true;
    this.#context.check(this.#scanned).then(
      (reason) => {
        this.#checking = false;
        if (reason === undefined) {
          this.#suspect = false;
          this.#wake();
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

  /** Reads the next batch by cursor in the background when none is held, then tells the listener. */
  #read(): void {
    if (this.#reading || !this.#more || this.#closed || !this.#opened || this.#ahead.length > 0 || this.#lost !== undefined || this.#suspect) return;
    this.#readBatch().then(
      () => this.#wake(),
      () => {
        // Redis is away (restarting): try again shortly; the clients reconnect by themselves.
        this.#more = true;
        if (!this.#closed) this.#retry = setTimeout(() => this.#read(), RETRY_MS).unref();
      },
    );
  }

  async #readBatch(): Promise<void> {
    this.#reading = true;
    const notices = this.#notices;
    try {
      const batch = await this.#context.log.read(this.#context.productId, this.#scanned, READ_BATCH);
      // A full batch, or a notice during the read (its entry may have come after the read's
      // snapshot of the stream): there may be more.
      this.#more = batch.length === READ_BATCH || this.#notices !== notices;
      if (batch.length === 0 || this.#closed) return;
      this.#scanned = batch.at(-1)!.cursor;
      const exportId = this.#exportId;
      for (const event of batch) if (exportId === undefined || event.event.export_id === exportId) this.#ahead.push(event);
    } finally {
      this.#reading = false;
    }
  }
}
