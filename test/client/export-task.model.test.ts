import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, TransientResultError, type ExportClient, type ExportTask, type Feature, type FeatureCollection } from '../../src/index.node.js';

/**
 * Model-based test of ExportTask on the embedded service: random sequences of user actions
 * (start exports that succeed or throw, cancel, wait, download, list) run against the real
 * service, each checked against a simple model of what every task must end as.
 */

type Outcome = { status: 'SUCCESS'; count: number } | { status: 'FAILURE'; failureType: string };

interface Model {
  tasks: { key: string; expected: Outcome | 'cancel-pending' }[];
}

interface Real {
  fc: FeatureCollection;
  tasks: ExportTask[];
  downloads: string;
}

const N = 400;
const kinds = ['highway', 'primary', 'residential', 'track'];
const features: Feature[] = Array.from({ length: N }, (_, i) => ({
  type: 'Feature',
  id: i,
  geometry: { type: 'Point', coordinates: [i / 10, i / 20] },
  properties: { kind: kinds[i % 4], lanes: i % 5 },
}));

let counter = 0;

class StartSucceeding implements fc.AsyncCommand<Model, Real> {
  constructor(readonly kind: string) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const key = `ok/${counter++}.ndjson`;
    real.tasks.push(await real.fc.export(key, { query: { query_expr: { eq: { kind: this.kind } } } }));
    model.tasks.push({ key, expected: { status: 'SUCCESS', count: N / 4 } });
  }
  toString(): string {
    return `startSucceeding(${this.kind})`;
  }
}

class StartThrowing implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const key = `bad/${counter++}.ndjson`;
    real.tasks.push(await real.fc.export(key, { query: { query_expr: { like: { lanes: '1%' } } } }));
    model.tasks.push({ key, expected: { status: 'FAILURE', failureType: 'exception' } });
  }
  toString(): string {
    return 'startThrowing()';
  }
}

class CancelLast implements fc.AsyncCommand<Model, Real> {
  check(model: Readonly<Model>): boolean {
    return model.tasks.length > 0;
  }
  async run(model: Model, real: Real): Promise<void> {
    const i = model.tasks.length - 1;
    const task = real.tasks[i]!;
    const wasReady = task.ready;
    await task.cancel();
    // A cancel can only win while the job has not finished: the outcome is one or the other.
    if (!wasReady) model.tasks[i]!.expected = 'cancel-pending';
  }
  toString(): string {
    return 'cancelLast()';
  }
}

class WaitAll implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    for (const [i, task] of real.tasks.entries()) {
      await task.getResult({ wait: true, timeout: 60_000 });
      const expected = model.tasks[i]!.expected;
      const status = await task.status;
      const failureType = await task.failureType;
      if (expected === 'cancel-pending') {
        expect(status === 'SUCCESS' || failureType === 'cancelled' || failureType === 'exception').toBe(true);
        model.tasks[i]!.expected =
          status === 'SUCCESS'
            ? { status: 'SUCCESS', count: N / 4 }
            : { status: 'FAILURE', failureType: failureType! };
      } else if (expected.status === 'SUCCESS') {
        expect(status).toBe('SUCCESS');
      } else {
        expect(status).toBe('FAILURE');
        expect(failureType).toBe(expected.failureType);
      }
    }
  }
  toString(): string {
    return 'waitAll()';
  }
}

class DownloadFinished implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    for (const [i, task] of real.tasks.entries()) {
      if (!task.ready) continue;
      const expected = model.tasks[i]!.expected;
      const path = join(real.downloads, `${i}.ndjson`);
      if (task.snapshot.attributes?.status === 'SUCCESS') {
        await task.getFile(path);
        const text = await readFile(path, 'utf8');
        if (expected !== 'cancel-pending' && expected.status === 'SUCCESS') {
          expect(text.split('\n').filter(Boolean)).toHaveLength(expected.count);
        }
      } else {
        await expect(task.getFile(path)).rejects.toThrow(TransientResultError);
      }
    }
  }
  toString(): string {
    return 'downloadFinished()';
  }
}

class ListExports implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const listed = new Set((await real.fc.listExports()).map((t) => t.tuid));
    // Every task known final here is listed; the product is this run's, so all listed are ours.
    for (const task of real.tasks) if (task.ready) expect(listed.has(task.tuid)).toBe(true);
    const ours = new Set(real.tasks.map((t) => t.tuid));
    for (const id of listed) expect(ours.has(id)).toBe(true);
    expect(model.tasks.length).toBe(real.tasks.length);
  }
  toString(): string {
    return 'listExports()';
  }
}

describe('ExportTask model-based, on the embedded service', () => {
  let client: ExportClient;
  let downloads: string;
  let product = 0;

  beforeAll(async () => {
    client = createClient({ embedded: { concurrency: 2 } });
    downloads = await mkdtemp(join(tmpdir(), 'export-task-model-'));
  });

  afterAll(async () => {
    await client.close();
    expect(client.store.pendingWaits).toBe(0);
    await rm(downloads, { recursive: true, force: true });
  });

  it('keeps every task consistent with the model under random user actions', async () => {
    const commands = [
      fc.constantFrom(...kinds).map((k) => new StartSucceeding(k)),
      fc.constant(new StartThrowing()),
      fc.constant(new CancelLast()),
      fc.constant(new WaitAll()),
      fc.constant(new DownloadFinished()),
      fc.constant(new ListExports()),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 6 }), async (cmds) => {
        const collection = await client.createFeatureCollection(`model-${product++}`);
        await collection.add(features);
        const real: Real = { fc: collection, tasks: [], downloads };
        const model: Model = { tasks: [] };
        await fc.asyncModelRun(() => ({ model, real }), [...cmds, new WaitAll(), new DownloadFinished()]);
        // Every task settled exactly as the model says, and settles no further.
        for (const task of real.tasks) expect(task.ready).toBe(true);
      }),
      { numRuns: Number(process.env['FC_MODEL_RUNS'] ?? 8) },
    );
  });
});
