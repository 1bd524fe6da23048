import type { ServerResponse } from 'node:http';
import type { BackendEvent } from '../../client/backend.js';
import type { EventFeed } from '../embedded/engine.js';

/** Events read from the log at a time while catching up. */
const READ_BATCH = 256;
/** Frames are written in pieces of about this many characters, so a write overshoots the buffer limit by at most this much. */
const WRITE_CHUNK = 16 * 1024;

/** How the event streams behave. @internal */
export interface EventStreamOptions {
  /** A `: heartbeat` comment is sent this often, ms. */
  readonly heartbeatMs: number;
  /** Bytes a client may leave unread (buffered for it) before it is dropped. */
  readonly bufferLimit: number;
}

/** What the streams have done, for tests and diagnostics. @internal */
export interface EventStreamStats {
  /** Streams open now. */
  open: number;
  /** Streams dropped because their client read too slowly. */
  dropped: number;
  /** The most bytes ever buffered for one client, measured after each write. */
  peakBuffered: number;
  /** Events written to the streams, all streams together. */
  delivered: number;
}

/**
 * The Server-Sent Events streams of the server. Each pulls its events from an
 * {@link EventFeed} (the log, after the client's cursor) and writes them to the socket; it
 * holds at most one batch of events read ahead, so what a client costs is bounded by what its
 * socket has not sent yet.
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
  readonly stats: EventStreamStats = { open: 0, dropped: 0, peakBuffered: 0, delivered: 0 };

  constructor(options: EventStreamOptions) {
    this.#options = options;
  }

  /** Starts streaming `feed` as the answer `res` (its headers not sent yet). */
  open(res: ServerResponse, feed: EventFeed): void {
    const stream = new EventStream(res, feed, this.#options, this.stats, () => {
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

class EventStream {
  readonly #res: ServerResponse;
  readonly #feed: EventFeed;
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

  constructor(res: ServerResponse, feed: EventFeed, options: EventStreamOptions, stats: EventStreamStats, onDone: () => void) {
    this.#res = res;
    this.#feed = feed;
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
    if (this.#pumping || this.#waiting || this.#ending || this.#done) return;
    this.#pumping = true;
    try {
      while (!this.#done) {
        if (this.#ahead.length === 0) this.#ahead = this.#feed.take(READ_BATCH);
        if (this.#ahead.length === 0) {
          const lost = this.#feed.lost;
          if (lost !== undefined) this.#reset(lost);
          return;
        }
        this.#writeAhead();
        if (this.#res.writableLength > this.#options.bufferLimit / 2) {
          this.#wait();
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Stops writing until the socket has sent what it holds. Writes of one tick are held
   * (corked) until the next, so the buffer is judged then, once they could go out.
   */
  #wait(): void {
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
    while (written < this.#ahead.length && text.length < WRITE_CHUNK) {
      const { cursor, event } = this.#ahead[written++]!;
      text += `id: ${cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    }
    this.#ahead = this.#ahead.slice(written);
    this.#stats.delivered += written;
    this.#write(text);
  }

  #write(text: string): void {
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
    this.#stop();
    this.#ahead = [];
    this.#onDone();
  }
}
