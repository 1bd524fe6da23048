import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/create-client.js';
import { InvalidEventError } from '../../src/core/errors.js';
import { replay } from '../../src/core/replay.js';
import type { TaskDiagnostic } from '../../src/core/task-store.js';
import {
  createScheduledBackend,
  createTestBackend,
  deliveryFaultsArb,
  jobScriptArb,
  scriptedJob,
  type DeliveryFault,
  type JobScript,
} from '../../src/testing/index.js';

/** Timers still pending in this process (a simulated job's steps are timers). */
const pendingTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

async function download(task: { getFile(target: WritableStream<Uint8Array>): Promise<unknown> }): Promise<string> {
  const chunks: Uint8Array[] = [];
  await task.getFile(new WritableStream({ write: (chunk) => void chunks.push(chunk) }));
  return Buffer.concat(chunks).toString('utf8');
}

describe('TestBackend.emit', () => {
  it('refuses an invalid event at once with InvalidEventError naming the field, recording nothing', async () => {
    const backend = createTestBackend();
    const client = createClient({ backend });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('out.ndjson');
    const bad = { type: 'succeeded', runtime: 1, peak_memory_usage: 1, key: 'out.ndjson', labels: null, size_bytes: 0, sha256: null } as never;
    let thrown: unknown;
    try {
      backend.emit(task.exportId, bad);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidEventError);
    expect((thrown as InvalidEventError).field).toBe('labels');
    expect(backend.history(task.exportId).map((e) => e.type)).toEqual(['queued']);
    expect(task.snapshot.phase).toBe('pending');
    await client.close();
  });
});

describe('TestBackend.deliver', () => {
  it('holds what is emitted while off and delivers it in order when back on, then reconciles as a reconnected stream', async () => {
    const backend = createTestBackend();
    const client = createClient({ backend });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('out.ndjson');
    backend.deliver = false;
    backend.emit(task.exportId, { type: 'started' });
    backend.emit(task.exportId, { type: 'progress', fraction: 0.5 });
    expect(task.snapshot.phase).toBe('pending');
    const statusBefore = backend.requests.status;
    backend.deliver = true;
    expect(task.snapshot).toMatchObject({ phase: 'running', progress: 0.5, seq: 3 });
    await Promise.resolve();
    expect(backend.requests.status).toBe(statusBefore + 1); // the client's onReconnect ran
    await client.close();
  });
});

describe('simulated jobs (onExport)', () => {
  it('runs a script to success with a real file whose size and SHA-256 the download verifies', async () => {
    const backend = createTestBackend();
    backend.onExport(scriptedJob({ steps: [{ progress: 0.5, message: 'half' }, { log: 'written' }], outcome: { succeed: 'line 1\nline 2\n' } }));
    const client = createClient({ backend });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('exports/out.ndjson');
    await task.getResult({ wait: true, timeout: 5_000 });
    expect(task.snapshot).toMatchObject({ phase: 'success', log: ['written'] });
    expect(task.snapshot.attributes?.sizeBytes).toBe(14);
    expect(await download(task)).toBe('line 1\nline 2\n');
    expect(backend.history(task.exportId).map((e) => e.type)).toEqual(['queued', 'started', 'progress', 'log', 'succeeded']);
    await client.close();
    await backend.close();
    expect(backend.runningJobs).toBe(0);
  });

  it('honours a cancel: the job ends cancelled one step later and what its script does after is ignored', async () => {
    const backend = createTestBackend();
    let afterCancel = false;
    backend.onExport(async (job) => {
      job.progress(0.1);
      await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
      await job.step();
      afterCancel = true;
      await job.succeed('never stored');
    });
    const client = createClient({ backend });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('out.ndjson');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await task.cancel();
    await task.getResult({ wait: true, timeout: 5_000 });
    expect(task.snapshot.attributes?.failureType).toBe('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(afterCancel).toBe(true);
    expect(backend.history(task.exportId).filter((e) => e.type === 'succeeded' || e.type === 'failed')).toHaveLength(1);
    await expect(backend.readFile('out.ndjson')).rejects.toThrow(/No file/);
    await client.close();
    await backend.close();
  });

  it('ignores a cancel when told to: the cancel is recorded and the job ends as its script says', async () => {
    const backend = createTestBackend();
    backend.onExport(scriptedJob({ steps: [{ progress: 0.5 }, { progress: 0.9 }], outcome: { succeed: 'x\n' } }), { cancel: 'ignore' });
    const client = createClient({ backend });
    const roads = await client.createFeatureCollection('roads');
    const task = await roads.export('out.ndjson');
    await task.cancel();
    await task.getResult({ wait: true, timeout: 5_000 });
    expect(task.snapshot).toMatchObject({ phase: 'success', cancelRequested: true });
    await client.close();
  });

  it('ends a job that throws as internal, keeping the error', async () => {
    const backend = createTestBackend();
    backend.onExport(() => {
      throw new RangeError('the script is wrong');
    });
    const client = createClient({ backend });
    const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
    await task.getResult({ wait: true, timeout: 5_000 });
    expect(await task.failureType).toBe('internal');
    expect(await task.exceptionName).toBe('RangeError');
    expect(backend.jobErrors).toEqual([new RangeError('the script is wrong')]);
    await client.close();
  });

  it('re-sends a terminal event after the end: the client reports it and its final snapshot stays', async () => {
    const backend = createTestBackend();
    backend.onExport(scriptedJob({ steps: [], outcome: { fail: 'internal' }, resendTerminal: true }));
    const client = createClient({ backend });
    const diagnostics: TaskDiagnostic[] = [];
    const sub = client.store.diagnostics$.subscribe((d) => diagnostics.push(d));
    const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
    await task.getResult({ wait: true, timeout: 5_000 });
    const final = task.snapshot;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(backend.history(task.exportId).map((e) => e.type)).toEqual(['queued', 'started', 'failed', 'failed']);
    expect(diagnostics.map((d) => d.kind)).toContain('after-final');
    expect(task.snapshot.attributes).toEqual(final.attributes);
    sub.unsubscribe();
    await client.close();
  });

  it('leaves no timer behind when closed while jobs still step', async () => {
    const before = pendingTimers();
    const backend = createTestBackend();
    backend.onExport(async (job) => {
      for (;;) {
        await job.step();
        if (job.ended) return;
        job.progress(0.5);
      }
    });
    const client = createClient({ backend });
    await (await client.createFeatureCollection('roads')).export('out.ndjson');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await client.close();
    await backend.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pendingTimers()).toBe(before);
    expect(backend.runningJobs).toBe(0);
  });

  it('refuses a handler that is not a function, or an unknown cancel policy', () => {
    const backend = createTestBackend();
    expect(() => backend.onExport('run' as never)).toThrow(/onExport\(\): expected a function of the job/);
    expect(() => backend.onExport(() => undefined, { cancel: 'sometimes' as never })).toThrow(/`cancel` to be 'honour' or 'ignore'/);
  });
});

describe('client-level hostile delivery (faults)', () => {
  it('duplicates, delays, drops and cuts as listed, and the client still ends at the backend truth', async () => {
    const faults: DeliveryFault[] = ['deliver', 'duplicate', 'delay', 'deliver', 'drop', 'cut'];
    const backend = createTestBackend({ faults });
    backend.onExport(scriptedJob({ steps: [{ progress: 0.2 }, { log: 'a' }, { progress: 0.6 }], outcome: { succeed: 'y\n' } }));
    const client = createClient({ backend });
    const diagnostics: TaskDiagnostic[] = [];
    const sub = client.store.diagnostics$.subscribe((d) => diagnostics.push(d));
    const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
    await task.getResult({ wait: true, timeout: 5_000 });
    expect(task.snapshot).toEqual(replay(backend.history(task.exportId)));
    expect(diagnostics.some((d) => d.kind === 'duplicate')).toBe(true);
    sub.unsubscribe();
    await client.close();
  });

  it('ends every wait at the truth for any script and any faults of the stream', async () => {
    await fc.assert(
      fc.asyncProperty(deliveryFaultsArb(), jobScriptArb(), async (faults: DeliveryFault[], script: JobScript) => {
        const backend = createTestBackend({ faults });
        backend.onExport(scriptedJob(script));
        const client = createClient({ backend });
        try {
          const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
          await task.getResult({ wait: true, timeout: 5_000 });
          await new Promise((resolve) => setTimeout(resolve, 1)); // a re-sent terminal event, if any
          const truth = replay(backend.history(task.exportId).filter((e) => e.seq <= task.snapshot.seq));
          expect(task.snapshot).toEqual(truth);
          expect(task.snapshot.phase).toBe('succeed' in script.outcome! ? 'success' : 'failure');
        } finally {
          await client.close();
          await backend.close();
        }
      }),
      { numRuns: Math.min(200, fc.readConfigureGlobal().numRuns ?? 100) },
    );
  });

  it('refuses an unknown fault', () => {
    expect(() => createTestBackend({ faults: ['lose'] as never })).toThrow(/`faults` to be an array of 'deliver', 'duplicate', 'delay', 'drop', 'cut'/);
  });
});

describe('simulated jobs on the scheduled backend', () => {
  it('releases each step of a job through the scheduler, so a cancel can land anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), jobScriptArb(), async (s, script) => {
        const backend = createScheduledBackend(s, { scheduleRequests: [] });
        backend.onExport(scriptedJob(script));
        const client = createClient({ backend });
        try {
          const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
          const click = s.schedule(Promise.resolve(), 'user clicks cancel').then(() => task.cancel());
          const done = task.getResult({ wait: true, timeout: 5_000 });
          await s.waitFor(done);
          await s.waitFor(click);
          await s.waitIdle();
          const final = task.snapshot;
          const ends = backend.history(task.exportId).filter((e) => e.type === 'succeeded' || e.type === 'failed');
          // A cancel honoured before the job's own end makes it end cancelled, and nothing else.
          expect(ends.length).toBeGreaterThan(0);
          expect(final.attributes?.status).toBe(ends[0]!.type === 'succeeded' ? 'SUCCESS' : 'FAILURE');
        } finally {
          await client.close();
          await backend.close();
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('hostile delivery on the scheduled backend', () => {
  it('duplicates, drops and cuts what the scheduler releases, and the client still ends at the truth', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), deliveryFaultsArb(), jobScriptArb(), async (s, faults, script) => {
        const backend = createScheduledBackend(s, { scheduleRequests: ['status'], faults });
        backend.onExport(scriptedJob(script));
        const client = createClient({ backend });
        try {
          const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
          const done = task.getResult({ wait: true, timeout: 5_000 });
          await s.waitFor(done);
          await s.waitIdle();
          const truth = replay(backend.history(task.exportId).filter((e) => e.seq <= task.snapshot.seq));
          expect(task.snapshot).toEqual(truth);
          expect(task.snapshot.phase).toBe('succeed' in script.outcome! ? 'success' : 'failure');
        } finally {
          await client.close();
          await backend.close();
        }
      }),
      { numRuns: 50 },
    );
  });

  it('refuses an unknown fault', () => {
    expect(() => createScheduledBackend(fc.sample(fc.scheduler(), 1)[0]!, { faults: ['lose'] as never })).toThrow(/`faults` to be an array of/);
  });
});
