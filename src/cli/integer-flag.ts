/**
 * Reads a whole-number flag (`--features 300000`, `--seed 7`), telling a negative number, a
 * number out of range and something that is no number apart, so each gets the message that
 * fixes it.
 *
 * @param flag - The flag as the user wrote it (`--features`), for the message.
 * @param value - What `parseArgs` gave (`undefined` when the flag was left out).
 * @param fallback - The value when the flag is left out.
 * @param min - The smallest value allowed.
 * @param max - The largest value allowed.
 * @returns The number.
 * @throws TypeError saying what was expected (a usage error).
 */
export function parseIntegerFlag(flag: string, value: string | boolean | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const text = typeof value === 'string' ? value : '';
  const range = `from ${min} to ${max}`;
  if (!/^-?\d[\d_]*$/.test(text)) {
    throw new TypeError(`expected ${flag} to be a whole number ${range}, got ${JSON.stringify(value)}`);
  }
  const n = Number(text.replaceAll('_', ''));
  if (n < 0 && min >= 0) {
    throw new TypeError(`expected ${flag} to be ${min > 0 ? 'positive' : 'zero or more'} (a whole number ${range}), got ${text}`);
  }
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new TypeError(`expected ${flag} to be a whole number ${range}, got ${JSON.stringify(value)}`);
  }
  return n;
}
