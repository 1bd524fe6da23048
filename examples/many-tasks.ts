/**
 * Following many exports at once: start several, then handle each as it finishes with
 * `asCompleted`, bounded by one overall timeout. `npx tsx examples/many-tasks.ts`
 */
import { asCompleted, createClient, TimeoutError, type Feature } from '../src/index.node.js';

const client = createClient({ embedded: { concurrency: 2 } });
try {
  const parcels = await client.createFeatureCollection('parcels');
  const features: Feature[] = Array.from({ length: 5_000 }, (_, i) => ({
    type: 'Feature',
    geometry: { type: 'Point', coordinates: [i / 100, i / 200] },
    properties: { zone: `Z${i % 10}`, area: i % 977 },
  }));
  await parcels.add(features);

  const tasks = await Promise.all(
    Array.from({ length: 10 }, (_, zone) => parcels.export(`zones/Z${zone}.ndjson`, { query: { query_expr: { eq: { zone: `Z${zone}` } } } })),
  );
  let done = 0;
  try {
    for await (const task of asCompleted(tasks, { timeout: 120_000 })) {
      done++;
      console.log(`${done}/${tasks.length} ${task.key}: ${await task.status}`);
    }
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    console.error(`gave up after 2 minutes with ${tasks.length - done} exports still running`);
  }
} finally {
  await client.close();
}
