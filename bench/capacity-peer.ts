/**
 * The other side of `npm run bench:capacity` (`bench/capacity.ts`), in a process of its own so
 * that none of its CPU or memory counts as the service's. Driven over IPC, one command at a time,
 * each answered with a message of the same `cmd`:
 *
 * - `watch`: opens `count` raw SSE readers (TCP sockets, the request written by hand) on the given
 *   streams, round-robin, and answers once each has its first bytes. They count `event:` lines,
 *   `: heartbeat` comments and bytes, nothing more.
 * - `counts`: what the readers have read so far, and how many are still open.
 * - `unwatch`: closes them.
 * - `append`: starts `count` exports of a product (`cancel`: and cancels each, so that it ends
 *   without a job), `concurrency` requests at a time; answers their ids.
 * - `follow`: an HTTP client of the package (`createClient`) follows every export of a product
 *   (`followAll`), and answers its own heap (before the client and after) and CPU.
 * - `settle`: waits until the client's store holds `count` tasks, all of them final when `final`,
 *   then answers its CPU, its heap (after two GCs) and its CPU after those GCs.
 * - `exit`.
 * @packageDocumentation
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createClient, type ExportClient } from '../src/index.node.js';

export interface WatchCommand {
  readonly cmd: 'watch';
  /** `host:port` and path of each stream to open, used round-robin. */
  readonly streams: readonly { readonly port: number; readonly path: string }[];
  readonly count: number;
}

const EVENT = 'event: ';
const HEARTBEAT = ': heartbeat';

class Reader {
  readonly socket: Socket;
  events = 0;
  heartbeats = 0;
  bytes = 0;
  open = true;
  #tail = '';
  #first: (() => void) | undefined;
  #gotBytes = false;

  constructor(port: number, path: string) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.setEncoding('latin1');
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    this.socket.on('data', (chunk: string) => {
      this.bytes += chunk.length;
      // A frame may be cut anywhere: the end of a chunk, shorter than the longer mark, is kept for the next.
      const text = this.#tail + chunk;
      for (let i = text.indexOf(EVENT); i !== -1; i = text.indexOf(EVENT, i + EVENT.length)) this.events++;
      for (let i = text.indexOf(HEARTBEAT); i !== -1; i = text.indexOf(HEARTBEAT, i + HEARTBEAT.length)) this.heartbeats++;
      this.#tail = text.slice(-(HEARTBEAT.length - 1));
      if (!this.#gotBytes) {
        this.#gotBytes = true;
        this.#first?.();
      }
    });
    this.socket.on('close', () => (this.open = false));
    this.socket.on('error', () => undefined);
  }

  /** Resolves once the stream has sent its first bytes, rejects if it closes first. */
  ready(): Promise<void> {
    if (this.#gotBytes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#first = resolve;
      this.socket.once('close', () => reject(new Error('An event stream closed before its first bytes')));
    });
  }
}

let readers: Reader[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
let client: ExportClient | undefined;
const gc = (globalThis as { gc?: () => void }).gc;

function post(port: number, path: string, body: unknown): Promise<string> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => (res.statusCode! < 300 ? resolve(text) : reject(new Error(`POST ${path}: ${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => (res.statusCode! < 300 ? resolve(text) : reject(new Error(`GET ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

function heap(): number {
  if (gc === undefined) throw new Error('the capacity peer measures heap: fork it with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Message = { readonly cmd: string } & Record<string, unknown>;

async function handle(message: Message): Promise<Record<string, unknown>> {
  switch (message.cmd) {
    case 'watch': {
      const { streams, count } = message as unknown as WatchCommand;
      const opened: Reader[] = [];
      // Opened in batches, so that the listen backlog of the server is not the test.
      for (let i = 0; i < count; i += 200) {
        const batch = Array.from({ length: Math.min(200, count - i) }, (_, j) => {
          const stream = streams[(i + j) % streams.length]!;
          return new Reader(stream.port, stream.path);
        });
        opened.push(...batch);
        await Promise.all(batch.map((r) => r.ready()));
      }
      readers.push(...opened);
      return { open: readers.length };
    }
    case 'counts':
      return {
        events: readers.reduce((s, r) => s + r.events, 0),
        heartbeats: readers.reduce((s, r) => s + r.heartbeats, 0),
        bytes: readers.reduce((s, r) => s + r.bytes, 0),
        open: readers.filter((r) => r.open).length,
      };
    case 'unwatch':
      await Promise.all(
        readers
          .filter((r) => r.open)
          .map(
            (r) =>
              new Promise<void>((resolve) => {
                r.socket.once('close', () => resolve());
                r.socket.destroy();
              }),
          ),
      );
      readers = [];
      return {};
    case 'append': {
      const { port, productId, count, concurrency, cancel, wait } = message as unknown as {
        port: number;
        productId: string;
        count: number;
        concurrency: number;
        cancel: boolean;
        wait: boolean;
      };
      const base = `/vector/v2/products/${productId}/search/export`;
      const ids: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < count) {
            const i = next++;
            const { export_id: id } = JSON.parse(await post(port, base, { key: `capacity/${productId}/${i}.ndjson`, query: {} })) as { export_id: string };
            ids.push(id);
            if (cancel) await post(port, `${base}/${id}/cancel`, {});
          }
        }),
      );
      // Until none of the product's exports is in flight (one request every 200 ms), within a minute.
      const end = Date.now() + 60_000;
      while (wait && (JSON.parse(await get(port, `${base}/status?in_flight=true`)) as { data: unknown[] }).data.length > 0) {
        if (Date.now() > end) throw new Error(`Exports of ${productId} were still in flight after 60 s`);
        await sleep(200);
      }
      return { ids };
    }
    case 'cancel': {
      const { port, productId, ids, concurrency } = message as unknown as { port: number; productId: string; ids: string[]; concurrency: number };
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < ids.length) await post(port, `/vector/v2/products/${productId}/search/export/${ids[next++]!}/cancel`, {});
        }),
      );
      return {};
    }
    case 'follow': {
      const { url, productId } = message as unknown as { url: string; productId: string };
      const heapBefore = heap();
      client = createClient({ url });
      await client.featureCollection(productId).followAll();
      // The client, its product stream open, with no task yet.
      return { heapBefore, heap: heap(), cpuUs: cpuUs() };
    }
    case 'settle': {
      const { count, final, timeoutMs } = message as unknown as { count: number; final: boolean; timeoutMs: number };
      const store = client!.store;
      const end = Date.now() + timeoutMs;
      const done = (): boolean => store.size >= count && (!final || [...store.snapshots()].every((s) => s.phase === 'success' || s.phase === 'failure'));
      while (!done()) {
        if (Date.now() > end) throw new Error(`The client's store held ${store.size} tasks of ${count} (final: ${final}) after ${timeoutMs} ms`);
        await sleep(5);
      }
      const cpu = cpuUs();
      // The CPU of the GCs that measure the heap is the measure's, not the client's: cpuAfterUs is where the next window starts.
      return { cpuUs: cpu, heap: heap(), cpuAfterUs: cpuUs(), size: store.size };
    }
    case 'cpu':
      return { cpuUs: cpuUs() };
    case 'exit':
      await client?.close();
      agent.destroy();
      for (const r of readers) r.socket.destroy();
      process.disconnect();
      return {};
    default:
      throw new Error(`Unknown command ${message.cmd}`);
  }
}

process.on('message', (message: Message) => {
  handle(message).then(
    (answer) => {
      if (message.cmd !== 'exit') process.send!({ ...answer, cmd: message.cmd, id: message['id'] });
    },
    (error: unknown) => {
      console.error(`capacity peer, ${message.cmd}:`, error);
      process.send!({ cmd: message.cmd, id: message['id'], error: error instanceof Error ? error.message : String(error) });
    },
  );
});
