import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileLike } from '../../src/internal/like-pattern.js';

/**
 * The reference: SQL LIKE by dynamic programming over code points, straight from the
 * definition (`%` any run, `_` one code point, `\` escapes the next character).
 */
function referenceLike(pattern: string, value: string): boolean {
  const tokens: ({ kind: 'any' } | { kind: 'one' } | { kind: 'char'; c: string })[] = [];
  const p = [...pattern];
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\' && i + 1 < p.length) tokens.push({ kind: 'char', c: p[++i]! });
    else if (p[i] === '%') tokens.push({ kind: 'any' });
    else if (p[i] === '_') tokens.push({ kind: 'one' });
    else tokens.push({ kind: 'char', c: p[i]! });
  }
  const v = [...value];
  // can[j]: the tokens so far match v[0..j).
  let can = Array.from({ length: v.length + 1 }, (_, j) => j === 0);
  for (const token of tokens) {
    const next = new Array<boolean>(v.length + 1).fill(false);
    for (let j = 0; j <= v.length; j++) {
      if (token.kind === 'any') next[j] = can[j]! || (j > 0 && next[j - 1]!);
      else if (j > 0 && can[j - 1]!) next[j] = token.kind === 'one' || v[j - 1] === token.c;
    }
    can = next;
  }
  return can[v.length]!;
}

// Few distinct characters, so that patterns and values often meet; an astral one tests code points.
const char = fc.constantFrom('a', 'b', '%', '_', '\\', '\n', '😀', '\uD83D', '\uDE00');
const text = fc.array(char, { maxLength: 12 }).map((chars) => chars.join(''));
// Lone halves of a surrogate pair too: they are code points of their own, and must not match inside a pair.
const value = fc.array(fc.constantFrom('a', 'b', '\n', '😀', '%', '_', '\uD83D', '\uDE00'), { maxLength: 16 }).map((chars) => chars.join(''));

describe('compileLike', () => {
  it('agrees with the reference matcher on generated patterns and values', () => {
    fc.assert(
      fc.property(text, value, (pattern, v) => {
        expect(compileLike(pattern)(v)).toBe(referenceLike(pattern, v));
      }),
    );
  });

  it('agrees with the reference on values built to match the pattern', () => {
    // Random values rarely match a long pattern: fill the pattern's wildcards in instead.
    fc.assert(
      fc.property(text, fc.array(value, { minLength: 12, maxLength: 12 }), (pattern, fills) => {
        let i = 0;
        const built = pattern.replace(/\\(.)|%|_/gsu, (m, escaped: string | undefined) =>
          escaped ?? (m === '%' ? fills[i++ % 12]! : ([...fills[i++ % 12]!][0] ?? 'a')),
        );
        expect(compileLike(pattern)(built)).toBe(referenceLike(pattern, built));
      }),
    );
  });

  it.each([
    ['Main%', 'Main Street', true],
    ['%Street', 'Main Street', true],
    ['M_in%', 'Main', true],
    ['M\\_1\\%', 'M_1%', true],
    ['M\\_1\\%', 'Mx1%', false],
    ['a\\', 'a\\', true],
    ['_', '😀', true],
    ['__', '😀', false],
    ['%', '', true],
    ['', '', true],
    ['', 'a', false],
    ['a%a', 'a', false],
    ['%\n%', 'one\ntwo', true],
    ['%\uDE00', '😀', false],
    ['\uD83D%', '😀', false],
    ['%😀%', 'a😀b', true],
  ])('matches %j against %j: %s', (pattern, v, expected) => {
    expect(compileLike(pattern)(v)).toBe(expected);
  });

  it('finishes on a pattern that makes a backtracking RegExp explode (issue 13: ReDoS in `like`)', () => {
    // `%` 24 times then `x` was `.*` 24 times then `x`: exponential on a long value without an x.
    const long = 'a'.repeat(200_000);
    const pattern = `${'%'.repeat(24)}x`;
    expect(compileLike(pattern)(long)).toBe(false);
    expect(compileLike(`${'%_'.repeat(500)}b`)(long)).toBe(false);
    expect(compileLike(`${'%a'.repeat(500)}%`)(long)).toBe(true);
  });
});
