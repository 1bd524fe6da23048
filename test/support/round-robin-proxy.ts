import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real HTTP proxy on 127.0.0.1 sending each event-stream request to the next of several upstreams in turn, the rest to the first. */
export interface RoundRobinProxy {
  readonly url: string;
  /** The upstream each request went to, in order (`METHOD path -> upstream`). */
  readonly routed: string[];
  close(): Promise<void>;
}

/** Starts a proxy that spreads event streams over `upstreams` (e.g. API instances), one after the other: each reconnection goes to another. */
export async function startRoundRobinProxy(upstreams: readonly string[]): Promise<RoundRobinProxy> {
  let next = 0;
  const routed: string[] = [];
  const server: Server = createServer((req, res) => {
    const stream = req.url?.split('?')[0]?.endsWith('/events') === true;
    const upstream = new URL(upstreams[stream ? next++ % upstreams.length : 0]!);
    routed.push(`${req.method} ${req.url?.split('?')[0]} -> ${upstream.origin}`);
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        res.once('close', () => answer.destroy());
      },
    );
    forward.once('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
