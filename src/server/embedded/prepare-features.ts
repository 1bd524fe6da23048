import { BadRequestError } from '../../client/http-errors.js';
import { checkFeatures } from './check-feature.js';
import type { PrepareReply, PrepareRequest } from './prepare-features-protocol.js';
import { serialise } from './serialise-features.js';
import { spawnWorker } from './spawn-worker.js';

/** The lines an upload appends, ready to write, and how many features they hold. @internal */
export interface PreparedFeatures {
  readonly count: number;
  readonly chunks: readonly Buffer[];
}

/**
 * Parses, checks and serialises one upload's JSON body in a worker thread, so the main thread
 * stays free to answer other requests while a large upload is prepared.
 *
 * @param body - The request body: a FeatureCollection or an array of Features, as JSON.
 * @param countBefore - How many features the product has (features without an id get their rank).
 * @returns The lines to append.
 * @throws BadRequestError for a body that is not JSON, or naming the first bad feature: nothing is to be added then.
 * @internal
 */
export function prepareFeatures(body: Uint8Array, countBefore: number): Promise<PreparedFeatures> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorker('prepare-features', {});
    let reply: PrepareReply | undefined;
    let failure: Error | undefined;
    worker.once('message', (message: PrepareReply) => {
      reply = message;
    });
    worker.once('error', (error) => {
      failure = error;
    });
    worker.once('exit', (code) => {
      if (reply?.ok === true) resolve({ count: reply.count, chunks: reply.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)) });
      else if (reply?.ok === false) reject(new BadRequestError(reply.message));
      else reject(failure ?? new Error(`The feature upload's worker exited with code ${code} without an answer`));
    });
    const request: PrepareRequest = { body, countBefore };
    // The body is not needed here any more: hand its memory over rather than copy it, when it is its own.
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    worker.postMessage(request, own ? [body.buffer] : []);
  });
}

/**
 * What a store's `add()` was given, checked before its turn to write comes: an upload's JSON
 * text (checked later, off the main thread, by {@link prepareAppend}) or features as values
 * (checked now).
 * @throws BadRequestError naming the first bad feature.
 * @internal
 */
export function checkUpload(features: unknown): Uint8Array | readonly Record<string, unknown>[] {
  return features instanceof Uint8Array ? features : checkFeatures(features);
}

/**
 * The lines to append for what {@link checkUpload} passed, once the product's count is known.
 * @throws BadRequestError for a bad upload: nothing is to be added then.
 * @internal
 */
export async function prepareAppend(upload: Uint8Array | readonly Record<string, unknown>[], countBefore: number): Promise<PreparedFeatures> {
  return upload instanceof Uint8Array ? prepareFeatures(upload, countBefore) : { count: upload.length, chunks: serialise(upload, countBefore) };
}
