import { describeValue } from '../../core/errors.js';

/** The longest timer Node keeps (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Checks a job time limit: absent, or a positive number of milliseconds a timer can hold.
 * Pure, so the browser-safe factory can use it.
 *
 * @param value - The value to check.
 * @param name - The option's name, for the message (`jobTimeoutMs`).
 * @returns The limit, or `null` (unlimited) when absent.
 * @throws TypeError saying what was expected.
 * @internal
 */
export function checkTimeoutMs(value: unknown, name: string): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new TypeError(`Expected \`${name}\` to be a positive number of milliseconds, got ${describeValue(value)}: leave it out for no time limit`);
  }
  if (value > MAX_TIMEOUT_MS) {
    throw new TypeError(
      `Expected \`${name}\` to be a positive number of milliseconds up to ${MAX_TIMEOUT_MS} (about 24.8 days), got ${describeValue(value)}: leave it out for no time limit`,
    );
  }
  return value;
}

/**
 * Checks a job memory limit: absent, or a positive number of MiB of heap.
 *
 * @param value - The value to check.
 * @param name - The option's name, for the message (`jobMemoryMb`).
 * @returns The limit, or `null` (unlimited) when absent.
 * @throws TypeError saying what was expected.
 * @internal
 */
export function checkMemoryMb(value: unknown, name: string): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
    throw new TypeError(`Expected \`${name}\` to be a positive number of MiB, got ${describeValue(value)}: leave it out for no memory limit`);
  }
  return value;
}
