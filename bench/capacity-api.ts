/**
 * One process of the load simulation of `npm run bench:capacity -- --part sim`: an API instance
 * (`api`) or a worker (`worker`) of the service on Redis, started with the options given in
 * `argv[2]` (JSON). It answers over IPC: `ready` (with its port) once listening, `stats` (its
 * RSS, heap after two GCs, CPU so far and open event streams) on `{ cmd: 'stats' }`, and exits
 * on `{ cmd: 'exit' }` after closing what it started.
 * @packageDocumentation
 */
import { startServer, startWorker } from '../src/server/index.js';

interface Options {
  readonly role: 'api' | 'worker';
  readonly redis: string;
  readonly dataDir: string;
  readonly heartbeatMs: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const gc = (globalThis as { gc?: () => void }).gc;

const server = options.role === 'api' ? await startServer({ redis: options.redis, dataDir: options.dataDir, heartbeatMs: options.heartbeatMs }) : undefined;
const running = server ?? (await startWorker({ redis: options.redis, dataDir: options.dataDir, concurrency: 1 }));

function stats(): Record<string, number> {
  gc?.();
  gc?.();
  const memory = process.memoryUsage();
  const { user, system } = process.cpuUsage();
  return {
    rss: memory.rss,
    heap: memory.heapUsed,
    cpuUs: user + system,
    streams: server?.streamStats.open ?? 0,
  };
}

process.on('message', (message: { cmd: string; id?: number }) => {
  if (message.cmd === 'stats') process.send!({ cmd: 'stats', id: message.id, ...stats() });
  if (message.cmd === 'exit') {
    void running.close().then(() => process.disconnect());
  }
});
process.send!({ cmd: 'ready', port: server?.port ?? 0 });
