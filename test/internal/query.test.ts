import { describe, expect, it } from 'vitest';
import type { ExportQuery, Feature } from '../../src/client/geojson.js';
import { MAX_LIKE_PATTERN_LENGTH } from '../../src/internal/like-pattern.js';
import { checkExportQuery, compileQuery, MAX_QUERY_DEPTH, QueryTypeError } from '../../src/internal/query.js';

/** An expression with `and` nested `depth` deep (the outer expression counts as 1). */
function nestedCollection(depth: number): unknown {
  let geometry: unknown = { type: 'Point', coordinates: [0, 0] };
  for (let i = 1; i < depth; i++) geometry = { type: 'GeometryCollection', geometries: [geometry] };
  return geometry;
}

function nested(depth: number): unknown {
  let expr: unknown = { eq: { a: 1 } };
  for (let i = 1; i < depth; i++) expr = { and: [expr] };
  return expr;
}

function feature(id: number, properties: Record<string, unknown> | null): Feature {
  return { type: 'Feature', id, geometry: null, properties };
}

const features = [
  feature(1, { name: 'Main Street', height: 5, kind: 'road' }),
  feature(2, { name: 'main street', height: 15, kind: 'road' }),
  feature(3, { name: 'Mill Lane', height: 25, kind: 'path', flag: true }),
  feature(4, { name: 'M_1%', height: null, kind: 'road' }),
  feature(5, { kind: 'river' }),
  feature(6, null),
];

function ids(query: ExportQuery): (string | number | undefined)[] {
  const { matches } = compileQuery(checkExportQuery(query));
  return features.filter(matches).map((f) => f.id);
}

describe('checkExportQuery', () => {
  it('accepts every documented form', () => {
    const query = {
      geometry: { type: 'Point', coordinates: [0, 0] },
      query_expr: {
        and: [
          { eq: { a: 1 } },
          { ne: { b: 'x' } },
          { range: { c: { gt: 1, lte: 2 } } },
          { like: { d: 'a%' } },
          { or: [{ eq: { e: null } }, { eq: { f: true } }] },
        ],
      },
      query_limit: 3,
    };
    expect(checkExportQuery(query)).toBe(query);
    expect(checkExportQuery({})).toEqual({});
  });

  it.each([
    ['a non-object query', 'x', /Expected `query` to be an object/],
    ['an unknown key', { limit: 3 }, /got an unknown `limit`/],
    ['a zero query_limit', { query_limit: 0 }, /Expected `query.query_limit` to be a positive integer, got 0/],
    ['a fractional query_limit', { query_limit: 1.5 }, /positive integer, got 1.5/],
    ['a bad geometry', { geometry: { type: 'Point', coordinates: [0] } }, /`query.geometry.coordinates` to be a position/],
    ['an open ring', { geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] } }, /closed ring/],
    ['two forms in one expression', { query_expr: { eq: { a: 1 }, ne: { b: 1 } } }, /exactly one of/],
    ['an unknown form', { query_expr: { gt: { a: 1 } } }, /got `gt`/],
    ['an empty eq', { query_expr: { eq: {} } }, /`query.query_expr.eq` to name at least one property/],
    ['an object eq value', { query_expr: { eq: { a: {} } } }, /`query.query_expr.eq.a` to be a string, number, boolean or null, got an object/],
    ['a non-array and', { query_expr: { and: {} } }, /`query.query_expr.and` to be an array/],
    [
      'a nested bad bound',
      { query_expr: { and: [{ eq: { a: 1 } }, { range: { height: { gt: {} } } }] } },
      /Expected `query.query_expr.and\[1\].range.height.gt` to be a number or string, got an object/,
    ],
    ['an unknown range operator', { query_expr: { range: { h: { gt: 1, between: 2 } } } }, /unknown `between`/],
    ['an empty range', { query_expr: { range: { h: {} } } }, /at least one of `gt`/],
    ['mixed bound types', { query_expr: { range: { h: { gt: 1, lt: 'z' } } } }, /all numbers or all strings/],
    ['a non-string like', { query_expr: { like: { name: 3 } } }, /`query.query_expr.like.name` to be a LIKE pattern string, got 3/],
    [
      'a pattern too long',
      { query_expr: { like: { name: 'x'.repeat(MAX_LIKE_PATTERN_LENGTH + 1) } } },
      /`query.query_expr.like.name` to be a LIKE pattern of at most 1024 characters, got 1025/,
    ],
    // Issue 13: 3,000 nested `and`s overflowed the stack, and the RangeError answered 500.
    ['an expression nested too deep', { query_expr: nested(3000) }, /nested at most 64 deep, got `query.query_expr(\.and\[0\]){64}` deeper still/],
    ['a geometry nested too deep', { geometry: nestedCollection(5000) }, /GeometryCollections nested at most 64 deep, got `query.geometry(\.geometries\[0\]){64}`/],
  ])('throws a TypeError naming the path for %s', (_what, query, message) => {
    expect(() => checkExportQuery(query)).toThrow(TypeError);
    expect(() => checkExportQuery(query)).toThrow(message);
  });
});

describe('checkExportQuery limits', () => {
  it(`accepts expressions nested ${MAX_QUERY_DEPTH} deep and patterns of the longest length`, () => {
    const query = { query_expr: { and: [nested(MAX_QUERY_DEPTH - 1), { like: { name: '%'.repeat(MAX_LIKE_PATTERN_LENGTH) } }] } };
    expect(checkExportQuery(query)).toBe(query);
    expect(checkExportQuery({ query_expr: nested(MAX_QUERY_DEPTH) })).toBeDefined();
    expect(() => checkExportQuery({ query_expr: nested(MAX_QUERY_DEPTH + 1) })).toThrow(/nested at most 64 deep/);
    expect(checkExportQuery({ geometry: nestedCollection(MAX_QUERY_DEPTH) })).toBeDefined();
    expect(() => checkExportQuery({ geometry: nestedCollection(MAX_QUERY_DEPTH + 1) })).toThrow(/nested at most 64 deep/);
  });

  it('compiles and runs a query nested as deep as accepted', () => {
    const { matches } = compileQuery(checkExportQuery({ query_expr: nested(MAX_QUERY_DEPTH), geometry: nestedCollection(MAX_QUERY_DEPTH) }));
    expect(matches({ type: 'Feature', geometry: { type: 'Point', coordinates: [0, 0] }, properties: { a: 1 } })).toBe(true);
  });
});

describe('compileQuery', () => {
  it('selects everything for {}', () => {
    expect(ids({})).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('compares with eq and ne, null meaning absent', () => {
    expect(ids({ query_expr: { eq: { kind: 'road' } } })).toEqual([1, 2, 4]);
    expect(ids({ query_expr: { eq: { height: 15 } } })).toEqual([2]);
    expect(ids({ query_expr: { eq: { height: '15' } } })).toEqual([]);
    expect(ids({ query_expr: { eq: { flag: true } } })).toEqual([3]);
    expect(ids({ query_expr: { eq: { height: null } } })).toEqual([4, 5, 6]);
    expect(ids({ query_expr: { ne: { kind: 'road' } } })).toEqual([3, 5]);
    expect(ids({ query_expr: { ne: { height: null } } })).toEqual([1, 2, 3]);
    expect(ids({ query_expr: { ne: { height: 5 } } })).toEqual([2, 3]);
  });

  it('compares ranges of numbers and of strings, skipping missing values', () => {
    expect(ids({ query_expr: { range: { height: { gt: 5 } } } })).toEqual([2, 3]);
    expect(ids({ query_expr: { range: { height: { gte: 5, lt: 25 } } } })).toEqual([1, 2]);
    expect(ids({ query_expr: { range: { height: { lte: 15 } } } })).toEqual([1, 2]);
    expect(ids({ query_expr: { range: { kind: { gte: 'path', lt: 'river' } } } })).toEqual([3]);
  });

  it('throws QueryTypeError naming the feature and the property for a value of the other type', () => {
    const { matches } = compileQuery(checkExportQuery({ query_expr: { range: { name: { gt: 3 } } } }));
    let error: unknown;
    try {
      features.filter(matches);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QueryTypeError);
    expect(error).toMatchObject({ name: 'QueryTypeError', featureId: 1, property: 'name' });
    expect((error as Error).message).toMatch(/property "name" of feature 1 to be a number/);
    const like = compileQuery(checkExportQuery({ query_expr: { like: { height: '1%' } } }));
    expect(() => features.filter(like.matches)).toThrow(QueryTypeError);
  });

  it('matches LIKE patterns, anchored and case-sensitive', () => {
    expect(ids({ query_expr: { like: { name: 'M%' } } })).toEqual([1, 3, 4]);
    expect(ids({ query_expr: { like: { name: '%Street' } } })).toEqual([1]);
    expect(ids({ query_expr: { like: { name: 'Mi__ Lane' } } })).toEqual([3]);
    expect(ids({ query_expr: { like: { name: 'Mill' } } })).toEqual([]);
    expect(ids({ query_expr: { like: { name: 'M\\_1\\%' } } })).toEqual([4]);
    expect(ids({ query_expr: { like: { name: 'M.%' } } })).toEqual([]);
    expect(ids({ query_expr: { like: { name: '%(%' } } })).toEqual([]);
    expect(ids({ query_expr: { like: { name: '%%%%%%%%%%%%%%%%%%%%%%%%x' } } })).toEqual([]);
    expect(ids({ query_expr: { like: { name: '%%e%%' } } })).toEqual([1, 2, 3]);
  });

  it('combines with and and or', () => {
    expect(ids({ query_expr: { and: [{ eq: { kind: 'road' } }, { range: { height: { gt: 10 } } }] } })).toEqual([2]);
    expect(ids({ query_expr: { or: [{ eq: { kind: 'river' } }, { like: { name: 'Mill%' } }] } })).toEqual([3, 5]);
    expect(ids({ query_expr: { and: [] } })).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ids({ query_expr: { or: [] } })).toEqual([]);
  });

  it('reads own properties only', () => {
    expect(ids({ query_expr: { eq: { constructor: 'x' } } })).toEqual([]);
    expect(ids({ query_expr: { ne: { toString: null } } })).toEqual([]);
  });

  it('keeps features whose geometry intersects, never a null geometry', () => {
    const { matches } = compileQuery(checkExportQuery({ geometry: { type: 'Polygon', coordinates: [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]] } }));
    expect(matches({ type: 'Feature', geometry: { type: 'Point', coordinates: [1, 1] }, properties: null })).toBe(true);
    expect(matches({ type: 'Feature', geometry: { type: 'Point', coordinates: [3, 1] }, properties: null })).toBe(false);
    expect(matches({ type: 'Feature', geometry: null, properties: null })).toBe(false);
  });

  it('gives the limit', () => {
    expect(compileQuery({ query_limit: 7 }).limit).toBe(7);
    expect(compileQuery({}).limit).toBeNull();
  });
});
