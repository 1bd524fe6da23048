import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.node.js';
import { createTestBackend } from '../../src/testing/index.js';

describe('createTestBackend', () => {
  it('stamps the events it records with its clock, so that runs can record the same events', async () => {
    let t = Date.UTC(2026, 0, 1);
    const backend = createTestBackend({ clock: () => (t += 1000) });
    const client = createClient({ backend });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('out.ndjson');
    backend.emit(task.tuid, { type: 'started' });
    expect(backend.history(task.tuid).map((e) => e.time)).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z']);
    expect(task.snapshot.created).toBe('2026-01-01T00:00:01.000Z');
    await client.close();
    expect(backend.openStreams).toBe(0);
  });

  it('throws a TypeError for an unknown option or a clock that is not a function', () => {
    expect(() => createTestBackend({ clock: 5 as never })).toThrow(
      new TypeError('createTestBackend(): expected `clock` to be a function answering milliseconds since the epoch, got 5'),
    );
    expect(() => createTestBackend({ now: Date.now } as never)).toThrow(/createTestBackend\(\): unknown option `now`/);
  });
});
