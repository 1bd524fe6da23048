import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The server's connections and how many requests each has in flight, so that a shutdown can
 * let requests finish and still close every connection. Node's own `closeIdleConnections()`
 * (which `server.close()` calls once) leaves alone a connection that has not sent a request
 * yet (a client's spare keep-alive connection, say), and a connection that finishes its last
 * response after it ran, so the server would wait for their clients, or for the headers
 * timeout, before it closes.
 * @internal
 */
export class Connections {
  readonly #inFlight = new Map<Socket, number>();
  #draining = false;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      if (this.#draining) {
        socket.destroy();
        return;
      }
      this.#inFlight.set(socket, 0);
      socket.once('close', () => this.#inFlight.delete(socket));
    });
    server.on('request', (request, response) => {
      const socket = request.socket;
      this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 0) + 1);
      // 'close' comes once the response is done, or its connection went.
      response.once('close', () => {
        const inFlight = this.#inFlight.get(socket);
        // The connection went first (a client that aborted an event stream): its 'close' has
        // forgotten it already, and putting it back would keep it, and all it holds, for ever.
        if (inFlight === undefined) return;
        const left = inFlight - 1;
        this.#inFlight.set(socket, left);
        // Closes the connection once what was written has gone out.
        if (this.#draining && left === 0) socket.destroySoon();
      });
    });
  }

  /** How many connections are open (or not yet seen closing). @internal */
  get size(): number {
    return this.#inFlight.size;
  }

  /** From now on each connection is closed as soon as it has no request in flight; those without one now at once. */
  drain(): void {
    this.#draining = true;
    for (const [socket, inFlight] of this.#inFlight) if (inFlight === 0) socket.destroySoon();
  }

  /** Cuts every connection still open, requests in flight or not. */
  destroyAll(): void {
    for (const socket of this.#inFlight.keys()) socket.destroy();
  }
}
