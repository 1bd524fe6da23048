/**
 * Goal 4: creating N `ExportTask`s from `listExports` pages, against mapping the same pages to
 * plain objects.
 */
import { createClient } from '../../src/index.node.js';
import { listPlainExports } from '../baselines/plain-exports.js';
import { PRODUCT } from '../events.js';
import { compareTimes, variant } from '../harness.js';
import { MemoryBackend, PAGE_SIZE } from '../memory-backend.js';
import type { Plan } from '../plan.js';
import { row, type Row } from '../report.js';

export async function listExportsCase(plan: Plan): Promise<{ rows: Row[] }> {
  const rows: Row[] = [];
  for (const n of plan.sizes) {
    plan.log(`goal 4, N=${n}: listExports`);
    const backend = new MemoryBackend(n);
    const { times, ratio } = await compareTimes(
      {
        // Each side keeps what it made until the round is over, as a caller keeps the list it
        // asked for, and as the client's store keeps the tasks' snapshots whatever the caller
        // does.
        ours: variant(
          () => ({ collection: createClient({ backend }).featureCollection(PRODUCT), kept: [] as unknown[] }),
          async (input) => {
            const tasks = await input.collection.listExports();
            if (tasks.length !== n) throw new Error(`listExports answered ${tasks.length} tasks, expected ${n}`);
            input.kept = tasks;
          },
        ),
        plain: variant(
          () => ({ kept: [] as unknown[] }),
          async (input) => {
            const tasks = await listPlainExports(backend, PRODUCT);
            if (tasks.length !== n) throw new Error(`expected ${n} tasks`);
            input.kept = tasks;
          },
        ),
        // For the record: the plain objects dropped as soon as made, which costs them no
        // garbage collection while the store's snapshots still pay for theirs.
        dropped: variant(
          () => backend,
          async (b) => {
            const tasks = await listPlainExports(b, PRODUCT);
            if (tasks.length !== n) throw new Error(`expected ${n} tasks`);
          },
        ),
      },
      plan.rounds(n),
      plan.repeat(n),
    );
    rows.push(
      row({
        goal: '4 listExports()',
        subject: 'ours',
        n,
        unit: 'ns/task',
        value: times.ours / n,
        baseline: times.plain / n,
        baselineName: 'plain objects',
        ratio: ratio('ours', 'plain'),
        target: 5,
        note: `pages of ${PAGE_SIZE} final snapshot events from an in-memory backend, each side's objects kept until the round ends; against plain objects dropped as soon as made (${(times.dropped / n).toFixed(0)} ns per task) the ratio is ${ratio('ours', 'dropped').toFixed(2)}x`,
      }),
    );
  }
  return { rows };
}
