/**
 * The hooks' test page: components using each hook, mounted by the test through
 * `window.harness` (see harness.ts), with a record of every render.
 */
import { StrictMode, useMemo, type ReactElement } from 'react';
import { flushSync } from 'react-dom';
import { createRoot, type Root } from 'react-dom/client';
import { Observable } from 'rxjs';
import { createClient, TaskStore, type ExportQuery, type ExportTask, type ExportTaskSnapshot, type FeatureCollection } from '../../../src/index.js';
import { shallowEqual, useExportTask, useStartExport, useTaskStore, type ObservableTask } from '../../../src/react/index.js';
import type { Harness, RenderRecord, StartRecord } from './harness.js';

const store = new TaskStore();
const client = createClient({ url: location.origin });
const renders: RenderRecord[] = [];
const starts: StartRecord[] = [];
let open = 0;
let root: Root | undefined;
let lastStart: Promise<ExportTask | undefined> | undefined;
const started = new Map<string, ExportTask>();

/** The same observable, counting its open subscriptions (to check that unmounting closes them). */
function counted<T>(source: Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    open++;
    const subscription = source.subscribe(subscriber);
    return () => {
      open--;
      subscription.unsubscribe();
    };
  });
}

/** The test store as `useTaskStore` sees it, with its change subscriptions counted. */
const countedStore = {
  changes$: counted(store.changes$),
  get: (id: string) => store.get(id),
  snapshots: () => store.snapshots(),
};

function StoreTaskView({ exportId }: { exportId: string }): ReactElement {
  const task = useMemo<ObservableTask>(
    () => ({
      get snapshot(): ExportTaskSnapshot {
        return store.get(exportId)!;
      },
      state$: counted(store.watch(exportId)),
    }),
    [exportId],
  );
  const snapshot = useExportTask(task);
  renders.push({ view: 'task', shown: String(snapshot.seq) });
  return <p>{`${snapshot.phase} ${Math.round(snapshot.progress * 100)}%`}</p>;
}

function StoreListView({ productId }: { productId: string }): ReactElement {
  const ids = useTaskStore(
    countedStore,
    (s) => [...s.snapshots()].filter((t) => t.productId === productId).map((t) => t.exportId),
    shallowEqual,
  );
  renders.push({ view: 'list', shown: JSON.stringify(ids) });
  return <ul>{ids.map((id) => <li key={id}>{id}</li>)}</ul>;
}

function StorePhaseView({ exportId }: { exportId: string }): ReactElement {
  const phase = useTaskStore(countedStore, (s) => s.get(exportId)?.phase ?? null);
  renders.push({ view: 'phase', shown: JSON.stringify(phase) });
  return <p>{phase}</p>;
}

/** A second store, for a view whose `store` prop changes. */
const secondStore = new TaskStore();
secondStore.apply({ type: 'queued', product_id: 'second', export_id: 's1', seq: 1, time: '2026-01-01T00:00:00Z' });
/** A selector that stays the same function from render to render. */
const selectSize = (s: TaskStore): number => s.size;

function SizeView({ second }: { second: boolean }): ReactElement {
  const size = useTaskStore(second ? secondStore : store, selectSize);
  renders.push({ view: 'size', shown: String(size) });
  return <p>{size}</p>;
}

function RealTaskView({ task }: { task: ExportTask }): ReactElement {
  const snapshot = useExportTask(task);
  renders.push({ view: 'real', shown: `${snapshot.seq} ${snapshot.phase}` });
  return <p>{snapshot.phase}</p>;
}

interface StartViewProps {
  readonly collection: FeatureCollection;
  readonly exportKey: string;
  readonly query: ExportQuery;
  readonly cancelOnUnmount: boolean;
}

function StartView({ collection, exportKey, query, cancelOnUnmount }: StartViewProps): ReactElement {
  const { start, task, snapshot, error, pending } = useStartExport(collection, { cancelOnUnmount });
  starts.push({ pending, error: error === undefined ? null : `${error.name}: ${error.message}`, exportId: task?.exportId ?? null, phase: snapshot?.phase ?? null });
  return (
    <button
      id="start"
      type="button"
      onClick={() => {
        lastStart = start(exportKey, { query });
      }}
    >
      Start
    </button>
  );
}

function mount(element: ReactElement, strict = false): void {
  unmount();
  const container = document.createElement('div');
  document.body.append(container);
  const created = createRoot(container);
  root = created;
  flushSync(() => created.render(strict ? <StrictMode>{element}</StrictMode> : element));
}

function unmount(): void {
  root?.unmount();
  root = undefined;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function clicked(): Promise<ExportTask | undefined> {
  lastStart = undefined;
  document.querySelector<HTMLButtonElement>('#start')!.click();
  const started = lastStart as Promise<ExportTask | undefined> | undefined;
  if (started === undefined) throw new Error('The start button did not call start()');
  return started;
}

const harness: Harness = {
  store,
  renders,
  starts,
  async settle() {
    await macrotask();
    await macrotask();
  },
  openSubscriptions: () => open,
  mountStoreTask(exportId, strict) {
    store.track('roads', exportId);
    mount(<StoreTaskView exportId={exportId} />, strict);
  },
  showSize(second) {
    if (root === undefined) mount(<SizeView second={second} />);
    else flushSync(() => root!.render(<SizeView second={second} />));
  },
  mountStoreList(productId, exportId) {
    mount(
      <>
        <StoreListView productId={productId} />
        <StorePhaseView exportId={exportId} />
      </>,
    );
  },
  async createProduct(productId, n) {
    const collection = await client.createFeatureCollection(productId, { title: productId });
    await collection.add(
      Array.from({ length: n }, (_, i) => ({
        type: 'Feature' as const,
        id: i,
        geometry: { type: 'Point' as const, coordinates: [(i % 360) - 180, ((i * 7) % 180) - 90] },
        properties: { n: i, name: `feature ${i}` },
      })),
    );
  },
  async mountRealTask(productId, query) {
    const task = await client.featureCollection(productId).export(`exports/${productId}-${Date.now()}.ndjson`, { query: query as ExportQuery });
    mount(<RealTaskView task={task} />);
    return task.exportId;
  },
  observedPending: (productId) => client.store.observedPending(productId),
  mountStart(productId, exportKey, query, cancelOnUnmount) {
    mount(
      <StartView collection={client.featureCollection(productId)} exportKey={exportKey} query={query as ExportQuery} cancelOnUnmount={cancelOnUnmount} />,
    );
  },
  async clickStart() {
    const task = await clicked();
    return task?.exportId ?? null;
  },
  async clickStartThenUnmount() {
    const started = clicked();
    unmount();
    const task = await started;
    return task?.exportId ?? null;
  },
  async startExport(productId, key, query) {
    const task = await client.featureCollection(productId).export(key, { query: query as ExportQuery });
    started.set(task.exportId, task);
    return task.exportId;
  },
  cancel: (exportId) => started.get(exportId)!.cancel(),
  clientSnapshot(exportId) {
    const snapshot = client.store.get(exportId);
    return snapshot === undefined ? null : { phase: snapshot.phase, progress: snapshot.progress };
  },
  async status(productId, exportId) {
    const [event] = await client.backend.status(productId, [exportId]);
    if (event === undefined) throw new Error(`The service does not know export ${exportId}`);
    return { phase: event.phase, failureType: event.attributes?.failure_type ?? null };
  },
  unmount,
  close: () => client.close(),
};

window.harness = harness;
