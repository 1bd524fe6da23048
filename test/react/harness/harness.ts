/**
 * What the hooks' test page offers the test (as `window.harness`): real hooks in react-dom, a
 * real client of the service (same origin) and a real TaskStore, and a log of every render.
 */
import type { TaskStore } from '../../../src/index.js';

/** One render of a test component: which view, and what it showed. */
export interface RenderRecord {
  readonly view: string;
  /** The seq of the snapshot shown (useExportTask), or the selection as JSON (useTaskStore). */
  readonly shown: string;
}

/** What the start hook showed at one render. */
export interface StartRecord {
  readonly pending: boolean;
  readonly error: string | null;
  readonly exportId: string | null;
  readonly phase: string | null;
}

export interface Harness {
  /** A store fed only by the test, through `apply`. */
  readonly store: TaskStore;
  readonly renders: RenderRecord[];
  readonly starts: StartRecord[];
  /** Resolves once React has rendered what the last changes scheduled. */
  settle(): Promise<void>;
  /** How many subscriptions of the counted store/task wrappers are open. */
  openSubscriptions(): number;
  /** Mounts `useExportTask` on a task backed by `store` (exact one render per change is checked with it). */
  mountStoreTask(exportId: string, strict: boolean): void;
  /** Shows `useTaskStore(second ? secondStore : store, s => s.size)` with one selector function, re-rendering the same root. */
  showSize(second: boolean): void;
  /** Mounts `useTaskStore` selecting a product's export ids (shallowEqual) and, in another view, one task's phase. */
  mountStoreList(productId: string, exportId: string): void;
  /** Creates a product on the service with `n` point features; answers nothing. */
  createProduct(productId: string, n: number): Promise<void>;
  /** Starts an export with the real client and mounts `useExportTask` on the real ExportTask. */
  mountRealTask(productId: string, query: unknown): Promise<string>;
  /** Ids of the product's tasks the client's store follows (watches or waits for) and that are not final. */
  observedPending(productId: string): string[];
  /** Mounts `useStartExport` on a feature collection, with a button that starts an export of `key`. */
  mountStart(productId: string, key: string, query: unknown, cancelOnUnmount: boolean): void;
  /** Clicks the start view's button; answers what `start()` resolved with (an export id or null). */
  clickStart(): Promise<string | null>;
  /** Clicks the start view's button and unmounts at once, before the request answers. */
  clickStartThenUnmount(): Promise<string | null>;
  /** Starts an export with the real client, outside React; answers its id. */
  startExport(productId: string, key: string, query: unknown): Promise<string>;
  /** Cancels an export started here. */
  cancel(exportId: string): Promise<void>;
  /** The client store's phase and progress of an export, or null when it knows nothing of it. */
  clientSnapshot(exportId: string): { phase: string; progress: number } | null;
  /** Asks the service for an export's phase and failure type. */
  status(productId: string, exportId: string): Promise<{ phase: string; failureType: string | null }>;
  unmount(): void;
  /** Closes the client (its event streams). */
  close(): Promise<void>;
}

declare global {
  interface Window {
    harness: Harness;
  }
}
