import { describeValue } from '../core/errors.js';
import { parseTaskEvent } from '../core/parse-task-event.js';
import { checkStorageKey } from '../internal/storage-key.js';
import { checkNonEmptyString, checkOptionBag, checkSignal } from '../internal/options.js';
import type { ExportLimits } from './backend.js';
import type { ClientRuntime } from './client-runtime.js';
import { ExportTask } from './export-task.js';
import type { ExportQuery, Feature, FeatureCollectionJson } from './geojson.js';

/**
 * Options of {@link FeatureCollection.export}.
 *
 * @example
 * ```ts
 * const task = await roads.export('exports/highways.ndjson', {
 *   query: { query_expr: { eq: { kind: 'highway' } } },
 *   limits: { timeoutMs: 60_000 },
 *   idempotencyKey: 'highways-2026-01-01',
 * } satisfies ExportOptions);
 * ```
 */
export interface ExportOptions {
  /**
   * What to export: `geometry` (features intersecting it), `query_expr` (DL's forms) and
   * `query_limit`.
   * @defaultValue `{}`: the whole product
   */
  readonly query?: ExportQuery | undefined;
  /** Limits for this export's job (the backend's defaults otherwise). */
  readonly limits?: ExportLimits | undefined;
  /**
   * Makes the request safe to retry: the same key again answers the same export instead of
   * starting another.
   */
  readonly idempotencyKey?: string | undefined;
  /** Aborts the request (rejecting with the signal's reason). An export the service had already started goes on. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Options of {@link FeatureCollection.add} and {@link FeatureCollection.listExports}.
 *
 * @example
 * ```ts
 * await roads.add(features, { signal: AbortSignal.timeout(60_000) } satisfies SignalOptions);
 * ```
 */
export interface SignalOptions {
  /** Aborts the request (rejecting with the signal's reason). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A product of the Vector service: GeoJSON features you can add to and export.
 *
 * @example
 * ```ts
 * const roads = await client.createFeatureCollection('roads', { title: 'Roads' });
 * await roads.add(features);
 * const task = await roads.export('exports/highways.ndjson', { query: { query_expr: { eq: { kind: 'highway' } } } });
 * ```
 */
export class FeatureCollection {
  /** The product id. */
  readonly id: string;
  readonly #runtime: ClientRuntime;

  /** @internal */
  constructor(runtime: ClientRuntime, id: string) {
    this.#runtime = runtime;
    this.id = id;
  }

  /**
   * Adds GeoJSON features (an array of Features or a FeatureCollection).
   * @returns How many were added.
   * @throws TypeError at once when `features` is neither; `BadRequestError` naming the first bad feature.
   */
  async add(features: readonly Feature[] | FeatureCollectionJson, options?: SignalOptions): Promise<number> {
    checkOptionBag('FeatureCollection.add()', options, ['signal']);
    const signal = checkSignal('FeatureCollection.add()', options?.signal);
    const list = Array.isArray(features)
      ? (features as readonly Feature[])
      : (features as FeatureCollectionJson | undefined)?.type === 'FeatureCollection' && Array.isArray((features as FeatureCollectionJson).features)
        ? (features as FeatureCollectionJson).features
        : undefined;
    if (list === undefined) {
      throw new TypeError(`FeatureCollection.add(): expected an array of GeoJSON Features or a FeatureCollection, got ${describeValue(features)}`);
    }
    this.#runtime.assertOpen();
    const { added } = await this.#runtime.backend.addFeatures(this.id, list, { signal });
    return added;
  }

  /**
   * Starts an export of the features the query selects to the storage `key`, as
   * newline-delimited GeoJSON, and answers its task at once (pending).
   *
   * @throws TypeError at once for an empty or unsafe key or an unknown option.
   */
  async export(key: string, options?: ExportOptions): Promise<ExportTask> {
    const where = 'FeatureCollection.export()';
    checkNonEmptyString(where, 'key', key);
    checkStorageKey(key);
    checkOptionBag(where, options, ['query', 'limits', 'idempotencyKey', 'signal']);
    const signal = checkSignal(where, options?.signal);
    checkOptionBag(`${where} limits`, options?.limits, ['timeoutMs', 'memoryMb']);
    const query = options?.query ?? {};
    if (typeof query !== 'object' || query === null || Array.isArray(query)) {
      throw new TypeError(`${where}: expected \`query\` to be an object such as { query_expr, geometry, query_limit }, got ${describeValue(query)}`);
    }
    const exportId = await this.#runtime.startExport(
      this.id,
      { key, query, ...(options?.limits === undefined ? {} : { limits: options.limits }) },
      { idempotencyKey: options?.idempotencyKey, signal },
    );
    return this.#runtime.hold(new ExportTask(this.#runtime, this.id, exportId, key));
  }

  /**
   * An existing export of the product, by id, as a task: one status request, so that its
   * snapshot is current, then tracked like the tasks `export()` answers.
   *
   * @example
   * ```ts
   * const task = await client.featureCollection('roads').getExport(exportId);
   * console.log(task.snapshot.phase, task.snapshot.progress);
   * ```
   * @param exportId - The export's id (from `export()`, `listExports()` or the service).
   * @returns The task, with its snapshot as the backend knows it now.
   * @throws TypeError at once for an empty id; `NotFoundError` when the product has no such export.
   */
  async getExport(exportId: string): Promise<ExportTask> {
    checkNonEmptyString('FeatureCollection.getExport()', 'exportId', exportId);
    this.#runtime.assertOpen();
    await this.#runtime.refresh(this.id, exportId);
    return this.#runtime.hold(new ExportTask(this.#runtime, this.id, exportId, undefined));
  }

  /**
   * Follows every export of the product from now on, whoever starts it (another client, a
   * script, the CLI), not only those this client started or asked for: for a dashboard of the
   * whole product. The exports in flight now are fetched once (the service's in-flight route),
   * and each export started later is kept from its first event, so `client.store` (and
   * `useTaskStore`, `useExports`) sees them all. A client that does not call it keeps only what
   * it asked for.
   *
   * @example
   * ```ts
   * const running = await client.featureCollection('roads').followAll();
   * client.store.changes$.subscribe((s) => console.log(s.exportId, s.phase));
   * console.log(`${running.length} in flight`);
   * ```
   * @returns The tasks in flight now.
   * @throws `HttpError` when the in-flight request fails.
   */
  async followAll(): Promise<ExportTask[]> {
    const ids = await this.#runtime.followAll(this.id);
    return ids.map((exportId) => this.#runtime.hold(new ExportTask(this.#runtime, this.id, exportId, undefined)));
  }

  /** Every completed export of the product (all pages), as final tasks. */
  async listExports(options?: SignalOptions): Promise<ExportTask[]> {
    checkOptionBag('FeatureCollection.listExports()', options, ['signal']);
    const signal = checkSignal('FeatureCollection.listExports()', options?.signal);
    this.#runtime.assertOpen();
    const tasks: ExportTask[] = [];
    let token: string | null = null;
    do {
      const page = await this.#runtime.backend.listExports(this.id, token, { signal });
      for (const snapshot of page.data) {
        const event = parseTaskEvent(snapshot);
        this.#runtime.store.applyEvent(event);
        tasks.push(this.#runtime.hold(new ExportTask(this.#runtime, this.id, event.export_id, undefined)));
      }
      token = page.continuationToken;
    } while (token !== null);
    return tasks;
  }
}
