import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ExportLostError, TaskStore } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('a long-lived client lets go of the tasks no one holds', () => {
  it('once no ExportTask of an export is reachable and it is final, the store forgets it; a held task keeps its snapshot and attributes', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/forget.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', fixture], { cwd: ROOT, timeout: 60_000 });
    const result = JSON.parse(stdout.trim()) as { listed: number; before: number; after: number; kept: string; keptStatus: string; keptSnapshot: string };
    expect(result.listed).toBe(11);
    expect(result.before).toBe(12);
    // Only the task still held is left.
    expect(result.after).toBe(1);
    expect(result).toMatchObject({ kept: 'success', keptStatus: 'SUCCESS', keptSnapshot: 'success' });
  });
});

describe('TaskStore.forget()', () => {
  const event = (seq: number, type: string, extra: object = {}): object => ({ type, product_id: 'p', export_id: 'e1', seq, time: '2026-01-01T00:00:00Z', ...extra });

  it('lets go only of a task that no longer changes and that nothing waits on or watches', async () => {
    const store = new TaskStore();
    expect(store.forget('unknown')).toBe(false);
    store.apply(event(1, 'queued'));
    expect(store.forget('e1')).toBe(false);
    const watching = store.watch('e1').subscribe();
    const waiting = store.settled('e1');
    store.apply(event(2, 'started'));
    expect(store.forget('e1')).toBe(false);
    store.apply(event(3, 'failed', { failure_type: 'cancelled' }));
    await waiting;
    // The watch completed with the task: nothing holds it any more.
    expect(watching.closed).toBe(true);
    expect(store.forget('e1')).toBe(true);
    expect(store.get('e1')).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('lets go of an abandoned task once its waits have ended', async () => {
    const store = new TaskStore();
    store.apply(event(1, 'queued'));
    const waiting = store.settled('e1');
    store.abandon('e1', new ExportLostError('e1', 'gone'));
    await expect(waiting).rejects.toBeInstanceOf(ExportLostError);
    expect(store.forget('e1')).toBe(true);
    expect(store.size).toBe(0);
  });
});
