/**
 * Focused script for profiling goal 4: `listExports` answering N completed exports, next to the
 * plain-object baseline. CPU time, median of the rounds.
 *
 *   node --import tsx bench/profile/list-exports.ts [N] [rounds] [only: ours | plain]
 */
import { createClient } from '../../src/index.node.js';
import { listPlainExports } from '../baselines/plain-exports.js';
import { PRODUCT } from '../events.js';
import { cpuNow, keep, median } from '../harness.js';
import { MemoryBackend } from '../memory-backend.js';

const n = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 20);
const only = process.argv[4];
const backend = new MemoryBackend(n);
const times: Record<string, number[]> = { ours: [], plain: [] };
for (let r = 0; r < rounds; r++) {
  if (only !== 'plain') {
    const collection = createClient({ backend }).featureCollection(PRODUCT);
    const t0 = cpuNow();
    keep(await collection.listExports());
    times['ours']!.push((cpuNow() - t0) / n);
  }
  if (only !== 'ours') {
    const t0 = cpuNow();
    keep(await listPlainExports(backend, PRODUCT));
    times['plain']!.push((cpuNow() - t0) / n);
  }
}
console.log(
  `N=${n}, ns per task (CPU time, median of ${rounds}): ` +
    Object.entries(times)
      .filter(([, t]) => t.length > 0)
      .map(([name, t]) => `${name} ${median(t).toFixed(0)}`)
      .join(', '),
);
