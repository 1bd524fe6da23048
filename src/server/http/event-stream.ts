import type { ServerResponse } from 'node:http';
import type { BackendEvent } from '../../client/backend.js';
import type { EventFeed } from '../embedded/engine.js';
import { frameOf, ProductFeeds, READ_BATCH, WRITE_CHUNK } from './product-feed.js';
import type { FeedBatch, FeedMember, ProductFeed, ProductFeedStats } from './product-feed.js';

/** How the event streams behave. @internal */
export interface EventStreamOptions {
  /** A `: heartbeat` comment is sent this often, ms. */
  readonly heartbeatMs: number;
  /** Bytes a client may leave unread (buffered for it) before it is dropped. */
  readonly bufferLimit: number;
}

/** What the streams have done, for tests and diagnostics. @internal */
export interface EventStreamStats extends ProductFeedStats {
  /** Streams open now. */
  open: number;
  /** Streams dropped because their client read too slowly. */
  dropped: number;
  /** The most bytes ever buffered for one client, measured after each write. */
  peakBuffered: number;
  /** Events written to the streams, all streams together. */
  delivered: number;
  /** Reads streams made of the log on their own (behind, catching up), beside the shared ones. */
  ownReads: number;
}

/**
 * The Server-Sent Events streams of the server. A stream that is behind (resuming from an old
 * cursor, or whose socket was full) pulls its events from its own {@link EventFeed} (the log,
 * after its cursor) and writes them to the socket, holding at most one batch read ahead, so what
 * a client costs is bounded by what its socket has not sent yet. Once a read reaches the log's
 * end, a stream of a whole product joins the product's {@link ProductFeed}: the caught-up
 * streams share one read per event-loop turn and one serialised frame per event. A member
 * whose socket fills leaves it, at the cursor of what it was written, for its own reads again.
 *
 * Backpressure: events are written as they are appended (or, for a client resuming far
 * behind, a batch at a time) until more than half of `bufferLimit` is waiting in the socket;
 * then the stream writes nothing more until the socket drains, so what waits for one client
 * stays under about half the limit plus one write. A client that still has more than
 * `bufferLimit` bytes waiting once they had a chance to go out, or that has not taken them
 * within a heartbeat interval, is disconnected: it resumes by cursor, losing nothing.
 * @internal
 */
export class EventStreams {
  readonly #options: EventStreamOptions;
  readonly #open = new Set<EventStream>();
  readonly stats: EventStreamStats = { open: 0, dropped: 0, peakBuffered: 0, delivered: 0, ownReads: 0, sharedFeeds: 0, sharedReads: 0, joins: 0, leaves: 0 };
  readonly #products = new ProductFeeds(this.stats);

  constructor(options: EventStreamOptions) {
    this.#options = options;
  }

  /** Starts streaming `feed` as the answer `res` (its headers not sent yet). */
  open(res: ServerResponse, feed: EventFeed): void {
    const stream = new EventStream(res, feed, this.#products, this.#options, this.stats, () => {
      this.#open.delete(stream);
      this.stats.open = this.#open.size;
    });
    this.#open.add(stream);
    this.stats.open = this.#open.size;
    stream.start();
  }

  /**
   * Ends every stream cleanly, the service is shutting down: each sends what its client has
   * not had yet, then its last cursor as a bare `id:` field, and ends.
   */
  endAll(): void {
    for (const stream of [...this.#open]) stream.end();
  }
}

class EventStream implements FeedMember {
  readonly #res: ServerResponse;
  /** Where the stream reads on its own; replaced by a feed at its cursor when it leaves its product's feed. */
  #feed: EventFeed;
  readonly #products: ProductFeeds;
  /** The product's feed while the stream is one of its members (caught up). */
  #product: ProductFeed | undefined;
  /** While a member: the cursor of the last event written to it (or of the batch it was given whole). */
  #sharedCursor: number | string = 0;
  readonly #options: EventStreamOptions;
  readonly #stats: EventStreamStats;
  readonly #onDone: () => void;
  /** Events read from the feed and not written yet (at most a batch). */
  #ahead: BackendEvent[] = [];
  #unsubscribe: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #stall: NodeJS.Timeout | undefined;
  #pumping = false;
  /** Waiting for the socket to drain before writing more. */
  #waiting = false;
  #ending = false;
  #done = false;

  constructor(res: ServerResponse, feed: EventFeed, products: ProductFeeds, options: EventStreamOptions, stats: EventStreamStats, onDone: () => void) {
    this.#res = res;
    this.#feed = feed;
    this.#products = products;
    this.#options = options;
    this.#stats = stats;
    this.#onDone = onDone;
  }

  start(): void {
    const res = this.#res;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // A stream ends only when one side goes: the connection is not worth keeping after it.
      connection: 'close',
      // Proxies that buffer answers (nginx) would hold the events back.
      'x-accel-buffering': 'no',
      // How often a `: heartbeat` comes, so a client can tell a silent stream from a dead one.
      'x-heartbeat-interval': String(this.#options.heartbeatMs),
    });
    res.on('close', () => this.#finish());
    res.on('drain', () => this.#resume());
    // Sends the headers at once, so the client knows it is connected before any event, then the
    // cursor the stream starts after, as a bare `id:` (an EventSource takes it as its last
    // event id and dispatches nothing): a client that hears no event before it reconnects
    // resumes from there, not from the start or from a later "now".
    this.#write(`: connected\n\nid: ${this.#feed.cursor}\n\n`);
    this.#unsubscribe = this.#feed.onAppend(() => this.#pump());
    this.#heartbeat = setInterval(() => {
      this.#write(': heartbeat\n\n');
      if (!this.#waiting && this.#res.writableLength > this.#options.bufferLimit / 2) this.#wait();
    }, this.#options.heartbeatMs);
    this.#heartbeat.unref();
    this.#pump();
  }

  end(): void {
    if (this.#done || this.#ending) return;
    this.#ending = true;
    this.#leave();
    this.#stop();
    // Everything appended so far, then the cursor to resume from; a client too far behind
    // for that to fit in its buffer is cut instead, and resumes from what it got.
    while (!this.#done) {
      if (this.#ahead.length === 0) this.#ahead = this.#feed.take(READ_BATCH);
      if (this.#ahead.length === 0) break;
      if (this.#res.writableLength > this.#options.bufferLimit) {
        this.#drop();
        return;
      }
      this.#writeAhead();
    }
    this.#write(`: the service is shutting down: resume after ${this.#feed.cursor}\nid: ${this.#feed.cursor}\n\n`);
    this.#res.end();
  }

  #pump(): void {
    if (this.#pumping || this.#waiting || this.#ending || this.#done || this.#product !== undefined) return;
    this.#pumping = true;
    try {
      // Whether the last read reached the log's end: once what it read is written, the stream is caught up.
      let atEnd = false;
      while (!this.#done) {
        if (this.#ahead.length === 0) {
          this.#ahead = this.#feed.take(READ_BATCH);
          this.#stats.ownReads++;
          atEnd = this.#ahead.length < READ_BATCH;
        }
        if (this.#ahead.length > 0) this.#writeAhead();
        if (this.#res.writableLength > this.#options.bufferLimit / 2) {
          this.#wait();
          return;
        }
        if (atEnd && this.#ahead.length === 0) {
          // A feed that cannot go on (its product's log vanished or was replaced) ends the stream.
          const lost = this.#feed.lost;
          if (lost !== undefined) {
            this.#reset(lost);
            return;
          }
          this.#join();
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Caught up: from now on the product's feed writes to this stream, when its feed can be shared. */
  #join(): void {
    const source = this.#feed.shared;
    if (source === undefined) return;
    const cursor = this.#feed.cursor;
    const product = this.#products.join(source, this, cursor);
    if (product === undefined) return;
    this.#product = product;
    this.#sharedCursor = cursor;
    // The product's feed listens for the appends now.
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Back to its own reads, from what it was written: its socket is full, or the service is shutting down. */
  #leave(): void {
    const product = this.#product;
    if (product === undefined) return;
    this.#product = undefined;
    product.leave(this);
    this.#feed = this.#feed.shared!.from(this.#sharedCursor);
    // Subscribed even when ending: the stop that follows closes it (a Redis feed listens to its product's tail).
    this.#unsubscribe = this.#feed.onAppend(() => this.#pump());
  }

  /** Writes what its product's feed read (from index `from`); leaves the feed when the socket is half full. */
  deliver(batch: FeedBatch, from: number): void {
    if (this.#done || this.#product === undefined) return;
    let first = 0;
    while (batch.ends[first]! <= from) first++;
    for (let i = first; i < batch.pieces.length; i++) {
      const start = i === 0 ? 0 : batch.ends[i - 1]!;
      // Only a stream that joined ahead of the feed starts inside a piece: its part of it is framed again.
      this.#write(start < from ? batch.frames.slice(from, batch.ends[i]).join('') : batch.pieces[i]!);
      this.#stats.delivered += batch.ends[i]! - Math.max(start, from);
      this.#sharedCursor = i === batch.pieces.length - 1 ? batch.cursor : batch.events[batch.ends[i]! - 1]!.cursor;
      if (this.#done) return;
      if (this.#res.writableLength > this.#options.bufferLimit / 2) {
        this.#wait();
        return;
      }
    }
  }

  /** Its product's feed cannot go on (the log vanished or was replaced): `event: reset`, and the stream ends. */
  reset(reason: string): void {
    if (this.#done || this.#ending) return;
    this.#product = undefined;
    this.#reset(reason);
  }

  /**
   * Stops writing until the socket has sent what it holds. Writes of one tick are held
   * (corked) until the next, so the buffer is judged then, once they could go out.
   */
  #wait(): void {
    this.#leave();
    this.#waiting = true;
    setImmediate(() => this.#check());
  }

  #check(): void {
    if (this.#done || !this.#waiting) return;
    const buffered = this.#res.writableLength;
    if (buffered > this.#options.bufferLimit) {
      this.#drop();
    } else if (buffered <= this.#options.bufferLimit / 2) {
      this.#resume();
    } else if (this.#res.writableNeedDrain) {
      // 'drain' resumes; a client that takes nothing for a heartbeat interval is dropped.
      this.#stall ??= setTimeout(() => this.#drop(), this.#options.heartbeatMs).unref();
    } else {
      // Under the socket's own high-water mark no 'drain' comes: look again shortly.
      setTimeout(() => this.#check(), 10).unref();
    }
  }

  #resume(): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    clearTimeout(this.#stall);
    this.#stall = undefined;
    this.#pump();
  }

  /**
   * Writes the events read ahead as SSE frames (`id:` the cursor, `event:` the type, `data:`
   * the event on one line: JSON.stringify escapes line breaks inside strings), one piece of
   * about {@link WRITE_CHUNK} characters.
   */
  #writeAhead(): void {
    let text = '';
    let written = 0;
    while (written < this.#ahead.length && text.length < WRITE_CHUNK) text += frameOf(this.#ahead[written++]!);
    this.#ahead = this.#ahead.slice(written);
    this.#stats.delivered += written;
    this.#write(text);
  }

  #write(text: string | Buffer): void {
    if (this.#done) return;
    this.#res.write(text);
    const buffered = this.#res.writableLength;
    if (buffered > this.#stats.peakBuffered) this.#stats.peakBuffered = buffered;
  }

  /**
   * Tells the client the stream cannot be resumed (its log vanished or was replaced) with
   * `event: reset` and why, after every event it had not had yet, and ends the stream: the
   * client drops its cursor and checks its exports by status (protocol, "Reset").
   */
  #reset(reason: string): void {
    this.#ending = true;
    this.#stop();
    this.#write(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.#res.end();
  }

  /** Disconnects a client too slow to read: it resumes by cursor. */
  #drop(): void {
    if (this.#done) return;
    this.#stats.dropped++;
    this.#finish();
    this.#res.destroy();
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#stall);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#product?.remove(this);
    this.#product = undefined;
    this.#stop();
    this.#ahead = [];
    this.#onDone();
  }
}
