/**
 * Argument checks shared by every public entry point: bad arguments throw `TypeError` at once,
 * before any request, saying what was expected and what came.
 */

import { describeValue } from '../core/errors.js';

/** Throws unless `options` is undefined or a plain object whose keys are all in `allowed`. */
export function checkOptionBag(where: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${where}: expected an options object, got ${describeValue(options)}`);
  }
  // `for...in` with an own-property check: no array of keys per call (option bags are checked
  // on every wait, BENCHMARKS.md).
  for (const key in options) {
    if (!allowed.includes(key) && Object.hasOwn(options, key)) {
      throw new TypeError(`${where}: unknown option \`${key}\`; the options are ${allowed.map((k) => `\`${k}\``).join(', ')}`);
    }
  }
}

/** A non-negative number of milliseconds, or undefined (no limit). */
export function checkMilliseconds(where: string, name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(
      `${where}: expected \`${name}\` to be a non-negative number of milliseconds (or undefined for no limit), got ${describeValue(value)}`,
    );
  }
  return value;
}

/** A positive number of milliseconds, or undefined. */
export function checkPositiveMilliseconds(where: string, name: string, value: unknown): number | undefined {
  const ms = checkMilliseconds(where, name, value);
  if (ms === 0) throw new TypeError(`${where}: expected \`${name}\` to be a positive number of milliseconds, got 0`);
  return ms;
}

/** An AbortSignal, or undefined. */
export function checkSignal(where: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as AbortSignal).addEventListener !== 'function' || !('aborted' in value)) {
    throw new TypeError(`${where}: expected \`signal\` to be an AbortSignal, got ${describeValue(value)}`);
  }
  return value as AbortSignal;
}

/** A boolean, or undefined. */
export function checkBoolean(where: string, name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new TypeError(`${where}: expected \`${name}\` to be true or false, got ${describeValue(value)}`);
}

/** A non-empty string. */
export function checkNonEmptyString(where: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${where}: expected \`${name}\` to be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}
