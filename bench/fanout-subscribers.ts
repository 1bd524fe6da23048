/**
 * The other side of the fan-out bench (`bench/fanout.ts`), in its own process so that none of
 * its CPU counts as the server's: raw TCP subscribers to an event stream (the HTTP request
 * written by hand, the bytes counted, not parsed beyond finding each frame's `event:` line), and
 * the client that appends (HTTP requests over keep-alive connections).
 *
 * Driven over IPC: `{ cmd: 'open' }` opens the subscribers and answers `ready` once each has its
 * first bytes; `{ cmd: 'go' }` appends and answers `done` once every subscriber has every event;
 * `{ cmd: 'close' }` closes them and answers `closed`.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** What one run does. */
export interface FanoutRun {
  readonly cmd: 'open';
  readonly host: string;
  readonly port: number;
  /** The event stream's path. */
  readonly streamPath: string;
  readonly subscribers: number;
  /** `service`: start an export and cancel it (3 events each); a bare server: POST /append (1 event each). */
  readonly target: 'service' | 'bare' | 'bare-turn';
  readonly productId: string;
  /** Exports (service) or appends (bare). */
  readonly count: number;
  /** Requests in flight at a time. */
  readonly concurrency: number;
}

const MARK = 'event: ';

class Subscriber {
  readonly socket: Socket;
  events = 0;
  #tail = '';
  #onData: (() => void) | undefined;
  gotBytes = false;

  constructor(run: FanoutRun) {
    this.socket = connect({ host: run.host, port: run.port });
    this.socket.setEncoding('latin1');
    this.socket.write(`GET ${run.streamPath} HTTP/1.1\r\nHost: ${run.host}:${run.port}\r\nAccept: text/event-stream\r\n\r\n`);
    this.socket.on('data', (chunk: string) => {
      this.gotBytes = true;
      // Frames may be cut anywhere: keep the end of the chunk, shorter than the mark, for the next.
      const text = this.#tail + chunk;
      for (let i = text.indexOf(MARK); i !== -1; i = text.indexOf(MARK, i + MARK.length)) this.events++;
      this.#tail = text.slice(-(MARK.length - 1));
      this.#onData?.();
    });
    this.socket.on('error', () => undefined);
  }

  /** Resolves once `test` holds, checked after each chunk. */
  until(test: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (test()) return resolve();
      this.#onData = () => {
        if (!test()) return;
        this.#onData = undefined;
        resolve();
      };
    });
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function post(run: FanoutRun, path: string, body: unknown): Promise<string> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: run.host, port: run.port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => (res.statusCode! < 300 ? resolve(text) : reject(new Error(`${path}: ${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function append(run: FanoutRun, i: number): Promise<void> {
  if (run.target !== 'service') {
    await post(run, '/append', { i });
    return;
  }
  const base = `/vector/v2/products/${run.productId}/search/export`;
  const { export_id: exportId } = JSON.parse(await post(run, base, { key: `fanout/${i}.ndjson`, query: {} })) as { export_id: string };
  await post(run, `${base}/${exportId}/cancel`, {});
}

let run: FanoutRun | undefined;
let subscribers: Subscriber[] = [];

process.on('message', (message: { cmd: string } & Partial<FanoutRun>) => {
  void (async () => {
    if (message.cmd === 'open') {
      run = message as FanoutRun;
      const opened = Array.from({ length: run.subscribers }, () => new Subscriber(run!));
      subscribers = opened;
      await Promise.all(opened.map((s) => s.until(() => s.gotBytes)));
      process.send!({ cmd: 'ready' });
    } else if (message.cmd === 'go') {
      const current = run!;
      let next = 0;
      await Promise.all(
        Array.from({ length: current.concurrency }, async () => {
          while (next < current.count) await append(current, next++);
        }),
      );
      const expected = current.target === 'service' ? 3 * current.count : current.count;
      await Promise.all(subscribers.map((s) => s.until(() => s.events >= expected)));
      const received = subscribers.reduce((sum, s) => sum + s.events, 0);
      process.send!({ cmd: 'done', received, expected: expected * subscribers.length });
    } else if (message.cmd === 'close') {
      await Promise.all(
        subscribers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.socket.once('close', () => resolve());
              s.socket.destroy();
            }),
        ),
      );
      subscribers = [];
      process.send!({ cmd: 'closed' });
    } else if (message.cmd === 'exit') {
      agent.destroy();
      process.disconnect();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
