import { describeValue } from '../../core/errors.js';

/**
 * Checks a product id: 1 to 128 characters of `A-Z a-z 0-9 . _ : -`, not starting with `.`
 * (so an id is always a safe directory name).
 *
 * @param id - The value to check.
 * @returns The id, typed as a string.
 * @throws TypeError saying what was expected.
 * @internal
 */
export function checkProductId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,127}$/.test(id)) {
    throw new TypeError(
      `Expected the product id to be 1 to 128 characters of letters, digits, ".", "_", ":" and "-", not starting with ".", got ${describeValue(id)}`,
    );
  }
  return id;
}
