/** GeoJSON geometry (RFC 7946). */
export type Geometry =
  | { readonly type: 'Point'; readonly coordinates: readonly number[] }
  | { readonly type: 'MultiPoint'; readonly coordinates: readonly (readonly number[])[] }
  | { readonly type: 'LineString'; readonly coordinates: readonly (readonly number[])[] }
  | { readonly type: 'MultiLineString'; readonly coordinates: readonly (readonly (readonly number[])[])[] }
  | { readonly type: 'Polygon'; readonly coordinates: readonly (readonly (readonly number[])[])[] }
  | { readonly type: 'MultiPolygon'; readonly coordinates: readonly (readonly (readonly (readonly number[])[])[])[] }
  | { readonly type: 'GeometryCollection'; readonly geometries: readonly Geometry[] };

/** A GeoJSON Feature. `id` is optional; the service numbers features that have none. */
export interface Feature {
  readonly type: 'Feature';
  readonly id?: string | number | undefined;
  readonly geometry: Geometry | null;
  readonly properties: Readonly<Record<string, unknown>> | null;
}

/** A GeoJSON FeatureCollection. */
export interface FeatureCollectionJson {
  readonly type: 'FeatureCollection';
  readonly features: readonly Feature[];
}

/** A property value a query compares with. */
export type QueryValue = string | number | boolean | null;

/**
 * DL's `query_expr`: `{eq: {name: v}}`, `{ne: {name: v}}`,
 * `{range: {name: {gt|gte|lt|lte: v}}}`, `{like: {name: pattern}}` (`%` any run, `_` one
 * character), `{and: [...]}`, `{or: [...]}`.
 */
export type QueryExpr =
  | { readonly eq: Readonly<Record<string, QueryValue>> }
  | { readonly ne: Readonly<Record<string, QueryValue>> }
  | {
      readonly range: Readonly<
        Record<string, { readonly gt?: number | string; readonly gte?: number | string; readonly lt?: number | string; readonly lte?: number | string }>
      >;
    }
  | { readonly like: Readonly<Record<string, string>> }
  | { readonly and: readonly QueryExpr[] }
  | { readonly or: readonly QueryExpr[] };

/** What an export selects. `{}` exports the whole product. */
export interface ExportQuery {
  /** Keep features whose geometry intersects this one. */
  readonly geometry?: Geometry | undefined;
  readonly query_expr?: QueryExpr | undefined;
  /** Keep at most this many features. */
  readonly query_limit?: number | undefined;
}
