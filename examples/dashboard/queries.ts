/**
 * What the dashboard's form offers: sample `query_expr`s (one of them fails on purpose) and
 * boundaries of the Bay Area drawn with many vertices, so that an export through one is slow
 * enough to watch (each feature is tested against every edge).
 */
import type { ExportQuery, Geometry, QueryExpr } from '../../src/index.js';

/** A sample query expression, shown as JSON in the form. */
export interface QueryPreset {
  readonly label: string;
  readonly expr: QueryExpr | null;
}

export const QUERY_PRESETS: readonly QueryPreset[] = [
  { label: 'Everything', expr: null },
  { label: 'Highways', expr: { eq: { kind: 'highway' } } },
  { label: 'Wide and fast', expr: { and: [{ range: { lanes: { gte: 4 } } }, { range: { speed_kmh: { gte: 90 } } }] } },
  { label: 'Names with “Hill”', expr: { like: { name: '%Hill%' } } },
  { label: 'Fails: a number bound on a text property', expr: { range: { name: { gte: 100 } } } },
];

/** How many vertices the boundary may have: none (no spatial filter), or a detailed one. */
export const BOUNDARY_VERTICES = [0, 1_000, 3_000] as const;

/** A closed ring around the Bay Area's roads with `vertices` vertices. */
export function bayAreaBoundary(vertices: number): Geometry {
  const ring = Array.from({ length: vertices }, (_, i) => {
    const a = (2 * Math.PI * i) / vertices;
    // A slight wobble, so that no two edges are alike.
    const r = 1 + 0.02 * Math.sin(7 * a);
    return [round(-122.15 + 0.5 * r * Math.cos(a)), round(37.6 + 0.45 * r * Math.sin(a))];
  });
  ring.push(ring[0]!);
  return { type: 'Polygon', coordinates: [ring] };
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * Reads the form's query: the `query_expr` JSON (empty for none) and the boundary.
 * @throws SyntaxError naming what is wrong with the JSON and how to write it.
 */
export function parseQuery(exprText: string, vertices: number): ExportQuery {
  const text = exprText.trim();
  let expr: unknown = null;
  if (text !== '') {
    try {
      expr = JSON.parse(text);
    } catch (error) {
      throw new SyntaxError(
        `The query is not valid JSON (${(error as Error).message}). Write a query_expr such as {"eq": {"kind": "highway"}}, or leave it empty for every feature.`,
      );
    }
    if (typeof expr !== 'object' || expr === null || Array.isArray(expr)) {
      throw new SyntaxError(`The query must be a JSON object such as {"eq": {"kind": "highway"}}, got ${text.slice(0, 40)}`);
    }
  }
  return {
    ...(expr === null ? {} : { query_expr: expr as QueryExpr }),
    ...(vertices > 0 ? { geometry: bayAreaBoundary(vertices) } : {}),
  };
}

/** A short description of a query, for the table. */
export function describeQuery(exprText: string, vertices: number): string {
  const expr = exprText.trim() === '' ? 'every feature' : exprText.trim();
  return vertices > 0 ? `${expr}, within a ${vertices.toLocaleString('en')}-vertex boundary` : expr;
}
