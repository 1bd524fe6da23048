import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { FastifyInstance } from 'fastify';
import type { ExportService } from './export-service.js';

/**
 * The Storage API route (under `/storage/v1`): `GET /data/get/{key}` streams the stored file.
 * The rest of the path is the key, each segment URL-decoded (the router decodes it); the
 * engine refuses unsafe keys (`..` or empty segments, absolute paths, backslashes, NUL) with
 * 400 before touching the disk. A client that goes away mid-download stops the read and
 * closes the file.
 * @internal
 */
export function registerStorageRoutes(app: FastifyInstance, engine: ExportService): void {
  app.get<{ Params: { readonly '*': string } }>('/storage/v1/data/get/*', async (request, reply) => {
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
}
