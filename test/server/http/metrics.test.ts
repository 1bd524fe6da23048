import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../../src/core/events.js';
import { ServiceMetrics } from '../../../src/server/http/metrics.js';

const event = (exportId: string, seq: number, type: 'queued' | 'started' | 'succeeded'): TaskEvent =>
  ({
    type,
    product_id: 'p',
    export_id: exportId,
    seq,
    time: '2026-01-01T00:00:00Z',
    ...(type === 'succeeded' ? { runtime: 0.1, peak_memory_usage: 1024, size: 1, sha256: '0'.repeat(64) } : {}),
  }) as unknown as TaskEvent;

describe('ServiceMetrics', () => {
  // Issue 23's soak: a Redis API instance appends each export's `queued` while its workers
  // append the ends, so following phases there kept an entry for every export ever queued.
  it('keeps nothing per export unless it follows phases: 1,000 exports queued and never ended here leave no entry', () => {
    const metrics = new ServiceMetrics();
    for (let i = 0; i < 1_000; i++) metrics.onEvent(event(`e${i}`, 1, 'queued'));
    expect(metrics.countActive('queued')).toBe(0);
    expect(metrics.countActive('running')).toBe(0);
  });

  it('following phases (the service of one machine), counts exports queued and running, and forgets each once ended', () => {
    const metrics = new ServiceMetrics();
    metrics.followPhases();
    for (let i = 0; i < 3; i++) metrics.onEvent(event(`e${i}`, 1, 'queued'));
    metrics.onEvent(event('e0', 2, 'started'));
    expect([metrics.countActive('queued'), metrics.countActive('running')]).toEqual([2, 1]);
    metrics.onEvent(event('e0', 3, 'succeeded'));
    metrics.onEvent(event('e1', 2, 'started'));
    metrics.onEvent(event('e1', 3, 'succeeded'));
    metrics.onEvent(event('e2', 2, 'started'));
    metrics.onEvent(event('e2', 3, 'succeeded'));
    expect([metrics.countActive('queued'), metrics.countActive('running')]).toEqual([0, 0]);
  });

  it('follows phases once told of an export left unfinished by an earlier run (a restart)', () => {
    const metrics = new ServiceMetrics();
    metrics.trackActive('old', 'running');
    metrics.onEvent(event('new', 1, 'queued'));
    expect([metrics.countActive('queued'), metrics.countActive('running')]).toEqual([1, 1]);
  });
});
