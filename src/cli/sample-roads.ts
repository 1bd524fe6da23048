/**
 * Sample roads of the San Francisco Bay Area for the demo and the dashboard: generated features
 * (lines and points with a kind, a name, lanes, a speed limit, a surface and a build date),
 * the same for the same seed.
 */
import type { Feature, Geometry } from '../client/geojson.js';

/** The area the features lie in: the San Francisco Bay Area, as [west, south, east, north]. */
export const AREA = [-122.6, 37.2, -121.7, 38.0] as const;

/** mulberry32: a small, fast, seeded PRNG; plenty for test data. Returns floats in [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'highway' | 'primary' | 'residential' | 'track';

interface KindProfile {
  readonly share: number;
  readonly lanes: readonly [number, number];
  readonly speed: readonly [number, number];
  readonly surfaces: readonly string[];
  /** How far a line's vertices step, in degrees. */
  readonly step: number;
}

const KINDS: Readonly<Record<Kind, KindProfile>> = {
  highway: { share: 0.07, lanes: [4, 8], speed: [88, 120], surfaces: ['asphalt', 'concrete'], step: 0.02 },
  primary: { share: 0.18, lanes: [2, 4], speed: [48, 90], surfaces: ['asphalt', 'asphalt', 'concrete'], step: 0.008 },
  residential: { share: 0.55, lanes: [1, 2], speed: [24, 48], surfaces: ['asphalt', 'asphalt', 'concrete', 'paving_stones'], step: 0.002 },
  track: { share: 0.2, lanes: [1, 1], speed: [8, 40], surfaces: ['gravel', 'dirt', 'grass', 'unpaved'], step: 0.004 },
};
const KIND_NAMES = Object.keys(KINDS) as Kind[];

/** Where roads cluster: city centres with their spread, in degrees. */
const CITIES = [
  { lon: -122.42, lat: 37.77, spread: 0.035, weight: 0.25 },
  { lon: -122.27, lat: 37.8, spread: 0.04, weight: 0.18 },
  { lon: -121.89, lat: 37.34, spread: 0.06, weight: 0.22 },
  { lon: -122.14, lat: 37.44, spread: 0.04, weight: 0.12 },
  { lon: -122.06, lat: 37.9, spread: 0.04, weight: 0.08 },
] as const;

const STREETS = [
  'Oak', 'Maple', 'Pine', 'Cedar', 'Elm', 'Willow', 'Mission', 'Market', 'Valencia', 'Folsom', 'Bryant', 'Shoreline',
  'Alameda', 'Bayshore', 'Ridge', 'Canyon', 'Vista', 'Sunset', 'Park', 'Lake', 'Hill', 'Spring', 'Mill', 'Church',
  'Broadway', 'Lincoln', 'Washington', 'Redwood', 'Harbor', 'Laurel', 'Sierra', 'Grand', 'Bay View', 'Pleasant Hill',
];
const SUFFIXES = ['Street', 'Avenue', 'Road', 'Boulevard', 'Drive', 'Lane', 'Way', 'Court', 'Place'];
const HIGHWAYS = ['Interstate 80', 'Interstate 280', 'Interstate 580', 'Interstate 680', 'Interstate 880', 'US 101', 'State Route 1', 'State Route 24', 'State Route 85', 'State Route 92'];
const ORDINALS = Array.from({ length: 48 }, (_, i) => ordinal(i + 1));
const BUILT_FROM = Date.UTC(1950, 0, 1);
const BUILT_DAYS = (Date.UTC(2024, 0, 1) - BUILT_FROM) / 86_400_000;
const BUILT_DATES: (string | undefined)[] = [];

/** Road `id`, drawn from `random` (one generator for a whole product, in id order). */
export function generateFeature(id: number, random: () => number): Feature {
  const kind = pickKind(random());
  const profile = KINDS[kind];
  const [lon, lat] = place(kind, random);
  let geometry: Geometry;
  if (kind !== 'highway' && random() < 0.3) {
    geometry = { type: 'Point', coordinates: [round5(lon), round5(lat)] };
  } else {
    const vertices = 2 + Math.floor(random() * 3);
    let x = lon;
    let y = lat;
    let heading = random() * 2 * Math.PI;
    const coordinates: number[][] = [];
    for (let v = 0; v < vertices; v++) {
      coordinates.push([round5(x), round5(y)]);
      heading += (random() - 0.5) * 0.8;
      x = clampTo(x + Math.cos(heading) * profile.step * (0.5 + random()), AREA[0], AREA[2]);
      y = clampTo(y + Math.sin(heading) * profile.step * (0.5 + random()), AREA[1], AREA[3]);
    }
    geometry = { type: 'LineString', coordinates };
  }
  const [minLanes, maxLanes] = profile.lanes;
  const [minSpeed, maxSpeed] = profile.speed;
  const name =
    kind === 'highway'
      ? pick(HIGHWAYS, random)
      : kind === 'track'
        ? `${pick(STREETS, random)} ${random() < 0.5 ? 'Fire Trail' : 'Trail'}`
        : random() < 0.15
          ? `${ORDINALS[Math.floor(random() * ORDINALS.length)]!} ${pick(SUFFIXES, random)}`
          : `${pick(STREETS, random)} ${pick(SUFFIXES, random)}`;
  return {
    type: 'Feature',
    id,
    geometry,
    properties: {
      name,
      kind,
      lanes: minLanes + Math.floor(random() * (maxLanes - minLanes + 1)),
      // Half-km/h steps: a real number, not only whole ones.
      speed_kmh: Math.round((minSpeed + random() * (maxSpeed - minSpeed)) * 2) / 2,
      surface: pick(profile.surfaces, random),
      built: builtDate(Math.floor(random() * BUILT_DAYS)),
    },
  };
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

/** `YYYY-MM-DD` of the day `day` days after {@link BUILT_FROM}; memoised, as days repeat a lot. */
function builtDate(day: number): string {
  let date = BUILT_DATES[day];
  if (date === undefined) {
    date = new Date(BUILT_FROM + day * 86_400_000).toISOString().slice(0, 10);
    BUILT_DATES[day] = date;
  }
  return date;
}

function pickKind(r: number): Kind {
  let acc = 0;
  for (const kind of KIND_NAMES) {
    acc += KINDS[kind].share;
    if (r < acc) return kind;
  }
  return 'track';
}

/** Streets cluster around cities; tracks and a share of everything else spread over the area. */
function place(kind: Kind, random: () => number): [number, number] {
  let r = random();
  if (kind !== 'track' && r < 0.85) {
    r /= 0.85;
    for (const city of CITIES) {
      r -= city.weight / 0.85;
      if (r < 0 || city === CITIES[CITIES.length - 1]) {
        const [dx, dy] = gaussianPair(random);
        return [clampTo(city.lon + dx * city.spread, AREA[0], AREA[2]), clampTo(city.lat + dy * city.spread, AREA[1], AREA[3])];
      }
    }
  }
  return [AREA[0] + random() * (AREA[2] - AREA[0]), AREA[1] + random() * (AREA[3] - AREA[1])];
}

/** Box–Muller: two independent standard normal values. */
function gaussianPair(random: () => number): [number, number] {
  const u = 1 - random();
  const v = random();
  const radius = Math.sqrt(-2 * Math.log(u));
  return [radius * Math.cos(2 * Math.PI * v), radius * Math.sin(2 * Math.PI * v)];
}

function ordinal(n: number): string {
  const suffix = n % 10 === 1 && n !== 11 ? 'st' : n % 10 === 2 && n !== 12 ? 'nd' : n % 10 === 3 && n !== 13 ? 'rd' : 'th';
  return `${n}${suffix}`;
}

/** Five decimals of a degree: about a metre, as precise as road data usually is. */
export function round5(value: number): number {
  return Math.round(value * 1e5) / 1e5;
}

function clampTo(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
