import { describe, expect, it } from 'vitest';
import { checkStorageKey, MAX_STORAGE_KEY_LENGTH, MAX_STORAGE_KEY_SEGMENT_LENGTH } from '../../src/internal/storage-key.js';

/** A key of exactly the longest length, in segments of at most the longest name. */
const LONGEST = [...Array<string>(4).fill('x'.repeat(200)), 'x'.repeat(MAX_STORAGE_KEY_LENGTH - 804)].join('/');

describe('checkStorageKey', () => {
  it('returns safe relative keys as they are', () => {
    for (const key of ['a', 'exports/roads.ndjson', 'a/b/c.d', '.hidden/x', 'a..b/c', LONGEST, 'é'.repeat(127)]) {
      expect(checkStorageKey(key)).toBe(key);
    }
  });

  it.each([
    ['a non-string', 42, /to be a string, got 42/],
    ['null', null, /to be a string, got null/],
    ['an empty key', '', /non-empty relative path/],
    ['an absolute path', '/etc/passwd', /relative path, got the absolute path "\/etc\/passwd"/],
    ['a drive path', 'C:/x', /absolute path/],
    ['a backslash', 'a\\b', /no backslash/],
    ['a NUL', 'a\0b', /no NUL/],
    ['a .. segment', 'a/../b', /a "\.\." segment at position 2/],
    ['a leading ..', '../x', /a "\.\." segment at position 1/],
    ['a . segment', './x', /a "\." segment at position 1/],
    ['an empty segment', 'a//b', /an empty segment at position 2/],
    ['a trailing slash', 'a/', /an empty segment at position 2/],
    ['a key too long', `${LONGEST}x`, /at most 1024 bytes long \(UTF-8\), got 1025 bytes/],
    ['a key too long in UTF-8', Array<string>(5).fill('é'.repeat(110)).join('/'), /at most 1024 bytes long \(UTF-8\), got 1104 bytes/],
    // Issue 13: a 300-character segment was accepted, then the export failed with ENAMETOOLONG at its rename.
    ['a segment too long', `a/${'x'.repeat(300)}.ndjson`, /segment .* at most 255 bytes long \(UTF-8\), got 307 bytes at position 2/],
    ['a segment too long in UTF-8', `${'é'.repeat(128)}`, /at most 255 bytes long \(UTF-8\), got 256 bytes at position 1/],
    ['a directory too long', `${'d'.repeat(MAX_STORAGE_KEY_SEGMENT_LENGTH + 1)}/x`, /got 256 bytes at position 1/],
  ])('throws a TypeError for %s', (_what, key, message) => {
    expect(() => checkStorageKey(key)).toThrow(TypeError);
    expect(() => checkStorageKey(key)).toThrow(message);
  });
});
