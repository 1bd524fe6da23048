/**
 * Argument checks shared by every public entry point: bad arguments throw `TypeError` at once,
 * before any request, saying what was expected and what came.
 */

/**
 * A short, safe rendering of a value for an error message: strings quoted (long ones cut),
 * numbers as they are, objects and arrays by kind, never their contents.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (typeof value === 'string') {
    return value.length > 60 ? `a string of ${value.length} characters ("${value.slice(0, 40)}...")` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/**
 * The one check of an option bag, with one message style for every public function:
 * `where: unknown option \`x\`; the options are \`a\`, \`b\``. Throws unless `options` is a
 * plain object whose own keys are all in `allowed` (or undefined, unless `required`).
 */
export function checkOptionBag(where: string, options: unknown, allowed: readonly string[], required = false): void {
  if (options === undefined && !required) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${where}: expected an options object${required ? '' : ' (or nothing)'}, got ${describeValue(options)}`);
  }
  // `for...in` with an own-property check: no array of keys per call (option bags are checked
  // on every wait, BENCHMARKS.md).
  for (const key in options) {
    if (!allowed.includes(key) && Object.hasOwn(options, key)) {
      const names = allowed.map((k) => `\`${k}\``);
      throw new TypeError(`${where}: unknown option \`${key}\`; ${names.length === 1 ? `the only option is ${names[0]!}` : `the options are ${names.join(', ')}`}`);
    }
  }
}

/** A positive integer count of `what` (jobs, bytes, ...), or undefined. */
export function checkCount(where: string, name: string, value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new TypeError(`${where}: expected \`${name}\` to be a positive integer number of ${what}, got ${describeValue(value)}`);
  }
  return value as number;
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
