import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/create-client.js';
import { replay } from '../../src/core/replay.js';
import { TaskStore } from '../../src/core/task-store.js';
import {
  createTaskTestModel,
  createTestBackend,
  forEachTaskPath,
  leakReport,
  lifecycleCommands,
  lifecycleModel,
  replayParameters,
  setupFastCheckReplay,
  taskPaths,
  type LifecycleModel,
  type LifecycleReal,
  type ReplayTestContext,
} from '../../src/testing/index.js';

describe('taskPaths options', () => {
  it('gives each listed failure type its own failed branch', () => {
    const types = new Set(
      taskPaths({ failureTypes: ['internal', 'exception', 'oom'] })
        .flatMap((p) => p.events)
        .flatMap((e) => (e.type === 'failed' ? [e.failure_type] : [])),
    );
    expect([...types].sort()).toEqual(['exception', 'internal', 'oom']);
    expect(() => taskPaths({ failureTypes: [] })).toThrow(/`failureTypes` to be a non-empty array/);
  });

  it('goes on after the end with the terminal event again and a late log, each step keeping the final snapshot', () => {
    const paths = taskPaths({ afterEnd: true });
    const ending = paths.filter((p) => p.final.phase === 'success' || p.final.phase === 'failure');
    expect(ending.length).toBeGreaterThan(0);
    for (const path of ending) {
      const [again, late] = path.steps.slice(-2);
      const end = path.steps.at(-3)!;
      expect(again!.event.type).toBe(end.event.type);
      expect(again!.event.seq).toBe(end.event.seq + 1);
      expect(late!.event.type).toBe('log');
      expect(again!.snapshot).toBe(end.snapshot);
      expect(path.description).toMatch(/then its end again and a late log/);
    }
    expect(() => taskPaths({ afterEnd: 'yes' as never })).toThrow(/`afterEnd` to be true or false/);
  });
});

describe('createTaskTestModel().getSimplePaths', () => {
  it('answers with the paths by state, as taskPaths({ coverage: "simple" }) does, instead of exploding', () => {
    const simple = createTaskTestModel().getSimplePaths();
    expect(simple.length).toBe(createTaskTestModel({ coverage: 'simple' }).getSimplePaths().length);
    expect(simple.length).toBeLessThan(1000);
  });
});

describe('forEachTaskPath play', () => {
  it('plays each step through apply with the hooks around it, in order', async () => {
    const seen: string[] = [];
    const count = await forEachTaskPath(
      async (path, play) => {
        const store = new TaskStore();
        seen.length = 0;
        await play((event) => void store.apply(event), {
          beforeStep: (_step, i) => void seen.push(`before ${i}`),
          afterStep: (step, i) => {
            seen.push(`after ${i}`);
            expect(store.get(step.event.export_id)).toEqual(step.snapshot);
          },
        });
        expect(seen).toEqual(path.steps.flatMap((_s, i) => [`before ${i}`, `after ${i}`]));
      },
      { coverage: 'states' },
    );
    expect(count).toBeGreaterThan(0);
  });

  it('names the path when a hook fails', async () => {
    await expect(
      forEachTaskPath(async (_path, play) => {
        await play(() => undefined, { afterStep: () => { throw new Error('the view is wrong'); } });
      }),
    ).rejects.toThrow(/^Path ".*" failed: the view is wrong$/);
  });
});

describe('setupFastCheckReplay', () => {
  it('reads FC_SEED and FC_RUNS, and prints the command that replays a failed property', () => {
    const each: ((context: ReplayTestContext) => void)[] = [];
    const all: (() => void)[] = [];
    const lines: string[] = [];
    const before = fc.readConfigureGlobal();
    try {
      const settings = setupFastCheckReplay(
        { afterEach: (fn) => each.push(fn), afterAll: (fn) => all.push(fn) },
        { FC_SEED: '42', FC_RUNS: '7' },
        (line) => lines.push(line),
      );
      expect(settings).toEqual({ seed: 42, numRuns: 7, path: undefined });
      expect(fc.readConfigureGlobal()).toMatchObject({ seed: 42, numRuns: 7 });
      let message = '';
      try {
        fc.assert(fc.property(fc.nat(), (n) => n < 3));
      } catch (error) {
        message = (error as Error).message;
      }
      each[0]!({ task: { name: 'keeps n small', file: { name: 'test/n.test.ts' }, result: { state: 'fail', errors: [{ message }] } } });
      all[0]!();
      expect(lines[0]).toMatch(/^Replay this counterexample: FC_SEED=42 FC_PATH="[\d:]+" npx vitest run test\/n\.test\.ts -t "keeps n small"$/);
      const path = /FC_PATH="([\d:]+)"/.exec(lines[0]!)![1]!;
      // The printed path replays the counterexample alone, first run.
      let runs = 0;
      expect(() =>
        fc.assert(
          fc.property(fc.nat(), (n) => {
            runs++;
            return n < 3;
          }),
          { ...replayParameters({ FC_SEED: '42', FC_PATH: path }) },
        ),
      ).toThrow();
      expect(runs).toBe(1);
      expect(lines[1]).toBe('fast-check seed of this run: 42 (FC_SEED=42 FC_RUNS=7)');
    } finally {
      fc.configureGlobal(before);
    }
  });

  it('refuses a seed that is not an integer and a path without a seed', () => {
    const hooks = { afterEach: () => undefined, afterAll: () => undefined };
    const before = fc.readConfigureGlobal();
    expect(() => setupFastCheckReplay(hooks, { FC_SEED: 'abc' })).toThrow(/FC_SEED to be an integer, got "abc"/);
    expect(() => replayParameters({ FC_PATH: '1:2' })).toThrow(/FC_PATH is set but FC_SEED is not/);
    expect(replayParameters({})).toEqual({});
    expect(() => setupFastCheckReplay({} as never)).toThrow(/setupFastCheckReplay\(\{ afterEach, afterAll \}\)/);
    fc.configureGlobal(before);
  });
});

describe('lifecycleCommands', () => {
  it('moves the exports the application started through every step of their lifecycle, checking the invariant after each', async () => {
    let checks = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.commands(
          lifecycleCommands<LifecycleModel, LifecycleReal>({
            failureTypes: ['internal', 'exception'],
            check: (model, real) => {
              checks++;
              // The application here is a client that follows every export: it must show the backend's truth.
              for (const { exportId } of model.exports) {
                expect(clientRef.store.get(exportId)).toEqual(replay(real.backend.history(exportId)));
              }
            },
          }),
          { maxCommands: 12 },
        ),
        async (commands) => {
          const backend = createTestBackend();
          const client = createClient({ backend });
          clientRef = client;
          const roads = await client.createFeatureCollection('roads');
          const started = [(await roads.export('a.ndjson')).exportId, (await roads.export('b.ndjson')).exportId];
          await fc.asyncModelRun(() => ({ model: lifecycleModel(started), real: { backend, exportIds: () => started } }), commands);
          await client.close();
          expect(leakReport({ backend })).toMatchObject({ openStreams: 0, runningJobs: 0 });
        },
      ),
      { numRuns: 30 },
    );
    expect(checks).toBeGreaterThan(0);
  });
});

let clientRef: ReturnType<typeof createClient>;

describe('leakReport', () => {
  it('counts a client’s pending waits, a backend’s open streams and running jobs, and ends at zero once both are closed', async () => {
    const backend = createTestBackend();
    backend.onExport(async (job) => {
      await job.step();
      job.progress(0.5);
    });
    const client = createClient({ backend });
    const task = await (await client.createFeatureCollection('roads')).export('out.ndjson');
    const waiting = task.getResult({ wait: true }).catch((error: unknown) => error);
    expect(leakReport({ backend, client })).toMatchObject({ openStreams: 1, runningJobs: 1, waits: 1 });
    await client.close();
    await backend.close();
    expect((await waiting) as Error).toMatchObject({ code: 'EXPORT_TASK_CLIENT_CLOSED' });
    expect(leakReport({ backend, client })).toMatchObject({ openStreams: 0, runningJobs: 0, waits: 0 });
  });
});
