import type { Geometry } from '../client/geojson.js';
import { describeValue } from '../core/errors.js';

/** How deep `GeometryCollection`s may nest, as deep as a query's `and` and `or` may. */
export const MAX_GEOMETRY_DEPTH = 64;

const GEOMETRY_TYPES = [
  'Point',
  'MultiPoint',
  'LineString',
  'MultiLineString',
  'Polygon',
  'MultiPolygon',
  'GeometryCollection',
] as const;

/**
 * Checks that `value` is a GeoJSON geometry (RFC 7946): a known `type`, positions of at least
 * two finite numbers, line strings of at least two positions, polygon rings of at least four
 * positions whose last equals the first, `GeometryCollection`s nested at most
 * {@link MAX_GEOMETRY_DEPTH} deep. Empty `coordinates` arrays (empty geometries) pass.
 * Pure and allocation-free on success, so it can check hundreds of thousands of features.
 *
 * @example
 * ```ts
 * checkGeometry({ type: 'Point', coordinates: [1, 2] }, 'query.geometry');
 * ```
 * @param value - The value to check.
 * @param path - Where the value sits, for the error message (`features[3].geometry`).
 * @returns The value, typed as a geometry.
 * @throws TypeError naming the path of the first offending member and what was expected there.
 */
export function checkGeometry(value: unknown, path: string): Geometry {
  return checkGeometryAt(value, path, 1);
}

function checkGeometryAt(value: unknown, path: string, depth: number): Geometry {
  if (depth > MAX_GEOMETRY_DEPTH) {
    throw new TypeError(
      `Expected GeometryCollections nested at most ${MAX_GEOMETRY_DEPTH} deep, got \`${path}\` deeper still: flatten the collection`,
    );
  }
  if (!isObject(value)) {
    throw new TypeError(`Expected \`${path}\` to be a GeoJSON geometry object, got ${describeValue(value)}`);
  }
  const type = value['type'];
  switch (type) {
    case 'Point':
      checkPosition(value['coordinates'], `${path}.coordinates`);
      break;
    case 'MultiPoint':
      checkPositions(value['coordinates'], `${path}.coordinates`, 0);
      break;
    case 'LineString':
      checkLineString(value['coordinates'], `${path}.coordinates`);
      break;
    case 'MultiLineString':
      forEachOf(value['coordinates'], `${path}.coordinates`, 'an array of line strings', checkLineString);
      break;
    case 'Polygon':
      checkPolygon(value['coordinates'], `${path}.coordinates`);
      break;
    case 'MultiPolygon':
      forEachOf(value['coordinates'], `${path}.coordinates`, 'an array of polygons', checkPolygon);
      break;
    case 'GeometryCollection':
      forEachOf(value['geometries'], `${path}.geometries`, 'an array of geometries', (item, at) => checkGeometryAt(item, at, depth + 1));
      break;
    default:
      throw new TypeError(
        `Expected \`${path}.type\` to be one of ${GEOMETRY_TYPES.map((t) => `"${t}"`).join(', ')}, got ${describeValue(type)}`,
      );
  }
  return value as unknown as Geometry;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function forEachOf(value: unknown, path: string, expected: string, check: (item: unknown, path: string) => unknown): void {
  if (!Array.isArray(value)) throw new TypeError(`Expected \`${path}\` to be ${expected}, got ${describeValue(value)}`);
  for (let i = 0; i < value.length; i++) check(value[i], `${path}[${i}]`);
}

function checkPosition(value: unknown, path: string): void {
  if (!Array.isArray(value) || value.length < 2) {
    throw new TypeError(`Expected \`${path}\` to be a position [longitude, latitude], got ${describeValue(value)}`);
  }
  for (let i = 0; i < value.length; i++) {
    const n: unknown = value[i];
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw new TypeError(`Expected \`${path}[${i}]\` to be a finite number, got ${describeValue(n)}`);
    }
  }
}

function checkPositions(value: unknown, path: string, min: number): readonly (readonly number[])[] {
  if (!Array.isArray(value)) throw new TypeError(`Expected \`${path}\` to be an array of positions, got ${describeValue(value)}`);
  if (value.length < min) {
    throw new TypeError(`Expected \`${path}\` to hold at least ${min} positions, got ${value.length}`);
  }
  for (let i = 0; i < value.length; i++) checkPosition(value[i], `${path}[${i}]`);
  return value as readonly (readonly number[])[];
}

function checkLineString(value: unknown, path: string): void {
  // An empty array is an empty line string; one position is not a line.
  if (Array.isArray(value) && value.length === 0) return;
  checkPositions(value, path, 2);
}

function checkPolygon(value: unknown, path: string): void {
  forEachOf(value, path, 'an array of linear rings', checkRing);
}

function checkRing(value: unknown, path: string): void {
  const ring = checkPositions(value, path, 4);
  const first = ring[0]!;
  const last = ring[ring.length - 1]!;
  if (first[0] !== last[0] || first[1] !== last[1]) {
    throw new TypeError(
      `Expected \`${path}\` to be a closed ring (its last position equal to its first), got first [${first.join(', ')}] and last [${last.join(', ')}]: repeat the first position at the end`,
    );
  }
}
