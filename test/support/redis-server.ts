import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real `redis-server` on 127.0.0.1, with append-only persistence in a temporary directory. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /**
   * Stops it (SIGTERM: Redis flushes its append-only file) and starts it again on the same port
   * and directory; with `empty`, its data is removed in between (a restart without persistence).
   */
  restart(options?: { readonly empty?: boolean }): Promise<void>;
  /** Stops it, keeping its data: until {@link RedisServer.up}, nothing listens on its port. */
  down(): Promise<void>;
  /** Starts it again after {@link RedisServer.down}. */
  up(): Promise<void>;
  /** SIGSTOP: it keeps its connections open and answers nothing until {@link RedisServer.thaw}. */
  freeze(): void;
  /** SIGCONT after {@link RedisServer.freeze}. */
  thaw(): void;
  /** Stops it and removes its directory; also done on process exit, if the tests did not get that far. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  // Tests that failed before their `stop()` still leave no redis-server behind.
  for (const child of live) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.end('PING\r\n');
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server did not listen on 127.0.0.1:${port}: ${output()}`);
}

/**
 * Starts `redis-server` (the Debian package's binary, on PATH) on a free port of 127.0.0.1:
 * `--appendonly yes` in a new temporary directory, no RDB snapshots.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'export-task-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    output = '';
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.on('error', (error) => {
      output += `\n${error.message}: install the redis-server package (apt-get install redis-server)`;
    });
    started.stdout?.setEncoding('utf8').on('data', (text: string) => (output = (output + text).slice(-4000)));
    started.stderr?.setEncoding('utf8').on('data', (text: string) => (output = (output + text).slice(-4000)));
    live.add(started);
    started.once('exit', () => live.delete(started));
    child = started;
    await waitForPort(port, started, () => output);
  };
  const halt = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    // A frozen server would not see the SIGTERM.
    running.kill('SIGCONT');
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    restart: async (options = {}) => {
      await halt();
      if (options.empty === true) {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
      }
      await start();
    },
    down: halt,
    up: start,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    stop: async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
