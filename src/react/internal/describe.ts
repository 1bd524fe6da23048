/** A short description of a bad argument, for error messages: what came, not just its type. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    const kind = typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object';
    return `${kind} with keys ${JSON.stringify(Object.keys(value).slice(0, 6))}`;
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}
