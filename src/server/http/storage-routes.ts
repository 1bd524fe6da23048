import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../client/http-errors.js';
import type { ExportService } from './export-service.js';
import { STORAGE_SCHEMAS as SCHEMAS } from './route-schemas/storage-schemas.js';

interface KeyParams {
  readonly '*': string;
}

/**
 * The Storage API routes (under `/storage/v1`), as DL's client calls them:
 *
 * - `GET /data/get/{key}` streams the stored file (`Storage.get_file`, `Storage.get`,
 *   `ExportTask.get_file`). The rest of the path is the key, each segment URL-decoded (the
 *   router decodes it); the engine refuses unsafe keys (`..` or empty segments, absolute paths,
 *   backslashes, NUL) with 400 before touching the disk. A client that goes away mid-download
 *   stops the read and closes the file.
 * - `HEAD /data/get/{key}` says whether a file is there, and its size, without reading it
 *   (`Storage.exists`).
 * - `GET /logs/get/{result_key}` answers a final export's log, its lines joined by "\n"
 *   (`ExportTask.log`); 404 while the export runs, and for one with no log (the client reads
 *   404 as `None`).
 * @internal
 */
export function registerStorageRoutes(app: FastifyInstance, engine: ExportService): void {
  app.get<{ Params: KeyParams }>('/storage/v1/data/get/*', { schema: SCHEMAS.getFile }, async (request, reply) => {
    const controller = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort(new Error('The client closed the connection before the file was sent'));
    });
    const file = await engine.openFile(request.params['*'], { signal: controller.signal });
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(file.size))
      .send(Readable.fromWeb(file.stream as NodeReadableStream<Uint8Array>));
  });

  app.head<{ Params: KeyParams }>('/storage/v1/data/get/*', { schema: SCHEMAS.headFile }, async (request, reply) => {
    const file = await engine.openFile(request.params['*']);
    // Opened to check it is a file inside the area, as GET does; nothing of it is read.
    await file.stream.cancel();
    return reply.header('content-type', 'application/octet-stream').header('content-length', String(file.size)).send();
  });

  app.get<{ Params: KeyParams }>('/storage/v1/logs/get/*', { schema: SCHEMAS.getLog }, async (request, reply) => {
    const key = request.params['*'];
    const parts = key.split('/');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new NotFoundError(
        `No log at ${JSON.stringify(key)}: a log's key is the \`result_key\` of a final export's attributes, \`{product_id}/{export_id}\``,
      );
    }
    const [productId, exportId] = parts as [string, string];
    const record = await engine.record(productId, exportId);
    if (!record.final) {
      throw new NotFoundError(`Export ${JSON.stringify(exportId)} is ${record.phase}: its log is served once it is final`);
    }
    const text = record.logText();
    if (text === '') throw new NotFoundError(`Export ${JSON.stringify(exportId)} wrote no log`);
    return reply.header('content-type', 'text/plain; charset=utf-8').send(text);
  });
}
