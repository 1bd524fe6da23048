import { describe, expect, it } from 'vitest';
import { checkStorageKey, MAX_STORAGE_KEY_LENGTH } from '../../src/internal/storage-key.js';

describe('checkStorageKey', () => {
  it('returns safe relative keys as they are', () => {
    for (const key of ['a', 'exports/roads.ndjson', 'a/b/c.d', '.hidden/x', 'a..b/c', 'x'.repeat(MAX_STORAGE_KEY_LENGTH)]) {
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
    ['a key too long', 'x'.repeat(MAX_STORAGE_KEY_LENGTH + 1), /at most 1024 characters long, got 1025/],
  ])('throws a TypeError for %s', (_what, key, message) => {
    expect(() => checkStorageKey(key)).toThrow(TypeError);
    expect(() => checkStorageKey(key)).toThrow(message);
  });
});
