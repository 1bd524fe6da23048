import type { ExportQuery } from '../../client/geojson.js';
import { BadRequestError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';
import { checkExportQuery } from '../../internal/query.js';
import { checkStorageKey } from '../../internal/storage-key.js';
import { checkMemoryMb, checkTimeoutMs } from './check-limits.js';

/** An export request that passed {@link checkExportRequest}; `null` limits take the service's defaults. @internal */
export interface CheckedExportRequest {
  readonly key: string;
  readonly query: ExportQuery;
  readonly timeoutMs: number | null;
  readonly memoryMb: number | null;
}

const REQUEST_KEYS = ['key', 'query', 'limits'];

/**
 * Checks `startExport`'s `idempotencyKey` option: a non-empty string or absent.
 * @throws BadRequestError for anything else.
 * @internal
 */
export function checkIdempotencyKey(value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new BadRequestError(`Expected \`idempotencyKey\` to be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}
const LIMIT_KEYS = ['timeoutMs', 'memoryMb'];

/**
 * Checks what `startExport` was asked: a safe storage key, a valid query, sensible limits.
 * @throws BadRequestError saying what is wrong, before anything starts.
 * @internal
 */
export function checkExportRequest(request: unknown): CheckedExportRequest {
  try {
    const r = checkObject(request, 'the export request', REQUEST_KEYS);
    const key = checkStorageKey(r['key']);
    const query = checkExportQuery(r['query']);
    const limits = r['limits'] === undefined ? {} : checkObject(r['limits'], '`limits`', LIMIT_KEYS);
    return {
      key,
      query,
      timeoutMs: checkTimeoutMs(limits['timeoutMs'], 'limits.timeoutMs'),
      memoryMb: checkMemoryMb(limits['memoryMb'], 'limits.memoryMb'),
    };
  } catch (error) {
    if (error instanceof TypeError) throw new BadRequestError(error.message);
    throw error;
  }
}

function checkObject(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected ${what} to be an object, got ${describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new TypeError(`Expected ${what} to have only ${keys.map((k) => `\`${k}\``).join(', ')}, got an unknown \`${key}\`: remove it`);
    }
  }
  return value as Record<string, unknown>;
}
