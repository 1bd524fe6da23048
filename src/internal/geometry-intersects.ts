import type { Geometry } from '../client/geojson.js';

type Position = readonly number[];
type Ring = readonly Position[];
type Box = [minX: number, minY: number, maxX: number, maxY: number];

interface Part<TShape> {
  readonly shape: TShape;
  readonly box: Box;
}

/** A geometry taken apart once into points, polylines and polygons, each with its bounding box. */
export interface PreparedGeometry {
  readonly box: Box | null;
  readonly points: readonly Position[];
  readonly lines: readonly Part<readonly Position[]>[];
  readonly polygons: readonly Part<readonly Ring[]>[];
}

/**
 * Takes a (valid) GeoJSON geometry apart for {@link geometryIntersects}. Do it once for a
 * geometry tested against many others. Coordinates are planar `[x, y]`; a third ordinate is
 * ignored.
 *
 * @example
 * ```ts
 * const area = prepareGeometry({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] });
 * ```
 * @param geometry - A geometry that passed `checkGeometry`.
 * @returns Its parts with bounding boxes.
 */
export function prepareGeometry(geometry: Geometry): PreparedGeometry {
  const prepared = { box: null as Box | null, points: [] as Position[], lines: [] as Part<Position[]>[], polygons: [] as Part<Ring[]>[] };
  collect(geometry, prepared);
  for (const p of prepared.points) prepared.box = grow(prepared.box, boxOf([p]));
  for (const l of prepared.lines) prepared.box = grow(prepared.box, l.box);
  for (const p of prepared.polygons) prepared.box = grow(prepared.box, p.box);
  return prepared;
}

/**
 * Whether two geometries share at least one point (boundaries included), as PostGIS
 * `ST_Intersects` on planar coordinates: bounding boxes first, then points on segments,
 * segment crossings, points in polygons (holes excluded) and polygons inside polygons.
 *
 * @example
 * ```ts
 * geometryIntersects(prepareGeometry(area), prepareGeometry({ type: 'Point', coordinates: [0.5, 0.5] })); // true
 * ```
 * @param a - A prepared geometry.
 * @param b - Another one.
 * @returns `true` when they intersect; empty geometries intersect nothing.
 */
export function geometryIntersects(a: PreparedGeometry, b: PreparedGeometry): boolean {
  if (a.box === null || b.box === null || !boxesMeet(a.box, b.box)) return false;
  for (const p of a.points) {
    if (pointMeets(p, b)) return true;
  }
  for (const p of b.points) {
    if (pointMeets(p, a)) return true;
  }
  for (const line of a.lines) {
    if (!boxesMeet(line.box, b.box)) continue;
    for (const other of b.lines) {
      if (boxesMeet(line.box, other.box) && polylinesCross(line.shape, other.shape)) return true;
    }
    for (const polygon of b.polygons) {
      if (boxesMeet(line.box, polygon.box) && lineMeetsPolygon(line.shape, polygon.shape)) return true;
    }
  }
  for (const polygon of a.polygons) {
    if (!boxesMeet(polygon.box, b.box)) continue;
    for (const line of b.lines) {
      if (boxesMeet(polygon.box, line.box) && lineMeetsPolygon(line.shape, polygon.shape)) return true;
    }
    for (const other of b.polygons) {
      if (boxesMeet(polygon.box, other.box) && polygonsMeet(polygon.shape, other.shape)) return true;
    }
  }
  return false;
}

function collect(
  geometry: Geometry,
  into: { points: Position[]; lines: Part<Position[]>[]; polygons: Part<Ring[]>[] },
): void {
  switch (geometry.type) {
    case 'Point':
      into.points.push(geometry.coordinates);
      break;
    case 'MultiPoint':
      // A loop, not push(...coordinates): spreading a huge array overflows the stack.
      for (const p of geometry.coordinates) into.points.push(p);
      break;
    case 'LineString':
      addLine(geometry.coordinates, into.lines);
      break;
    case 'MultiLineString':
      for (const line of geometry.coordinates) addLine(line, into.lines);
      break;
    case 'Polygon':
      addPolygon(geometry.coordinates, into.polygons);
      break;
    case 'MultiPolygon':
      for (const polygon of geometry.coordinates) addPolygon(polygon, into.polygons);
      break;
    case 'GeometryCollection':
      for (const member of geometry.geometries) collect(member, into);
      break;
  }
}

function addLine(line: readonly Position[], lines: Part<Position[]>[]): void {
  if (line.length > 0) lines.push({ shape: [...line], box: boxOf(line) });
}

function addPolygon(rings: readonly Ring[], polygons: Part<Ring[]>[]): void {
  const outer = rings[0];
  if (outer !== undefined && outer.length > 0) polygons.push({ shape: [...rings], box: boxOf(outer) });
}

function boxOf(positions: readonly Position[]): Box {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of positions) {
    const x = p[0]!;
    const y = p[1]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return [minX, minY, maxX, maxY];
}

function grow(box: Box | null, other: Box): Box {
  if (box === null) return [...other];
  return [Math.min(box[0], other[0]), Math.min(box[1], other[1]), Math.max(box[2], other[2]), Math.max(box[3], other[3])];
}

function boxesMeet(a: Box, b: Box): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

function pointMeets(p: Position, g: PreparedGeometry): boolean {
  const x = p[0]!;
  const y = p[1]!;
  for (const q of g.points) {
    if (q[0] === x && q[1] === y) return true;
  }
  for (const line of g.lines) {
    if (!inBox(x, y, line.box)) continue;
    const s = line.shape;
    if (s.length === 1 && s[0]![0] === x && s[0]![1] === y) return true;
    for (let i = 1; i < s.length; i++) {
      if (onSegment(x, y, s[i - 1]!, s[i]!)) return true;
    }
  }
  for (const polygon of g.polygons) {
    if (inBox(x, y, polygon.box) && pointInPolygon(x, y, polygon.shape)) return true;
  }
  return false;
}

function inBox(x: number, y: number, box: Box): boolean {
  return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
}

/** Twice the signed area of the triangle a, b, c: positive when c is left of a->b. */
function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

function onSegment(x: number, y: number, a: Position, b: Position): boolean {
  const ax = a[0]!;
  const ay = a[1]!;
  const bx = b[0]!;
  const by = b[1]!;
  return (
    orient(ax, ay, bx, by, x, y) === 0 &&
    x >= Math.min(ax, bx) &&
    x <= Math.max(ax, bx) &&
    y >= Math.min(ay, by) &&
    y <= Math.max(ay, by)
  );
}

/** Whether closed segments p1-p2 and q1-q2 share a point (touching and overlapping included). */
function segmentsMeet(p1: Position, p2: Position, q1: Position, q2: Position): boolean {
  const [ax, ay] = p1 as [number, number];
  const [bx, by] = p2 as [number, number];
  const [cx, cy] = q1 as [number, number];
  const [dx, dy] = q2 as [number, number];
  if (Math.max(ax, bx) < Math.min(cx, dx) || Math.max(cx, dx) < Math.min(ax, bx)) return false;
  if (Math.max(ay, by) < Math.min(cy, dy) || Math.max(cy, dy) < Math.min(ay, by)) return false;
  const o1 = Math.sign(orient(ax, ay, bx, by, cx, cy));
  const o2 = Math.sign(orient(ax, ay, bx, by, dx, dy));
  const o3 = Math.sign(orient(cx, cy, dx, dy, ax, ay));
  const o4 = Math.sign(orient(cx, cy, dx, dy, bx, by));
  if (o1 !== o2 && o3 !== o4) return true;
  // Collinear or touching cases: one end lies on the other segment.
  return (
    (o1 === 0 && onSegment(cx, cy, p1, p2)) ||
    (o2 === 0 && onSegment(dx, dy, p1, p2)) ||
    (o3 === 0 && onSegment(ax, ay, q1, q2)) ||
    (o4 === 0 && onSegment(bx, by, q1, q2))
  );
}

function polylinesCross(a: readonly Position[], b: readonly Position[]): boolean {
  if (a.length === 1) return b.length === 1 ? a[0]![0] === b[0]![0] && a[0]![1] === b[0]![1] : polylinesCross(b, a);
  for (let i = 1; i < a.length; i++) {
    const p1 = a[i - 1]!;
    const p2 = a[i]!;
    if (b.length === 1) {
      if (onSegment(b[0]![0]!, b[0]![1]!, p1, p2)) return true;
      continue;
    }
    for (let j = 1; j < b.length; j++) {
      if (segmentsMeet(p1, p2, b[j - 1]!, b[j]!)) return true;
    }
  }
  return false;
}

/** Where (x, y) lies with respect to a ring: 1 inside, 0 on its boundary, -1 outside. */
function ringSide(x: number, y: number, ring: Ring): 1 | 0 | -1 {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[j]!;
    const b = ring[i]!;
    if (onSegment(x, y, a, b)) return 0;
    const ay = a[1]!;
    const by = b[1]!;
    if (ay > y !== by > y) {
      const crossX = a[0]! + ((y - ay) * (b[0]! - a[0]!)) / (by - ay);
      if (x < crossX) inside = !inside;
    }
  }
  return inside ? 1 : -1;
}

/** Whether (x, y) lies in the polygon, its boundary (holes' boundaries too) included. */
function pointInPolygon(x: number, y: number, rings: readonly Ring[]): boolean {
  const outer = rings[0];
  if (outer === undefined) return false;
  const side = ringSide(x, y, outer);
  if (side < 0) return false;
  if (side === 0) return true;
  for (let h = 1; h < rings.length; h++) {
    if (ringSide(x, y, rings[h]!) > 0) return false;
  }
  return true;
}

function lineMeetsPolygon(line: readonly Position[], rings: readonly Ring[]): boolean {
  for (const ring of rings) {
    if (polylinesCross(line, ring)) return true;
  }
  // No boundary is crossed, so the whole line lies in one region: one vertex tells which.
  const first = line[0]!;
  return pointInPolygon(first[0]!, first[1]!, rings);
}

function polygonsMeet(a: readonly Ring[], b: readonly Ring[]): boolean {
  for (const ringA of a) {
    for (const ringB of b) {
      if (polylinesCross(ringA, ringB)) return true;
    }
  }
  // No boundaries meet: either one polygon lies inside the other, or they are apart
  // (which includes one lying in the other's hole).
  const pa = a[0]![0]!;
  const pb = b[0]![0]!;
  return pointInPolygon(pa[0]!, pa[1]!, b) || pointInPolygon(pb[0]!, pb[1]!, a);
}
