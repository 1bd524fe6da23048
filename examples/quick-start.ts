/**
 * The README's quick start, runnable: `npx tsx examples/quick-start.ts`.
 * Starts an export on the embedded service, follows its progress, waits with a timeout,
 * and downloads the file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Feature } from '../src/index.node.js';

const features: Feature[] = Array.from({ length: 10_000 }, (_, i) => ({
  type: 'Feature',
  id: i,
  geometry: { type: 'Point', coordinates: [-122.4 + (i % 100) / 1000, 37.7 + Math.floor(i / 100) / 1000] },
  properties: { kind: ['highway', 'residential'][i % 2], lanes: 1 + (i % 6) },
}));

const client = createClient();
const downloads = await mkdtemp(join(tmpdir(), 'quick-start-'));
try {
  const roads = await client.createFeatureCollection('roads', { title: 'Roads' });
  await roads.add(features);

  const task = await roads.export('exports/highways.ndjson', {
    query: { query_expr: { and: [{ eq: { kind: 'highway' } }, { range: { lanes: { gte: 4 } } }] } },
  });
  const progress = task.state$.subscribe((s) => console.log(`${s.phase} ${Math.round(s.progress * 100)}%`));

  await task.getResult({ wait: true, timeout: 60_000 });
  progress.unsubscribe();
  if (await task.isSuccess) {
    const path = join(downloads, 'highways.ndjson');
    await task.getFile(path);
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    console.log(`downloaded ${lines.length} features in ${await task.runtime} CPU s`);
  } else {
    console.error(await task.failureType, await task.exceptionName, await task.stacktrace);
    process.exitCode = 1;
  }
} finally {
  await client.close();
  await rm(downloads, { recursive: true, force: true });
}
