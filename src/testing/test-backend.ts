import { Observable } from 'rxjs';
import { NotFoundError, BadRequestError, ConflictError } from '../client/http-errors.js';
import type { BackendEvent, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../client/backend.js';
import type { Feature } from '../client/geojson.js';
import type { SnapshotEvent, TaskEvent } from '../core/events.js';
import { describeValue } from '../core/errors.js';
import { replay } from '../core/replay.js';
import { checkOptionBag } from '../internal/options.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';

/** An export of a {@link TestBackend}: its history so far and its stored file, if any. */
interface TestExport {
  readonly productId: string;
  readonly exportId: string;
  readonly request: ExportRequest;
  readonly events: TaskEvent[];
}

/**
 * What a {@link TestBackend} was asked, per method, for assertions on requests.
 *
 * @example
 * ```ts
 * const backend = createTestBackend();
 * const client = createClient({ backend });
 * await client.featureCollection('roads').listExports();
 * expect(backend.requests.listExports).toBe(1);
 * ```
 */
export interface TestBackendRequests {
  /** Calls of `createProduct`. */
  createProduct: number;
  /** Calls of `addFeatures`. */
  addFeatures: number;
  /** Calls of `startExport`. */
  startExport: number;
  /** Calls of `status` (one per request, whatever the number of ids). */
  status: number;
  /** Calls of `listExports` (one per page). */
  listExports: number;
  /** Calls of `cancel`. */
  cancel: number;
  /** Subscriptions to `events`. */
  events: number;
  /** Calls of `readFile`. */
  readFile: number;
}

/**
 * Options of {@link createTestBackend}.
 *
 * @example
 * ```ts
 * let t = Date.UTC(2026, 0, 1);
 * const backend = createTestBackend({ clock: () => (t += 1000) }); // events one second apart, the same every run
 * ```
 */
export interface TestBackendOptions {
  /**
   * Where the `time` of the events it records comes from, in ms since the epoch: a logical
   * clock makes every run record the same events, so a counterexample prints the same twice.
   * @defaultValue Date.now
   */
  readonly clock?: () => number;
}

/**
 * A backend whose exports move only when the test says so.
 *
 * @example
 * ```ts
 * const backend: TestBackend = createTestBackend();
 * const client = createClient({ backend });
 * const roads = await client.createFeatureCollection('roads');
 * const task = await roads.export('out/roads.ndjson');
 * backend.emit(task.exportId, { type: 'started' });
 * backend.emit(task.exportId, { type: 'progress', fraction: 0.5 });
 * expect(task.snapshot.progress).toBe(0.5);
 * ```
 */
export interface TestBackend extends ExportBackend {
  /** How many calls each method received. */
  readonly requests: TestBackendRequests;
  /** Appends the next event of an export (seq and time are filled in) and delivers it. */
  emit(exportId: string, event: DistributiveOmit<TaskEvent, 'product_id' | 'export_id' | 'seq' | 'time'>): TaskEvent;
  /** Stores the bytes that `readFile(key)` answers. */
  putFile(key: string, bytes: Uint8Array): void;
  /** The export's history so far. */
  history(exportId: string): readonly TaskEvent[];
  /** Whether live deliveries are on (`false`: events are recorded but not pushed, as when a stream is cut). */
  deliver: boolean;
  /** How many event subscriptions are open (for leak checks). */
  readonly openStreams: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function toSnapshotEvent(snapshot: ExportTaskSnapshot, time: string): SnapshotEvent {
  const a = snapshot.attributes;
  return {
    type: 'snapshot',
    product_id: snapshot.productId,
    export_id: snapshot.exportId,
    seq: Math.max(1, snapshot.seq),
    time,
    phase: snapshot.phase,
    progress: snapshot.progress,
    log: snapshot.log,
    message: snapshot.message,
    cancel_requested: snapshot.cancelRequested,
    created: snapshot.created,
    attributes:
      a === null
        ? null
        : {
            created: a.created,
            status: a.status,
            failure_type: a.failureType,
            exception_name: a.exceptionName,
            stacktrace: a.stacktrace,
            peak_memory_usage: a.peakMemoryUsage,
            runtime: a.runtime,
            labels: a.labels,
            key: a.key,
            size_bytes: a.sizeBytes,
            sha256: a.sha256,
          },
  };
}

/**
 * An in-memory {@link ExportBackend} for tests of code that uses export tasks: exports start
 * `queued` and then move only by {@link TestBackend.emit}, so every path (and every race)
 * is in the test's hands. `status` and `listExports` answer truthful snapshots of what was
 * emitted; `cancel` records a `cancel_requested` event and leaves the rest to the test.
 *
 * @example
 * ```ts
 * const backend = createTestBackend();
 * const client = createClient({ backend });
 * const fc = await client.createFeatureCollection('p');
 * const task = await fc.export('out.ndjson');
 * backend.emit(task.tuid, { type: 'started' });
 * ```
 * @param options - See {@link TestBackendOptions}.
 * @throws TypeError at once for an unknown option or a `clock` that is not a function.
 */
export function createTestBackend(options?: TestBackendOptions): TestBackend {
  checkOptionBag('createTestBackend()', options, ['clock']);
  const clock = options?.clock ?? Date.now;
  if (typeof clock !== 'function') {
    throw new TypeError(`createTestBackend(): expected \`clock\` to be a function answering milliseconds since the epoch, got ${describeValue(clock)}`);
  }
  const products = new Map<string, { title: string; features: Feature[] }>();
  const exports = new Map<string, TestExport>();
  const files = new Map<string, Uint8Array>();
  const listeners = new Map<string, Set<(event: BackendEvent) => void>>();
  const logs = new Map<string, BackendEvent[]>();
  const requests: TestBackendRequests = {
    createProduct: 0,
    addFeatures: 0,
    startExport: 0,
    status: 0,
    listExports: 0,
    cancel: 0,
    events: 0,
    readFile: 0,
  };
  let nextId = 1;
  let closed = false;
  let openStreams = 0;
  const idempotency = new Map<string, string>();

  const now = (): string => new Date(clock()).toISOString();
  const product = (id: string): { title: string; features: Feature[] } => {
    const found = products.get(id);
    if (found === undefined) throw new NotFoundError(`No product ${id}`);
    return found;
  };
  const exportOf = (id: string): TestExport => {
    const found = exports.get(id);
    if (found === undefined) throw new NotFoundError(`No export ${id}`);
    return found;
  };
  const record = (exp: TestExport, event: TaskEvent): void => {
    exp.events.push(event);
    const log = logs.get(exp.productId) ?? [];
    logs.set(exp.productId, log);
    const item: BackendEvent = { cursor: String(log.length + 1), event };
    log.push(item);
    if (backend.deliver) for (const listener of [...(listeners.get(exp.productId) ?? [])]) listener(item);
  };
  const snapshotOf = (exp: TestExport): SnapshotEvent => toSnapshotEvent(replay(exp.events), now());
  const guard = (): void => {
    if (closed) throw new Error('TestBackend is closed');
  };

  const backend: TestBackend = {
    requests,
    deliver: true,
    get openStreams() {
      return openStreams;
    },
    createProduct(productId, options) {
      requests.createProduct++;
      guard();
      if (products.has(productId)) return Promise.reject(new ConflictError(`Product ${productId} exists`));
      products.set(productId, { title: options.title ?? productId, features: [] });
      return Promise.resolve<ProductInfo>({ id: productId, title: options.title ?? productId, featureCount: 0 });
    },
    addFeatures(productId, features) {
      requests.addFeatures++;
      try {
        guard();
        product(productId).features.push(...features);
        return Promise.resolve({ added: features.length });
      } catch (error) {
        return Promise.reject(error);
      }
    },
    startExport(productId, request, options) {
      requests.startExport++;
      try {
        guard();
        product(productId);
        if (request.key === '') throw new BadRequestError('Empty key');
        const known = options?.idempotencyKey === undefined ? undefined : idempotency.get(`${productId}\n${options.idempotencyKey}`);
        if (known !== undefined) return Promise.resolve({ exportId: known });
        const exportId = `export-${nextId++}`;
        if (options?.idempotencyKey !== undefined) idempotency.set(`${productId}\n${options.idempotencyKey}`, exportId);
        const exp: TestExport = { productId, exportId, request, events: [] };
        exports.set(exportId, exp);
        record(exp, { type: 'queued', product_id: productId, export_id: exportId, seq: 1, time: now() });
        return Promise.resolve({ exportId });
      } catch (error) {
        return Promise.reject(error);
      }
    },
    status(productId, exportIds) {
      requests.status++;
      try {
        guard();
        product(productId);
        return Promise.resolve(exportIds.map((id) => snapshotOf(exportOf(id))));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    listExports(productId, token) {
      requests.listExports++;
      try {
        guard();
        product(productId);
        const done = [...exports.values()]
          .filter((e) => e.productId === productId)
          .map(snapshotOf)
          .filter((s) => s.phase === 'success' || s.phase === 'failure');
        const start = token == null ? 0 : Number(token);
        const page: ExportPage = {
          data: done.slice(start, start + 2),
          continuationToken: start + 2 < done.length ? String(start + 2) : null,
        };
        return Promise.resolve(page);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    cancel(productId, exportId) {
      requests.cancel++;
      try {
        guard();
        const exp = exportOf(exportId);
        const state = replay(exp.events);
        if (state.phase === 'success' || state.phase === 'failure') return Promise.resolve();
        backend.emit(exportId, { type: 'cancel_requested' });
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    },
    events(productId, options) {
      requests.events++;
      return new Observable<BackendEvent>((subscriber) => {
        if (!products.has(productId)) {
          subscriber.error(new NotFoundError(`No product ${productId}`));
          return undefined;
        }
        const after = options?.after === undefined ? 0 : Number(options.after);
        for (const item of (logs.get(productId) ?? []).slice(after)) subscriber.next(item);
        const listener = (item: BackendEvent): void => subscriber.next(item);
        let set = listeners.get(productId);
        if (set === undefined) listeners.set(productId, (set = new Set()));
        set.add(listener);
        openStreams++;
        return () => {
          openStreams--;
          set.delete(listener);
        };
      });
    },
    readFile(key) {
      requests.readFile++;
      const bytes = files.get(key);
      if (bytes === undefined) return Promise.reject(new NotFoundError(`No file at ${key}`));
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          start(controller) {
            // Two chunks, so that a consumer sees a stream rather than one buffer.
            const half = Math.floor(bytes.length / 2);
            if (half > 0) controller.enqueue(bytes.slice(0, half));
            controller.enqueue(bytes.slice(half));
            controller.close();
          },
        }),
      );
    },
    close() {
      closed = true;
      listeners.clear();
      return Promise.resolve();
    },
    emit(exportId, partial) {
      const exp = exportOf(exportId);
      const event = {
        ...partial,
        product_id: exp.productId,
        export_id: exportId,
        seq: exp.events.length + 1,
        time: now(),
      } as TaskEvent;
      record(exp, event);
      return event;
    },
    putFile(key, bytes) {
      files.set(key, bytes);
    },
    history(exportId) {
      return exportOf(exportId).events;
    },
  };
  return backend;
}
