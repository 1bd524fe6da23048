/**
 * Goal 4: creating N `ExportTask`s from `listExports` pages, against mapping the same pages to
 * plain objects.
 */
import { createClient } from '../../src/client/create-client.js';
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
        ours: variant(
          () => createClient({ backend }).featureCollection(PRODUCT),
          async (collection) => {
            const tasks = await collection.listExports();
            if (tasks.length !== n) throw new Error(`listExports answered ${tasks.length} tasks, expected ${n}`);
          },
        ),
        plain: variant(
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
        note: `pages of ${PAGE_SIZE} final snapshot events from an in-memory backend`,
      }),
    );
  }
  return { rows };
}
