/**
 * The dashboard's sample data: generated roads in the San Francisco Bay Area, the same for the
 * same seed, added to a new product of the service in batches.
 */
import { createClient, type Feature } from '../../src/index.js';

const KINDS = ['highway', 'primary', 'residential', 'residential', 'residential', 'track'] as const;
const STREETS = ['Oak', 'Maple', 'Mission', 'Market', 'Valencia', 'Shoreline', 'Ridge', 'Canyon', 'Sunset', 'Spring Hill', 'Laurel', 'Bay View'];
const SUFFIXES = ['Street', 'Avenue', 'Road', 'Boulevard', 'Drive', 'Lane', 'Way'];
const SURFACES = ['asphalt', 'asphalt', 'concrete', 'gravel', 'paving_stones'];
const BATCH = 25_000;

/** mulberry32: a small seeded generator of floats in [0, 1). */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One generated road: a short line with a kind, a name, lanes, a speed limit and a surface. */
function road(id: number, random: () => number): Feature {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const kind = pick(KINDS);
  const lon = -122.6 + random() * 0.9;
  const lat = 37.2 + random() * 0.8;
  const lanes = kind === 'highway' ? 4 + Math.floor(random() * 5) : kind === 'primary' ? 2 + Math.floor(random() * 3) : 1 + Math.floor(random() * 2);
  return {
    type: 'Feature',
    id,
    geometry: { type: 'LineString', coordinates: [[lon, lat], [lon + (random() - 0.5) * 0.01, lat + (random() - 0.5) * 0.01]] },
    properties: {
      kind,
      name: kind === 'highway' ? `Interstate ${80 + Math.floor(random() * 9) * 100}` : `${pick(STREETS)} ${pick(SUFFIXES)}`,
      lanes,
      speed_kmh: kind === 'highway' ? 88 + Math.floor(random() * 33) : 16 + Math.floor(random() * 70),
      surface: pick(SURFACES),
    },
  };
}

/** The `count` roads of `seed`, as {@link seedProduct} adds them (for checking an export's file). */
export function generateRoads(count: number, seed = 1): Feature[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, (_, id) => road(id, random));
}

/**
 * Creates the product on the service at `url` and adds `count` generated roads to it.
 *
 * @returns How many features it holds.
 */
export async function seedProduct(url: string, productId: string, count: number, seed = 1): Promise<number> {
  const client = createClient({ url });
  try {
    const roads = await client.createFeatureCollection(productId, { title: 'Generated Bay Area roads' });
    const random = createRandom(seed);
    let added = 0;
    for (let first = 0; first < count; first += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, count - first) }, (_, i) => road(first + i, random));
      added += await roads.add(batch);
    }
    return added;
  } finally {
    await client.close();
  }
}
