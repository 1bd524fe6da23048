import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { UnauthorizedError } from '../client/http-errors.js';
import { describeValue } from '../core/errors.js';

/**
 * What a scoped token allows: `read` (status, list, events, download) or `write` (`read`, and
 * add features, start exports, cancel them).
 *
 * @example
 * ```ts
 * const scope: AccessScope = 'read';
 * const token = await createAccessToken(process.env.EXPORT_TASK_SIGNING_KEY!, { product: 'roads', scope, expiresIn: '15m' });
 * ```
 */
export type AccessScope = 'read' | 'write';

/**
 * Options of {@link createAccessToken}.
 *
 * @example
 * ```ts
 * const options: AccessTokenOptions = { product: 'roads', scope: 'read', exports: [task.exportId], expiresIn: '15m' };
 * const token = await createAccessToken(process.env.EXPORT_TASK_SIGNING_KEY!, options);
 * ```
 */
export interface AccessTokenOptions {
  /** The one product the token opens. */
  readonly product: string;
  /** `read` or `write`. */
  readonly scope: AccessScope;
  /**
   * Only these exports of the product (its status, events, file, cancel); such a token cannot
   * start exports. @defaultValue every export of the product
   */
  readonly exports?: readonly string[] | undefined;
  /** How long the token lives: seconds, or a duration such as `'15m'`, `'2h'`, `'30s'`. */
  readonly expiresIn: number | string;
}

/** What a verified token grants. @internal */
export interface ScopedGrant {
  readonly product: string;
  readonly scope: AccessScope;
  /** `undefined`: every export of the product. */
  readonly exports: ReadonlySet<string> | undefined;
}

/** The shortest signing key accepted, in characters: HS256 wants 256 bits of secret. */
export const MIN_SIGNING_KEY_LENGTH = 32;
/** Who signs and who accepts the tokens (the `iss` and `aud` claims). */
const ISSUER = 'export-task';
const DURATION = /^(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)$/i;

/**
 * The signing key as bytes, checked.
 * @throws TypeError for a key that is not a string of at least 32 characters.
 * @internal
 */
export function signingKeyBytes(where: string, signingKey: unknown): Uint8Array {
  if (typeof signingKey !== 'string' || signingKey.length < MIN_SIGNING_KEY_LENGTH) {
    throw new TypeError(
      `${where}: expected the signing key to be a secret string of at least ${MIN_SIGNING_KEY_LENGTH} characters (such as \`openssl rand -hex 32\`), got ${
        typeof signingKey === 'string' ? `${signingKey.length} characters` : describeValue(signingKey)
      }`,
    );
  }
  return new TextEncoder().encode(signingKey);
}

/**
 * A duration in seconds: a whole number of seconds, or text such as `'15m'`.
 * @throws TypeError saying what was expected.
 * @internal
 */
export function durationSeconds(where: string, name: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  const match = typeof value === 'string' ? DURATION.exec(value.trim()) : null;
  const amount = match === null ? NaN : Number(match[1]);
  if (match === null || amount <= 0) {
    throw new TypeError(`${where}: expected \`${name}\` to be a positive whole number of seconds or a duration such as "15m", "2h", "30s", got ${describeValue(value)}`);
  }
  const unit = match[2]!.toLowerCase()[0];
  return amount * (unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3_600 : 86_400);
}

/**
 * Signs a scoped, expiring access token (a JWT, HS256) for the service started with the same
 * signing key (`startServer({ signingKey })`, `serve --signing-key`). Give it to an app that must
 * not have the service's master token, such as a page in a browser: it opens one product, for
 * reading or writing, optionally only some of its exports, until it expires. Outside its rights
 * the service answers 403; once expired (or when tampered with) 401.
 *
 * @example
 * ```ts
 * import { createAccessToken } from 'export-task/server';
 *
 * const token = await createAccessToken(process.env.EXPORT_TASK_SIGNING_KEY!, { product: 'roads', scope: 'write', expiresIn: '15m' });
 * const client = createClient({ url: 'http://127.0.0.1:8080', token });
 * ```
 * @param signingKey - The service's signing key (at least 32 characters).
 * @param options - See {@link AccessTokenOptions}.
 * @returns The token, to send as `Authorization: Bearer <token>`.
 * @throws TypeError (rejection) for a bad key or option, saying what was expected.
 */
export async function createAccessToken(signingKey: string, options: AccessTokenOptions): Promise<string> {
  const where = 'createAccessToken()';
  const key = signingKeyBytes(where, signingKey);
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where}: expected options { product, scope, exports?, expiresIn }, got ${describeValue(options)}`);
  for (const name of Object.keys(options)) {
    if (!['product', 'scope', 'exports', 'expiresIn'].includes(name)) throw new TypeError(`${where}: unknown option \`${name}\`; the options are \`product\`, \`scope\`, \`exports\`, \`expiresIn\``);
  }
  if (typeof options.product !== 'string' || options.product === '') throw new TypeError(`${where}: expected \`product\` to be a product id, got ${describeValue(options.product)}`);
  if (options.scope !== 'read' && options.scope !== 'write') throw new TypeError(`${where}: expected \`scope\` to be 'read' or 'write', got ${describeValue(options.scope)}`);
  const exports: unknown = options.exports;
  if (exports !== undefined && (!Array.isArray(exports) || exports.length === 0 || exports.some((id) => typeof id !== 'string' || id === ''))) {
    throw new TypeError(`${where}: expected \`exports\` to be a non-empty array of export ids (or left out, for every export of the product), got ${describeValue(exports)}`);
  }
  const seconds = durationSeconds(where, 'expiresIn', options.expiresIn);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ product: options.product, scope: options.scope, ...(exports === undefined ? {} : { exports: [...(exports as string[])] }) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + seconds)
    .sign(key);
}

/** Whether a bearer token is shaped like a JWT (three base64url parts), not like a master token. @internal */
export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

/**
 * Verifies a scoped token and answers what it grants.
 * @throws UnauthorizedError when it is expired, tampered with, signed with another key or malformed.
 * @internal
 */
export async function verifyAccessToken(key: Uint8Array, token: string): Promise<ScopedGrant> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: ISSUER, audience: ISSUER, requiredClaims: ['exp'] }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) {
      throw new UnauthorizedError('This access token has expired: ask for a new one (`export-task token`, or `createAccessToken()` on your server)');
    }
    throw new UnauthorizedError('This access token is not valid here: it was not signed with this service\'s signing key, or was altered');
  }
  const { product, scope, exports } = payload;
  if (typeof product !== 'string' || (scope !== 'read' && scope !== 'write') || (exports !== undefined && (!Array.isArray(exports) || exports.some((id) => typeof id !== 'string')))) {
    throw new UnauthorizedError('This access token has no valid `product` and `scope` claims: mint it with `createAccessToken()`');
  }
  return { product, scope, exports: exports === undefined ? undefined : new Set(exports as string[]) };
}
