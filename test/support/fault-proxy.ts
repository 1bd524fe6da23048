import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does to the traffic; change it at any time. */
export interface Faults {
  /** Answer this many of the next matching requests with 503. */
  serviceUnavailable: number;
  /** Answer this many of the next matching requests with 429 and this `Retry-After` (seconds). */
  rateLimited: number;
  retryAfterSeconds: number;
  /** Only requests whose path matches are faulted (all by default). */
  match: RegExp;
  /** In event streams: send every event twice. */
  duplicateEvents: boolean;
  /** In event streams: swap each pair of events (the second goes first). */
  reorderEvents: boolean;
  /** In event streams: cut the connection after this many events (then reset to Infinity). */
  cutStreamAfter: number;
  /** Answer 404 for paths that match, as a server without those routes (a DL server) would. */
  notFound: RegExp | undefined;
  /** Answer this status (403, say) for paths that match, with the protocol's error body. */
  status: { readonly match: RegExp; readonly code: number } | undefined;
  /** Every event stream, open or opened later, stops forwarding bytes (heartbeats included) without closing. */
  stallStreams: boolean;
  /** Requests whose path matches are never answered (nor closed) while this is set. */
  stallRequests: RegExp | undefined;
}

/** A real HTTP proxy on 127.0.0.1 in front of a server, injecting faults. */
export interface FaultProxy {
  readonly url: string;
  readonly faults: Faults;
  /** Requests seen, by `METHOD path` (without query). */
  readonly requests: string[];
  /** Back to passing everything through, with no request seen. */
  reset(): void;
  /** The event streams open now stop forwarding bytes without closing; later ones pass. */
  stallOpenStreams(): void;
  /** Connections the proxy has open from its clients now. */
  readonly openConnections: () => number;
  /** Requests the proxy has not finished answering (event streams included). */
  readonly inFlight: () => number;
  close(): Promise<void>;
}

function parseEvents(buffer: string): { events: string[]; rest: string } {
  const events: string[] = [];
  let rest = buffer;
  for (let i = rest.indexOf('\n\n'); i >= 0; i = rest.indexOf('\n\n')) {
    events.push(rest.slice(0, i + 2));
    rest = rest.slice(i + 2);
  }
  return { events, rest };
}

/**
 * Starts a proxy to `upstream` (e.g. `http://127.0.0.1:1234`). Everything passes through
 * unchanged except what {@link Faults} asks for.
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const noFaults = (): Faults => ({
    serviceUnavailable: 0,
    rateLimited: 0,
    retryAfterSeconds: 1,
    match: /./,
    duplicateEvents: false,
    reorderEvents: false,
    cutStreamAfter: Number.POSITIVE_INFINITY,
    notFound: undefined,
    status: undefined,
    stallStreams: false,
    stallRequests: undefined,
  });
  const faults = noFaults();
  const requests: string[] = [];
  const open = new Set<ServerResponse>();
  /** The event streams' answers, each with whether it is stalled. */
  const streams = new Map<ServerResponse, { stalled: boolean }>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(`${req.method} ${path}`);
    open.add(res);
    res.on('close', () => open.delete(res));
    if (faults.notFound?.test(path)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ status: '404', title: 'Not Found', detail: 'no such route (the test proxy plays a DL server)' }] }));
      req.resume();
      return;
    }
    if (faults.status?.match.test(path)) {
      const code = faults.status.code;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ status: String(code), title: 'Injected', detail: `answered ${code} by the test proxy` }] }));
      req.resume();
      return;
    }
    if (faults.stallRequests?.test(path)) {
      // Never answered: the client's own timeout must end it.
      req.resume();
      return;
    }
    if (faults.match.test(path) && faults.serviceUnavailable > 0) {
      faults.serviceUnavailable--;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ status: '503', title: 'Service Unavailable', detail: 'injected by the test proxy' }] }));
      req.resume();
      return;
    }
    if (faults.match.test(path) && faults.rateLimited > 0) {
      faults.rateLimited--;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(faults.retryAfterSeconds) });
      res.end(JSON.stringify({ errors: [{ status: '429', title: 'Too Many Requests', detail: 'injected by the test proxy' }] }));
      req.resume();
      return;
    }
    const upstreamReq = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        const isStream = String(upstreamRes.headers['content-type'] ?? '').startsWith('text/event-stream');
        if (!isStream) {
          upstreamRes.pipe(res);
          return;
        }
        // The headers go at once, as the service sends them: a stalled stream is one that was answered.
        res.flushHeaders();
        let buffer = '';
        let sent = 0;
        let pending: string | undefined;
        const state = { stalled: faults.stallStreams };
        streams.set(res, state);
        res.on('close', () => streams.delete(res));
        upstreamRes.setEncoding('utf8');
        upstreamRes.on('data', (chunk: string) => {
          // Stalled: the bytes are swallowed, the connection stays open.
          if (state.stalled || faults.stallStreams) return;
          const { events, rest } = parseEvents(buffer + chunk);
          buffer = rest;
          for (const event of events) {
            const isData = event.includes('\ndata:') || event.startsWith('data:');
            if (!isData) {
              res.write(event);
              continue;
            }
            let out: string[] = [event];
            if (faults.reorderEvents) {
              if (pending === undefined) {
                pending = event;
                out = [];
              } else {
                out = [event, pending];
                pending = undefined;
              }
            }
            for (const e of out) {
              res.write(e);
              if (faults.duplicateEvents) res.write(e);
              sent++;
              if (sent >= faults.cutStreamAfter) {
                faults.cutStreamAfter = Number.POSITIVE_INFINITY;
                upstreamRes.destroy();
                res.destroy();
                return;
              }
            }
          }
        });
        upstreamRes.on('end', () => {
          if (pending !== undefined) res.write(pending);
          res.end();
        });
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstreamReq.destroy());
    req.pipe(upstreamReq);
  };

  const server: Server = createServer(handle);
  const connections = new Set<Socket>();
  server.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    requests,
    reset: () => {
      Object.assign(faults, noFaults());
      requests.length = 0;
    },
    stallOpenStreams: () => {
      for (const state of streams.values()) state.stalled = true;
    },
    openConnections: () => connections.size,
    inFlight: () => open.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
