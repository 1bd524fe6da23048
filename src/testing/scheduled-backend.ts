import type { Scheduler } from 'fast-check';
import { Observable, type Subscription } from 'rxjs';
import type { BackendEvent, EventsOptions } from '../client/backend.js';
import { describeValue } from '../core/errors.js';
import type { TaskEvent } from '../core/events.js';
import { checkOptionBag } from '../internal/options.js';
import type { Clock } from '../core/clock.js';
import { ManualClock } from './manual-clock.js';
import { createBackend, DELIVERY_FAULTS, isFaultList, type DeliveryFault, type TestBackend } from './test-backend.js';

/**
 * Options of {@link createScheduledBackend}.
 *
 * @example
 * ```ts
 * createScheduledBackend(s, { reorder: false, scheduleRequests: ['status'] });
 * ```
 */
export interface ScheduledBackendOptions {
  /**
   * Whether the events of one stream may arrive in any order (each delivery is a task of its
   * own for the scheduler) rather than in the order they were sent (still interleaved with
   * everything else).
   * @defaultValue true
   */
  readonly reorder?: boolean | undefined;
  /**
   * The requests whose answers the scheduler holds back, so that they race with the events.
   * @defaultValue ['startExport', 'status', 'cancel', 'listExports']
   */
  readonly scheduleRequests?: readonly ScheduledRequest[] | undefined;
  /**
   * What the stream does to each delivery, in the order the scheduler releases them, as
   * `createTestBackend({ faults })` does: `'duplicate'` delivers it twice, `'drop'` loses it and
   * runs the stream's reconnection (only the client's reconciliation brings it back), `'cut'`
   * delivers it and then runs the reconnection; `'delay'` is `'deliver'` here (the scheduler
   * already reorders). Draw the list with `deliveryFaultsArb()`.
   * @defaultValue []
   */
  readonly faults?: readonly DeliveryFault[] | undefined;
}

/**
 * A request of an {@link ScheduledBackend} whose answer can be scheduled.
 *
 * @example
 * ```ts
 * const backend = createScheduledBackend(s, { scheduleRequests: ['status', 'cancel'] satisfies ScheduledRequest[] });
 * ```
 */
export type ScheduledRequest = 'createProduct' | 'addFeatures' | 'startExport' | 'status' | 'cancel' | 'listExports' | 'readFile';

const ALL_REQUESTS: readonly ScheduledRequest[] = ['createProduct', 'addFeatures', 'startExport', 'status', 'cancel', 'listExports', 'readFile'];
const DEFAULT_REQUESTS: readonly ScheduledRequest[] = ['startExport', 'status', 'cancel', 'listExports'];

/**
 * Options of {@link ScheduledBackend.reconnect}.
 *
 * @example
 * ```ts
 * const backend = createScheduledBackend(s);
 * backend.disconnect('roads');
 * backend.emit(task.exportId, { type: 'started' }); // sent while cut
 * backend.reconnect('roads', { resume: false } satisfies ReconnectOptions); // lost: the client's status request must make it good
 * ```
 */
export interface ReconnectOptions {
  /**
   * `true`: the stream resumes after the last event it delivered in order, so the events sent
   * while it was cut arrive then (as a resumable SSE stream does); `false`: they are lost, and
   * only the client's reconciliation (its `onReconnect` status request) makes them good.
   * @defaultValue true
   */
  readonly resume?: boolean | undefined;
}

/**
 * A {@link TestBackend} whose deliveries are decided by a fast-check scheduler: every event
 * pushed to a stream and every answer to a request (by default those that race with events)
 * waits until the scheduler releases it, in an order fast-check picks, shrinks and replays
 * from the seed.
 *
 * @example
 * ```ts
 * await fc.assert(
 *   fc.asyncProperty(fc.scheduler(), taskHistoryArb({ outcome: 'success' }), async (s, history) => {
 *     const backend: ScheduledBackend = createScheduledBackend(s);
 *     const client = createClient({ backend });
 *     const task = await (await client.createFeatureCollection('roads')).export('out/roads.ndjson');
 *     const played = backend.play(task.exportId, history);
 *     await s.waitFor(played);
 *     await s.waitFor(task.getResult({ wait: true }));
 *     expect(await task.status).toBe('SUCCESS');
 *     await client.close();
 *   }),
 * );
 * ```
 */
export interface ScheduledBackend extends TestBackend {
  /** The scheduler that releases deliveries. */
  readonly scheduler: Scheduler;
  /**
   * A clock whose time passes when the scheduler decides: give it to the client
   * (`createClient({ backend, clock: backend.clock })`) or a store, and each timer they arm
   * (a wait's timeout, say) becomes a scheduled step `time passes: <ms> ms`; released, it moves
   * the time to that timer's deadline and fires, in deadline order, every timer due by then. So
   * a timeout races with the job's events and the test's own actions, and is shrunk and replayed
   * like them. Time never goes back.
   */
  readonly clock: Clock;
  /**
   * Cuts the product's event streams: events sent from now on, and those still in flight,
   * are not delivered until {@link ScheduledBackend.reconnect}.
   */
  disconnect(productId: string): void;
  /**
   * Connects the product's cut streams again and calls each one's `onReconnect` (the client
   * then asks for the status of its pending tasks).
   */
  reconnect(productId: string, options?: ReconnectOptions): void;
  /**
   * Plays a history on an export, one event per scheduled step, so that the job's progress
   * interleaves with the test's own actions. The history's `snapshot` events are left out, and
   * so are events at a `seq` the export already has (the `queued` its start recorded);
   * the others are re-addressed to the export and get the export's next seqs.
   *
   * @returns A promise settled once every event is emitted (wait for it with `s.waitFor`).
   */
  play(exportId: string, history: readonly TaskEvent[]): Promise<void>;
}

/** One subscriber of a product's events, which a cut and a reconnection act on. */
interface Connection {
  cut: boolean;
  /** Each cut starts a new generation: deliveries of an older one still in flight are dropped. */
  generation: number;
  reconnect(resume: boolean): void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * An in-memory backend for property tests of code that uses export tasks, whose event
 * deliveries and request answers are driven by `fc.scheduler()`: races between the stream,
 * status answers and the test's own actions are explored, shrunk, and replayed from the seed.
 * Everything else is the {@link TestBackend}'s: exports start `queued` and move by `emit` or
 * {@link ScheduledBackend.play}. Its events' times come from a logical clock (from
 * 2026-01-01T00:00:00Z, one second per event), so a run replayed from its seed records exactly
 * the same events.
 *
 * A scheduled answer does not arrive until the scheduler releases it: await requests with
 * `s.waitFor(promise)`, and let everything in flight arrive with `s.waitIdle()`.
 *
 * @example
 * ```ts
 * await fc.assert(fc.asyncProperty(fc.scheduler(), taskHistoryArb({ terminal: 'always' }), async (s, history) => {
 *   const backend = createScheduledBackend(s);
 *   const client = createClient({ backend });
 *   const roads = await client.createFeatureCollection('roads');
 *   const task = await s.waitFor(roads.export('out.ndjson'));
 *   await s.waitFor(backend.play(task.tuid, history));
 *   await s.waitIdle();
 *   expect(task.ready).toBe(true);
 *   await client.close();
 * }));
 * ```
 * @param scheduler - From `fc.scheduler()`.
 * @param options - See {@link ScheduledBackendOptions}.
 * @returns A backend for `createClient({ backend })`; close the client, then the backend.
 * @throws TypeError at once when `scheduler` is not a fast-check scheduler or an option is bad.
 */
export function createScheduledBackend(scheduler: Scheduler, options?: ScheduledBackendOptions): ScheduledBackend {
  const where = 'createScheduledBackend()';
  if (typeof scheduler !== 'object' || scheduler === null || typeof (scheduler as Partial<Scheduler>).schedule !== 'function') {
    throw new TypeError(`${where}: expected a scheduler from fc.scheduler() (as in fc.asyncProperty(fc.scheduler(), async (s) => ...)), got ${describeValue(scheduler)}`);
  }
  checkOptionBag(where, options, ['reorder', 'scheduleRequests', 'faults']);
  const listed: unknown = options?.faults ?? [];
  if (!isFaultList(listed)) {
    throw new TypeError(`${where}: expected \`faults\` to be an array of ${DELIVERY_FAULTS.map((f) => `'${f}'`).join(', ')}, got ${describeValue(listed)}`);
  }
  const faults = listed;
  const reorder = options?.reorder ?? true;
  const scheduled = new Set(options?.scheduleRequests ?? DEFAULT_REQUESTS);
  for (const name of scheduled) {
    if (!ALL_REQUESTS.includes(name)) {
      throw new TypeError(`${where}: expected \`scheduleRequests\` to list some of ${ALL_REQUESTS.join(', ')}; got ${JSON.stringify(name)}`);
    }
  }
  // A logical clock: the same run records the same events, so a replayed counterexample
  // prints exactly as it did the first time.
  let time = Date.UTC(2026, 0, 1);
  const base = createBackend({ clock: () => (time += 1000) }, where, {
    // A simulated job's steps are the scheduler's to release, like every delivery.
    step: (label) => scheduler.schedule(Promise.resolve(), label),
    close: () => undefined,
  });
  const connections = new Map<string, Set<Connection>>();
  const manual = new ManualClock(Date.UTC(2026, 0, 1));
  const clock: Clock = {
    now: () => manual.now(),
    setTimeout(fire, ms) {
      const handle = manual.setTimeout(fire, ms);
      const at = manual.now() + Math.max(0, ms);
      void scheduler.schedule(Promise.resolve(), `time passes: ${ms} ms`).then(() => manual.advance(Math.max(0, at - manual.now())));
      return handle;
    },
    clearTimeout: (handle) => manual.clearTimeout(handle),
  };

  /**
   * The answer of a request, held back by the scheduler when the request is scheduled. The
   * request runs at once (it sees the backend as it is now); only its answer waits. The scheduler
   * is given a gate that resolves with nothing, so that its report names the request in a line
   * instead of printing the whole answer.
   */
  const answer = <T>(name: ScheduledRequest, label: string, request: () => Promise<T>): Promise<T> => {
    if (!scheduled.has(name)) return request();
    const result = request();
    result.catch(() => undefined); // rejections are seen by the caller, after the gate
    return scheduler.schedule(Promise.resolve(), `${name}(${label})`).then(() => result);
  };

  const events = (productId: string, eventsOptions?: EventsOptions): Observable<BackendEvent> =>
    new Observable<BackendEvent>((subscriber) => {
      const delivered = new Set<number>();
      // The cursor up to which every event was delivered: where a resumed stream starts.
      let contiguous = eventsOptions?.after === undefined ? 0 : Number(eventsOptions.after);
      let latest = contiguous;
      let inner: Subscription | undefined;
      let chain: Promise<unknown> = Promise.resolve();

      let nextFault = 0;
      const deliver = (item: BackendEvent, generation: number): void => {
        if (subscriber.closed || connection.cut || generation !== connection.generation) return;
        const cursor = Number(item.cursor);
        if (cursor <= contiguous || delivered.has(cursor)) return;
        delivered.add(cursor);
        while (delivered.delete(contiguous + 1)) contiguous++;
        const fault = faults[nextFault++] ?? 'deliver';
        if (fault !== 'drop') subscriber.next(item);
        if (fault === 'duplicate') subscriber.next(item);
        if (fault === 'drop' || fault === 'cut') eventsOptions?.onReconnect?.();
      };
      const label = (item: BackendEvent): string => `${item.event.type} seq ${item.event.seq} of ${item.event.export_id}`;
      const onItem = (item: BackendEvent): void => {
        latest = Math.max(latest, Number(item.cursor));
        if (connection.cut) return;
        const generation = connection.generation;
        // The scheduler releases a gate named after the event, not the event itself, so that its
        // report is one short line per delivery.
        if (reorder) {
          void scheduler.schedule(Promise.resolve(), label(item)).then(() => deliver(item, generation));
        } else {
          chain = chain.then(() => scheduler.schedule(Promise.resolve(), label(item)).then(() => deliver(item, generation)));
        }
      };
      const open = (after: number): void => {
        inner = base.events(productId, { after: String(after) }).subscribe({
          next: onItem,
          error: (error: unknown) => subscriber.error(error),
        });
      };
      const connection: Connection = {
        cut: false,
        generation: 0,
        reconnect(resume) {
          if (!connection.cut) return;
          connection.cut = false;
          inner?.unsubscribe();
          if (!resume) {
            // The lost events are skipped: only a status request will tell of them.
            contiguous = latest;
            delivered.clear();
          }
          open(contiguous);
          eventsOptions?.onReconnect?.();
        },
      };
      let set = connections.get(productId);
      if (set === undefined) connections.set(productId, (set = new Set()));
      set.add(connection);
      open(contiguous);
      return () => {
        inner?.unsubscribe();
        set.delete(connection);
        if (set.size === 0) connections.delete(productId);
      };
    });

  const backend: ScheduledBackend = {
    scheduler,
    clock,
    get requests() {
      return base.requests;
    },
    get deliver() {
      return base.deliver;
    },
    set deliver(value: boolean) {
      base.deliver = value;
    },
    get openStreams() {
      return base.openStreams;
    },
    createProduct: (productId, productOptions) => answer('createProduct', productId, () => base.createProduct(productId, productOptions)),
    addFeatures: (productId, features) => answer('addFeatures', productId, () => base.addFeatures(productId, features)),
    startExport: (productId, request, exportOptions) =>
      answer('startExport', `${productId}, ${request.key}`, () => base.startExport(productId, request, exportOptions)),
    status: (productId, exportIds) => answer('status', exportIds.join(', '), () => base.status(productId, exportIds)),
    listExports: (productId, token) => answer('listExports', productId, () => base.listExports(productId, token)),
    cancel: (productId, exportId) => answer('cancel', exportId, () => base.cancel(productId, exportId)),
    readFile: (key, readOptions) => answer('readFile', key, () => base.readFile(key, readOptions)),
    events,
    close: () => {
      connections.clear();
      return base.close();
    },
    emit: (exportId, partial) => base.emit(exportId, partial),
    onExport: (handler, exportOptions) => base.onExport(handler, exportOptions),
    get jobErrors() {
      return base.jobErrors;
    },
    get runningJobs() {
      return base.runningJobs;
    },
    putFile: (key, bytes) => base.putFile(key, bytes),
    history: (exportId) => base.history(exportId),
    disconnect(productId) {
      for (const connection of connections.get(productId) ?? []) {
        connection.cut = true;
        connection.generation++;
      }
    },
    reconnect(productId, reconnectOptions) {
      const resume = reconnectOptions?.resume ?? true;
      for (const connection of [...(connections.get(productId) ?? [])]) connection.reconnect(resume);
    },
    play(exportId, history) {
      const known = base.history(exportId).length;
      const events = history
        .filter((e) => e.type !== 'snapshot' && e.seq > known)
        .sort((a, b) => a.seq - b.seq)
        .map(({ product_id: _p, export_id: _e, seq: _s, time: _t, ...partial }): DistributiveOmit<TaskEvent, 'product_id' | 'export_id' | 'seq' | 'time'> => partial);
      const sequence = scheduler.scheduleSequence(
        events.map((partial) => ({
          label: `emit ${partial.type} on ${exportId}`,
          builder: () => {
            base.emit(exportId, partial);
            return Promise.resolve();
          },
        })),
      );
      return sequence.task.then(() => undefined);
    },
  };
  return backend;
}
