import { useCallback, useEffect, useRef, useState } from 'react';
import { NEVER, type Observable } from 'rxjs';
import { isFinalPhase } from '../core/events.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import { describe } from './internal/describe.js';
import { shallowEqual, useTaskStore } from './use-task-store.js';

/**
 * What {@link useExports} needs of a feature collection: its id and `listExports()`.
 * (Structural, so the hook answers the very task type the collection makes.)
 *
 * @example
 * ```ts
 * const lister: ExportLister<ExportTask> = client.featureCollection('roads'); // a FeatureCollection fits
 * ```
 */
export interface ExportLister<TTask extends { readonly exportId: string }> {
  /** The product id. */
  readonly id: string;
  /** The product's completed exports, every page. */
  listExports(): Promise<TTask[]>;
}

/**
 * What {@link useExports} reads of a store (a client's `store` fits): its changes and snapshots.
 *
 * @example
 * ```ts
 * const store: ExportStore = client.store; // a TaskStore fits
 * ```
 */
export interface ExportStore {
  /** Emits after each change of any task. */
  readonly changes$: Observable<unknown>;
  /** Every task's snapshot. */
  snapshots(): IterableIterator<ExportTaskSnapshot>;
}

/**
 * Options of {@link useExports}.
 *
 * @example
 * ```ts
 * const { data } = useExports(roads, { store: client.store } satisfies UseExportsOptions);
 * ```
 */
export interface UseExportsOptions {
  /**
   * The client's store (`client.store`): the list is fetched again each time an export of the
   * product becomes final in it, and `inFlight` lists the product's exports it holds that are not
   * final. The store learns of every export of a product once the client follows any task of it
   * (a `useExportTask` or `useStartExport` of that product does).
   * @defaultValue none: the list is fetched at mount and on `refetch()` only
   */
  readonly store?: ExportStore | undefined;
}

/**
 * What {@link useExports} answers, in the shape of TanStack Query's `useQuery` result.
 *
 * @example
 * ```ts
 * const { data, inFlight, isPending, error, refetch }: ExportsResult<ExportTask> = useExports(roads, { store: client.store });
 * ```
 */
export interface ExportsResult<TTask> {
  /** `pending` until the first list arrives, then `success`, or `error` when the latest fetch failed. */
  readonly status: 'pending' | 'success' | 'error';
  /** `status === 'pending'`: no list yet. */
  readonly isPending: boolean;
  /** `status === 'success'`. */
  readonly isSuccess: boolean;
  /** `status === 'error'` (see `error`). */
  readonly isError: boolean;
  /** Whether a fetch is in flight (the first, or one after a change). */
  readonly isFetching: boolean;
  /** The product's completed exports, oldest first (the same array while the list of ids stays the same). */
  readonly data: readonly TTask[] | undefined;
  /** The product's exports in `store` that are not final, in the store's order; empty without a store. */
  readonly inFlight: readonly ExportTaskSnapshot[];
  /** Why the latest fetch failed, or `null`. */
  readonly error: Error | null;
  /** Fetches the list again. */
  readonly refetch: () => void;
}

interface State<TTask> {
  readonly data: readonly TTask[] | undefined;
  readonly error: Error | null;
  readonly fetching: boolean;
}

/** Without a store: nothing changes, nothing is in flight. */
const NO_STORE: ExportStore = { changes$: NEVER, snapshots: () => ([] as ExportTaskSnapshot[]).values() };

/**
 * A product's exports, kept current: the completed ones (`listExports()`, every page), fetched at
 * mount and again whenever an export of the product becomes final in the client's store, and the
 * ones in flight, read from the store. A fetch that answers after a newer one was asked for, or
 * after unmount, changes nothing.
 *
 * @example
 * ```tsx
 * import { useExports } from 'export-task/react';
 *
 * function Exports({ client }: { client: ExportClient }) {
 *   const { data, inFlight, isPending, error } = useExports(client.featureCollection('roads'), { store: client.store });
 *   if (isPending) return <p>Loading…</p>;
 *   if (error) return <p role="alert">{error.message}</p>;
 *   return (
 *     <ul>
 *       {inFlight.map((s) => <li key={s.exportId}>{s.exportId}: {s.phase}</li>)}
 *       {data?.map((task) => <li key={task.exportId}>{task.key}: {task.snapshot.phase}</li>)}
 *     </ul>
 *   );
 * }
 * ```
 * @param collection - The product (`client.featureCollection(id)`).
 * @param options - See {@link UseExportsOptions}.
 * @returns See {@link ExportsResult}.
 * @throws TypeError during render when `collection` has no `listExports` or an option is unknown.
 */
export function useExports<TTask extends { readonly exportId: string }>(collection: ExportLister<TTask>, options?: UseExportsOptions): ExportsResult<TTask> {
  checkArguments(collection, options);
  const store = options?.store ?? NO_STORE;
  const productId = collection.id;
  const [state, setState] = useState<State<TTask>>({ data: undefined, error: null, fetching: true });
  const latestFetch = useRef(0);
  const mounted = useRef(false);

  const fetchList = useCallback((): void => {
    const call = ++latestFetch.current;
    setState((s) => (s.fetching ? s : { ...s, fetching: true }));
    collection.listExports().then(
      (tasks) => {
        if (!mounted.current || call !== latestFetch.current) return;
        setState((s) => ({ data: sameIds(s.data, tasks) ? s.data : tasks, error: null, fetching: false }));
      },
      (error: unknown) => {
        if (!mounted.current || call !== latestFetch.current) return;
        setState((s) => ({ data: s.data, error: error instanceof Error ? error : new Error(String(error)), fetching: false }));
      },
    );
  }, [collection]);

  useEffect(() => {
    mounted.current = true;
    fetchList();
    return () => {
      mounted.current = false;
    };
  }, [fetchList]);

  // The ids of the product's final exports in the store: a new one means the list grew.
  const finalIds = useTaskStore(
    store,
    (s) => [...s.snapshots()].filter((t) => t.productId === productId && isFinalPhase(t.phase)).map((t) => t.exportId),
    shallowEqual,
  );
  const inFlight = useTaskStore(store, (s) => [...s.snapshots()].filter((t) => t.productId === productId && !isFinalPhase(t.phase)), shallowEqual);
  const seenFinal = useRef<readonly string[]>(finalIds);
  useEffect(() => {
    if (seenFinal.current === finalIds) return;
    seenFinal.current = finalIds;
    fetchList();
  }, [finalIds, fetchList]);

  const status = state.error !== null ? 'error' : state.data === undefined ? 'pending' : 'success';
  return {
    status,
    isPending: status === 'pending',
    isSuccess: status === 'success',
    isError: status === 'error',
    isFetching: state.fetching,
    data: state.data,
    inFlight,
    error: state.error,
    refetch: fetchList,
  };
}

function sameIds(a: readonly { readonly exportId: string }[] | undefined, b: readonly { readonly exportId: string }[]): boolean {
  return a !== undefined && a.length === b.length && a.every((task, i) => task.exportId === b[i]!.exportId);
}

function checkArguments(collection: unknown, options: unknown): void {
  const candidate = collection as Partial<ExportLister<{ exportId: string }>> | null;
  if (typeof collection !== 'object' || candidate === null || typeof candidate.listExports !== 'function' || typeof candidate.id !== 'string') {
    throw new TypeError(`useExports(): expected a FeatureCollection (such as client.featureCollection('roads')), got ${describe(collection)}`);
  }
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError(`useExports(): expected options to be an object such as { store: client.store }, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (key !== 'store') throw new TypeError(`useExports(): unknown option \`${key}\`; the only option is \`store\``);
  }
  const store = (options as UseExportsOptions).store;
  if (store !== undefined && (typeof store?.changes$?.subscribe !== 'function' || typeof store.snapshots !== 'function')) {
    throw new TypeError(`useExports(): expected \`store\` to be a TaskStore (a client's \`client.store\`), got ${describe(store)}`);
  }
}
