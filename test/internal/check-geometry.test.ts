import { describe, expect, it } from 'vitest';
import { checkGeometry } from '../../src/internal/check-geometry.js';

describe('checkGeometry', () => {
  it('accepts every GeoJSON geometry type, empty ones included', () => {
    const ring = [[0, 0], [1, 0], [1, 1], [0, 0]];
    const geometries = [
      { type: 'Point', coordinates: [1, 2] },
      { type: 'Point', coordinates: [1, 2, 3] },
      { type: 'MultiPoint', coordinates: [] },
      { type: 'LineString', coordinates: [[0, 0], [1, 1]] },
      { type: 'LineString', coordinates: [] },
      { type: 'MultiLineString', coordinates: [[[0, 0], [1, 1]]] },
      { type: 'Polygon', coordinates: [ring, ring] },
      { type: 'MultiPolygon', coordinates: [[ring], []] },
      { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [1, 2] }] },
    ];
    for (const geometry of geometries) expect(checkGeometry(geometry, 'g')).toBe(geometry);
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'Expected `g` to be a GeoJSON geometry object, got null'],
    ['an unknown type', { type: 'Circle' }, 'Expected `g.type` to be one of "Point"'],
    ['a short position', { type: 'Point', coordinates: [1] }, 'Expected `g.coordinates` to be a position [longitude, latitude], got an array of 1'],
    ['a NaN ordinate', { type: 'Point', coordinates: [1, NaN] }, 'Expected `g.coordinates[1]` to be a finite number, got NaN'],
    ['a one-position line', { type: 'LineString', coordinates: [[0, 0]] }, 'Expected `g.coordinates` to hold at least 2 positions, got 1'],
    ['a short ring', { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [0, 0]]] }, 'Expected `g.coordinates[0]` to hold at least 4 positions, got 3'],
    ['an open ring', { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] }, 'Expected `g.coordinates[0]` to be a closed ring'],
    ['a bad member', { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: 'x' }] }, '`g.geometries[0].coordinates`'],
    ['missing geometries', { type: 'GeometryCollection' }, 'Expected `g.geometries` to be an array of geometries, got nothing'],
  ])('throws a TypeError naming the path for %s', (_what, value, message) => {
    expect(() => checkGeometry(value, 'g')).toThrow(TypeError);
    expect(() => checkGeometry(value, 'g')).toThrow(message);
  });
});
