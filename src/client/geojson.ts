/**
 * GeoJSON geometry (RFC 7946).
 *
 * @example
 * ```ts
 * const downtown: Geometry = { type: 'Polygon', coordinates: [[[-122.45, 37.74], [-122.38, 37.74], [-122.38, 37.81], [-122.45, 37.81], [-122.45, 37.74]]] };
 * const task = await roads.export('exports/downtown.ndjson', { query: { geometry: downtown } });
 * ```
 */
export type Geometry =
  | { readonly type: 'Point'; readonly coordinates: readonly number[] }
  | { readonly type: 'MultiPoint'; readonly coordinates: readonly (readonly number[])[] }
  | { readonly type: 'LineString'; readonly coordinates: readonly (readonly number[])[] }
  | { readonly type: 'MultiLineString'; readonly coordinates: readonly (readonly (readonly number[])[])[] }
  | { readonly type: 'Polygon'; readonly coordinates: readonly (readonly (readonly number[])[])[] }
  | { readonly type: 'MultiPolygon'; readonly coordinates: readonly (readonly (readonly (readonly number[])[])[])[] }
  | { readonly type: 'GeometryCollection'; readonly geometries: readonly Geometry[] };

/**
 * A GeoJSON Feature. `id` is optional; the service numbers features that have none.
 *
 * @example
 * ```ts
 * const feature: Feature = { type: 'Feature', id: 'r1', geometry: { type: 'Point', coordinates: [-122.4, 37.8] }, properties: { kind: 'highway', lanes: 4 } };
 * await roads.add([feature]);
 * ```
 */
export interface Feature {
  /** Always `'Feature'`. */
  readonly type: 'Feature';
  /** The feature's id, if it has one. */
  readonly id?: string | number | undefined;
  /** Where it is; null for a feature without a location. */
  readonly geometry: Geometry | null;
  /** Its properties, which queries compare with. */
  readonly properties: Readonly<Record<string, unknown>> | null;
}

/**
 * A GeoJSON FeatureCollection.
 *
 * @example
 * ```ts
 * const collection = JSON.parse(await readFile('roads.geojson', 'utf8')) as FeatureCollectionJson;
 * await roads.add(collection);
 * ```
 */
export interface FeatureCollectionJson {
  /** Always `'FeatureCollection'`. */
  readonly type: 'FeatureCollection';
  /** The features. */
  readonly features: readonly Feature[];
}

/**
 * A property value a query compares with.
 *
 * @example
 * ```ts
 * const kind: QueryValue = 'highway';
 * const query_expr: QueryExpr = { eq: { kind } };
 * ```
 */
export type QueryValue = string | number | boolean | null;

/**
 * DL's `query_expr`: `{eq: {name: v}}`, `{ne: {name: v}}`,
 * `{range: {name: {gt|gte|lt|lte: v}}}`, `{like: {name: pattern}}` (`%` any run, `_` one
 * character), `{and: [...]}`, `{or: [...]}`.
 *
 * @example
 * ```ts
 * const wide: QueryExpr = { and: [{ eq: { kind: 'highway' } }, { range: { lanes: { gte: 4 } } }, { like: { name: '%Bridge%' } }] };
 * await roads.export('exports/wide-bridges.ndjson', { query: { query_expr: wide } });
 * ```
 */
export type QueryExpr =
  | { readonly eq: Readonly<Record<string, QueryValue>> }
  | { readonly ne: Readonly<Record<string, QueryValue>> }
  | {
      readonly range: Readonly<
        Record<string, { readonly gt?: number | string | undefined; readonly gte?: number | string | undefined; readonly lt?: number | string | undefined; readonly lte?: number | string | undefined }>
      >;
    }
  | { readonly like: Readonly<Record<string, string>> }
  | { readonly and: readonly QueryExpr[] }
  | { readonly or: readonly QueryExpr[] };

/**
 * What an export selects. `{}` exports the whole product.
 *
 * @example
 * ```ts
 * const query: ExportQuery = { query_expr: { ne: { surface: 'gravel' } }, query_limit: 1000 };
 * await roads.export('exports/paved.ndjson', { query });
 * ```
 */
export interface ExportQuery {
  /** Keep features whose geometry intersects this one. */
  readonly geometry?: Geometry | undefined;
  /** Keep features whose properties match this expression (DL's forms). */
  readonly query_expr?: QueryExpr | undefined;
  /** Keep at most this many features. */
  readonly query_limit?: number | undefined;
}
