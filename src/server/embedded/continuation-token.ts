import { BadRequestError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';

const PREFIX = 'after:';

/**
 * The token for the page after the export of creation rank `ordinal`: opaque to clients
 * (base64url), so its form can change without breaking them.
 * @internal
 */
export function encodeContinuationToken(ordinal: number): string {
  return Buffer.from(`${PREFIX}${ordinal}`, 'utf8').toString('base64url');
}

/**
 * The creation rank a token resumes after; 0 for the first page (no token).
 * @throws BadRequestError for a token this service did not make.
 * @internal
 */
export function decodeContinuationToken(token: unknown): number {
  if (token === undefined || token === null) return 0;
  const text = typeof token === 'string' && /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const ordinal = text.startsWith(PREFIX) && /^[0-9]{1,15}$/.test(text.slice(PREFIX.length)) ? Number(text.slice(PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(ordinal)) {
    throw new BadRequestError(
      `Expected \`continuationToken\` to be the token of a previous page of listExports(), got ${describeValue(token)}: pass it back unchanged, or null for the first page`,
    );
  }
  return ordinal;
}
