import { useCallback, useRef, useSyncExternalStore } from 'react';
import type { Observable } from 'rxjs';
import { describe } from './internal/describe.js';

/**
 * What {@link useTaskStore} needs of a store: the `changes$` every `TaskStore` has.
 *
 * @example
 * ```tsx
 * const store: ObservableStore = client.store; // a TaskStore fits
 * function Running() {
 *   const running = useTaskStore(client.store, (s) => [...s.snapshots()].filter((t) => t.phase === 'running').length);
 *   return <span>{running} running</span>;
 * }
 * ```
 */
export interface ObservableStore {
  /** Emits after each change of any task. */
  readonly changes$: Observable<unknown>;
}

/** The last selection: the store version and selector it was made with, and the value kept. */
interface Selection<T> {
  readonly version: number;
  readonly store: unknown;
  readonly selector: unknown;
  readonly value: T;
}

/**
 * A value selected from a `TaskStore` (a list of tasks, a count, one task's snapshot),
 * kept current: the selector runs again after each change of any task, and the component
 * re-renders only when `isEqual` says the new selection differs from the last one. The last
 * selection is then returned as it was (the same reference), so it can go into dependency
 * arrays and `memo` props.
 *
 * The selector should be pure and read only the store. An inline arrow is fine: it is called
 * again on each render, but an equal result keeps the old reference. For a selector that builds
 * a new array or object each time, pass {@link shallowEqual} (or a deeper comparison).
 *
 * @example
 * ```tsx
 * import { shallowEqual, useTaskStore } from 'export-task/react';
 *
 * function RunningCount({ store }: { store: TaskStore }) {
 *   const running = useTaskStore(store, (s) => [...s.snapshots()].filter((t) => t.phase === 'running').length);
 *   return <span>{running} running</span>;
 * }
 *
 * function ExportIds({ client, productId }: { client: ExportClient; productId: string }) {
 *   const ids = useTaskStore(
 *     client.store,
 *     (s) => [...s.snapshots()].filter((t) => t.productId === productId).map((t) => t.exportId),
 *     shallowEqual,
 *   );
 *   return <ul>{ids.map((id) => <li key={id}>{id}</li>)}</ul>;
 * }
 * ```
 * @param store - The store (for a client's tasks: `client.store`).
 * @param selector - Picks the value from the store.
 * @param isEqual - Whether two selections are the same; the default is `Object.is`.
 * @returns The selection, the same reference for as long as it stays equal.
 * @throws TypeError during render when `store` has no `changes$` or `selector`/`isEqual` is not a function.
 */
export function useTaskStore<TStore extends ObservableStore, TSelected>(
  store: TStore,
  selector: (store: TStore) => TSelected,
  isEqual: (a: TSelected, b: TSelected) => boolean = Object.is,
): TSelected {
  checkArguments(store, selector, isEqual);
  // Bumped on each change of the store: the selection is recomputed when it moved (or when the
  // selector did), not on every call of getSnapshot, which React makes several times a render.
  const version = useRef(0);
  const last = useRef<Selection<TSelected> | undefined>(undefined);
  const subscribe = useCallback(
    (onChange: () => void): (() => void) => {
      // The store may have changed between the render and this subscription: React reads the
      // snapshot once more after subscribing, and the new version makes that read select again.
      version.current++;
      const subscription = store.changes$.subscribe({
        next: () => {
          version.current++;
          onChange();
        },
      });
      return () => subscription.unsubscribe();
    },
    [store],
  );
  const getSnapshot = (): TSelected => {
    const previous = last.current;
    // Another store (a new prop) selects again at once, before its subscription bumps the version.
    if (previous !== undefined && previous.version === version.current && previous.store === store && previous.selector === selector) {
      return previous.value;
    }
    const next = selector(store);
    const value = previous !== undefined && isEqual(previous.value, next) ? previous.value : next;
    last.current = { version: version.current, store, selector, value };
    return value;
  };
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/**
 * Whether two values are equal one level deep: the same value, or arrays with the same
 * elements (by `Object.is`) in the same order, or plain objects with the same keys holding the
 * same values. The usual `isEqual` of {@link useTaskStore} for selectors that build arrays.
 *
 * @example
 * ```ts
 * shallowEqual(['e1', 'e2'], ['e1', 'e2']); // true
 * shallowEqual({ running: 2 }, { running: 3 }); // false
 * ```
 */
export function shallowEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  for (const key of keysA) {
    if (!Object.prototype.hasOwnProperty.call(b, key) || !Object.is((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) {
      return false;
    }
  }
  return true;
}

function checkArguments(store: unknown, selector: unknown, isEqual: unknown): void {
  if (typeof store !== 'object' || store === null || typeof (store as Partial<ObservableStore>).changes$?.subscribe !== 'function') {
    throw new TypeError(`useTaskStore(): expected a TaskStore (for a client's tasks, \`client.store\`), got ${describe(store)}`);
  }
  if (typeof selector !== 'function') {
    throw new TypeError(`useTaskStore(): expected \`selector\` to be a function of the store, such as (store) => store.get(exportId), got ${describe(selector)}`);
  }
  if (typeof isEqual !== 'function') {
    throw new TypeError(`useTaskStore(): expected \`isEqual\` to be a function comparing two selections (or nothing, for Object.is), got ${describe(isEqual)}`);
  }
}
