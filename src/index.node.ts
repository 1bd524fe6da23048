/**
 * export-task in Node (the `node` export condition of the main entry): everything of the
 * browser-safe entry (`./index.ts`), with a `createClient` that runs the embedded service when
 * given no URL and writes `getFile(path)` targets atomically to disk, and `createEmbeddedBackend`.
 *
 * @packageDocumentation
 */
import { createClientOn, type ClientOptions, type ClientPlatform, type ExportClient } from './client/create-client.js';
import { openAtomicFile } from './client/node/atomic-file.js';
import { createEmbeddedBackend } from './server/embedded/create-embedded-backend.js';

export * from './index.js';
export { createEmbeddedBackend };

const NODE: ClientPlatform = { embedded: createEmbeddedBackend, openFile: openAtomicFile };

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
 * await task.getFile('roads.ndjson');
 * await client.close();
 * ```
 * @throws TypeError at once for an unknown option or a bad value.
 */
export function createClient(options?: ClientOptions): ExportClient {
  return createClientOn(NODE, options);
}
