/**
 * The baseline of goal 2: a bare promise per wait, its resolver kept in a `Map` by id and called
 * when the task's final event has been applied. No timeout, no abort, no last check.
 */
export class BareWaits<T> {
  readonly #resolvers = new Map<string, (value: T) => void>();

  wait(id: string): Promise<T> {
    return new Promise<T>((resolve) => this.#resolvers.set(id, resolve));
  }

  settle(id: string, value: T): void {
    const resolve = this.#resolvers.get(id);
    if (resolve === undefined) return;
    this.#resolvers.delete(id);
    resolve(value);
  }
}
