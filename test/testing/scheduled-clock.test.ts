import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/create-client.js';
import type { ExportTask } from '../../src/client/export-task.js';
import { TimeoutError } from '../../src/core/errors.js';
import { createScheduledBackend, type ScheduledBackend } from '../../src/testing/index.js';

interface Model {
  ended: boolean;
}
interface Real {
  readonly backend: ScheduledBackend;
  readonly task: ExportTask;
  readonly waits: Promise<{ ok: true } | { error: unknown }>[];
}

class Progress implements fc.AsyncCommand<Model, Real> {
  constructor(readonly fraction: number) {}
  check = (m: Readonly<Model>): boolean => !m.ended;
  async run(_m: Model, r: Real): Promise<void> {
    if (r.backend.history(r.task.exportId).length === 1) r.backend.emit(r.task.exportId, { type: 'started' });
    r.backend.emit(r.task.exportId, { type: 'progress', fraction: this.fraction });
    await Promise.resolve();
  }
  toString = (): string => `progress(${this.fraction})`;
}

class End implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>): boolean => !m.ended;
  async run(m: Model, r: Real): Promise<void> {
    m.ended = true;
    r.backend.emit(r.task.exportId, { type: 'failed', failure_type: 'internal', exception_name: null, stacktrace: null, runtime: null, peak_memory_usage: null });
    await Promise.resolve();
  }
  toString = (): string => 'end';
}

class Wait implements fc.AsyncCommand<Model, Real> {
  constructor(readonly timeout: number) {}
  check = (): boolean => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.waits.push(
      r.task.getResult({ wait: true, timeout: this.timeout }).then(
        () => ({ ok: true as const }),
        (error: unknown) => ({ error }),
      ),
    );
    await Promise.resolve();
  }
  toString = (): string => `wait(${this.timeout} ms)`;
}

describe('the scheduled backend clock', () => {
  it('lets the scheduler decide when a timeout passes, racing the job in an fc.scheduledModelRun', async () => {
    let timedOut = 0;
    let resolved = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.commands([fc.double({ min: 0.01, max: 0.99, noNaN: true }).map((f) => new Progress(f)), fc.constant(new End()), fc.constantFrom(100, 1_000, 60_000).map((t) => new Wait(t))], {
          maxCommands: 8,
        }),
        async (s, commands) => {
          const backend = createScheduledBackend(s, { scheduleRequests: [] });
          const client = createClient({ backend, clock: backend.clock });
          try {
            const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
            const real: Real = { backend, task, waits: [] };
            await fc.scheduledModelRun(s, () => ({ model: { ended: false }, real }), commands);
            await s.waitIdle();
            const ended = task.snapshot.phase === 'failure';
            // Every wait ended: with the final task, or with a TimeoutError that saw it unfinished.
            for (const outcome of await Promise.all(real.waits)) {
              if ('ok' in outcome) {
                expect(ended).toBe(true);
                resolved++;
              } else {
                expect(outcome.error).toBeInstanceOf(TimeoutError);
                expect((outcome.error as TimeoutError).snapshot?.phase).not.toBe('failure');
                timedOut++;
              }
            }
            // Time passed only as the scheduler let it, and never went back.
            expect(backend.clock.now()).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 1));
          } finally {
            await client.close();
            await backend.close();
          }
        },
      ),
      { numRuns: 200 },
    );
    // Both ends of the race happen: some waits time out first, some see the end first.
    expect(timedOut).toBeGreaterThan(0);
    expect(resolved).toBeGreaterThan(0);
  });
});
