import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filter, firstValueFrom, take, takeWhile, toArray } from 'rxjs';
import type { BackendEvent, ExportBackend } from '../../../src/client/backend.js';
import { BadRequestError, NotFoundError } from '../../../src/client/http-errors.js';
import { createEmbeddedBackend } from '../../../src/server/embedded/create-embedded-backend.js';
import { eventsUntilFinal, gridFeatures } from './helpers.js';

let backend: ExportBackend;

beforeEach(async () => {
  backend = createEmbeddedBackend({ concurrency: 2 });
  await backend.createProduct('p', {});
  await backend.addFeatures('p', gridFeatures(2000));
});

afterEach(async () => {
  await backend.close();
});

/** Events of the product until `count` exports are final. */
function untilFinals(count: number, after?: string): Promise<BackendEvent[]> {
  let finals = 0;
  return firstValueFrom(
    backend.events('p', after === undefined ? {} : { after }).pipe(
      takeWhile(({ event }) => {
        if (event.type === 'succeeded' || event.type === 'failed') finals++;
        return finals < count;
      }, true),
      toArray(),
    ),
  );
}

describe('events on the embedded backend', () => {
  it('sends every event of every export once, in order, with gap-free seq per export', async () => {
    const all = untilFinals(3);
    const ids = await Promise.all([
      backend.startExport('p', { key: 'a.ndjson', query: {} }),
      backend.startExport('p', { key: 'b.ndjson', query: { query_limit: 5 } }),
      backend.startExport('p', { key: 'c.ndjson', query: { query_expr: { eq: { kind: 'odd' } } } }),
    ]);
    const events = await all;
    expect(events.map((e) => e.cursor)).toEqual(events.map((_, i) => String(i + 1)));
    for (const { exportId } of ids) {
      const own = events.filter((e) => e.event.export_id === exportId).map((e) => e.event);
      expect(own.map((e) => e.seq)).toEqual(own.map((_, i) => i + 1));
      expect(own[0]!.type).toBe('queued');
      expect(own[1]!.type).toBe('started');
      expect(own.at(-1)!.type).toBe('succeeded');
      expect(own.every((e) => e.product_id === 'p')).toBe(true);
    }
  });

  it('replays the whole history to a late subscriber, then goes on live', async () => {
    const first = await backend.startExport('p', { key: 'a.ndjson', query: {} });
    const history = await eventsUntilFinal(backend, 'p', first.exportId);
    const replayed = untilFinals(2);
    await backend.startExport('p', { key: 'b.ndjson', query: {} });
    const events = await replayed;
    expect(events.slice(0, history.length).map((e) => e.event)).toEqual(history);
    expect(events.map((e) => e.cursor)).toEqual(events.map((_, i) => String(i + 1)));
  });

  it('resumes after a cursor without loss or repeat', async () => {
    const everything = untilFinals(2);
    await backend.startExport('p', { key: 'a.ndjson', query: {} });
    await backend.startExport('p', { key: 'b.ndjson', query: {} });
    const all = await everything;
    for (const cut of [0, 1, 3, all.length - 1, all.length]) {
      const rest = await firstValueFrom(backend.events('p', { after: String(cut) }).pipe(take(all.length - cut), toArray()), {
        defaultValue: [],
      });
      expect(rest).toEqual(all.slice(cut));
    }
    // Resuming at the end, then a new export: its events only.
    const next = firstValueFrom(backend.events('p', { after: String(all.length) }).pipe(take(1)));
    const { exportId } = await backend.startExport('p', { key: 'c.ndjson', query: {} });
    expect(await next).toMatchObject({ cursor: String(all.length + 1), event: { type: 'queued', export_id: exportId, seq: 1 } });
  });

  it('errors with NotFoundError for an unknown product and BadRequestError for a cursor it never gave', async () => {
    await expect(firstValueFrom(backend.events('nope'))).rejects.toBeInstanceOf(NotFoundError);
    for (const after of ['x', '-1', '1.5', '01', '99']) {
      await expect(firstValueFrom(backend.events('p', { after }))).rejects.toBeInstanceOf(BadRequestError);
    }
  });

  it('delivers events of one export only to the subscriptions still open', async () => {
    const seen: string[] = [];
    const subscription = backend.events('p').subscribe(({ event }) => seen.push(event.type));
    const { exportId } = await backend.startExport('p', { key: 'a.ndjson', query: {} });
    subscription.unsubscribe();
    const count = seen.length;
    await firstValueFrom(backend.events('p').pipe(filter(({ event }) => event.export_id === exportId && event.type === 'succeeded')));
    expect(seen.length).toBe(count);
    expect(seen[0]).toBe('queued');
  });
});
