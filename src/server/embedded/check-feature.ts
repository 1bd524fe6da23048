import type { Feature } from '../../client/geojson.js';
import { BadRequestError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';
import { checkGeometry } from '../../internal/check-geometry.js';

/** The longest string id of a feature, in characters. @internal */
export const MAX_FEATURE_ID_LENGTH = 1024;

/**
 * Checks one GeoJSON Feature before it is stored: `type` is `"Feature"`, `geometry` a valid
 * geometry or null, `properties` an object or null, `id` a string, a finite number or absent.
 * A missing `geometry` or `properties` member is read as null. A string id is at most
 * {@link MAX_FEATURE_ID_LENGTH} characters.
 *
 * @param value - The value to check.
 * @param path - Where it sits, for the message (`features[3]`).
 * @returns The value, typed as a feature.
 * @throws TypeError naming the offending member and what was expected.
 * @internal
 */
export function checkFeature(value: unknown, path: string): Feature {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${path}\` to be a GeoJSON Feature object, got ${describeValue(value)}`);
  }
  const feature = value as Record<string, unknown>;
  if (feature['type'] !== 'Feature') {
    throw new TypeError(`Expected \`${path}.type\` to be "Feature", got ${describeValue(feature['type'])}`);
  }
  const id = feature['id'];
  if (!(id === undefined || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))) {
    throw new TypeError(`Expected \`${path}.id\` to be a string, a finite number or absent, got ${describeValue(id)}`);
  }
  if (typeof id === 'string' && id.length > MAX_FEATURE_ID_LENGTH) {
    throw new TypeError(`Expected \`${path}.id\` to be at most ${MAX_FEATURE_ID_LENGTH} characters, got ${id.length}: use a shorter id`);
  }
  const geometry = feature['geometry'];
  if (geometry !== undefined && geometry !== null) checkGeometry(geometry, `${path}.geometry`);
  const properties = feature['properties'];
  if (!(properties === undefined || properties === null || (typeof properties === 'object' && !Array.isArray(properties)))) {
    throw new TypeError(`Expected \`${path}.properties\` to be an object or null, got ${describeValue(properties)}`);
  }
  return value as Feature;
}

/**
 * Checks what a product store's `add()` was given, every feature before anything is written.
 * @returns The features, typed as records for serialising.
 * @throws BadRequestError for a non-array, or naming the first bad feature and saying nothing was added.
 * @internal
 */
export function checkFeatures(features: unknown): readonly Record<string, unknown>[] {
  if (!Array.isArray(features)) {
    throw new BadRequestError(`Expected \`features\` to be an array of GeoJSON Features, got ${describeValue(features)}`);
  }
  for (let i = 0; i < features.length; i++) {
    try {
      checkFeature(features[i], `features[${i}]`);
    } catch (error) {
      throw new BadRequestError(`Feature ${i} was refused, nothing was added: ${(error as Error).message}`);
    }
  }
  return features as readonly Record<string, unknown>[];
}

/**
 * The features of an upload's body: a GeoJSON FeatureCollection's `features`, or an array as
 * it is (each feature is checked by {@link checkFeatures}).
 * @throws BadRequestError for anything else.
 * @internal
 */
export function featuresOfBody(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (typeof body === 'object' && body !== null && (body as { type?: unknown }).type === 'FeatureCollection') {
    const features = (body as { features?: unknown }).features;
    if (Array.isArray(features)) return features;
    throw new BadRequestError(`Expected the FeatureCollection's \`features\` to be an array, got ${describeValue(features)}`);
  }
  throw new BadRequestError(
    `Expected the request body to be a GeoJSON FeatureCollection or an array of Features, got ${body === undefined ? 'no body' : describeValue(body)}`,
  );
}
