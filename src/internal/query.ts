import type { ExportQuery, Feature, QueryExpr } from '../client/geojson.js';
import { describeValue } from '../core/errors.js';
import { checkGeometry } from './check-geometry.js';
import { geometryIntersects, prepareGeometry } from './geometry-intersects.js';
import { compileLike as compileLikePattern, MAX_LIKE_PATTERN_LENGTH } from './like-pattern.js';

/**
 * How deep `and` and `or` may nest in a query expression (and a `GeometryCollection` in a
 * geometry): deeper ones are refused before any work, as a checker or compiler that recursed
 * into them would run out of stack. An `and` or `or` may hold any number of expressions.
 */
export const MAX_QUERY_DEPTH = 64;

/**
 * A feature's property has a type the query cannot compare with (a string where a `range`
 * bound is a number, a number under `like`). Thrown while an export runs, so the export fails
 * with `failure_type: "exception"` and this error's name, as a DL export whose query met
 * mismatched data did.
 */
export class QueryTypeError extends Error {
  override readonly name = 'QueryTypeError' as const;
  /** The id of the offending feature, when it has one. */
  readonly featureId: string | number | undefined;
  /** The name of the offending property. */
  readonly property: string;

  constructor(featureId: string | number | undefined, property: string, expected: string, value: unknown) {
    const feature = featureId === undefined ? 'a feature without id' : `feature ${JSON.stringify(featureId)}`;
    super(
      `Expected property ${JSON.stringify(property)} of ${feature} to be ${expected}, got ${describeValue(value)}: ` +
        'make the query compare values of the type the data holds, or fix the data',
    );
    this.featureId = featureId;
    this.property = property;
  }
}

/** An {@link ExportQuery} turned into code: which features to keep, and how many at most. */
export interface CompiledQuery {
  /**
   * Whether the export keeps `feature`.
   * @throws QueryTypeError when a property's type cannot be compared as the query asks.
   */
  readonly matches: (feature: Feature) => boolean;
  /** The most features to keep (`query_limit`), or `null` for all of them. */
  readonly limit: number | null;
  /** Whether every feature matches (no `query_expr`, no `geometry`), so none needs reading. */
  readonly selectsAll: boolean;
}

const QUERY_KEYS = ['geometry', 'query_expr', 'query_limit'];
const RANGE_OPERATORS = ['gt', 'gte', 'lt', 'lte'] as const;
type RangeOperator = (typeof RANGE_OPERATORS)[number];

/**
 * Checks that `query` is an export query: an object with only `geometry` (a GeoJSON geometry),
 * `query_expr` (DL's `eq`, `ne`, `range`, `like`, `and`, `or` forms) and `query_limit` (a
 * positive safe integer), each optional. `{}` selects everything.
 *
 * @example
 * ```ts
 * checkExportQuery({ query_expr: { range: { height: { gt: 10 } } }, query_limit: 100 });
 * ```
 * @param query - The value to check.
 * @returns The value, typed as a query.
 * @throws TypeError naming the path inside the query that is wrong, e.g.
 * "Expected `query.query_expr.and[1].range.height.gt` to be a number or string, got an object".
 */
export function checkExportQuery(query: unknown): ExportQuery {
  const q = checkObject(query, 'query', 'an object with `geometry`, `query_expr` and `query_limit`, each optional');
  checkKeys(q, 'query', QUERY_KEYS);
  if (q['geometry'] !== undefined) checkGeometry(q['geometry'], 'query.geometry');
  if (q['query_expr'] !== undefined) checkExpr(q['query_expr'], 'query.query_expr', 1);
  const limit = q['query_limit'];
  if (limit !== undefined && !(Number.isSafeInteger(limit) && (limit as number) > 0)) {
    throw new TypeError(`Expected \`query.query_limit\` to be a positive integer, got ${describeValue(limit)}`);
  }
  return q;
}

/**
 * Compiles a checked query into a predicate over features.
 *
 * - `eq` / `ne`: strict equality with the property; `{eq: {p: null}}` keeps features whose `p`
 *   is missing or null, `{ne: {p: null}}` those where it is present. A missing or null property
 *   never matches any other `eq` or `ne`.
 * - `range`: numbers compare with numbers, strings with strings (code-unit order); a missing or
 *   null property does not match; a property of another type throws {@link QueryTypeError}.
 * - `like`: SQL LIKE, anchored and case-sensitive; `%` matches any run, `_` one character,
 *   `\` escapes the next character. A non-string property throws {@link QueryTypeError}.
 * - `geometry`: keeps features whose geometry intersects it; a null geometry never does.
 *
 * @example
 * ```ts
 * const { matches, limit } = compileQuery(checkExportQuery({ query_expr: { like: { name: 'A%' } } }));
 * ```
 * @param query - A query that passed {@link checkExportQuery}.
 * @returns The predicate and the limit.
 */
export function compileQuery(query: ExportQuery): CompiledQuery {
  const tests: ((feature: Feature) => boolean)[] = [];
  if (query.query_expr !== undefined) tests.push(compileExpr(query.query_expr));
  if (query.geometry !== undefined) {
    const area = prepareGeometry(query.geometry);
    tests.push((feature) => feature.geometry !== null && geometryIntersects(area, prepareGeometry(feature.geometry)));
  }
  const matches = tests.length === 0 ? () => true : (feature: Feature) => tests.every((test) => test(feature));
  return { matches, limit: query.query_limit ?? null, selectsAll: tests.length === 0 };
}

function checkObject(value: unknown, path: string, expected: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${path}\` to be ${expected}, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

function checkKeys(value: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new TypeError(
        `Expected \`${path}\` to have only ${allowed.map((k) => `\`${k}\``).join(', ')}, got an unknown \`${key}\`: remove it`,
      );
    }
  }
}

function checkProperties(value: unknown, path: string, expected: string): [string, unknown][] {
  const entries = Object.entries(checkObject(value, path, `an object of property names to ${expected}`));
  if (entries.length === 0) {
    throw new TypeError(`Expected \`${path}\` to name at least one property, got an empty object`);
  }
  return entries;
}

function checkExpr(value: unknown, path: string, depth: number): void {
  if (depth > MAX_QUERY_DEPTH) {
    throw new TypeError(
      `Expected query expressions nested at most ${MAX_QUERY_DEPTH} deep, got \`${path}\` deeper still: ` +
        'flatten the query (one `and` or `or` takes any number of expressions)',
    );
  }
  const expr = checkObject(value, path, 'a query expression such as {"eq": {"name": "value"}}');
  const keys = Object.keys(expr);
  const form = keys[0];
  if (keys.length !== 1 || form === undefined) {
    throw new TypeError(
      `Expected \`${path}\` to have exactly one of \`eq\`, \`ne\`, \`range\`, \`like\`, \`and\`, \`or\`, got ${keys.length === 0 ? 'none' : keys.map((k) => `\`${k}\``).join(', ')}: combine expressions with \`and\``,
    );
  }
  const body = expr[form];
  const at = `${path}.${form}`;
  switch (form) {
    case 'eq':
    case 'ne':
      for (const [name, v] of checkProperties(body, at, 'values')) {
        const ok = v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
        if (!ok) throw new TypeError(`Expected \`${at}.${name}\` to be a string, number, boolean or null, got ${describeValue(v)}`);
      }
      break;
    case 'range':
      for (const [name, bounds] of checkProperties(body, at, 'bounds')) checkRange(bounds, `${at}.${name}`);
      break;
    case 'like':
      for (const [name, v] of checkProperties(body, at, 'patterns')) {
        if (typeof v !== 'string') throw new TypeError(`Expected \`${at}.${name}\` to be a LIKE pattern string, got ${describeValue(v)}`);
        if (v.length > MAX_LIKE_PATTERN_LENGTH) {
          throw new TypeError(
            `Expected \`${at}.${name}\` to be a LIKE pattern of at most ${MAX_LIKE_PATTERN_LENGTH} characters, got ${v.length}: use a shorter pattern`,
          );
        }
      }
      break;
    case 'and':
    case 'or':
      if (!Array.isArray(body)) throw new TypeError(`Expected \`${at}\` to be an array of query expressions, got ${describeValue(body)}`);
      body.forEach((item, i) => checkExpr(item, `${at}[${i}]`, depth + 1));
      break;
    default:
      throw new TypeError(`Expected \`${path}\` to be one of the forms \`eq\`, \`ne\`, \`range\`, \`like\`, \`and\`, \`or\`, got \`${form}\``);
  }
}

function checkRange(value: unknown, path: string): void {
  const bounds = checkObject(value, path, 'an object of bounds such as {"gte": 1, "lt": 10}');
  checkKeys(bounds, path, RANGE_OPERATORS);
  const types = new Set<string>();
  for (const op of RANGE_OPERATORS) {
    const bound = bounds[op];
    if (bound === undefined) continue;
    if (!(typeof bound === 'string' || (typeof bound === 'number' && Number.isFinite(bound)))) {
      throw new TypeError(`Expected \`${path}.${op}\` to be a number or string, got ${describeValue(bound)}`);
    }
    types.add(typeof bound);
  }
  if (types.size === 0) throw new TypeError(`Expected \`${path}\` to have at least one of \`gt\`, \`gte\`, \`lt\`, \`lte\`, got none`);
  if (types.size > 1) {
    throw new TypeError(`Expected the bounds of \`${path}\` to be all numbers or all strings, got both: no value can be compared with both`);
  }
}

function propertyOf(feature: Feature, name: string): unknown {
  const properties = feature.properties;
  // Own properties only, so that "constructor" or "__proto__" name data, not the prototype.
  return properties !== null && Object.hasOwn(properties, name) ? properties[name] : undefined;
}

function compileExpr(expr: QueryExpr): (feature: Feature) => boolean {
  if ('and' in expr) {
    const parts = expr.and.map(compileExpr);
    return (feature) => parts.every((part) => part(feature));
  }
  if ('or' in expr) {
    const parts = expr.or.map(compileExpr);
    return (feature) => parts.some((part) => part(feature));
  }
  if ('eq' in expr) return all(Object.entries(expr.eq).map(([name, v]) => compileEq(name, v, false)));
  if ('ne' in expr) return all(Object.entries(expr.ne).map(([name, v]) => compileEq(name, v, true)));
  if ('range' in expr) return all(Object.entries(expr.range).map(([name, bounds]) => compileRange(name, bounds)));
  return all(Object.entries(expr.like).map(([name, pattern]) => compileLike(name, pattern)));
}

function all(parts: ((feature: Feature) => boolean)[]): (feature: Feature) => boolean {
  const [only] = parts;
  return parts.length === 1 && only !== undefined ? only : (feature) => parts.every((part) => part(feature));
}

function compileEq(name: string, value: unknown, negate: boolean): (feature: Feature) => boolean {
  if (value === null) {
    return (feature) => {
      const v = propertyOf(feature, name);
      return (v === undefined || v === null) !== negate;
    };
  }
  return (feature) => {
    const v = propertyOf(feature, name);
    if (v === undefined || v === null) return false;
    return (v === value) !== negate;
  };
}

function compileRange(name: string, bounds: { readonly [K in RangeOperator]?: number | string | undefined }): (feature: Feature) => boolean {
  const checks: ((v: number | string) => boolean)[] = [];
  let type: 'number' | 'string' = 'number';
  for (const op of RANGE_OPERATORS) {
    const bound = bounds[op];
    if (bound === undefined) continue;
    type = typeof bound === 'string' ? 'string' : 'number';
    if (op === 'gt') checks.push((v) => v > bound);
    else if (op === 'gte') checks.push((v) => v >= bound);
    else if (op === 'lt') checks.push((v) => v < bound);
    else checks.push((v) => v <= bound);
  }
  const expected = type === 'number' ? 'a number, as its `range` bounds are' : 'a string, as its `range` bounds are';
  return (feature) => {
    const v = propertyOf(feature, name);
    if (v === undefined || v === null) return false;
    if (typeof v !== type) throw new QueryTypeError(feature.id, name, expected, v);
    return checks.every((check) => check(v as number | string));
  };
}

function compileLike(name: string, pattern: string): (feature: Feature) => boolean {
  const like = compileLikePattern(pattern);
  return (feature) => {
    const v = propertyOf(feature, name);
    if (v === undefined || v === null) return false;
    if (typeof v !== 'string') throw new QueryTypeError(feature.id, name, 'a string, as `like` compares strings', v);
    return like(v);
  };
}
