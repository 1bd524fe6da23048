import type { BackendEvent } from '../../client/backend.js';
import type { EventFeed, SharedFeedSource } from '../embedded/engine.js';

/** Events read from the log at a time. */
export const READ_BATCH = 256;
/** Frames are written in pieces of about this many characters, so a write overshoots the buffer limit by at most this much. */
export const WRITE_CHUNK = 16 * 1024;

/**
 * The SSE frame of an event: `id:` its cursor, `event:` its type, `data:` the event on one line
 * (JSON.stringify escapes line breaks inside strings).
 */
export function frameOf({ cursor, event }: BackendEvent): string {
  return `id: ${cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Events read once for every stream of a product that is caught up, and their frames, serialised
 * and encoded once, in pieces ready to be written to each socket.
 */
export interface FeedBatch {
  readonly events: readonly BackendEvent[];
  /** Each event's frame. */
  readonly frames: readonly string[];
  /** The frames, in pieces of about {@link WRITE_CHUNK} characters: piece `i` holds the events before `ends[i]` and from `ends[i - 1]`. */
  readonly pieces: readonly Buffer[];
  readonly ends: readonly number[];
  /** The feed's cursor after this batch: a stream given all of it may resume from here. */
  readonly cursor: number | string;
}

function batchOf(events: readonly BackendEvent[], cursor: number | string): FeedBatch {
  const frames = events.map(frameOf);
  const pieces: Buffer[] = [];
  const ends: number[] = [];
  let text = '';
  for (let i = 0; i < frames.length; i++) {
    text += frames[i]!;
    if (text.length >= WRITE_CHUNK || i === frames.length - 1) {
      pieces.push(Buffer.from(text, 'utf8'));
      ends.push(i + 1);
      text = '';
    }
  }
  return { events, frames, pieces, ends, cursor };
}

/** A stream fed by a {@link ProductFeed}. */
export interface FeedMember {
  /**
   * Writes the batch's events from index `from` on (the earlier ones it had already). It may
   * leave the feed meanwhile (its socket buffer is full), with what it has not written read
   * again from its own cursor later.
   */
  deliver(batch: FeedBatch, from: number): void;
  /**
   * The feed cannot go on: its product's log vanished or was replaced (`reason` says how). The
   * member is no longer one; it sends `event: reset` and ends.
   */
  reset(reason: string): void;
}

/** What the shared feeds have done, for tests and diagnostics. @internal */
export interface ProductFeedStats {
  /** Product feeds running now (each with one listener on its product's appends). */
  sharedFeeds: number;
  /** Reads the product feeds made of their products' logs. */
  sharedReads: number;
  /** Times a stream joined a product feed (having caught up on its own). */
  joins: number;
  /** Times a stream left a product feed for its own reads (its socket buffer was full). */
  leaves: number;
}

/**
 * The product feeds of a server's event streams: one per product that has caught-up streams.
 * A feed starts when a first stream joins and stops (its listener and any scheduled read gone)
 * when the last leaves.
 * @internal
 */
export class ProductFeeds {
  readonly #feeds = new Map<string, ProductFeed>();
  readonly #stats: ProductFeedStats;

  constructor(stats: ProductFeedStats) {
    this.#stats = stats;
  }

  /**
   * Joins `member`, which has every event of `source` up to `cursor` (its own feed's cursor after
   * a read that reached the log's end), to its product's feed.
   * @returns The feed it joined, or `undefined` when it must go on reading on its own.
   */
  join(source: SharedFeedSource, member: FeedMember, cursor: number | string): ProductFeed | undefined {
    let feed = this.#feeds.get(source.key);
    if (feed === undefined) {
      const started: ProductFeed = new ProductFeed(source, cursor, this.#stats, () => {
        if (this.#feeds.get(source.key) === started) this.#feeds.delete(source.key);
        this.#stats.sharedFeeds = this.#feeds.size;
      });
      feed = started;
      this.#feeds.set(source.key, feed);
      this.#stats.sharedFeeds = this.#feeds.size;
    }
    if (!feed.join(member, cursor)) return undefined;
    this.#stats.joins++;
    return feed;
  }
}

/**
 * One product's events read once for all of its caught-up streams: after appends, one read per
 * event-loop turn (however many events were appended in that turn), each event serialised and
 * encoded once, and the same bytes handed to every member.
 *
 * Every member has had every event up to the feed's cursor, except one that joined with a
 * cursor ahead of it (it read on its own while this feed's read was scheduled): it is given only
 * the events after its own cursor, so nothing is written to it twice.
 * @internal
 */
export class ProductFeed {
  readonly #source: SharedFeedSource;
  readonly #feed: EventFeed;
  readonly #stats: ProductFeedStats;
  readonly #onStop: () => void;
  /** The members, each with the cursor it has events up to when that is ahead of this feed's. */
  readonly #members = new Map<FeedMember, number | string | undefined>();
  #unsubscribe: (() => void) | undefined;
  #scheduled: NodeJS.Immediate | undefined;
  #stopped = false;

  constructor(source: SharedFeedSource, after: number | string, stats: ProductFeedStats, onStop: () => void) {
    this.#source = source;
    this.#feed = source.from(after);
    this.#stats = stats;
    this.#onStop = onStop;
    this.#unsubscribe = this.#feed.onAppend(() => {
      this.#scheduled ??= setImmediate(() => this.#read());
    });
  }

  /** How far the feed has read. */
  get cursor(): number | string {
    return this.#feed.cursor;
  }

  /** Adds a member that has every event up to `cursor`; refused (false) when that is behind this feed, or the feed stopped. */
  join(member: FeedMember, cursor: number | string): boolean {
    if (this.#stopped) return false;
    const order = this.#source.compare(cursor, this.#feed.cursor);
    if (order < 0) {
      this.#stopIfEmpty();
      return false;
    }
    this.#members.set(member, order > 0 ? cursor : undefined);
    return true;
  }

  /** Removes a member; the feed stops with its last. */
  leave(member: FeedMember): void {
    if (!this.#members.delete(member)) return;
    this.#stats.leaves++;
    this.#stopIfEmpty();
  }

  /** Removes a member that is closing (not counted as leaving for its own reads). */
  remove(member: FeedMember): void {
    if (this.#members.delete(member)) this.#stopIfEmpty();
  }

  #read(): void {
    this.#scheduled = undefined;
    for (;;) {
      this.#stats.sharedReads++;
      const events = this.#feed.take(READ_BATCH);
      if (events.length > 0) this.#deliver(batchOf(events, this.#feed.cursor));
      // The last member may have left meanwhile: the feed stopped.
      if (this.#stopped) return;
      if (events.length < READ_BATCH) break;
    }
    const lost = this.#feed.lost;
    if (lost !== undefined) this.#lose(lost);
  }

  /** Its log is gone or replaced: every member is reset, and the feed stops. */
  #lose(reason: string): void {
    const members = [...this.#members.keys()];
    this.#members.clear();
    this.#stopIfEmpty();
    for (const member of members) member.reset(reason);
  }

  #deliver(batch: FeedBatch): void {
    for (const [member, ahead] of [...this.#members]) {
      // A member may have left (or closed) while an earlier one was written to.
      if (!this.#members.has(member)) continue;
      let from = 0;
      if (ahead !== undefined) {
        while (from < batch.events.length && this.#source.compare(batch.events[from]!.cursor, ahead) <= 0) from++;
        if (from === batch.events.length && this.#source.compare(batch.cursor, ahead) < 0) continue;
        this.#members.set(member, undefined);
        if (from === batch.events.length) continue;
      }
      member.deliver(batch, from);
    }
  }

  #stopIfEmpty(): void {
    if (this.#members.size > 0 || this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#onStop();
  }
}
