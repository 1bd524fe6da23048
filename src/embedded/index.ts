/**
 * export-task/embedded: the embedded export service, in this process (Node only: its jobs run in
 * worker threads, its files are on disk). `createClient()` with no URL runs it in Node already;
 * import it from here to share one service between clients, or to use it as a backend of its own.
 *
 * The main entry `export-task` holds nothing of it in a browser bundle; its options type,
 * `EmbeddedBackendOptions`, is exported there.
 *
 * @packageDocumentation
 */

export { createEmbeddedBackend } from '../server/embedded/create-embedded-backend.js';
