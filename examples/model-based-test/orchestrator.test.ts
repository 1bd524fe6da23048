/**
 * Tests of the export orchestrator (`orchestrator.ts`) with `export-task/testing`, each with
 * the tool of the kit meant for what it checks:
 *
 * 1. simulated jobs (`onExport`, `jobScriptArb`) with drawn faults of the stream the client
 *    reads: whatever each job does (progress, logs, any failure type, its end sent twice) and
 *    however the events arrive, every product ends with at most one retry, a retry only after
 *    `internal`, and the downloaded file of what succeeded;
 * 2. the lifecycle commands (`lifecycleCommands`) in an `fc.commands` run: whatever the jobs do
 *    step by step, the aggregate progress never goes back;
 * 3. `leakReport`: jobs that run past the budget are cancelled, and nothing is left scheduled.
 *
 * The last block plants each of the orchestrator's three bugs in turn and shows that the test
 * meant for it fails.
 */
import fc from 'fast-check';
import { createClient } from 'export-task';
import {
  createTestBackend,
  deliveryFaultsArb,
  jobScriptArb,
  leakReport,
  lifecycleCommands,
  lifecycleModel,
  scriptedJob,
  type JobScript,
  type LifecycleModel,
  type LifecycleReal,
} from 'export-task/testing';
import { describe, expect, it } from 'vitest';
import { orchestrate, type PlantedBugs } from './orchestrator.js';

const PRODUCTS = ['roads', 'rivers'];

async function setUp(faults: Parameters<typeof createTestBackend>[0] = {}) {
  const backend = createTestBackend(faults);
  const client = createClient({ backend });
  for (const product of PRODUCTS) await client.createFeatureCollection(product);
  return { backend, client };
}

/** Property 1: every product ends with at most one retry, after `internal` only, and what succeeded downloaded. */
function retriesAndDownloads(bugs: PlantedBugs = {}) {
  return fc.asyncProperty(deliveryFaultsArb(), fc.array(jobScriptArb({ failureTypes: ['internal', 'exception', 'oom'] }), { minLength: 1, maxLength: 4 }), async (faults, scripts) => {
    const { backend, client } = await setUp({ faults });
    // Each export the orchestrator starts, retries included, gets the next script (the last one repeats).
    let started = 0;
    let tooMany: () => void = () => undefined;
    const overrun = new Promise<'too many exports'>((resolve) => (tooMany = () => resolve('too many exports')));
    backend.onExport(
      scriptedJob((): JobScript => {
        started++;
        if (started > PRODUCTS.length * 2) tooMany();
        return scripts[Math.min(started - 1, scripts.length - 1)]!;
      }),
    );
    try {
      const run = orchestrate(client, { products: PRODUCTS, budgetMs: 10_000, bugs });
      const outcome = await Promise.race([run.done, overrun]);
      expect(outcome).not.toBe('too many exports');
      for (const product of outcome as Awaited<typeof run.done>) {
        expect(product.exportIds.length).toBeLessThanOrEqual(2);
        if (product.exportIds.length === 2) {
          const first = backend.history(product.exportIds[0]!).find((e) => e.type === 'failed');
          expect(first?.type === 'failed' && first.failure_type).toBe('internal');
        }
        if (product.final.phase === 'success') {
          const [, exportId] = [product, product.exportIds.at(-1)!];
          const end = backend.history(exportId).find((e) => e.type === 'succeeded');
          expect(end?.type === 'succeeded' && end.size_bytes).toBe(new TextEncoder().encode(product.contents ?? '').length);
        } else {
          expect(product.contents).toBeNull();
        }
      }
    } finally {
      await client.close();
      await backend.close();
    }
  });
}

/** Property 2: whatever the jobs do step by step, the aggregate progress never goes back. */
function progressNeverBack(bugs: PlantedBugs = {}) {
  let highest = 0;
  let run: ReturnType<typeof orchestrate> | undefined;
  let latest = 0;
  const check = (): void => {
    expect(latest).toBeGreaterThanOrEqual(highest);
    highest = latest;
  };
  return fc.asyncProperty(fc.commands(lifecycleCommands<LifecycleModel, LifecycleReal>({ failureTypes: ['internal', 'exception'], check }), { maxCommands: 16 }), async (commands) => {
    const { backend, client } = await setUp();
    highest = 0;
    latest = 0;
    try {
      run = orchestrate(client, { products: PRODUCTS, budgetMs: 10_000, bugs });
      const subscription = run.progress$.subscribe((value) => (latest = value));
      await new Promise((resolve) => setTimeout(resolve, 0));
      const current = run;
      await fc.asyncModelRun(() => ({ model: lifecycleModel(current.exportIds()), real: { backend, exportIds: () => current.exportIds() } }), commands);
      subscription.unsubscribe();
    } finally {
      await client.close();
      await backend.close();
      await run?.done.catch(() => undefined);
    }
  });
}

/** Property 3: exports past the budget are cancelled, and once done nothing is left scheduled. */
function nothingLeft(bugs: PlantedBugs = {}) {
  return fc.asyncProperty(fc.constantFrom(5, 15, 30), async (budgetMs) => {
    // What the previous run left to fire within a few milliseconds is not this run's.
    await new Promise((resolve) => setTimeout(resolve, 10));
    const before = leakReport();
    const { backend, client } = await setUp();
    // Jobs that never end by themselves: only the budget's cancel ends them.
    backend.onExport(scriptedJob({ steps: [{ progress: 0.3 }], outcome: null }), { cancel: 'honour' });
    try {
      const outcomes = await orchestrate(client, { products: PRODUCTS, budgetMs, recancelMs: 5, bugs }).done;
      expect(outcomes.map((o) => o.final.attributes?.failureType)).toEqual(PRODUCTS.map(() => 'cancelled'));
      await client.close();
      await backend.close();
      // A timer that fires within the next few milliseconds is not a leak: one that is still there after them is.
      await new Promise((resolve) => setTimeout(resolve, 10));
      const after = leakReport({ backend });
      expect(after).toMatchObject({ openStreams: 0, runningJobs: 0 });
      expect(after.timers).toBeLessThanOrEqual(before.timers);
    } finally {
      await client.close();
      await backend.close();
    }
  });
}

describe('the orchestrator', () => {
  it('retries at most once, only after internal, and downloads what succeeded, whatever the jobs and the stream do', async () => {
    await fc.assert(retriesAndDownloads(), { numRuns: 100 });
  });

  it('never shows the aggregate progress going back, whatever the jobs do step by step', async () => {
    await fc.assert(progressNeverBack(), { numRuns: 100 });
  });

  it('cancels exports past the budget and leaves nothing scheduled', async () => {
    await fc.assert(nothingLeft(), { numRuns: 10 });
  });
});

describe('each planted bug is found by the tool meant for it', () => {
  it('a retry of a retry: found by the simulated jobs', async () => {
    const result = await fc.check(retriesAndDownloads({ retryForever: true }), { numRuns: 300 });
    expect(result.failed).toBe(true);
  });

  it('progress going back when a retry starts: found by the lifecycle commands', async () => {
    const result = await fc.check(progressNeverBack({ progressBackwards: true }), { numRuns: 300 });
    expect(result.failed).toBe(true);
  });

  it('a re-cancel loop left running: found by leakReport', async () => {
    const result = await fc.check(nothingLeft({ leakRecancel: true }), { numRuns: 10 });
    expect(result.failed).toBe(true);
  });
});
