import { describe, expect, it } from 'vitest';
import type { Geometry } from '../../src/client/geojson.js';
import { checkGeometry } from '../../src/internal/check-geometry.js';
import { geometryIntersects, prepareGeometry } from '../../src/internal/geometry-intersects.js';

function intersects(a: Geometry, b: Geometry): boolean {
  const pa = prepareGeometry(checkGeometry(a, 'a'));
  const pb = prepareGeometry(checkGeometry(b, 'b'));
  const result = geometryIntersects(pa, pb);
  // Intersection is symmetric: check both ways every time.
  expect(geometryIntersects(pb, pa)).toBe(result);
  return result;
}

const square = (x0: number, y0: number, x1: number, y1: number): number[][] => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
  [x0, y0],
];
const box: Geometry = { type: 'Polygon', coordinates: [square(0, 0, 10, 10)] };
const donut: Geometry = { type: 'Polygon', coordinates: [square(0, 0, 10, 10), square(4, 4, 6, 6)] };
const point = (x: number, y: number): Geometry => ({ type: 'Point', coordinates: [x, y] });
const line = (...coordinates: number[][]): Geometry => ({ type: 'LineString', coordinates });

describe('geometryIntersects', () => {
  it('points with points', () => {
    expect(intersects(point(1, 2), point(1, 2))).toBe(true);
    expect(intersects(point(1, 2), point(1, 2.5))).toBe(false);
    expect(intersects({ type: 'MultiPoint', coordinates: [[0, 0], [5, 5]] }, point(5, 5))).toBe(true);
  });

  it('points with lines, ends and middles included', () => {
    expect(intersects(point(1, 1), line([0, 0], [2, 2]))).toBe(true);
    expect(intersects(point(2, 2), line([0, 0], [2, 2]))).toBe(true);
    expect(intersects(point(1, 1.01), line([0, 0], [2, 2]))).toBe(false);
    expect(intersects(point(3, 3), line([0, 0], [2, 2]))).toBe(false);
  });

  it('points with polygons: inside, on the boundary, in a hole, outside', () => {
    expect(intersects(point(5, 5), box)).toBe(true);
    expect(intersects(point(10, 5), box)).toBe(true);
    expect(intersects(point(0, 0), box)).toBe(true);
    expect(intersects(point(11, 5), box)).toBe(false);
    expect(intersects(point(5, 5), donut)).toBe(false);
    expect(intersects(point(4, 5), donut)).toBe(true);
    expect(intersects(point(2, 2), donut)).toBe(true);
  });

  it('lines with lines: crossing, touching, collinear overlap, parallel, apart', () => {
    expect(intersects(line([0, 0], [2, 2]), line([0, 2], [2, 0]))).toBe(true);
    expect(intersects(line([0, 0], [2, 0]), line([1, 0], [1, 5]))).toBe(true);
    expect(intersects(line([0, 0], [2, 0]), line([1, 0], [3, 0]))).toBe(true);
    expect(intersects(line([0, 0], [2, 0]), line([0, 1], [2, 1]))).toBe(false);
    expect(intersects(line([0, 0], [1, 0]), line([2, 0], [3, 0]))).toBe(false);
    expect(intersects(line([0, 0], [1, 1], [2, 0]), line([0, 0.9], [2, 0.9]))).toBe(true);
    expect(intersects({ type: 'MultiLineString', coordinates: [[[5, 5], [6, 6]], [[0, 0], [2, 2]]] }, line([0, 2], [2, 0]))).toBe(true);
  });

  it('lines with polygons: crossing, inside, in a hole, outside', () => {
    expect(intersects(line([-5, 5], [15, 5]), box)).toBe(true);
    expect(intersects(line([1, 1], [2, 2]), box)).toBe(true);
    expect(intersects(line([4.5, 5], [5.5, 5]), donut)).toBe(false);
    expect(intersects(line([3, 5], [5, 5]), donut)).toBe(true);
    expect(intersects(line([11, 0], [11, 10]), box)).toBe(false);
    // Its bounding box meets the polygon's, the line does not.
    expect(intersects(line([9, 12], [12, 9]), { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [0, 10], [0, 0]]] })).toBe(false);
  });

  it('polygons with polygons: overlap, containment both ways, in a hole, touching, apart', () => {
    expect(intersects(box, { type: 'Polygon', coordinates: [square(5, 5, 15, 15)] })).toBe(true);
    expect(intersects(box, { type: 'Polygon', coordinates: [square(2, 2, 3, 3)] })).toBe(true);
    expect(intersects({ type: 'Polygon', coordinates: [square(-5, -5, 20, 20)] }, box)).toBe(true);
    expect(intersects(donut, { type: 'Polygon', coordinates: [square(4.5, 4.5, 5.5, 5.5)] })).toBe(false);
    expect(intersects(donut, { type: 'Polygon', coordinates: [square(3, 3, 7, 7)] })).toBe(true);
    expect(intersects(box, { type: 'Polygon', coordinates: [square(10, 0, 20, 10)] })).toBe(true);
    expect(intersects(box, { type: 'Polygon', coordinates: [square(11, 0, 20, 10)] })).toBe(false);
  });

  it('multi-polygons and geometry collections by any member', () => {
    const multi: Geometry = { type: 'MultiPolygon', coordinates: [[square(20, 20, 30, 30)], [square(0, 0, 1, 1)]] };
    expect(intersects(multi, point(0.5, 0.5))).toBe(true);
    expect(intersects(multi, point(15, 15))).toBe(false);
    const collection: Geometry = { type: 'GeometryCollection', geometries: [point(50, 50), line([100, 0], [100, 10])] };
    expect(intersects(collection, box)).toBe(false);
    expect(intersects(collection, line([90, 5], [110, 5]))).toBe(true);
  });

  it('never for empty geometries', () => {
    expect(intersects({ type: 'MultiPoint', coordinates: [] }, box)).toBe(false);
    expect(intersects({ type: 'GeometryCollection', geometries: [] }, box)).toBe(false);
  });

  it('ignores a third ordinate', () => {
    expect(intersects({ type: 'Point', coordinates: [5, 5, 100] }, box)).toBe(true);
  });
});
