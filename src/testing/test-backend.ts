import { Observable } from 'rxjs';
import { NotFoundError, BadRequestError, ConflictError } from '../client/http-errors.js';
import type { BackendEvent, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../client/backend.js';
import type { Feature } from '../client/geojson.js';
import type { SnapshotEvent, TaskEvent } from '../core/events.js';
import { describeValue } from '../core/errors.js';
import { parseTaskEvent } from '../core/parse-task-event.js';
import { replay } from '../core/replay.js';
import { createJob, type ExportHandler, type JobEvent, type OnExportOptions, type RunningJob } from './job-simulator.js';
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
  readonly clock?: (() => number) | undefined;
  /**
   * How the live stream mistreats the events it delivers, one fault per delivery in order (see
   * {@link DeliveryFault}); once the list runs out, events are delivered as sent. Draw one with
   * `deliveryFaultsArb()`. Each subscription to `events` plays the list from its start.
   * @defaultValue [] (every event delivered once, in order)
   */
  readonly faults?: readonly DeliveryFault[] | undefined;
}

/**
 * What the live event stream does to one delivery, for client-level hostile delivery:
 * - `'deliver'`: as sent;
 * - `'duplicate'`: delivered twice;
 * - `'delay'`: held back and delivered after the next event of the stream (a reordering; a
 *   task's terminal event is never held, so that nothing waits on an event that no later one
 *   releases);
 * - `'drop'`: lost; the stream is then cut and resumed after it (the client's `onReconnect`
 *   runs), so only the client's reconciliation (its status request) can bring it back;
 * - `'cut'`: delivered, then the stream is cut and resumed by cursor (`onReconnect` runs).
 *
 * @example
 * ```ts
 * const backend = createTestBackend({ faults: ['duplicate', 'delay', 'drop'] satisfies DeliveryFault[] });
 * ```
 */
export type DeliveryFault = 'deliver' | 'duplicate' | 'delay' | 'drop' | 'cut';

/** The faults {@link DeliveryFault} can name. @internal */
export const DELIVERY_FAULTS: readonly DeliveryFault[] = ['deliver', 'duplicate', 'delay', 'drop', 'cut'];

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
  /**
   * Appends the next event of an export (seq and time are filled in) and delivers it.
   * @throws InvalidEventError at once, naming the field, for an event `parseTaskEvent` refuses
   * (nothing is recorded).
   */
  emit(exportId: string, event: DistributiveOmit<TaskEvent, 'product_id' | 'export_id' | 'seq' | 'time'>): TaskEvent;
  /**
   * Runs every export the application starts from now on with `handler`, a simulated job (see
   * {@link SimulatedJob} and {@link scriptedJob}): it sends progress, logs and an outcome, puts a
   * real file with a matching size and SHA-256 on the backend when it succeeds, and honours or
   * ignores cancels as `options.cancel` says. Without a handler exports stay `queued` until
   * `emit`. A later call replaces the handler for exports started after it.
   * @throws TypeError at once for a handler that is not a function or an unknown option.
   */
  onExport(handler: ExportHandler, options?: OnExportOptions): void;
  /** What simulated jobs threw (each such job ended `failed` with `failure_type: "internal"`). */
  readonly jobErrors: readonly unknown[];
  /** How many simulated jobs have not ended yet (sent no end, honoured no cancel), for leak checks. */
  readonly runningJobs: number;
  /** Stores the bytes that `readFile(key)` answers. */
  putFile(key: string, bytes: Uint8Array): void;
  /** The export's history so far. */
  history(exportId: string): readonly TaskEvent[];
  /**
   * Whether live deliveries are on. `false`: events are recorded but not pushed, as when a
   * stream is cut; setting it back to `true` resumes each stream by cursor, as a reconnected
   * stream does: what was held arrives in order, then each stream's `onReconnect` runs.
   */
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
  return createBackend(options, 'createTestBackend()');
}

/** A pace for simulated jobs: one macrotask per step, cleared by `close()`. */
function macrotaskPace(): { step(label: string): Promise<void>; close(): void } {
  const pending = new Map<ReturnType<typeof setTimeout>, () => void>();
  return {
    step() {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(timer);
          resolve();
        }, 0);
        pending.set(timer, resolve);
      });
    },
    close() {
      for (const [timer, resolve] of pending) {
        clearTimeout(timer);
        resolve();
      }
      pending.clear();
    },
  };
}

/** Whether `value` is a list of {@link DeliveryFault}s. @internal */
export function isFaultList(value: unknown): value is readonly DeliveryFault[] {
  return Array.isArray(value) && value.every((f) => DELIVERY_FAULTS.includes(f as DeliveryFault));
}

/** One subscription to a product's events, with its own cursor and place in the fault list. */
interface Stream {
  pump(): void;
  reconnected(): void;
}

/** The test backend, with the pace of its simulated jobs given (the scheduled backend's differs). @internal */
export function createBackend(
  options: TestBackendOptions | undefined,
  where: string,
  pace: { step(label: string): Promise<void>; close(): void } = macrotaskPace(),
): TestBackend {
  checkOptionBag(where, options, ['clock', 'faults']);
  const clock = options?.clock ?? Date.now;
  if (typeof clock !== 'function') {
    throw new TypeError(`${where}: expected \`clock\` to be a function answering milliseconds since the epoch, got ${describeValue(clock)}`);
  }
  const listed: unknown = options?.faults ?? [];
  if (!isFaultList(listed)) {
    throw new TypeError(`${where}: expected \`faults\` to be an array of ${DELIVERY_FAULTS.map((f) => `'${f}'`).join(', ')}, got ${describeValue(listed)}`);
  }
  const faults = listed;
  const products = new Map<string, { title: string; features: Feature[] }>();
  const exports = new Map<string, TestExport>();
  const files = new Map<string, Uint8Array>();
  const streams = new Map<string, Set<Stream>>();
  const logs = new Map<string, BackendEvent[]>();
  const jobs = new Map<string, RunningJob>();
  const jobErrors: unknown[] = [];
  let handler: { run: ExportHandler; cancel: 'honour' | 'ignore' } | undefined;
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
  let delivering = true;
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
    log.push({ cursor: String(log.length + 1), event });
    if (delivering) for (const stream of [...(streams.get(exp.productId) ?? [])]) stream.pump();
  };
  const snapshotOf = (exp: TestExport): SnapshotEvent => toSnapshotEvent(replay(exp.events), now());
  const guard = (): void => {
    if (closed) throw new Error('TestBackend is closed');
  };
  const emit = (exportId: string, partial: JobEvent): TaskEvent => {
    const exp = exportOf(exportId);
    // Validated as a real stream's events are, so that a wrong event fails here, in the test's
    // own stack, instead of reaching the client's errors$ and leaving a wait to time out.
    const event = parseTaskEvent({ ...partial, product_id: exp.productId, export_id: exportId, seq: exp.events.length + 1, time: now() });
    record(exp, event);
    return event;
  };
  const startJob = (exp: TestExport): void => {
    if (handler === undefined) return;
    const { run, cancel } = handler;
    const host = {
      emit: (event: JobEvent) => {
        const sent = emit(exp.exportId, event);
        // A job runs until it sends its end, whether or not its script is still going (a job
        // whose script returned early still ends on a cancel it honours).
        if (sent.type === 'succeeded' || sent.type === 'failed') jobs.delete(exp.exportId);
        return sent;
      },
      putFile: (key: string, bytes: Uint8Array) => files.set(key, bytes),
      step: (label: string) => pace.step(label),
      get closed() {
        return closed;
      },
    };
    const job = createJob(host, { productId: exp.productId, exportId: exp.exportId }, exp.request, cancel);
    jobs.set(exp.exportId, job);
    void Promise.resolve()
      .then(() => run(job))
      .catch((error: unknown) => {
        jobErrors.push(error);
        const name = error instanceof Error ? error.name : 'Error';
        job.fail('internal', { exceptionName: name, stacktrace: error instanceof Error ? (error.stack ?? String(error)) : String(error) });
      });
  };

  const backend: TestBackend = {
    requests,
    get deliver() {
      return delivering;
    },
    set deliver(value: boolean) {
      const resumed = value && !delivering;
      delivering = value;
      if (!resumed) return;
      for (const set of streams.values()) {
        for (const stream of [...set]) stream.pump();
        for (const stream of [...set]) stream.reconnected();
      }
    },
    get openStreams() {
      return openStreams;
    },
    get jobErrors() {
      return jobErrors;
    },
    get runningJobs() {
      return jobs.size;
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
        startJob(exp);
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
        if (!state.cancelRequested) emit(exportId, { type: 'cancel_requested' });
        jobs.get(exportId)?.cancelRequested();
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
        let cursor = options?.after === undefined ? 0 : Number(options.after);
        let nextFault = 0;
        let held: BackendEvent | undefined;
        let pumping = false;
        let reconnect = false;
        const isTerminal = (item: BackendEvent): boolean => item.event.type === 'succeeded' || item.event.type === 'failed';
        const stream: Stream = {
          pump() {
            // A delivery that makes the client apply an event may make it emit another: the
            // outer pump delivers it, in order.
            if (pumping || subscriber.closed) return;
            pumping = true;
            try {
              const log = logs.get(productId) ?? [];
              while (cursor < log.length && !subscriber.closed) {
                const item = log[cursor]!;
                cursor++;
                const fault = faults[nextFault++] ?? 'deliver';
                if (fault === 'drop') {
                  reconnect = true;
                  continue;
                }
                if (fault === 'delay' && held === undefined && !isTerminal(item)) {
                  held = item;
                  continue;
                }
                subscriber.next(item);
                if (fault === 'duplicate') subscriber.next(item);
                if (held !== undefined && held !== item) {
                  const late = held;
                  held = undefined;
                  subscriber.next(late);
                }
                if (fault === 'cut') reconnect = true;
              }
            } finally {
              pumping = false;
            }
            if (reconnect && !subscriber.closed) {
              reconnect = false;
              if (held !== undefined) {
                // A cut releases what the stream held, as the resumed stream would send it.
                const late = held;
                held = undefined;
                subscriber.next(late);
              }
              options?.onReconnect?.();
            }
          },
          reconnected() {
            if (!subscriber.closed) options?.onReconnect?.();
          },
        };
        let set = streams.get(productId);
        if (set === undefined) streams.set(productId, (set = new Set()));
        set.add(stream);
        openStreams++;
        if (delivering) stream.pump();
        return () => {
          openStreams--;
          set.delete(stream);
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
      streams.clear();
      pace.close();
      // A job's script waits for ever on a closed backend: it is no longer running.
      jobs.clear();
      return Promise.resolve();
    },
    emit,
    onExport(run, exportOptions) {
      if (typeof run !== 'function') {
        throw new TypeError(`onExport(): expected a function of the job (for example scriptedJob({ steps, outcome })), got ${describeValue(run)}`);
      }
      checkOptionBag('onExport()', exportOptions, ['cancel']);
      const cancel = exportOptions?.cancel ?? 'honour';
      if (cancel !== 'honour' && cancel !== 'ignore') {
        throw new TypeError(`onExport(): expected \`cancel\` to be 'honour' or 'ignore', got ${describeValue(cancel)}`);
      }
      handler = { run, cancel };
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
