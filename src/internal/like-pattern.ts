/** The longest `like` pattern accepted, in characters (UTF-16 code units, as `string.length` counts). */
export const MAX_LIKE_PATTERN_LENGTH = 1024;

/** One position of a segment: a code point to equal, or `null` for `_` (any one code point). */
type Token = number | null;

/**
 * A compiled SQL LIKE pattern: anchored, case-sensitive, `%` any run of code points, `_` one
 * code point, `\` escaping the next character (a trailing `\` is a literal one).
 */
export interface LikeMatcher {
  /** Whether the whole of `value` matches the pattern. */
  (value: string): boolean;
}

/**
 * Compiles a LIKE pattern into a matcher whose time is linear in the value's length, whatever
 * the pattern: at most `value length × pattern length` steps, and the pattern is at most
 * {@link MAX_LIKE_PATTERN_LENGTH} long.
 *
 * A RegExp would be shorter, but `%%%%x` turned into `.*.*.*.*x` backtracks exponentially on a
 * long value that does not match. Here the pattern is split at its `%`s into segments; the
 * first must match at the start, the last at the end, and each one in between at its
 * leftmost place after the previous one. Taking the leftmost place is never wrong: whatever a
 * later match would have left for the segments after it, an earlier one leaves more. So no
 * choice is ever undone, and each value position is tried by at most one segment.
 *
 * @example
 * ```ts
 * const matches = compileLike('Main%St_');
 * matches('Main Street'); // false
 * matches('Main Sta');    // true
 * ```
 * @param pattern - The pattern; its length is checked by the query's checker, not here.
 * @returns The matcher.
 */
export function compileLike(pattern: string): LikeMatcher {
  const segments: Token[][] = [[]];
  const chars = Array.from(pattern, (c) => c.codePointAt(0)!);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const segment = segments[segments.length - 1]!;
    if (c === BACKSLASH && i + 1 < chars.length) segment.push(chars[++i]!);
    else if (c === PERCENT) segments.push([]);
    else if (c === UNDERSCORE) segment.push(null);
    else segment.push(c);
  }
  if (segments.every((segment) => !segment.includes(null)) && !LONE_SURROGATE.test(pattern)) return compileLiterals(segments);
  const first = segments[0]!;
  if (segments.length === 1) {
    return (value) => {
      const v = codePoints(value);
      return v.length === first.length && matchesAt(first, v, 0);
    };
  }
  const last = segments[segments.length - 1]!;
  const middle = segments.slice(1, -1).filter((segment) => segment.length > 0);
  const fixed = first.length + last.length;
  return (value) => {
    const v = codePoints(value);
    if (v.length < fixed || !matchesAt(first, v, 0) || !matchesAt(last, v, v.length - last.length)) return false;
    let from = first.length;
    const end = v.length - last.length;
    for (const segment of middle) {
      const at = indexOf(segment, v, from, end);
      if (at === -1) return false;
      from = at + segment.length;
    }
    return true;
  };
}

/**
 * The same matcher for a pattern of literals and `%` only, on the value's UTF-16 units with
 * the engine's own `startsWith`, `endsWith` and `indexOf`, allocating nothing per value. Units
 * and code points agree here: a literal of whole code points can neither start on the second
 * half of a surrogate pair nor end on the first half of one.
 */
function compileLiterals(segments: readonly Token[][]): LikeMatcher {
  const [first, ...rest] = segments.map((segment) => String.fromCodePoint(...(segment as number[])));
  if (rest.length === 0) return (value) => value === first;
  const last = rest.pop()!;
  const middle = rest.filter((segment) => segment !== '');
  const fixed = first!.length + last.length;
  return (value) => {
    if (value.length < fixed || !value.startsWith(first!) || !value.endsWith(last)) return false;
    let from = first!.length;
    const end = value.length - last.length;
    for (const segment of middle) {
      const at = value.indexOf(segment, from);
      if (at === -1 || at + segment.length > end) return false;
      from = at + segment.length;
    }
    return true;
  };
}

/** A half of a surrogate pair on its own (in `u` mode a whole pair is one code point, not a surrogate). */
const LONE_SURROGATE = /\p{Cs}/u;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const UNDERSCORE = 0x5f;

function codePoints(value: string): number[] {
  return Array.from(value, (c) => c.codePointAt(0)!);
}

/** Whether `segment` matches `value` at `at` (which leaves room for it). */
function matchesAt(segment: readonly Token[], value: readonly number[], at: number): boolean {
  for (let i = 0; i < segment.length; i++) {
    const token = segment[i]!;
    if (token !== null && token !== value[at + i]) return false;
  }
  return true;
}

/** The leftmost place from `from` where `segment` matches and ends by `end`, or -1. */
function indexOf(segment: readonly Token[], value: readonly number[], from: number, end: number): number {
  for (let at = from; at + segment.length <= end; at++) if (matchesAt(segment, value, at)) return at;
  return -1;
}
