import { describe, expect, it } from 'vitest';
import { checkClock, systemClock } from '../../src/core/clock.js';
import { ClientClosedError, TimeoutError } from '../../src/core/errors.js';
import { TaskStore } from '../../src/core/task-store.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { createClient } from '../../src/client/create-client.js';
import { createTestBackend } from '../../src/testing/test-backend.js';

// The store's waits read the time and arm their timer through the clock they are given: these
// tests use no global fake timers at all.

const queued = (id: string) => ({ type: 'queued', product_id: 'roads', export_id: id, seq: 1, time: '2026-01-01T00:00:00Z' });

async function settle<T>(promise: Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  return promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}

describe('TaskStore({ clock })', () => {
  it('times waits out on the clock it is given, each at its own time, with one timer armed', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new TaskStore({ clock });
    store.apply(queued('e1'));
    const order: string[] = [];
    const late = settle(store.settled('e1', { timeout: 5_000 })).then((r) => (order.push('late'), r));
    const early = settle(store.settled('e1', { timeout: 1_000 })).then((r) => (order.push('early'), r));
    expect(clock.pending).toBe(1);
    await clock.advance(999);
    expect(order).toEqual([]);
    await clock.advance(1);
    expect(order).toEqual(['early']);
    const result = await early;
    expect('error' in result && result.error).toBeInstanceOf(TimeoutError);
    await clock.advance(4_000);
    expect(order).toEqual(['early', 'late']);
    expect(clock.pending).toBe(0);
    expect(store.timerArmed).toBe(false);
    expect(((await late) as { error: TimeoutError }).error.timeout).toBe(5_000);
  });

  it('clears its timer on the clock when the waits settle or the store closes', async () => {
    const clock = new ManualClock();
    const store = new TaskStore({ clock });
    const waiting = settle(store.settled('e1', { timeout: 10_000 }));
    expect(clock.pending).toBe(1);
    store.close();
    expect(clock.pending).toBe(0);
    expect(((await waiting) as { error: unknown }).error).toBeInstanceOf(ClientClosedError);
  });

  it.each([null, 5, {}, { now: () => 0, setTimeout: () => 0 }])('refuses the clock %j with a TypeError naming what it needs', (clock) => {
    expect(() => new TaskStore({ clock } as never)).toThrow(/new TaskStore\(\): expected `clock` to be an object with now\(\), setTimeout\(fire, ms\) and clearTimeout\(handle\)/);
  });

  it('refuses a function, even one with the three methods: a clock is an object', () => {
    const fn = Object.assign(() => 0, { now: () => 0, setTimeout: () => 0, clearTimeout: () => undefined });
    expect(() => new TaskStore({ clock: fn })).toThrow(/new TaskStore\(\): expected `clock` to be an object/);
  });

  it('the system clock reads the globals when called', () => {
    expect(checkClock('x', undefined)).toBeUndefined();
    expect(checkClock('x', systemClock)).toBe(systemClock);
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    let fired = false;
    const handle = systemClock.setTimeout(() => (fired = true), 10_000);
    systemClock.clearTimeout(handle);
    expect(fired).toBe(false);
  });
});

describe('createClient({ clock })', () => {
  it("times the client's waits out on it", async () => {
    const clock = new ManualClock();
    const backend = createTestBackend();
    const client = createClient({ backend, clock, waitTimeout: 2_000 });
    const fc = await client.createFeatureCollection('roads');
    const task = await fc.export('k.ndjson');
    const status = settle(task.status);
    const result = settle(task.getResult({ wait: true, timeout: 500 }));
    await clock.advance(500);
    expect(((await result) as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    await clock.advance(1_500);
    expect(((await status) as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
    await client.close();
  });

  it('refuses a clock with a store of its own, and a bad clock, before making anything', () => {
    const backend = createTestBackend();
    expect(() => createClient({ backend, clock: new ManualClock(), store: new TaskStore() })).toThrow(/`clock` is for the store the client makes/);
    expect(() => createClient({ clock: 'now' as never })).toThrow(/createClient\(\): expected `clock`/);
  });
});

describe('TaskStore.clock', () => {
  it('is the clock the store was given, or the system clock', () => {
    const clock = new ManualClock();
    expect(new TaskStore({ clock }).clock).toBe(clock);
    expect(new TaskStore().clock).toBe(systemClock);
    expect(new TaskStore({ clock: undefined }).clock).toBe(systemClock);
  });

  it("is where a client given the store times its polls", async () => {
    const clock = new ManualClock();
    const store = new TaskStore({ clock });
    const backend = createTestBackend();
    const client = createClient({ backend, store, transport: 'poll', pollInterval: 1_000, maxPollInterval: 1_000 });
    const fc = await client.createFeatureCollection('roads');
    const task = await fc.export('k.ndjson');
    const result = settle(task.getResult({ wait: true }));
    await clock.advance(0);
    const before = backend.requests.status;
    // The poll's timer is on the store's clock (jitter of at most +20%): nothing is asked until it passes.
    expect(clock.pending).toBe(1);
    await clock.advance(1_200);
    expect(backend.requests.status).toBe(before + 1);
    await client.close();
    expect(clock.pending).toBe(0);
    expect(((await result) as { error: unknown }).error).toBeInstanceOf(ClientClosedError);
  });
});

describe('ManualClock', () => {
  it('refuses to go back', async () => {
    await expect(new ManualClock().advance(-1)).rejects.toThrow(/non-negative/);
  });
});
