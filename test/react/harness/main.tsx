/**
 * The hooks' test page: components using each hook, mounted by the test through
 * `window.harness` (see harness.ts), with a record of every render.
 */
import { StrictMode, useCallback, useMemo, useSyncExternalStore, type ReactElement } from 'react';
import { flushSync } from 'react-dom';
import { createRoot, type Root } from 'react-dom/client';
import { Observable } from 'rxjs';
import { createClient, TaskStore, type ExportQuery, type ExportTask, type ExportTaskSnapshot, type FeatureCollection } from '../../../src/index.js';
import { shallowEqual, useExportTask, useExports, useStartExport, useTaskActor, useTaskStore, type ObservableTask } from '../../../src/react/index.js';
import type { ActorRecord, ExportsRecord, Harness, RenderRecord, StartRecord } from './harness.js';

const store = new TaskStore();
const client = createClient({ url: location.origin });
const renders: RenderRecord[] = [];
const starts: StartRecord[] = [];
const callbacks: string[] = [];
const actorRenders: ActorRecord[] = [];
const exportsRenders: ExportsRecord[] = [];
let open = 0;
let root: Root | undefined;
let lastStart: Promise<ExportTask | undefined> | undefined;
let lastStartAsync: Promise<{ exportId: string } | { rejected: string }> | undefined;
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
  const { start, startAsync, status, isIdle, isPending, isSuccess, isError, task, snapshot, error } = useStartExport(collection, {
    cancelOnUnmount,
    onSuccess: (started) => callbacks.push(`onSuccess ${started.exportId}`),
    onError: (failure) => callbacks.push(`onError ${failure.name}`),
    onSettled: (started, failure) => callbacks.push(`onSettled ${started?.exportId ?? '-'} ${failure?.name ?? 'null'}`),
  });
  const flags = `${isIdle ? 'I' : ''}${isPending ? 'P' : ''}${isSuccess ? 'S' : ''}${isError ? 'E' : ''}`;
  starts.push({ status, flags, error: error === null ? null : `${error.name}: ${error.message}`, exportId: task?.exportId ?? null, phase: snapshot?.phase ?? null });
  return (
    <>
      <button
        id="start"
        type="button"
        onClick={() => {
          lastStart = new Promise((resolve) => start(exportKey, { query }, { onSettled: (started) => resolve(started) }));
        }}
      >
        Start
      </button>
      <button
        id="start-async"
        type="button"
        onClick={() => {
          lastStartAsync = startAsync(exportKey, { query }).then(
            (started) => ({ exportId: started.exportId }),
            (failure: Error) => ({ rejected: `${failure.name}: ${failure.message}` }),
          );
        }}
      >
        Start (async)
      </button>
    </>
  );
}

let actorCalls = 0;
let lastActor: ReturnType<ExportTask['actor']> | undefined;
const actorIds = new Map<unknown, number>();

function ActorView({ task }: { task: Pick<ExportTask, 'actor'> }): ReactElement {
  const actor = useTaskActor(task);
  lastActor = actor;
  if (!actorIds.has(actor)) actorIds.set(actor, actorIds.size);
  const subscribe = useCallback(
    (onChange: () => void) => {
      const subscription = actor.subscribe(onChange);
      return () => subscription.unsubscribe();
    },
    [actor],
  );
  const value = useSyncExternalStore(subscribe, () => actor.getSnapshot().value);
  actorRenders.push({ actor: actorIds.get(actor)!, value });
  return <p>{value}</p>;
}

function ExportsView({ collection }: { collection: FeatureCollection }): ReactElement {
  const { status, data, inFlight } = useExports(collection, { store: client.store });
  exportsRenders.push({ status, ids: data === undefined ? null : data.map((t) => t.exportId), inFlight: inFlight.map((t) => t.exportId) });
  return <p>{status}</p>;
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

function clickedAsync(): Promise<{ exportId: string } | { rejected: string }> {
  lastStartAsync = undefined;
  document.querySelector<HTMLButtonElement>('#start-async')!.click();
  const started = lastStartAsync as Promise<{ exportId: string } | { rejected: string }> | undefined;
  if (started === undefined) throw new Error('The startAsync button did not call startAsync()');
  return started;
}

const harness: Harness = {
  store,
  renders,
  starts,
  callbacks,
  actorRenders,
  exportsRenders,
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
  clickStartAsync: () => clickedAsync(),
  async clickStartThenUnmount() {
    const started = clickedAsync();
    unmount();
    const outcome = await started;
    return 'exportId' in outcome ? outcome.exportId : null;
  },
  async mountActor(productId, strict) {
    const task = await client.featureCollection(productId).export(`exports/${productId}-actor-${Date.now()}.ndjson`);
    actorCalls = 0;
    lastActor = undefined;
    actorIds.clear();
    // The task as useTaskActor sees it, counting the actors it is asked for.
    const counting = {
      actor: () => {
        actorCalls++;
        return task.actor();
      },
    };
    mount(<ActorView task={counting} />, strict);
    return task.exportId;
  },
  actorStats: () => ({ created: actorCalls, status: lastActor?.getSnapshot().status ?? null }),
  mountExports(productId) {
    mount(<ExportsView collection={client.featureCollection(productId)} />);
  },
  async followExport(productId, key) {
    const task = await client.featureCollection(productId).export(key);
    started.set(task.exportId, task);
    task.state$.subscribe();
    return task.exportId;
  },
  async startExport(productId, key, query) {
    const task = await client.featureCollection(productId).export(key, { query: query as ExportQuery });
    started.set(task.exportId, task);
    return task.exportId;
  },
  cancel: (exportId) => started.get(exportId)!.cancel(),
  clientSnapshot(exportId) {
    const snapshot = client.store.get(exportId);
    return snapshot === undefined ? null : { phase: snapshot.phase, progress: snapshot.progress, seq: snapshot.seq };
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
