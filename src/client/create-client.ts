import type { InspectionEvent } from 'xstate';
import { TaskStore } from '../core/task-store.js';
import { checkNonEmptyString, checkOptionBag, checkPositiveMilliseconds } from '../internal/options.js';
import type { ExportBackend } from './backend.js';
import { ClientRuntime } from './client-runtime.js';
import { FeatureCollection } from './feature-collection.js';
import { createEmbeddedBackend, type EmbeddedBackendOptions } from '../server/embedded/create-embedded-backend.js';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Options of the embedded service, used when no other backend is given. */
  readonly embedded?: EmbeddedBackendOptions | undefined;
  /** A backend of your own (for example one made by `createEmbeddedBackend()` and shared by several clients). */
  readonly backend?: ExportBackend | undefined;
  /**
   * How long the attribute promises (`status`, `runtime`, ...) and `getResult({ wait: true })`
   * wait by default, in ms; they reject with `TimeoutError` past it.
   * @defaultValue undefined (no limit, as the DL client)
   */
  readonly waitTimeout?: number | undefined;
  /** Receives XState inspection events of the tasks' actors (see `ExportTask.actor()`). */
  readonly inspect?: ((event: InspectionEvent) => void) | undefined;
  /** The store tasks fold into (a new one by default). */
  readonly store?: TaskStore | undefined;
}

/** A client of the export service: creates and opens feature collections, and owns their tasks. */
export interface ExportClient extends AsyncDisposable {
  /** The store every task of this client folds into. */
  readonly store: TaskStore;
  /** The backend the client talks to. */
  readonly backend: ExportBackend;
  /** Creates a new, empty product. */
  createFeatureCollection(id: string, options?: { readonly title?: string | undefined }): Promise<FeatureCollection>;
  /** An existing product (no request). */
  featureCollection(id: string): FeatureCollection;
  /** Stops every subscription, timer and job the client started. */
  close(): Promise<void>;
}

const CLIENT_OPTIONS = ['embedded', 'backend', 'waitTimeout', 'inspect', 'store'] as const;

/**
 * Creates a client. With no backend, it runs the embedded export service in-process (its jobs
 * in worker threads, its files in a temporary directory unless `embedded.dataDir` is given).
 *
 * @example
 * ```ts
 * const client = createClient();
 * const roads = await client.createFeatureCollection('roads', { title: 'Roads' });
 * await roads.add(features);
 * const task = await roads.export('exports/roads.ndjson');
 * await task.getResult({ wait: true, timeout: 60_000 });
 * await client.close();
 * ```
 * @throws TypeError at once for an unknown option or a bad value.
 */
export function createClient(options?: ClientOptions): ExportClient {
  const where = 'createClient()';
  checkOptionBag(where, options, CLIENT_OPTIONS);
  const waitTimeout = checkPositiveMilliseconds(where, 'waitTimeout', options?.waitTimeout);
  if (options?.backend !== undefined && options.embedded !== undefined) {
    throw new TypeError(`${where}: \`embedded\` configures the embedded service; it cannot be combined with \`backend\``);
  }
  if (options?.inspect !== undefined && typeof options.inspect !== 'function') {
    throw new TypeError(`${where}: expected \`inspect\` to be a function receiving XState inspection events`);
  }
  if (options?.store !== undefined && !(options.store instanceof TaskStore)) {
    throw new TypeError(`${where}: expected \`store\` to be a TaskStore`);
  }
  const backend = options?.backend ?? createEmbeddedBackend(options?.embedded);
  const runtime = new ClientRuntime(backend, options?.store ?? new TaskStore(), waitTimeout, options?.inspect);
  const client: ExportClient = {
    store: runtime.store,
    backend,
    async createFeatureCollection(id, productOptions) {
      checkNonEmptyString('ExportClient.createFeatureCollection()', 'id', id);
      checkOptionBag('ExportClient.createFeatureCollection()', productOptions, ['title']);
      runtime.assertOpen();
      await backend.createProduct(id, { title: productOptions?.title });
      return new FeatureCollection(runtime, id);
    },
    featureCollection(id) {
      checkNonEmptyString('ExportClient.featureCollection()', 'id', id);
      return new FeatureCollection(runtime, id);
    },
    close: () => runtime.close(),
    [Symbol.asyncDispose]: () => runtime.close(),
  };
  return client;
}
