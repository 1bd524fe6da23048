import { describeValue } from '../core/errors.js';

/** The longest storage key accepted, in bytes of UTF-8 (so in characters for ASCII keys). */
export const MAX_STORAGE_KEY_LENGTH = 1024;
/** The longest segment (directory or file name) of a storage key, in bytes of UTF-8: what file systems allow in a name. */
export const MAX_STORAGE_KEY_SEGMENT_LENGTH = 255;

const encoder = new TextEncoder();

function byteLength(text: string): number {
  // Every UTF-16 unit is 1 to 3 bytes of UTF-8: only a long or non-ASCII text needs encoding.
  return text.length * 3 <= MAX_STORAGE_KEY_SEGMENT_LENGTH ? text.length : encoder.encode(text).length;
}

/**
 * Checks that `key` is a safe storage key: a relative, `/`-separated path that stays inside
 * the storage area wherever it is resolved. Pure: it touches no file system, so the client and
 * the service agree on what a key is.
 *
 * A key is refused when it is not a string, is empty, is longer than
 * {@link MAX_STORAGE_KEY_LENGTH} bytes, has a segment longer than
 * {@link MAX_STORAGE_KEY_SEGMENT_LENGTH} bytes (no file system takes a longer name), is absolute (`/a`, `C:a`), holds a backslash or a
 * NUL character, or has an empty, `.` or `..` segment (`a//b`, `./a`, `a/../b`, `a/`).
 *
 * @example
 * ```ts
 * checkStorageKey('exports/roads.ndjson'); // 'exports/roads.ndjson'
 * checkStorageKey('../etc/passwd');         // throws TypeError
 * ```
 * @param key - The key to check.
 * @returns The key, typed as a string.
 * @throws TypeError saying what is wrong with the key and how to fix it.
 */
export function checkStorageKey(key: unknown): string {
  if (typeof key !== 'string') {
    throw new TypeError(`Expected the storage key to be a string, got ${describeValue(key)}`);
  }
  if (key === '') {
    throw new TypeError('Expected the storage key to be a non-empty relative path such as "exports/roads.ndjson", got ""');
  }
  const bytes = key.length > MAX_STORAGE_KEY_LENGTH ? key.length : encoder.encode(key).length;
  if (bytes > MAX_STORAGE_KEY_LENGTH) {
    throw new TypeError(
      `Expected the storage key to be at most ${MAX_STORAGE_KEY_LENGTH} bytes long (UTF-8), got ${bytes} bytes: use a shorter key`,
    );
  }
  if (key.includes('\0')) {
    throw new TypeError(`Expected the storage key to contain no NUL character, got ${JSON.stringify(key)}`);
  }
  if (key.includes('\\')) {
    throw new TypeError(`Expected the storage key to use "/" between segments and no backslash, got ${JSON.stringify(key)}`);
  }
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) {
    throw new TypeError(
      `Expected the storage key to be a relative path, got the absolute path ${JSON.stringify(key)}: drop the leading "/" or drive`,
    );
  }
  const segments = key.split('/');
  for (const [index, segment] of segments.entries()) {
    if (segment === '' || segment === '.' || segment === '..') {
      const what = segment === '' ? 'an empty segment' : `a "${segment}" segment`;
      throw new TypeError(
        `Expected every segment of the storage key to be a plain name, got ${what} at position ${index + 1} of ${JSON.stringify(key)}`,
      );
    }
    const length = byteLength(segment);
    if (length > MAX_STORAGE_KEY_SEGMENT_LENGTH) {
      throw new TypeError(
        `Expected every segment of the storage key to be at most ${MAX_STORAGE_KEY_SEGMENT_LENGTH} bytes long (UTF-8), got ${length} bytes at position ${index + 1} ("${segment.slice(0, 40)}..."): use shorter directory and file names`,
      );
    }
  }
  return key;
}
