/**
 * export-task/server: the reference export service over HTTP (Fastify, SQLite), for Node.
 * Not imported by the package's main entry, so browser apps never pull it in.
 *
 * @packageDocumentation
 */

export { startServer } from './start-server.js';
export type { ServerOptions, ExportServer } from './start-server.js';
export type { LoggerOptions, LogLevel } from './http/logging.js';
export { startWorker } from './start-worker.js';
export { createAccessToken } from './access-tokens.js';
export type { AccessTokenOptions, AccessScope } from './access-tokens.js';
export type { CorsOptions } from './http/cors.js';
export type { WorkerOptions, ExportWorker } from './start-worker.js';
