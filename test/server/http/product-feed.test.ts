import { describe, expect, it } from 'vitest';
import type { BackendEvent } from '../../../src/client/backend.js';
import { productSource } from '../../../src/server/embedded/engine.js';
import { MemoryExportLog } from '../../../src/server/embedded/memory-export-log.js';
import { frameOf, ProductFeeds } from '../../../src/server/http/product-feed.js';
import type { FeedBatch, FeedMember, ProductFeedStats } from '../../../src/server/http/product-feed.js';

const REQUEST = { key: 'k.ndjson', query: {}, timeoutMs: null, memoryMb: null };

/** A member that keeps what it is given, and checks that the shared pieces hold exactly the frames of the events. */
class Recorder implements FeedMember {
  readonly got: BackendEvent[] = [];
  readonly resets: string[] = [];
  reset(reason: string): void {
    this.resets.push(reason);
  }
  deliver(batch: FeedBatch, from: number): void {
    expect(Buffer.concat(batch.pieces).toString('utf8')).toBe(batch.events.map(frameOf).join(''));
    this.got.push(...batch.events.slice(from));
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(): { log: MemoryExportLog; feeds: ProductFeeds; stats: ProductFeedStats; append: (n: number) => BackendEvent[] } {
  const log = new MemoryExportLog();
  const stats: ProductFeedStats = { sharedFeeds: 0, sharedReads: 0, joins: 0, leaves: 0 };
  let exports = 0;
  const append = (n: number): BackendEvent[] => Array.from({ length: n }, () => log.create('p', `e${++exports}`, REQUEST, undefined));
  return { log, feeds: new ProductFeeds(stats), stats, append };
}

describe('ProductFeed: one read of a product for its caught-up streams', () => {
  it('reads the appends of one event-loop turn once for every member, and gives a member that joined ahead only what it lacks', async () => {
    const { log, feeds, stats, append } = setup();
    const source = productSource(log, 'p');
    const a = new Recorder();
    const feed = feeds.join(source, a, 0)!;
    expect(feed).toBeDefined();
    const appended = append(3);
    // b read events 1 and 2 on its own (the feed's read of this turn is still to come).
    const b = new Recorder();
    expect(feeds.join(source, b, appended[1]!.cursor)).toBe(feed);
    expect(stats.sharedReads).toBe(0);
    await turn();
    expect(stats.sharedReads).toBe(1);
    expect(a.got).toEqual(appended);
    expect(b.got).toEqual(appended.slice(2));
    // A member behind the feed is refused: it must go on reading on its own.
    expect(feeds.join(source, new Recorder(), 0)).toBeUndefined();
    const more = append(300);
    await turn();
    // 300 events: two reads of a batch (256) each, still one turn.
    expect(stats.sharedReads).toBe(3);
    expect(a.got).toEqual([...appended, ...more]);
    expect(b.got).toEqual([...appended.slice(2), ...more]);
    expect(stats.sharedFeeds).toBe(1);
    feed.leave(a);
    feed.remove(b);
    expect(stats.sharedFeeds).toBe(0);
    expect(stats.leaves).toBe(1);
  });

  it('stops with its last member: a read scheduled is cancelled, and later appends are not listened to', async () => {
    const { log, feeds, stats, append } = setup();
    const member = new Recorder();
    const feed = feeds.join(productSource(log, 'p'), member, 0)!;
    append(2);
    // The read of this turn is scheduled; the last member goes before it runs.
    feed.remove(member);
    expect(stats.sharedFeeds).toBe(0);
    await turn();
    append(2);
    await turn();
    await turn();
    expect(stats.sharedReads).toBe(0);
    expect(member.got).toEqual([]);
    // A new member starts a new feed, from its own cursor.
    const next = new Recorder();
    const again = feeds.join(productSource(log, 'p'), next, 4)!;
    expect(again).not.toBe(feed);
    const last = append(1);
    await turn();
    expect(next.got).toEqual(last);
    again.remove(next);
  });
});
