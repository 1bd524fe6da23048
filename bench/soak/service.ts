/**
 * The service of `npm run bench:soak`, in a process of its own (run with `--expose-gc --import
 * tsx`, forked with an IPC channel): SQLite, or Redis with one worker in this process, on
 * 127.0.0.1. Arguments: `sqlite DATA_DIR` or `redis DATA_DIR REDIS_URL`. It sends `{ url }` once
 * listening, then answers the soak's probes (see probe.ts); `stop` closes it.
 */
import { startServer, startWorker } from '../../src/server/index.js';
import { answerProbes } from './probe.js';

const [mode, dataDir, redis] = process.argv.slice(2);
if ((mode !== 'sqlite' && mode !== 'redis') || dataDir === undefined || (mode === 'redis' && redis === undefined)) {
  throw new Error(`Expected "sqlite DATA_DIR" or "redis DATA_DIR REDIS_URL", got ${JSON.stringify(process.argv.slice(2))}`);
}
const server = await startServer(mode === 'sqlite' ? { host: '127.0.0.1', port: 0, dataDir, concurrency: 2 } : { host: '127.0.0.1', port: 0, redis, dataDir });
const worker = mode === 'redis' ? await startWorker({ redis: redis!, dataDir, concurrency: 2 }) : undefined;
answerProbes({
  // Connections open (idle keep-alive ones too: Fastify keeps them 72 s) and event streams open.
  extra: () => ({ connections: server.connectionCount, streams: server.streamStats.open }),
  stop: async () => {
    await worker?.close();
    await server.close();
    return {};
  },
});
process.send!({ url: server.url });
