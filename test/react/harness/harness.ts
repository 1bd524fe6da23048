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
  readonly status: string;
  /** `isIdle`, `isPending`, `isSuccess`, `isError`, as the letters I, P, S, E of those that are true. */
  readonly flags: string;
  readonly error: string | null;
  readonly exportId: string | null;
  readonly phase: string | null;
}

/** What the actor view showed at one render: which actor (by order of creation) and its state. */
export interface ActorRecord {
  readonly actor: number;
  readonly value: string;
}

/** What the exports view showed at one render. */
export interface ExportsRecord {
  readonly status: string;
  readonly ids: readonly string[] | null;
  readonly inFlight: readonly string[];
}

export interface Harness {
  /** A store fed only by the test, through `apply`. */
  readonly store: TaskStore;
  readonly renders: RenderRecord[];
  readonly starts: StartRecord[];
  /** The start hook's callbacks as they were called: `onSuccess <id>`, `onError <name>`, `onSettled <id|-> <name|null>`. */
  readonly callbacks: string[];
  readonly actorRenders: ActorRecord[];
  readonly exportsRenders: ExportsRecord[];
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
  /** Clicks the start view's `start` button; answers the export id its call's `onSettled` got, or null. */
  clickStart(): Promise<string | null>;
  /** Clicks the start view's `startAsync` button; answers the export id, or the rejection as `Name: message`. */
  clickStartAsync(): Promise<{ exportId: string } | { rejected: string }>;
  /** Clicks the `startAsync` button and unmounts at once, before the request answers; answers the export id. */
  clickStartThenUnmount(): Promise<string | null>;
  /** Starts an export and mounts `useTaskActor` on it (in StrictMode when asked); answers the export id. */
  mountActor(productId: string, strict: boolean): Promise<string>;
  /** How many actors the actor view's task was asked for, and the status of the last one. */
  actorStats(): { created: number; status: string | null };
  /** Mounts `useExports` on the product with the client's store. */
  mountExports(productId: string): void;
  /** Starts an export with the real client and follows it (its `state$`) until it is final; answers its id. */
  followExport(productId: string, key: string): Promise<string>;
  /** Starts an export with the real client, outside React; answers its id. */
  startExport(productId: string, key: string, query: unknown): Promise<string>;
  /** Cancels an export started here. */
  cancel(exportId: string): Promise<void>;
  /** The client store's phase and progress of an export, or null when it knows nothing of it. */
  clientSnapshot(exportId: string): { phase: string; progress: number; seq: number } | null;
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
