/** `T` with its `readonly` removed: for an object this module has just made and still fills in. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };
