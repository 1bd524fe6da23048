import { defer, from, switchMap } from 'rxjs';
import type { Observable } from 'rxjs';
import type { BackendEvent, ExportBackend, ExportPage, ExportRequest, ProductInfo } from '../../client/backend.js';
import type { EmbeddedBackendOptions } from '../../client/embedded-options.js';
import type { Feature } from '../../client/geojson.js';
import type { SnapshotEvent } from '../../core/events.js';
import { describeValue } from '../../core/errors.js';
import { checkOptionBag, checkCount } from '../../internal/options.js';
import { checkMemoryMb, checkTimeoutMs } from './check-limits.js';
import type { EmbeddedEngine, EngineOptions } from './engine.js';

export type { EmbeddedBackendOptions } from '../../client/embedded-options.js';

const OPTION_KEYS = ['dataDir', 'jobTimeoutMs', 'jobMemoryMb', 'concurrency', 'pageSize'];

/**
 * Creates the embedded export service: products, export jobs and storage in this process.
 * Each export runs in its own worker thread, so its time and memory limits are its own and a
 * failure is real (an exception, a timeout, running out of memory).
 *
 * Nothing is loaded or created until the first call: the Node implementation is imported
 * then, so a browser app importing the package pulls in no Node module (calling the service
 * in a browser rejects).
 *
 * @example
 * ```ts
 * const backend = createEmbeddedBackend({ jobTimeoutMs: 60_000 });
 * await backend.createProduct('roads', { title: 'Roads' });
 * await backend.addFeatures('roads', features);
 * const { exportId } = await backend.startExport('roads', { key: 'exports/roads.ndjson', query: {} });
 * backend.events('roads').subscribe(({ event }) => console.log(event.type));
 * // ...
 * await backend.close();
 * ```
 * @param options - See {@link EmbeddedBackendOptions}.
 * @returns The service, as an {@link ExportBackend}. Call `close()` when done with it: it
 * terminates running jobs and drops queued ones (their exports get no further event, and their
 * temporary files are removed), completes open `events()` streams, and removes the temporary
 * data directory; every method rejects afterwards. Exports live in memory: a service reopened
 * on the same `dataDir` has its products and stored files, not its export history.
 * @throws TypeError at once for an unknown option or a bad value, saying what was expected.
 */
export function createEmbeddedBackend(options: EmbeddedBackendOptions = {}): ExportBackend {
  return new EmbeddedBackend(checkOptions(options));
}

/** Loads the engine on first use and forwards to it. */
class EmbeddedBackend implements ExportBackend {
  readonly #options: EngineOptions;
  #engine: Promise<EmbeddedEngine> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: EngineOptions) {
    this.#options = options;
  }

  async createProduct(productId: string, options: { readonly title?: string | undefined }): Promise<ProductInfo> {
    return (await this.#load()).createProduct(productId, options);
  }

  async addFeatures(productId: string, features: readonly Feature[]): Promise<{ readonly added: number }> {
    return (await this.#load()).addFeatures(productId, features);
  }

  async startExport(
    productId: string,
    request: ExportRequest,
    options?: { readonly idempotencyKey?: string | undefined },
  ): Promise<{ readonly exportId: string }> {
    return (await this.#load()).startExport(productId, request, options);
  }

  async status(productId: string, exportIds: readonly string[]): Promise<SnapshotEvent[]> {
    return (await this.#load()).status(productId, exportIds);
  }

  async listExports(productId: string, continuationToken?: string | null): Promise<ExportPage> {
    return (await this.#load()).listExports(productId, continuationToken);
  }

  async cancel(productId: string, exportId: string): Promise<void> {
    return (await this.#load()).cancel(productId, exportId);
  }

  events(productId: string, options?: { readonly after?: string | undefined }): Observable<BackendEvent> {
    return defer(() => from(this.#load())).pipe(switchMap((engine) => engine.events(productId, options)));
  }

  async readFile(key: string, options?: { readonly signal?: AbortSignal | undefined }): Promise<ReadableStream<Uint8Array>> {
    return (await this.#load()).readFile(key, options);
  }

  close(): Promise<void> {
    // A service never used has nothing to close: no engine, no directory.
    this.#closing ??= this.#engine === undefined ? Promise.resolve() : this.#engine.then((engine) => engine.close(), () => undefined);
    return this.#closing;
  }

  #load(): Promise<EmbeddedEngine> {
    if (this.#closing !== undefined) {
      return Promise.reject(new Error('This embedded export service is closed: create another one with createEmbeddedBackend()'));
    }
    const options = this.#options;
    this.#engine ??= import('./engine.js').then((engine) => engine.startEngine(options));
    return this.#engine;
  }
}

function checkOptions(options: unknown): EngineOptions {
  checkOptionBag('createEmbeddedBackend()', options, OPTION_KEYS, true);
  const o = options as Record<string, unknown>;
  const dataDir = o['dataDir'];
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir === '' || dataDir.includes('\0'))) {
    throw new TypeError(`Expected \`dataDir\` to be a directory path, got ${describeValue(dataDir)}: leave it out for a temporary directory`);
  }
  return {
    dataDir,
    jobTimeoutMs: checkTimeoutMs(o['jobTimeoutMs'], 'jobTimeoutMs'),
    jobMemoryMb: checkMemoryMb(o['jobMemoryMb'], 'jobMemoryMb'),
    concurrency: checkCount('createEmbeddedBackend()', 'concurrency', o['concurrency'], 'jobs'),
    pageSize: checkCount('createEmbeddedBackend()', 'pageSize', o['pageSize'], 'exports') ?? 100,
  };
}

