import { describeValue } from '../../core/errors.js';

/** What a product id is: 1 to 128 characters of `A-Z a-z 0-9 . _ : -`, not starting with `.`. @internal */
export const PRODUCT_ID_PATTERN = /^[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,127}$/;

/** {@link PRODUCT_ID_PATTERN} in words, for messages and documents. @internal */
export const PRODUCT_ID_EXPECTED = '1 to 128 characters of letters, digits, ".", "_", ":" and "-", not starting with "."';

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
  if (typeof id !== 'string' || !PRODUCT_ID_PATTERN.test(id)) {
    throw new TypeError(`Expected the product id to be ${PRODUCT_ID_EXPECTED}, got ${describeValue(id)}`);
  }
  return id;
}
