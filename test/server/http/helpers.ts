/**
 * Helpers of the HTTP server's tests: a real server on 127.0.0.1 (port 0) over a real temporary
 * data directory, plain-fetch requests, a Server-Sent Events reader written from the standard
 * (independent of the client's), and what is on disk and in SQLite, to check that a refused
 * request wrote nothing.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { TaskEvent } from '../../../src/core/events.js';
import { startServer } from '../../../src/server/index.js';
import type { ExportServer, ServerOptions } from '../../../src/server/index.js';
import { makeTempDir } from '../embedded/helpers.js';

export { gridFeatures, listTree, makeTempDir } from '../embedded/helpers.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A server over a temporary data directory, and the function that closes it and removes the directory. */
export interface TestServer {
  readonly server: ExportServer;
  readonly dataDir: string;
  readonly url: string;
  /** Closes the server (if still open) and removes the data directory. */
  readonly dispose: () => Promise<void>;
}

/** Starts a server on 127.0.0.1, port 0, over a new temporary data directory (or `options.dataDir`). */
export async function startTestServer(options: ServerOptions = {}): Promise<TestServer> {
  const temp = options.dataDir === undefined ? await makeTempDir() : undefined;
  const dataDir = options.dataDir ?? temp!.dir;
  const server = await startServer({ host: '127.0.0.1', port: 0, ...options, dataDir });
  return {
    server,
    dataDir,
    url: server.url,
    dispose: async () => {
      await server.close();
      await temp?.remove();
    },
  };
}

/** An answer: status, headers, and the body parsed as JSON (or the text when it is not JSON). */
export interface Answer<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

/** One request with plain fetch; a JSON body is sent as `application/json`, a string as it is. */
export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  options: { readonly body?: unknown; readonly headers?: Record<string, string>; readonly token?: string } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/** Expects the protocol's error shape with `status`, and answers its detail. */
export function errorDetail(answer: Answer): string {
  const body = answer.body as { errors?: { status?: unknown; title?: unknown; detail?: unknown }[] };
  const error = body.errors?.[0];
  if (
    body.errors?.length !== 1 ||
    error?.status !== String(answer.status) ||
    typeof error.title !== 'string' ||
    typeof error.detail !== 'string' ||
    !answer.headers.get('content-type')?.startsWith('application/json')
  ) {
    throw new Error(`Expected a JSON error answer with status ${answer.status}, got ${answer.text}`);
  }
  return error.detail;
}

/** Row counts of the server's database. */
export interface RowCounts {
  readonly products: number;
  readonly exports: number;
  readonly idempotency_keys: number;
  readonly events: number;
}

/** Opens the server's database read-only (while the server runs: WAL lets readers in). */
export function openDatabase(dataDir: string): Database.Database {
  return new Database(join(dataDir, 'export-task.sqlite'), { readonly: true, fileMustExist: true });
}

export function countRows(dataDir: string): RowCounts {
  const db = openDatabase(dataDir);
  try {
    const count = (table: string): number => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return { products: count('products'), exports: count('exports'), idempotency_keys: count('idempotency_keys'), events: count('events') };
  } finally {
    db.close();
  }
}

/** Every event row of a product, in log order: the full log to compare streams with. */
export function logOf(dataDir: string, productId: string): { readonly id: string; readonly event: TaskEvent }[] {
  const db = openDatabase(dataDir);
  try {
    return (db.prepare('SELECT id, body FROM events WHERE product_id = ? ORDER BY id').all(productId) as { id: number; body: string }[]).map(
      (row) => ({ id: String(row.id), event: JSON.parse(row.body) as TaskEvent }),
    );
  } finally {
    db.close();
  }
}

/** What a request could have written: the files under `products/` and `storage/` with their sizes, and the row counts. */
export async function footprint(dataDir: string): Promise<{ readonly files: string[]; readonly rows: RowCounts }> {
  const files: string[] = [];
  for (const area of ['products', 'storage']) {
    for (const entry of await readdir(join(dataDir, area), { recursive: true })) {
      const path = join(dataDir, area, entry);
      const stats = await stat(path);
      files.push(`${area}/${entry}${stats.isFile() ? ` ${stats.size}` : '/'}`);
    }
  }
  return { files: files.sort(), rows: countRows(dataDir) };
}

/** One Server-Sent Event as read off the wire. */
export interface SseMessage {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/**
 * Reads a `text/event-stream` body: messages (a blank line dispatches one with data; an `id:`
 * alone updates the last id) and comments, as the HTML standard says, lines ending in LF.
 */
export class SseReader {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  /** The id of the last message dispatched, with or without data (what an EventSource would resume from). */
  lastId: string | undefined;
  /** Set once the stream ended (cleanly or not). */
  ended = false;
  readonly done: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(body: ReadableStream<Uint8Array>) {
    this.done = this.#read(body).finally(() => {
      this.ended = true;
      this.#wake();
    });
  }

  /** The messages' data as events. */
  events(): { readonly id: string; readonly event: TaskEvent }[] {
    return this.messages.map((m) => ({ id: m.id!, event: JSON.parse(m.data) as TaskEvent }));
  }

  /** Resolves once `test` holds (checked after each message or comment), or rejects after `timeoutMs`. */
  async until(test: (reader: SseReader) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this)) {
      if (this.ended) throw new Error(`The stream ended before the condition held (${this.messages.length} messages)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out after ${timeoutMs} ms waiting on the stream (${this.messages.length} messages)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let id: string | undefined;
    let event = '';
    let data: string[] = [];
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n')) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line === '') {
            // As an EventSource does: the last event id is taken when a blank line dispatches.
            this.lastId = id;
            if (data.length > 0) this.messages.push({ id, event: event || 'message', data: data.join('\n') });
            event = '';
            data = [];
            this.#wake();
          } else if (line.startsWith(':')) {
            this.comments.push(line.slice(1).trim());
            this.#wake();
          } else {
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') data.push(value);
            else if (field === 'event') event = value;
            else if (field === 'id') id = value;
          }
        }
      }
    } catch {
      // A cut stream ends the reading; what was dispatched stays.
    }
  }
}

/** Opens the product's event stream with fetch; `close()` aborts it. */
export async function openEvents(
  base: string,
  productId: string,
  options: { readonly lastEventId?: string; readonly query?: string; readonly token?: string } = {},
): Promise<{ readonly response: Response; readonly reader: SseReader | undefined; readonly close: () => Promise<void> }> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const controller = new AbortController();
  const response = await fetch(`${base}/vector/v2/products/${encodeURIComponent(productId)}/search/export/events${options.query ?? ''}`, {
    headers,
    signal: controller.signal,
  });
  const reader = response.ok ? new SseReader(response.body!) : undefined;
  return {
    response,
    reader,
    close: async () => {
      controller.abort();
      await reader?.done;
    },
  };
}

/** Whether every export of `ids` has its final event among the reader's messages. */
export function allFinal(reader: SseReader, ids: readonly string[]): boolean {
  const finals = new Set(
    reader
      .events()
      .filter(({ event }) => event.type === 'succeeded' || event.type === 'failed')
      .map(({ event }) => event.export_id),
  );
  return ids.every((id) => finals.has(id));
}

/** Polls until `test` resolves true, or throws after `timeoutMs`. */
export async function waitFor(test: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Points just outside the corner of {@link SLOW_QUERY}'s circle: inside its bounding box, so
 * each is tested against every side of the circle, and none matches. An export of a few
 * thousand runs for seconds (long enough to be killed or cut mid-way). (They used to be long
 * names under a LIKE pattern that backtracked, until `like` became linear: issue 13.)
 */
export function slowFeatures(count: number): { type: 'Feature'; geometry: { type: 'Point'; coordinates: number[] }; properties: { name: string } }[] {
  return Array.from({ length: count }, () => ({
    type: 'Feature' as const,
    geometry: { type: 'Point' as const, coordinates: [58, 58] },
    properties: { name: 'a'.repeat(48) },
  }));
}

/** A circle of `sides` vertices around (0, 0): testing a point of its bounding box against it costs `sides` steps. */
function circle(sides: number, radius: number): { type: 'Polygon'; coordinates: number[][][] } {
  const at = (i: number): number[] =>
    [Math.cos, Math.sin].map((f) => Math.round(radius * f((2 * Math.PI * i) / sides) * 1000) / 1000);
  const ring = Array.from({ length: sides }, (_, i) => at(i));
  return { type: 'Polygon', coordinates: [[...ring, ring[0]!]] };
}

/** A query that matches none of {@link slowFeatures}, slowly. */
export const SLOW_QUERY = { geometry: circle(12_000, 60) };

/** A server in a child process (a fixture calling startServer), to be killed. */
export interface ChildServer {
  readonly child: ChildProcess;
  readonly url: string;
  /** Resolves with the exit code (or signal) once the child has exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  readonly output: () => string;
}

/** Starts `fixtures/serve.ts` in a child process with `options` and waits for its URL. */
export function startChildServer(options: ServerOptions): Promise<ChildServer> {
  const fixture = fileURLToPath(new URL('./fixtures/serve.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(options)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /^listening (\S+)$/m.exec(output);
      if (match !== null) resolve({ child, url: match[1]!, exited, output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    void exited.then((code) => reject(new Error(`The server exited (${String(code)}) before it listened:\n${output}`)));
  });
}
