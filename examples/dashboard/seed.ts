/**
 * The dashboard's sample data: the demo's generated roads of the San Francisco Bay Area, the same
 * for the same seed, added to a new product of the service in batches.
 */
import { createClient, type Feature } from '../../src/index.node.js';
import { createRandom, generateFeature } from '../../src/cli/sample-roads.js';

const BATCH = 25_000;

/** The `count` roads of `seed`, as {@link seedProduct} adds them (for checking an export's file). */
export function generateRoads(count: number, seed = 1): Feature[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, (_, id) => generateFeature(id, random));
}

/**
 * Creates the product on the service at `url` (with its master `token`, when it has one) and
 * adds `count` generated roads to it.
 *
 * @returns How many features it holds.
 */
export async function seedProduct(url: string, productId: string, count: number, token?: string, seed = 1): Promise<number> {
  const client = createClient({ url, ...(token === undefined ? {} : { token }) });
  try {
    const roads = await client.createFeatureCollection(productId, { title: 'Generated Bay Area roads' });
    const random = createRandom(seed);
    let added = 0;
    for (let first = 0; first < count; first += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, count - first) }, (_, i) => generateFeature(first + i, random));
      added += await roads.add(batch);
    }
    return added;
  } finally {
    await client.close();
  }
}
