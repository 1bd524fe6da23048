/**
 * The worker-thread entry that turns one feature upload's body (JSON text) into the lines to
 * append: it parses the body, checks every feature, and serialises them, off the main thread,
 * so that a large upload (a million features) does not hold up every other request. Nothing
 * is written here: the main thread appends what it gets back, or nothing when any feature is
 * bad.
 *
 * @packageDocumentation
 */
import { parentPort } from 'node:worker_threads';
import { BadRequestError } from '../../client/http-errors.js';
import { checkFeatures, featuresOfBody } from './check-feature.js';
import type { PrepareReply, PrepareRequest } from './prepare-features-protocol.js';
import { serialise } from './serialise-features.js';

/**
 * JSON.parse, refusing what Fastify's secure parser refuses: `__proto__` and
 * `constructor.prototype` keys. The check walks the value with a queue, not by recursion (nor
 * with a reviver, which recurses), so a deeply nested property is no stack overflow.
 */
function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`The request body is not valid JSON: ${(error as Error).message}`);
  }
  const queue: unknown[] = [value];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i];
    if (typeof node !== 'object' || node === null) continue;
    const constructor: unknown = Object.hasOwn(node, 'constructor') ? (node as Record<string, unknown>)['constructor'] : undefined;
    if (Object.hasOwn(node, '__proto__') || (typeof constructor === 'object' && constructor !== null && Object.hasOwn(constructor, 'prototype'))) {
      throw new BadRequestError('The request body has a "__proto__" or "constructor.prototype" key, which this service refuses: rename it');
    }
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null) queue.push(child);
    // What was checked can go: the queue holds at most the part not yet seen.
    if (i > 65_536) {
      queue.splice(0, i + 1);
      i = -1;
    }
  }
  return value;
}

function prepare(request: PrepareRequest): PrepareReply {
  try {
    const checked = checkFeatures(featuresOfBody(parseJson(Buffer.from(request.body).toString('utf8'))));
    const chunks = serialise(checked, request.countBefore);
    return { ok: true, count: checked.length, chunks };
  } catch (error) {
    if (error instanceof BadRequestError) return { ok: false, message: error.message };
    throw error;
  }
}

parentPort?.once('message', (request: PrepareRequest) => {
  const reply = prepare(request);
  // Chunks may share one ArrayBuffer (Buffer's pool): each is handed over once.
  parentPort!.postMessage(reply, reply.ok ? [...new Set(reply.chunks.map((chunk) => chunk.buffer as ArrayBuffer))] : []);
});
